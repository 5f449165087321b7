"""Fortanix DSM evidence from an attestation request: the statement, the response JSON, the CSR and the root.

The statement's shape is in :mod:`hsmsim.formats.fortanix.statement`. GUESSES and departures
(switchable through :class:`~hsmsim.formats.fortanix.options.FortanixOptions`, see
``docs/formats/fortanix.md``): keyUsage from permissions (sign → digitalSignature, decrypt →
dataEncipherment, unwrap → keyEncipherment, derive → keyAgreement, restricted to what the key
type can do); a claim is omitted when it does not hold (imported or exportable keys); the root
copy ends the chain; the kid is a UUID derived from the seed and label.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID, ObjectIdentifier

from hsmsim.device import AttestationRequest
from hsmsim.encoding import cert_pem
from hsmsim.errors import UnsupportedKeyError
from hsmsim.formats.fortanix.layout import JSON_PREFIX, ROOT_FILE
from hsmsim.formats.fortanix.options import FortanixOptions
from hsmsim.formats.fortanix.pki import FortanixPki, aki, fortanix_pki, serial20
from hsmsim.formats.fortanix.statement import (
    CLAIM_GENERATED,
    CLAIM_NEVER_EXPORTABLE,
    CLAIM_VALUE,
    KEY_ID_OID,
    STATEMENT_CN,
    STATEMENT_NOT_AFTER,
    STATEMENT_USAGES,
    USAGES_BY_KEY_TYPE,
    render_response,
)
from hsmsim.keystore.base import PrivateKey, StoredKey
from hsmsim.model.evidence import Evidence, safe_file_stem
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, build_csr, key_usage, name
from hsmsim.pki.seed import drbg


def key_id(seed: str, key: StoredKey) -> str:
    """The key's DSM kid: a version-4 UUID derived from the seed and the key's label."""
    return str(uuid.UUID(bytes=drbg(seed, f"fortanix/kid/{key.label}").read(16), version=4))


def statement_usages(key: StoredKey) -> tuple[str, ...]:
    """keyUsage bits mirroring the key's permissions, limited to what its type can do.

    Raises :class:`UnsupportedKeyError` for secret keys and keys without a usable permission.
    """
    possible = USAGES_BY_KEY_TYPE.get(key.spec.key_type)
    if possible is None or key.public_key is None:
        raise UnsupportedKeyError("Fortanix DSM issues key attestation statements for asymmetric keys only")
    attrs = key.attributes
    granted = {"digital_signature": attrs.sign, "data_encipherment": attrs.decrypt,
               "key_encipherment": attrs.unwrap, "key_agreement": attrs.derive}
    usages = tuple(u for u in STATEMENT_USAGES if granted[u] and u in possible)
    if not usages:
        raise UnsupportedKeyError(f"key {key.label!r} has no permission a statement's keyUsage can express")
    return usages


def statement_subject(kid: str) -> x509.Name:
    """``CN=Fortanix DSM Key Attestation`` then the kid RDN, both UTF8String."""
    return x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, STATEMENT_CN, _type=UTF8)]),
        x509.RelativeDistinguishedName([x509.NameAttribute(KEY_ID_OID, kid, _type=UTF8)]),
    ])


def claim(oid: ObjectIdentifier, *, critical: bool = False) -> Ext:
    """A claim extension: an empty SEQUENCE under ``oid``."""
    return Ext(x509.UnrecognizedExtension(oid, CLAIM_VALUE), critical=critical)


def build_statement(key: StoredKey, kid: str, pki: FortanixPki, at: datetime, seed: str) -> x509.Certificate:
    """The statement certificate for ``key`` issued by the cluster authority at ``at``."""
    extensions = [Ext(key_usage(*statement_usages(key)), critical=True)]
    if key.attributes.local:
        extensions.append(claim(CLAIM_GENERATED))
    if key.attributes.never_extractable:
        extensions.append(claim(CLAIM_NEVER_EXPORTABLE))
    extensions.append(Ext(aki(pki.authority)))
    assert key.public_key is not None
    return build_certificate(CertSpec(
        subject=statement_subject(kid), issuer=pki.authority.subject, public_key=key.public_key,
        serial=serial20(seed, f"fortanix/statement/{kid}/{at:%Y%m%dT%H%M%S}"),
        not_before=at.astimezone(UTC).replace(microsecond=0), not_after=STATEMENT_NOT_AFTER,
        extensions=tuple(extensions),
    ), pki.authority_key)


@dataclass(frozen=True)
class FortanixBundle:
    """One generated attestation before packaging: the response JSON, the CSR and the root."""

    kid: str
    stem: str
    response: bytes
    csr_pem: bytes
    root_pem: bytes

    @property
    def json_name(self) -> str:
        """``key_attestation_<kid>.json``, the name the DSM CLI writes."""
        return f"{JSON_PREFIX}{self.kid}.json"

    def evidence(self) -> Evidence:
        """What a CA receives: the response JSON, the key's CSR and the (emulated) root."""
        files = {self.json_name: self.response, f"{self.stem}.csr": self.csr_pem, ROOT_FILE: self.root_pem}
        return Evidence(format="fortanix", files=files, primary=self.json_name)


def assemble(key: StoredKey, signer: PrivateKey, pki: FortanixPki, seed: str, at: datetime,
             options: FortanixOptions = FortanixOptions()) -> FortanixBundle:
    """Issue the statement for ``key`` and package it (the generator's pure core)."""
    kid = key_id(seed, key)
    statement = build_statement(key, kid, pki, at, seed)
    chain = [pki.authority, pki.ca, *((pki.root,) if options.chain_includes_root else ())]
    csr = build_csr(name(("CN", key.label, UTF8)), signer)
    return FortanixBundle(kid=kid, stem=safe_file_stem(key.label),
                          response=render_response(chain, statement, options.json_indent),
                          csr_pem=csr.public_bytes(serialization.Encoding.PEM), root_pem=cert_pem(pki.root))


def generate_evidence(request: AttestationRequest, options: FortanixOptions) -> Evidence:
    """The response JSON, the key's CSR and the emulated root for the request's key at the request's time.

    The cluster authority certificate is the one whose 30-day period holds ``request.at``, over
    the request's attesting key. Raises :class:`UnsupportedKeyError` for keys without a signer.
    """
    if request.key_signer is None:
        raise UnsupportedKeyError("Fortanix DSM issues key attestation statements for asymmetric keys only")
    device = request.device
    pki = fortanix_pki(device.seed, device.serial, request.at, key=request.attesting.key,
                       captured_encoding=options.captured_encoding)
    return assemble(request.key, request.key_signer, pki, device.seed, request.at, options).evidence()
