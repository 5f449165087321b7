"""The WebAuthn ``tpm`` attestation statement as the ``webauthn`` format's registry sees it, and the
``webauthn`` vectors of TPM registrations (the format's default statement)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime

from hsmsim.device import AttestationRequest
from hsmsim.formats.tpm.format import (
    WEBAUTHN_AK_SPEC,
    WEBAUTHN_KEY_TEMPLATE,
    TpmAkProvider,
    statement_draft_for,
    verify_tpm_statement,
)
from hsmsim.formats.tpm.generate import ROOT_FILE
from hsmsim.formats.tpm.pki import EMULATED_AAGUID
from hsmsim.formats.tpm.statement import extra_data_for
from hsmsim.model.evidence import TrustAnchors
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.verdict import Profile
from hsmsim.webauthn.statements import ProducedStatement, SignedData


class TpmAttestation(TpmAkProvider):
    """WebAuthn ``tpm`` (§8.3): TPM2_Certify of the credential key by the TPM's AK, the AK certificate in x5c.

    Its AK (:meth:`provision_ak`) is the ``webauthn`` format's attestation identity: an RSA-2048 AIK in the storage
    hierarchy, as Windows Hello's (:data:`~hsmsim.formats.tpm.format.WEBAUTHN_AK_PARENT`); the credential keys it
    certifies are created as Windows Hello's (:data:`~hsmsim.formats.tpm.format.WEBAUTHN_KEY_TEMPLATE`)."""

    name = "tpm"
    ak_spec = WEBAUTHN_AK_SPEC
    key_template = WEBAUTHN_KEY_TEMPLATE

    def aaguid(self, request: AttestationRequest) -> bytes:
        """The emulated TPM authenticator's AAGUID (also in its AK certificate)."""
        return EMULATED_AAGUID.bytes

    def produce(self, request: AttestationRequest, auth_data: bytes, client_data_hash: bytes) -> ProducedStatement:
        """TPM2_Certify by ``request.attesting`` (the AK; RS256 when it is the default RSA AIK) with qualifyingData =
        H_alg(authData ‖ clientDataHash), by a TPM of the hierarchy of parameter ``pki_profile`` (:meth:`profiled`); a
        real TPM's EK chain comes beside the record when the key lives in one."""
        request, profile = self.profiled(request)
        draft = statement_draft_for(request, profile)
        att_stmt = draft.tpm_statement(lambda alg: extra_data_for(alg, auth_data, client_data_hash))
        beside = {name: data for name, data in draft.beside().items() if name != ROOT_FILE}
        return ProducedStatement(att_stmt, (request.attesting.root,), beside)

    def verify(self, att_stmt: Mapping[str, object], signed: SignedData, trust: TrustAnchors, *,
               at: datetime, profile: Profile) -> Mapping[str, object]:
        """:func:`hsmsim.formats.tpm.format.verify_tpm_statement`; raises Rejected."""
        claims, detail = verify_tpm_statement(att_stmt, signed, trust, at, profile)
        # shallow: asdict deep-copies every value (48 us here against 6)
        return {**{field.name: getattr(claims, field.name) for field in dataclasses.fields(claims)}, "detail": detail}

    def registration_vectors(self, seed: str) -> list[VectorCase]:
        """The TPM registrations of the ``webauthn`` catalogue, by a TPM of :attr:`pki_profile`: goldens for
        RSA-2048/3072 and EC P-256/P-384 and the one-defect mutations (the catalogue, which needs Faker, is imported
        on first use)."""
        from hsmsim.formats.tpm.catalogue import vector_cases

        return vector_cases(seed, self)


def registration_notes() -> dict[str, FlagNote]:
    """Flag definitions of those vectors."""
    from hsmsim.formats.tpm.catalogue import notes

    return notes()

