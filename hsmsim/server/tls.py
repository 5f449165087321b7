"""TLS for ``hsmsim serve``: a CA and server certificate from hsmsim's own seeded PKI.

The CA is EMULATED and stable for a seed, so a client trusts it once (``hsmsim serve
--print-ca``). The server certificate names ``localhost``, ``127.0.0.1`` and ``::1`` plus
any extra hosts, and is rebuilt when those change.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from hsmsim._atomic import write_atomic
from hsmsim.keystore.base import KeySpec
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, key_usage, name
from hsmsim.pki.seed import derive_key, derive_serial

_NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
_NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TlsFiles:
    """Paths uvicorn needs, and the CA a client must trust."""

    ca: Path
    cert: Path
    key: Path


def tls_ca(seed: str) -> tuple[x509.Certificate, object]:
    """The emulated TLS CA certificate and key for ``seed``."""
    key = derive_key(seed, "server/tls-ca", KeySpec.parse("ec-p256"))
    subject = name(("O", "hsmsim", UTF8), ("CN", "hsmsim TLS CA EMULATED", UTF8))
    cert = build_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=key.public_key(), serial=derive_serial(seed, "server/tls-ca"),
        not_before=_NOT_BEFORE, not_after=_NOT_AFTER,
        extensions=(Ext(x509.BasicConstraints(ca=True, path_length=0), critical=True),
                    Ext(key_usage("key_cert_sign", "crl_sign"), critical=True)),
    ), key)
    return cert, key


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", "::1", *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def ensure_tls_files(directory: Path, seed: str, hosts: list[str]) -> TlsFiles:
    """Write (or reuse) ``ca.pem``, ``server.pem`` and ``server.key`` under ``directory``."""
    ca_cert, ca_key = tls_ca(seed)
    key = derive_key(seed, "server/tls-server", KeySpec.parse("ec-p256"))
    cert = build_certificate(CertSpec(
        subject=name(("CN", hosts[0] if hosts else "localhost", UTF8)), issuer=ca_cert.subject,
        public_key=key.public_key(), serial=derive_serial(seed, "server/tls-server/" + ",".join(hosts)),
        not_before=_NOT_BEFORE, not_after=_NOT_AFTER,
        extensions=(Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True),
                    Ext(key_usage("digital_signature"), critical=True),
                    Ext(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])),
                    Ext(_san(hosts))),
    ), ca_key)  # type: ignore[arg-type]
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    write_atomic(files.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
    write_atomic(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    write_atomic(files.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    files.key.chmod(0o600)
    return files
