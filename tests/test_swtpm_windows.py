"""Keys in swtpm attested in the Windows-shaped formats: ``ms-kast`` and ``purebred`` with ``kind=windows``.

The key and the evidence are made with the CLI (``key create --backend swtpm``, ``attest``). The KAST is dug out
of the request by hand (a DER walk, ``struct``), the AIK info opened with asn1crypto and the CA's exchange key,
and its certInfo, signature and key blob are checked with cryptography against what the swtpm store itself
reports: the key's TPMT_PUBLIC and the public key of the TPM's Windows AIK. None of hsmsim's verifiers take part
until ``hsmsim verify`` is run on the bundle at the end. Marker ``swtpm``: skipped where the backend cannot run.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hsmsim.keystore.base import AkTemplate
from hsmsim.keystore.swtpm import SwtpmKeyStore, swtpm_available
from hsmsim.tpm.hierarchy import ak_public
from hsmsim.tpm.marshal import TPM_GENERATED_VALUE, TpmSt
from hsmsim.tpm.structures import CertifyInfo, TpmsAttest

_UNAVAILABLE = swtpm_available()
pytestmark = [pytest.mark.swtpm,
              pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"swtpm backend unavailable: {_UNAVAILABLE}")]

WINDOWS_QUALIFYING_DATA = bytes.fromhex("136e2f14ddaf3072a6e3894dbf7a5426362f10d6")
"""TPM2_Certify's qualifyingData in every real Surface request (docs/formats/ms-kast.md, Byte facts)."""
OID_STATEMENT = "1.3.6.1.4.1.311.21.24"
OID_AIK_INFO = "1.3.6.1.4.1.311.21.39"
OID_PUREBRED_WINDOWS = "1.3.6.1.4.1.37623.26.3"
"""Purebred's attribute of Windows evidence (docs/formats/purebred.md: ``.26.3``)."""
KAST_MAGIC, KADS_MAGIC, PCP_MAGIC = b"KAST", b"KADS", b"PCPM"
SPECS = ("ec-p256", "rsa-3072")
ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], capture_output=True, text=True, timeout=300,
                          check=False, env=env)


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A state per format, each holding an ec-p256 and an rsa-3072 key in its swtpm."""
    made = {}
    for fmt in ("ms-kast", "purebred"):
        state = tmp_path_factory.mktemp(fmt) / "st"
        for spec in SPECS:
            created = _run("key", "create", "--backend", "swtpm", "--format", fmt, "--label", spec, "--spec", spec,
                           "--state", str(state))
            assert created.returncode == 0, created.stderr
        made[fmt] = state
    return made


# -- a DER walk, by hand ---------------------------------------------------------------------------------
def _tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, content, end) of the TLV at ``pos``."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + length], pos + length


def _children(tlv: bytes) -> list[bytes]:
    """The TLVs inside the constructed TLV ``tlv``, each whole."""
    _, content, _ = _tlv(tlv)
    out, pos = [], 0
    while pos < len(content):
        _, _, end = _tlv(content, pos)
        out.append(content[pos:end])
        pos = end
    return out


def _content(tlv: bytes) -> bytes:
    return _tlv(tlv)[1]


def _oid(dotted: str) -> bytes:
    return core.ObjectIdentifier(dotted).dump()


def _attribute(csr: bytes, oid: str) -> bytes:
    """The one value of the PKCS#10 attribute ``oid``."""
    info = _children(csr)[0]
    attributes = _children(_children(info)[3])
    values = [_children(parts[1]) for parts in map(_children, attributes) if parts[0] == _oid(oid)]
    assert len(values) == 1 and len(values[0]) == 1
    return values[0][0]


def _cmc_request(content_info: bytes) -> tuple[bytes, list[bytes]]:
    """The PKCS#10 inside a CMC Full PKI Request and the SignedData's certificates."""
    oid, signed = _children(content_info)
    assert oid == _oid("1.2.840.113549.1.7.2")
    fields = _children(_children(signed)[0])
    e_content = _children(_children(fields[2])[1])[0]
    certificates = _children(fields[3])
    requests = _children(_children(_content(e_content))[1])
    _body_part, csr = _children(requests[0])
    return csr, certificates


def _kast(kast: bytes) -> tuple[bytes, bytes, bytes]:
    """The certify TPMS_ATTEST, the AIK's signature and the key blob's TPMT_PUBLIC of a KAST, read by hand."""
    magic, version, platform, header, cb_id, cb_attestation, cb_opaque = struct.unpack_from("<4s6I", kast)
    assert (magic, version, platform, header, cb_id, cb_opaque) == (KAST_MAGIC, 1, 2, 28, 0, 0)
    assert len(kast) == 28 + cb_attestation
    kads = kast[28:]
    magic, platform, header, cb_attest, cb_signature, cb_blob = struct.unpack_from("<4s5I", kads)
    assert (magic, platform, header, len(kads)) == (KADS_MAGIC, 2, 24, 24 + cb_attest + cb_signature + cb_blob)
    attest, signature = kads[24:24 + cb_attest], kads[24 + cb_attest:24 + cb_attest + cb_signature]
    blob = kads[24 + cb_attest + cb_signature:]
    magic, cb_header, pcp_type, _flags, cb_public = struct.unpack_from("<4s4I", blob)
    assert (magic, cb_header, pcp_type) == (PCP_MAGIC, 56, 2)
    public = blob[56:56 + cb_public]
    assert int.from_bytes(public[:2], "big") == len(public) - 2
    return attest, signature, public[2:]


def _aik_info(csr: bytes, ca_key_pem: bytes) -> tuple[bytes, x509.Certificate]:
    """The AIK SubjectPublicKeyInfo and certificate of szOID_ENROLL_AIK_INFO, opened with the CA's exchange key."""
    ca_key = serialization.load_pem_private_key(ca_key_pem, None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    enveloped = cms.ContentInfo.load(_attribute(csr, OID_AIK_INFO))["content"]
    recipient = enveloped["recipient_infos"][0].chosen
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    cek = ca_key.decrypt(recipient["encrypted_key"].native, oaep)
    encrypted = enveloped["encrypted_content_info"]
    iv = encrypted["content_encryption_algorithm"]["parameters"].native
    decryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).decryptor()
    padded = decryptor.update(encrypted["encrypted_content"].native) + decryptor.finalize()
    spki, certificate = _children(padded[:-padded[-1]])
    return spki, x509.load_der_x509_certificate(certificate)


def _check_genuine(state: Path, label: str, kast: bytes, csr: bytes, ca_key_pem: bytes) -> None:
    """The KADS is swtpm's TPM2_Certify of the key by its Windows AIK, and the AIK info names that AIK."""
    attest, signature, area = _kast(kast)
    with SwtpmKeyStore(state / "swtpm") as store:
        aik = store.attestation_key(AkTemplate.WINDOWS)
        key_area = store.public_area(label)
        clear = TpmsAttest.unmarshal(store.certify(label, b"").attest)  # by the default AK, in the EK's hierarchy
    assert area == key_area  # the key blob's TPMT_PUBLIC is the one the TPM holds
    assert isinstance(aik.public_key, rsa.RSAPublicKey) and aik.public_key.key_size == 2048
    assert aik.public_area == ak_public(aik.public_key).marshal()  # byte for byte the emulated Windows AIK's
    aik.public_key.verify(signature, attest, padding.PKCS1v15(), hashes.SHA256())  # bare RSASSA, 256 bytes
    assert len(signature) == 256
    info = TpmsAttest.unmarshal(attest)
    assert (info.magic, info.type, info.extra_data) == (TPM_GENERATED_VALUE, TpmSt.ATTEST_CERTIFY,
                                                        WINDOWS_QUALIFYING_DATA)
    assert info.qualified_signer == aik.qualified_name  # signed by the real AIK, not an emulated one
    assert isinstance(info.attested, CertifyInfo) and info.attested.name == b"\x00\x0b" + hashlib.sha256(area).digest()
    # A child of the SRK: the TPM obfuscates firmwareVersion in what it signs, not in what the EK's AK signs.
    assert info.firmware_version != clear.firmware_version
    aik_spki, aik_certificate = _aik_info(csr, ca_key_pem)
    spki = aik.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert aik_spki == spki and aik_certificate.public_key() == aik.public_key


def _request_name(spec: str, output: str) -> str:
    return f"{spec}.kast.{'cmc' if output == 'cmc' else 'p10'}"


def _verify(path: Path, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run("verify", str(path), "--root", str(root), *extra)


@pytest.mark.parametrize(("spec", "output"), [("ec-p256", "cmc"), ("rsa-3072", "pkcs10")])
def test_ms_kast_of_a_swtpm_key_is_the_tpms_own_certify(states, tmp_path, spec, output):
    out = tmp_path / "out"
    attested = _run("attest", "--format", "ms-kast", "--key", spec, "--out", str(out), "--state",
                    str(states["ms-kast"]), "--param", f"output={output}")
    assert attested.returncode == 0, attested.stderr
    request = (out / _request_name(spec, output)).read_bytes()
    csr = _cmc_request(request)[0] if output == "cmc" else request
    kast = _content(_attribute(csr, OID_STATEMENT))
    _check_genuine(states["ms-kast"], spec, kast, csr, (out / f"{spec}.ca-exchange.p8").read_bytes())
    ek_chain = x509.load_pem_x509_certificates((out / f"{spec}.ek-chain.pem").read_bytes())
    assert ek_chain[-1].subject.rfc4514_string() == "CN=swtpm-localca-rootca"
    verified = _verify(out / _request_name(spec, output), out / "tpm_root_ca.pem", "--profile", "strict", "--json")
    assert verified.returncode == 0, verified.stderr
    verdict = json.loads(verified.stdout)
    assert verdict["verdict"] == "ACCEPT" and verdict["claims"]["extra"]["tpm_signature_checked"] is True


@pytest.mark.parametrize(("spec", "container"), [("ec-p256", "request"), ("rsa-3072", "preenroll")])
def test_purebred_windows_request_of_a_swtpm_key_carries_the_tpms_own_certify(states, tmp_path, spec,
                                                                               container):
    out = tmp_path / "out"
    attested = _run("attest", "--format", "purebred", "--key", spec, "--out", str(out), "--state",
                    str(states["purebred"]), "--param", "kind=windows", "--param", f"container={container}")
    assert attested.returncode == 0, attested.stderr
    primary = out / f"{spec}_{'request' if container == 'request' else 'attestation'}.bin"
    data = primary.read_bytes()
    cmc = _attribute(data, OID_PUREBRED_WINDOWS) if container == "request" else data
    csr = _cmc_request(cmc)[0]
    kast = _content(_attribute(csr, OID_STATEMENT))
    _check_genuine(states["purebred"], spec, kast, csr, (out / f"{spec}.ca-exchange.p8").read_bytes())
    verified = _verify(primary, out / "purebred_roots.pem", "--format", "purebred", "--profile", "strict")
    assert (verified.returncode, verified.stdout.strip()) == (0, "ACCEPT"), verified.stderr


def test_an_id_binding_for_a_swtpm_key_is_refused_in_one_line(states, tmp_path):
    """TPM2_CertifyCreation of the AIK needs its creation ticket, which the store does not keep: exit 2, no
    evidence signed by another AIK than the one that certified the key."""
    refused = _run("attest", "--format", "ms-kast", "--key", "ec-p256", "--out", str(tmp_path / "out"), "--state",
                   str(states["ms-kast"]), "--param", "id_binding=true")
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "id_binding" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
