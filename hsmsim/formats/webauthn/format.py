"""The ``webauthn`` format: a WebAuthn registration as the relying party records it, with whichever
attestation statement the authenticator chose (``tpm``, ``packed``, ``fido-u2f``, ``android-key``, ...).

On disk (``docs/formats/webauthn.md``) a registration is the relying party's record
``<label>.webauthn.json``: what the RP expected (challenge, origin, RP ID) and the browser's
PublicKeyCredential JSON with base64url ``clientDataJSON`` and ``attestationObject``; the statement's
emulated roots come beside it as ``<fmt>_root_ca.pem``.

The reference verifier (:mod:`.verify`) runs the relying-party steps of WebAuthn §7.1 (clientData type, challenge,
origin; rpIdHash; UP; BS without BE; attested credential data; credential id), then hands the attStmt
to the statement format named by ``fmt`` (:mod:`hsmsim.webauthn.statements`), whose procedure chains to
the roots given. ``none`` is rejected: nothing vouches for the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import names
from hsmsim.formats.webauthn.layout import FORMAT, MAX_RECORD_BYTES, RECORD_MEMBERS, RECORD_SUFFIX
from hsmsim.model.evidence import BundleLayout, Evidence, TrustAnchors
from hsmsim.safeio import ReadBudget, is_json_record, read_regular_file
from hsmsim.verdict import Profile, Rejected, Verdict
from hsmsim.webauthn.statements import (  # the family's __init__ imports the registry to register its statements
    StatementVectors,
    statement_format,
    statement_names,
    statement_provisioner,
    statement_vectors,
)

if TYPE_CHECKING:  # detecting and reading import the layout alone; each hook imports what it runs
    from hsmsim.device import AttestationRequest, Device
    from hsmsim.keystore.base import PrivateKey
    from hsmsim.model.fuzz import FuzzModel
    from hsmsim.model.vectors import FlagNote, VectorCase
    from hsmsim.pki.identity import AttestationIdentity, PkiExport

DEFAULT_STATEMENT = "tpm"
"""The statement ``generate`` emits without a ``fmt`` parameter, and whose identity ``provision`` gives."""
KEY_SPECS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384", "ed25519")
"""The union of what the statements attest (each statement refuses what its authenticator cannot hold)."""


def _is_record(path: Path) -> bool:
    """A ``*.webauthn.json`` file, or a ``.json`` record whose credential response holds an attestationObject."""
    return is_json_record(path, RECORD_SUFFIX, RECORD_MEMBERS, MAX_RECORD_BYTES)


class WebAuthnFormat:
    """The ``webauthn`` format: a WebAuthn registration with any registered attestation statement."""

    name = FORMAT
    title = "WebAuthn registration"
    key_specs: tuple[str, ...] = KEY_SPECS
    layout = BundleLayout((f"*{RECORD_SUFFIX}",), _is_record)
    """The record ``<label>.webauthn.json``; the statement's root copies beside it are not evidence."""

    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The default statement's attestation identity (the TPM's AK); other statements bring their own."""
        names()
        return statement_provisioner(DEFAULT_STATEMENT)(device, partition, attesting)

    def pki_exports(self, device: Device) -> tuple[PkiExport, ...]:
        """Every statement's PKIs, the default statement's first: its default one named ``""`` (the identity
        :meth:`provision` gives), each other named after its ``fmt`` (``tpm-ecdsa-p384``, ``packed``, ``apple``)."""
        names()
        exports: list[PkiExport] = []
        for fmt in sorted(statement_names(), key=lambda name: (name != DEFAULT_STATEMENT, name)):
            for index, export in enumerate(statement_format(fmt).pki_exports(device)):
                exports.append(export if fmt == DEFAULT_STATEMENT and index == 0 else export.within(fmt))
        return tuple(exports)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The relying party's record of a registration of the request's key. Parameters: ``fmt`` (default
        ``tpm``), the ceremony's (:func:`hsmsim.webauthn.ceremony.ceremony_for`) and the statement's own."""
        from hsmsim.device import record_within
        from hsmsim.webauthn.ceremony import ceremony_for

        fmt = str(request.parameters.get("fmt", DEFAULT_STATEMENT))
        names()
        try:
            statement = statement_format(fmt)
        except Rejected:
            raise ParameterError.invalid("fmt", f"one of {', '.join(statement_names())}",
                                         request.parameters.get("fmt")) from None
        if request.key.public_key is None:
            raise UnsupportedKeyError("a WebAuthn credential is an asymmetric key")
        ceremony = ceremony_for(request, fmt, statement.aaguid(request), request.key.public_key)
        return record_within(ceremony.produce_evidence(lambda auth_data, client_data_hash: statement.produce(
            request, auth_data, client_data_hash)), MAX_RECORD_BYTES)

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """The relying-party and statement checks (:func:`hsmsim.formats.webauthn.verify.verify_record`); bad evidence
        becomes a Verdict, never an exception."""
        from hsmsim.formats.webauthn.verify import verify_record

        return verify_record(evidence, trust, at or datetime.now(UTC), profile)

    def load(self, path: Path) -> Evidence:
        """Read a ``.webauthn.json`` record, or a directory's (:attr:`layout`), bounded (the roots are given
        separately, as trust anchors)."""
        return self.layout.load(path, self._read, self.name)

    def _read(self, path: Path) -> Evidence:
        return Evidence(format=self.name, files={path.name: read_regular_file(path, MAX_RECORD_BYTES, ReadBudget())},
                        primary=path.name)

    def detect(self, path: Path) -> bool:
        """A ``*.webauthn.json`` file, or a ``.json`` record whose credential response holds an attestationObject; a
        directory holding one."""
        return self.layout.detect(path)

    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """PEM or DER root certificates, under the role ``root``."""
        return TrustAnchors.from_pem_files(list(paths))

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """The default statement's registrations first (the TPM goldens), then every other family's."""
        return [case for source in self._vector_sources() for case in source.vector_cases(seed)]

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of every statement's vectors."""
        return {flag: note for source in self._vector_sources() for flag, note in source.vector_notes().items()}

    def _vector_sources(self) -> list[StatementVectors]:
        names()
        ordered = sorted(statement_vectors(), key=lambda pair: (pair[0] != DEFAULT_STATEMENT, pair[0]))
        return [source for _, source in ordered]

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: the fuzzer builds its generic model from the vector catalogue."""
        return None
