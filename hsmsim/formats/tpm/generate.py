"""WebAuthn registrations with a ``tpm`` (or ``none``) attestation, from an emulated TPM.

A :class:`Draft` holds every input of one registration; :meth:`Draft.render` runs the ceremony:
authenticator data for the credential, clientDataJSON, TPM2_Certify over the key's public area
with qualifyingData = H_alg(authData ‖ clientDataHash), the AK's signature, the attestation
object and the relying party's record. The generator renders a draft as built; the vector
catalogue edits one field of a golden draft, then renders it, so a golden vector is byte for byte
what ``generate`` writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.formats.tpm.device import EmulatedTpm, Parent
from hsmsim.formats.tpm.genuine import EK_CHAIN_SUFFIX, GenuineTpm
from hsmsim.formats.tpm.pki import EMULATED_AAGUID
from hsmsim.formats.tpm.statement import cose_alg_of_signer, extra_data_for, sign_cert_info
from hsmsim.formats.tpm.structures import TpmsAttest, TpmtPublic
from hsmsim.keystore.base import PrivateKey, PublicKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.webauthn.ceremony import DEFAULT_RP_ID, Ceremony, root_file
from hsmsim.webauthn.container import (
    FLAG_AT,
    FLAG_UP,
    FLAG_UV,
    Registration,
    cbor_encode,
)

ROOT_FILE = root_file("tpm")
SIGNATURE_ENCODINGS = ("bare", "tpmt")


@dataclass(kw_only=True)
class StatementDraft:
    """The inputs of one ``tpm`` attestation statement. Fields left ``None`` take their genuine value.

    With ``genuine`` the real TPM holding the key certifies it (its certInfo, signature and pubArea are
    used as the TPM returned them; ``attest_edit`` and ``cert_info_edit`` do not apply).

    Edit hooks run before signing (``attest_edit``, ``cert_info_edit``, ``extra_data``) or after it
    (``statement_edit``, ``object_edit``), so a catalogue defect says whether the AK signed it or not.
    """

    tpm: EmulatedTpm
    identity: AttestationIdentity
    area: TpmtPublic
    at: datetime
    label: str
    fmt: str = "tpm"
    ver: str = "2.0"
    signature_encoding: str = "bare"
    alg: int | None = None
    signer: PrivateKey | None = None
    extra_data: bytes | None = None
    x5c: list[bytes] | None = None
    pub_area: bytes | None = None
    attest_edit: Callable[[TpmsAttest], TpmsAttest] | None = None
    cert_info_edit: Callable[[bytes], bytes] | None = None
    statement_edit: Callable[[dict[str, Any]], None] | None = None
    object_edit: Callable[[bytes], bytes] | None = None
    genuine: GenuineTpm | None = None
    ak_parent: Parent = Parent.EK
    """The AK's parent: under the SRK the TPM obfuscates certInfo's reset and restart counts and firmware version."""
    trusted_root: x509.Certificate | None = None
    """The root the relying party trusts, written beside the record as ``tpm_root_ca.pem`` (default: the
    identity's root). That file is hsmsim's copy of the verifier's anchor, never part of the evidence, so a
    foreign-PKI defect keeps the genuine root there and carries its own root copy in x5c."""

    def tpm_statement(self, bound_extra: Callable[[int], bytes]) -> dict[str, Any]:
        """The ``tpm`` attStmt: TPM2_Certify with qualifyingData ``bound_extra(alg)`` (unless ``extra_data``
        overrides it), signed by the AK, then ``statement_edit``."""
        signer = self.signer or self.identity.key
        ak = self.genuine.ak_public if self.genuine is not None else signer
        alg = self.alg if self.alg is not None else cose_alg_of_signer(ak)
        extra = self.extra_data if self.extra_data is not None else bound_extra(alg)
        if self.genuine is not None:
            cert_info, sig, pub_area = self.genuine.certify(extra, self.signature_encoding)
            x5c = chain_der([self.genuine.ak_certificate, *self.identity.chain[1:]])
        else:
            attest = self.tpm.certify_info(self.area, self.identity.key, extra, self.at, self.ak_parent)
            if self.attest_edit:
                attest = self.attest_edit(attest)
            cert_info = attest.marshal()
            if self.cert_info_edit:
                cert_info = self.cert_info_edit(cert_info)
            sig = sign_cert_info(signer, cert_info, alg, self.signature_encoding)
            pub_area = self.area.marshal()
            x5c = list(self.identity.chain_der)
        statement = {"ver": self.ver, "alg": alg, "x5c": self.x5c if self.x5c is not None else x5c,
                     "sig": sig, "certInfo": cert_info,
                     "pubArea": self.pub_area if self.pub_area is not None else pub_area}
        if self.statement_edit:
            self.statement_edit(statement)
        return statement

    def evidence(self) -> Evidence:
        """The native files of the rendered draft (each consumer's own shape)."""
        raise NotImplementedError

    def beside(self) -> dict[str, bytes]:
        """The files that come beside the record: the emulated root, and a real TPM's EK chain."""
        root = self.identity.root_pem if self.trusted_root is None else self.trusted_root.public_bytes(Encoding.PEM)
        files = {ROOT_FILE: root}
        if self.genuine is not None:
            files[f"{safe_file_stem(self.label)}{EK_CHAIN_SUFFIX}"] = self.genuine.ek_chain_pem()
        return files

    def encode_object(self, members: dict[str, Any]) -> bytes:
        """The canonical CBOR attestation object of ``members``, then ``object_edit``."""
        encoded = cbor_encode(members)
        return self.object_edit(encoded) if self.object_edit else encoded


@dataclass(kw_only=True)
class Draft(StatementDraft):
    """One WebAuthn registration before rendering (see :class:`StatementDraft` for the statement's fields)."""

    challenge: bytes
    credential_id: bytes
    rp_id: str = DEFAULT_RP_ID
    origin: str = f"https://{DEFAULT_RP_ID}"
    flags: int = FLAG_UP | FLAG_UV | FLAG_AT
    sign_count: int = 0
    aaguid: bytes = EMULATED_AAGUID.bytes
    credential_key: PublicKey | None = None
    client_data: bytes | None = None
    expected_challenge: bytes | None = None
    expected_origin: str | None = None
    expected_rp_id: str | None = None
    raw_id: bytes | None = None
    auth_data_edit: Callable[[bytes], bytes] | None = None

    def ceremony(self) -> Ceremony:
        """The registration around the statement (its credential key from pubArea unless overridden)."""
        return Ceremony(
            fmt=self.fmt, label=self.label, challenge=self.challenge, credential_id=self.credential_id,
            credential_key=self.credential_key or self.area.public_key(), aaguid=self.aaguid, rp_id=self.rp_id,
            origin=self.origin, flags=self.flags, sign_count=self.sign_count, client_data=self.client_data,
            expected_challenge=self.expected_challenge, expected_origin=self.expected_origin,
            expected_rp_id=self.expected_rp_id, raw_id=self.raw_id, auth_data_edit=self.auth_data_edit,
            object_edit=self.object_edit)

    def auth_data(self) -> bytes:
        """authenticatorData with the attested credential."""
        return self.ceremony().auth_data()

    def render(self) -> Registration:
        """The relying party's record of this registration."""
        return self.ceremony().render(lambda auth_data, client_hash: (
            self.tpm_statement(lambda alg: extra_data_for(alg, auth_data, client_hash)) if self.fmt == "tpm" else {}))

    def evidence(self) -> Evidence:
        """The record ``<label>.webauthn.json`` and the emulated root ``tpm_root_ca.pem``."""
        ceremony = self.ceremony()
        return ceremony.evidence(self.render(), self.beside())



def chain_der(certs: list[x509.Certificate]) -> list[bytes]:
    """DER of each certificate, for ``x5c``."""
    return [c.public_bytes(Encoding.DER) for c in certs]
