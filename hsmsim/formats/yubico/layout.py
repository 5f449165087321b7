"""What tells Yubico evidence on disk, importable without the extension codecs, generators, verifiers or PKIs:
the formats' names, the PKI generations and the root file each is published under, the record suffixes and the
files beside them, and the subject a YubiHSM 2 key attestation certificate is recognised by.
:mod:`~hsmsim.formats.yubico.piv`, :mod:`~hsmsim.formats.yubico.hsm2`, :mod:`~hsmsim.formats.yubico.pki` and
:mod:`~hsmsim.formats.yubico.fido` use the same values."""

from __future__ import annotations

from cryptography import x509

PIV_FORMAT = "yubico-piv"
HSM_FORMAT = "yubihsm2"
YUBIKEY_5 = "yubikey-5"
"""The FIDO authenticator the family registers (:func:`hsmsim.formats.yubico.fido.yubikey5_fido`)."""

LEGACY = "legacy"
NEW = "2024"
GENERATIONS = (LEGACY, NEW)
"""The two PIV PKI generations: ``legacy`` (PIV Root CA 263751) and ``2024`` (Attestation Root 1)."""
ROOT_FILES = {LEGACY: "piv-attestation-ca.pem", NEW: "yubico-ca-1.pem"}
"""The names Yubico publishes its roots under (the files here hold the EMULATED roots)."""
INTERMEDIATES_FILE = "yubico-intermediate.pem"
STEP_SUFFIX = ".acme-step.json"
SECTIGO_SUFFIX = ".sectigo.pem"
REQUEST_SUFFIX = ".request.json"

HSM_ROOT_FILE = "yubihsm2_attest_root.crt"
CHAIN_SUFFIX = "_chain.pem"
KEY_SUBJECT_PREFIX = "YubiHSM Attestation id:0x"
"""The common name of every key attestation certificate (``YubiHSM Attestation id:0x<object id>``)."""


def is_key_attestation(cert: x509.Certificate) -> bool:
    """Whether ``cert`` is named as a YubiHSM 2 key attestation certificate (subject CN
    ``YubiHSM Attestation id:0x...``)."""
    try:
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    except ValueError:
        return False
    return any(str(a.value).startswith(KEY_SUBJECT_PREFIX) for a in names)
