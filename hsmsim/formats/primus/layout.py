"""What tells a Primus TSB attestation on disk, importable without the XML codec, zip writer, generator, verifier
or PKI: the format's name, the members of the TSB zip, the root file written beside it, and the certificate
policies the emulated PKI asserts and the verifier requires. :mod:`~hsmsim.formats.primus.bundle`,
:mod:`~hsmsim.formats.primus.pki` and :mod:`~hsmsim.formats.primus.verify` use the same values."""

from __future__ import annotations

from cryptography.x509.oid import ObjectIdentifier

FORMAT_NAME = "primus"
CHAIN_FILE = "PrimusHSM_Attestation.crt"
PUBKEY_FILE = "PrimusHSM_Attestation_PublicKey.pem"
README_FILE = "README_PrimusHSM_AuditAndAttestation_AN-E01.md"
ROOT_FILE = "hsm_rsa_root.crt"
PRIMUS_POLICY_ROOT = ObjectIdentifier("1.3.6.1.4.1.44668.4.1.1")
"""The certificate policy ``PRIMUS_HSM_ROOTKEY`` asserts (``primus.md`` 1.5)."""
PRIMUS_POLICY_DEVICE = ObjectIdentifier("1.3.6.1.4.1.44668.4.1.3")
"""The certificate policy a device certificate ``PRIMUS HSM KEY (SN: ...)`` asserts: the verifier requires it of
the attestation certificate's issuer (``primus.md`` 1.5)."""
