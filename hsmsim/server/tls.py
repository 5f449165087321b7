"""TLS for ``hsmsim serve``: a private CA for one state directory and its server certificate.

The CA key is random, made once per state directory and kept in ``tls/ca.key`` (mode 0600), so
no one else can mint a certificate this server's clients trust; with an explicit seed the CA
and server keys are derived from it instead (reproducible, and so only for tests). The CA is
EMULATED and name-constrained to loopback (``localhost``, 127.0.0.0/8, ::1): even a leaked CA
key cannot vouch for another host. The server certificate names ``localhost``, ``127.0.0.1`` and
``::1`` plus the loopback hosts it is asked for, and is rebuilt on every start.

Both carry the key identifiers RFC 5280 asks for (the CA its subject key identifier, the server
certificate both), which clients that verify strictly require: Python 3.13's default context
(``VERIFY_X509_STRICT``) refuses a server certificate without an authority key identifier.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from hsmsim._atomic import locked, write_atomic
from hsmsim.errors import BundleError, HsmsimError
from hsmsim.keystore.base import KeySpec
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.seed import derive_key, derive_serial
from hsmsim.safeio import read_local_file
from hsmsim.verdict import escaped

_NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
_NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)
_MAX_CA_KEY_BYTES = 64 * 1024
_LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_LOOPBACK_CONSTRAINTS = x509.NameConstraints(
    permitted_subtrees=[x509.DNSName("localhost"), *(x509.IPAddress(net) for net in _LOOPBACK_NETWORKS)],
    excluded_subtrees=None,
)


@dataclass(frozen=True)
class TlsFiles:
    """Paths uvicorn needs, and the CA a client must trust."""

    ca: Path
    cert: Path
    key: Path


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_secret(path: Path, data: bytes) -> None:
    write_atomic(path, data)
    path.chmod(0o600)


def _ca_key(directory: Path, seed: str | None) -> ec.EllipticCurvePrivateKey:
    if seed is not None:
        key = derive_key(seed, "server/tls-ca", KeySpec.parse("ec-p256"))
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key
    path = directory / "ca.key"
    with locked(directory / ".lock"):
        if not path.exists():
            _write_secret(path, _private_pem(ec.generate_private_key(ec.SECP256R1())))
        try:
            data = read_local_file(path, _MAX_CA_KEY_BYTES)
        except BundleError as exc:
            raise HsmsimError(f"corrupt server state: {exc}") from None
    try:
        loaded = serialization.load_pem_private_key(data, None)
    except (ValueError, TypeError) as exc:  # TypeError: an encrypted key
        raise HsmsimError(f"corrupt server state {escaped(str(path))}: not an unencrypted PEM private key") from exc
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise HsmsimError(f"corrupt server state {escaped(str(path))}: not an EC private key")
    return loaded


def tls_ca(directory: Path, seed: str | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA certificate and key of the state's ``tls`` directory (made there on first use).

    With ``seed`` the key is derived from it and nothing secret is written.
    """
    key = _ca_key(directory, seed)
    subject = name(("O", "hsmsim", UTF8), ("CN", "hsmsim TLS CA EMULATED", UTF8))
    serial = derive_serial(seed, "server/tls-ca") if seed is not None else _serial_of(key)
    cert = build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=key.public_key(), serial=serial,
        not_before=_NOT_BEFORE, not_after=_NOT_AFTER,
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=0), critical=True),
                    Ext(key_usage("key_cert_sign", "crl_sign"), critical=True),
                    Ext(x509.SubjectKeyIdentifier.from_public_key(key.public_key())),
                    Ext(_LOOPBACK_CONSTRAINTS, critical=True)),
    ), key)
    return cert, key


def _serial_of(key: ec.EllipticCurvePrivateKey) -> int:
    # Stable for the state's CA key, so the CA certificate a client trusts does not change.
    digest = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    return int.from_bytes(digest[:16], "big") | (1 << 127)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface (what the CA may certify)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", "::1", *filter(is_loopback, hosts)]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def ensure_tls_files(directory: Path, seed: str | None, hosts: list[str]) -> TlsFiles:
    """Write ``ca.pem``, ``server.pem`` and ``server.key`` under ``directory`` (the CA key is kept).

    Hosts that are not loopback are left out of the certificate: the CA may not certify them.
    """
    ca_cert, ca_key = tls_ca(directory, seed)
    if seed is not None:
        key = derive_key(seed, "server/tls-server", KeySpec.parse("ec-p256"))
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        serial = derive_serial(seed, "server/tls-server/" + ",".join(hosts))
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        serial = int.from_bytes(secrets.token_bytes(16), "big") | (1 << 127)
    common_name = next(filter(is_loopback, hosts), "localhost")
    cert = build_certificate(CertSpec(
        subject=name(("CN", common_name, UTF8)), issuer=ca_cert.subject,
        public_key=key.public_key(), serial=serial,
        not_before=_NOT_BEFORE, not_after=_NOT_AFTER,
        extensions=(Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True),
                    Ext(key_usage("digital_signature"), critical=True),
                    Ext(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])),
                    Ext(x509.SubjectKeyIdentifier.from_public_key(key.public_key())),
                    Ext(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())),
                    Ext(_san(hosts))),
    ), ca_key)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    write_atomic(files.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_secret(files.key, _private_pem(key))
    write_atomic(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    return files
