"""Thales Luna Public Key Confirmation (``luna-pkc``): the certs-only PKCS#7 ``cmu getpkc`` writes.

Generator and reference verifier side by side. Facts from ``shared/specs/luna_fortanix_nshield.md`` 2
(EXACT, checked against the real published samples):

* The PKC is a DER PKCS#7 ``signedData``: version 1, empty ``digestAlgorithms``, ``data`` content
  type with no content, the certificates leaf first, no CRLs, empty ``signerInfos``: byte for byte
  what ``openssl crl2pkcs7 -nocrl`` builds from the same certificates. Nothing is signed over any
  claim: the evidence is that the device's DAC (RSA) or HOC (ECC) issued a certificate for the key,
  which Luna does only for keys generated inside the HSM and never extractable.
* ``pkctype`` 2 (Chrysalis-ITS): PKC -> DAC -> HOC -> MIC -> root for RSA keys; PKC -> HOC -> root
  for EC keys. ``pkctype`` 1 (TC-Trust Center): PKC -> DAC -> TC root (the chain is a GUESS).
* Luna writes ``critical FALSE`` explicitly (cryptography cannot parse such certificates) and,
  on the real ECC leaf, an unpadded ECDSA ``s``; both are switchable in :class:`LunaOptions`.

The reference verifier follows the vendor's validator and the spec: every certificate is signed
by the next, the last equals a trust anchor by DN and key, the EKU at each position is Luna's,
the HSM serial extensions agree, and the leaf SPKI equals the CSR's. Choices where the vendor is
silent are listed in ``docs/formats/luna.md``.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type

from hsmsim.checks import require_code_signing_key
from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import BundleError, UnsupportedKeyError
from hsmsim.formats.luna.asn1 import (
    MAX_CSR_BYTES,
    MAX_PKC_BYTES,
    OID_DATA,
    OID_SIGNED_DATA,
    SHA1_WITH_RSA,
    Cert,
    CertBag,
    basic_constraints_ca,
    check_signature,
    children,
    key_usage_bits,
    load_public_key,
    name_text,
    oid_list,
    oid_of,
    parse_certificate,
    parse_certs_only,
    parse_csr,
    parse_document,
)
from hsmsim.formats.luna.pki import (
    EKU_DAC,
    EKU_ECC_HOC,
    EKU_ECC_ROOT,
    EKU_HOC,
    EKU_MIC,
    EKU_PKC,
    EKU_ROOT,
    EXT_2_4,
    EXT_2_6,
    EXT_2_7,
    EXT_FIRMWARE,
    EXT_KEY_FLAGS,
    EXT_SERIAL,
    OID_AKI,
    OID_BC,
    OID_EKU,
    OID_KU,
    OID_POLICIES,
    OID_SKI,
    PARSEABLE,
    CertEncoding,
    LunaPki,
    algorithm_identifier,
    build_luna_certificate,
    encode_name,
    firmware_text,
    luna_attestation_identity,
    luna_pki,
    ouid,
    pkc_spec,
    seq,
    sign_message,
    spki_der,
    tlv,
)
from hsmsim.keystore.base import KeySpec, PrivateKey, StoredKey
from hsmsim.model.evidence import MAX_BUNDLE_FILE_BYTES, Evidence, TrustAnchors, read_bundle_dir
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import FlagNote, VectorCase
from hsmsim.pki.builder import CertSpec, build_certificate
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

FORMAT_NAME = "luna-pkc"
RSA_ROOT_FILE = "luna-rsa-root-certificate.pem"
ECC_ROOT_FILE = "luna-ecc-root-certificate.pem"
TC_ROOT_FILE = "luna-tc-root-certificate.pem"
PKC_SUFFIXES = (".p7b", ".p7c", ".p7")
_KNOWN_CRITICAL = {OID_EKU, OID_KU, OID_BC, OID_SKI, OID_AKI, OID_POLICIES}
_KNOWN_EXTENSIONS = _KNOWN_CRITICAL | {EXT_SERIAL, EXT_FIRMWARE, EXT_2_4, EXT_KEY_FLAGS, EXT_2_6, EXT_2_7}
_OUID = re.compile(r"[0-9a-f]{24}")


@dataclass(frozen=True)
class LunaOptions:
    """Choices of the generator (see ``docs/formats/luna.md``); defaults reproduce the real files."""

    pkc_type: int = 2
    """``cmu getpkc -pkctype``: 2 = Chrysalis-ITS chain to the root, 1 = TC-Trust Center (GUESS)."""
    strict_der: bool = False
    """Omit the explicit ``critical FALSE`` Luna writes on its private extensions."""
    ecdsa_null_params: bool = True
    """NULL parameters in ecdsa-with-SHA* AlgorithmIdentifiers (certificates and CSR), as Luna writes."""
    unpadded_ecdsa_s: bool = False
    """Reproduce the real ECC leaf's unpadded ECDSA ``s`` (openssl verify then fails with error 7)."""
    ca_extensions: bool = False
    """Give the emulated RSA root keyUsage and basicConstraints CA:TRUE so a plain openssl verify passes."""
    include_root: bool = True
    """Put the root in the bag, as both real PKCs do."""
    model: str = "K7"
    firmware: tuple[int, int, int] = (7, 8, 4)
    csr_crlf: bool = True
    """Write the CSR with CRLF line ends, as ``cmu requestcertificate`` does."""
    csr_subject: tuple[tuple[str, str], ...] = (("C", "CA"), ("CN", "{label}"), ("L", "Ottawa"), ("O", "hsmsim"))
    """RDNs of the CSR, in ``cmu requestcertificate``'s order; ``{label}`` is the key's label."""

    @property
    def encoding(self) -> CertEncoding:
        """How the certificates are written."""
        return CertEncoding(strict_der=self.strict_der, ecdsa_null_params=self.ecdsa_null_params)


@dataclass(frozen=True)
class Layout:
    """One Luna hierarchy: the role and required EKU of every position, leaf first."""

    name: str
    roles: tuple[str, ...]
    ekus: tuple[str | None, ...]


RSA_LAYOUT = Layout("RSA", ("PKC", "DAC", "HOC", "MIC", "root"), (EKU_PKC, EKU_DAC, EKU_HOC, EKU_MIC, EKU_ROOT))
ECC_LAYOUT = Layout("ECC", ("PKC", "HOC", "root"), (EKU_PKC, EKU_ECC_HOC, EKU_ECC_ROOT))
TC_LAYOUT = Layout("TC-Trust Center", ("PKC", "DAC", "TC root"), (EKU_PKC, EKU_DAC, None))


# -- generation -------------------------------------------------------------------------------

def certs_only_pkcs7(certificates: list[bytes], *, crls: bytes | None = None, signer_infos: bytes = b"",
                     digest_algorithms: bytes = b"", content: bytes | None = None) -> bytes:
    """A PKCS#7 SignedData exactly as ``openssl crl2pkcs7 -nocrl`` writes it for these certificates
    (in this order); the keyword arguments add what Luna never writes, for defect vectors."""
    data_oid = core.ObjectIdentifier(OID_DATA).dump()
    encap = seq(data_oid, tlv(0xA0, content)) if content is not None else seq(data_oid)
    signed = seq(core.Integer(1).dump(), tlv(0x31, digest_algorithms), encap, tlv(0xA0, b"".join(certificates)),
                 tlv(0xA1, crls) if crls is not None else b"", tlv(0x31, signer_infos))
    return seq(core.ObjectIdentifier(OID_SIGNED_DATA).dump(), tlv(0xA0, signed))


def pem(der: bytes, label: str = "CERTIFICATE", newline: bytes = b"\n") -> bytes:
    """PEM armour with 64-column lines."""
    body = base64.b64encode(der)
    lines = [b"-----BEGIN " + label.encode() + b"-----"]
    lines += [body[i:i + 64] for i in range(0, len(body), 64)]
    lines.append(b"-----END " + label.encode() + b"-----")
    return newline.join(lines) + newline


def build_csr(key: StoredKey, signer: PrivateKey, options: LunaOptions | None = None) -> bytes:
    """The CSR ``cmu requestcertificate`` writes for ``key``: PKCS#10 v1, PrintableString RDNs,
    empty attributes, SHA-256 (ECDSA with NULL parameters), PEM ``NEW CERTIFICATE REQUEST``."""
    options = options or LunaOptions()
    subject = encode_name(tuple((attr, value.replace("{label}", key.label)) for attr, value in options.csr_subject))
    algorithm = "sha256_ecdsa" if isinstance(signer, ec.EllipticCurvePrivateKey) else "sha256_rsa"
    info = seq(core.Integer(0).dump(), subject, spki_der(signer.public_key()), tlv(0xA0, b""))
    signature = sign_message(info, signer, algorithm)
    der = seq(info, algorithm_identifier(algorithm, options.encoding), tlv(0x03, b"\x00" + signature))
    return pem(der, "NEW CERTIFICATE REQUEST", b"\r\n" if options.csr_crlf else b"\n")


def safe_file_stem(label: str) -> str:
    """The label as a file-name stem: characters outside ``[A-Za-z0-9._-]`` become ``_``."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", label).lstrip(".")
    return stem or "key"


def device_serial(device: Device) -> int:
    """The device serial as Luna's uint32; raises :class:`UnsupportedKeyError` when it is not one."""
    if not device.serial.isdigit() or int(device.serial) >= 1 << 32:
        raise UnsupportedKeyError(f"a Luna serial is a decimal uint32, not {device.serial!r}")
    return int(device.serial)


@dataclass(frozen=True)
class LunaBundle:
    """One generated PKC before packaging: the certificates (leaf first) and the files around them."""

    stem: str
    certificates: tuple[bytes, ...]
    csr_pem: bytes
    root_file: str
    root_pem: bytes

    def evidence(self, pkc: bytes | None = None) -> Evidence:
        """``<stem>-pkc.p7b``, ``<stem>.csr`` and the root to trust (``pkc`` overrides the container)."""
        files = {f"{self.stem}-pkc.p7b": pkc if pkc is not None else certs_only_pkcs7(list(self.certificates)),
                 f"{self.stem}.csr": self.csr_pem, self.root_file: self.root_pem}
        return Evidence(FORMAT_NAME, files, f"{self.stem}-pkc.p7b")


def root_file_for(ec_key: bool, pkc_type: int) -> str:
    """The file name of the root a verifier trusts for this hierarchy (the real ones' names)."""
    return ECC_ROOT_FILE if ec_key else (TC_ROOT_FILE if pkc_type == 1 else RSA_ROOT_FILE)


def anchor_der(pki: LunaPki, ec_key: bool, pkc_type: int, options: LunaOptions) -> bytes:
    """The root as a trust-anchor file: the bag's own root, re-encoded so cryptography loads it
    (same name, key and extensions; the ECC root without its NULL parameters)."""
    parseable = luna_pki(pki.seed, pki.serial, model=pki.model, firmware=pki.firmware, encoding=PARSEABLE,
                         ca_extensions=options.ca_extensions)
    return parseable.issuers(ec_key, pkc_type)[-1].der


def assemble(key: StoredKey, signer: PrivateKey | None, seed: str, serial: int, partition: str,
             options: LunaOptions | None = None) -> LunaBundle:
    """Issue the PKC leaf for ``key`` under the device's emulated hierarchy (the generator's pure core)."""
    options = options or LunaOptions()
    if key.public_key is None or signer is None:
        raise UnsupportedKeyError(f"{key.label} is a secret key; a Luna PKC confirms key pairs only")
    if not isinstance(key.public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise UnsupportedKeyError(f"{key.spec.name} keys have no Luna PKC (RSA and EC only)")
    attrs = key.attributes
    if not attrs.local or attrs.extractable or not attrs.never_extractable:
        raise UnsupportedKeyError(f"{key.label} was imported or is (or was) extractable; Luna issues a PKC only "
                                  "for keys generated in the HSM that never left it")
    ec_key = isinstance(key.public_key, ec.EllipticCurvePublicKey)
    pki = luna_pki(seed, serial, model=options.model, firmware=options.firmware, encoding=options.encoding,
                   ca_extensions=options.ca_extensions)
    issuers = pki.issuers(ec_key, options.pkc_type)
    spec = pkc_spec(pki, key.public_key, ouid(seed, serial, partition, key.label), pkc_type=options.pkc_type,
                    unpadded_ecdsa_s=options.unpadded_ecdsa_s)
    leaf = build_luna_certificate(spec, issuers[0].key, options.encoding)
    chain = [leaf, *(ca.der for ca in issuers)]
    if not options.include_root:
        chain = chain[:-1]
    return LunaBundle(safe_file_stem(key.label), tuple(chain), build_csr(key, signer, options),
                      root_file_for(ec_key, options.pkc_type), pem(anchor_der(pki, ec_key, options.pkc_type, options)))


# -- verification -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Inputs:
    pkc: bytes
    csr: bytes | None


def _pkc_stem(name: str) -> str:
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.removesuffix("-pkc")


def _gather(evidence: Evidence) -> _Inputs:
    for rel, data in evidence.files.items():
        if len(data) > MAX_BUNDLE_FILE_BYTES:
            raise Rejected(Reason.LIMIT_EXCEEDED, f"{rel} is larger than {MAX_BUNDLE_FILE_BYTES} bytes")
    pkcs = [rel for rel in evidence.files if rel.lower().endswith(PKC_SUFFIXES)]
    if not pkcs and evidence.primary in evidence.files and not evidence.primary.lower().endswith((".csr", ".pem")):
        pkcs = [evidence.primary]
    if not pkcs:
        raise Rejected(Reason.MISSING_INPUT, "no PKC (.p7b) in the evidence")
    if len(pkcs) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one PKC in the evidence: {sorted(pkcs)}")
    csrs = [rel for rel, data in evidence.files.items()
            if rel.lower().endswith((".csr", ".req")) or b"CERTIFICATE REQUEST-----" in data[:64]]
    stem = _pkc_stem(pkcs[0])
    matching = [rel for rel in csrs if _pkc_stem(rel).startswith(stem)]
    chosen = matching if len(matching) == 1 else csrs
    return _Inputs(evidence.files[pkcs[0]], evidence.files[chosen[0]] if len(chosen) == 1 else None)


def _linked(certs: list[Cert]) -> bool:
    return all(child.issuer == parent.subject for child, parent in itertools.pairwise(certs))


def _reordered(certs: list[Cert]) -> list[Cert] | None:
    """The one leaf-first order of ``certs`` in which every certificate names the next as issuer."""
    issuers = {c.issuer for c in certs if not c.self_issued}
    leaves = [c for c in certs if c.subject not in issuers]
    if len(leaves) != 1:
        return None
    ordered = [leaves[0]]
    while len(ordered) < len(certs) and not ordered[-1].self_issued:
        following = [c for c in certs if c.subject == ordered[-1].issuer and c not in ordered]
        if len(following) != 1:
            return None
        ordered.append(following[0])
    return ordered if len(ordered) == len(certs) else None


def _ordered(certs: list[Cert], profile: Profile, quirks: set[str]) -> list[Cert]:
    if _linked(certs):
        return certs
    ordered = _reordered(certs)
    if ordered is None:
        return certs  # the link check names the first break
    if profile is Profile.STRICT:
        raise Rejected(Reason.MALFORMED, "the PKC's certificates are not leaf first, as Luna writes them and "
                                         "the vendor's validator requires")
    quirks.add("chain-reordered")
    return ordered


def _check_link(child: Cert, issuer: Cert, index: int, quirks: set[str]) -> None:
    if child.algorithm.oid == SHA1_WITH_RSA and issuer is not child:
        raise Rejected(Reason.UNSUPPORTED, f"certificate {index} ({child.name!r}) is signed with sha1WithRSA; SHA-1 "
                                           "is accepted only on the root's self-signature")
    valid, flags = check_signature(child.tbs, child.signature, child.algorithm, issuer.spki, f"certificate {index}")
    if not valid:
        raise Rejected(Reason.CERT_SIGNATURE_INVALID,
                       f"certificate {index} ({child.name!r}) is not signed by {issuer.name!r}")
    quirks.update(flags)


def _check_links(chain: list[Cert], quirks: set[str]) -> None:
    for index, cert in enumerate(chain):
        if index + 1 < len(chain):
            issuer = chain[index + 1]
            if cert.issuer != issuer.subject:
                raise Rejected(Reason.CHAIN_INCOMPLETE, f"certificate {index} ({cert.name!r}) names issuer "
                                                        f"{_issuer_text(cert)!r}, but the next certificate is "
                                                        f"{issuer.name!r}")
        elif cert.self_issued:
            issuer = cert
        else:
            return
        _check_link(cert, issuer, index, quirks)


def _issuer_text(cert: Cert) -> str:
    return name_text(cert.issuer)


def _anchors(trust: TrustAnchors) -> list[Cert]:
    anchors = []
    for index, anchor in enumerate(trust.all()):
        try:
            anchors.append(parse_certificate(anchor.public_bytes(Encoding.DER), f"trust anchor {index}"))
        except Rejected:
            continue
    return anchors


def _anchor(chain: list[Cert], anchors: list[Cert], quirks: set[str]) -> tuple[list[Cert], Cert]:
    """The path to a trust anchor (leaf first, root last) and the root whose EKU names the hierarchy."""
    if not anchors:
        raise Rejected(Reason.CHAIN_UNTRUSTED, "no trust anchor given")
    last = chain[-1]
    if any(a.subject == last.subject and a.spki == last.spki for a in anchors):
        if not last.self_issued:  # a self-issued last certificate had its self-signature checked with the links
            raise Rejected(Reason.CERT_SIGNATURE_INVALID, f"the root copy {last.name!r} in the PKC is not self-signed")
        return chain, last
    if last.self_issued:
        lookalike = any(a.subject == last.subject for a in anchors)
        raise Rejected(Reason.CHAIN_UNTRUSTED, f"the chain ends at {last.name!r}, which is not a trusted root"
                                               + (" (same name as a trust anchor, different key)" if lookalike else ""))
    named = [a for a in anchors if a.subject == last.issuer]
    if not named:
        raise Rejected(Reason.CHAIN_INCOMPLETE,
                       f"the issuer {_issuer_text(last)!r} of the last certificate is neither in the PKC nor trusted")
    if last.algorithm.oid == SHA1_WITH_RSA:
        raise Rejected(Reason.UNSUPPORTED, f"{last.name!r} is signed with sha1WithRSA; SHA-1 is accepted only on "
                                           "the root's self-signature")
    for anchor in named:
        valid, flags = check_signature(last.tbs, last.signature, last.algorithm, anchor.spki, "last certificate")
        if valid:
            quirks.update(flags)
            quirks.add("root-from-trust-anchor")
            return [*chain, anchor], anchor
    raise Rejected(Reason.CERT_SIGNATURE_INVALID, f"{last.name!r} is not signed by the trusted {_issuer_text(last)!r}")


def _ekus(cert: Cert, what: str) -> tuple[str, ...]:
    ext = cert.extension(OID_EKU)
    return oid_list(ext.value, f"{what} extendedKeyUsage") if ext is not None else ()


def _layout(root: Cert) -> Layout:
    ekus = _ekus(root, "root")
    if EKU_ROOT in ekus:
        return RSA_LAYOUT
    if EKU_ECC_ROOT in ekus:
        return ECC_LAYOUT
    return TC_LAYOUT


def _check_shape(path: list[Cert], layout: Layout) -> None:
    expected = len(layout.roles)
    if len(path) < expected:
        raise Rejected(Reason.CHAIN_INCOMPLETE, f"the {layout.name} PKC path has {len(path)} certificates; Luna's "
                                                f"has {expected} ({', '.join(layout.roles)})")
    if len(path) > expected:
        raise Rejected(Reason.MALFORMED, f"the {layout.name} PKC path has {len(path)} certificates; Luna's has "
                                         f"{expected} ({', '.join(layout.roles)})")


def _check_certificates(path: list[Cert], layout: Layout, at: datetime) -> None:
    for index, (cert, role) in enumerate(zip(path, layout.roles, strict=True)):
        if at < cert.not_before:
            raise Rejected(Reason.CERT_NOT_YET_VALID,
                           f"{role} {cert.name!r} is valid only from {cert.not_before:%Y-%m-%dT%H:%M:%SZ}")
        if at > cert.not_after:
            raise Rejected(Reason.CERT_EXPIRED, f"{role} {cert.name!r} expired {cert.not_after:%Y-%m-%dT%H:%M:%SZ}")
        for ext in cert.extensions:
            if ext.critical and ext.oid not in _KNOWN_CRITICAL:
                raise Rejected(Reason.CERT_UNKNOWN_CRITICAL, f"{role} {cert.name!r} has unknown critical extension "
                                                             f"{ext.oid}")
        if 0 < index < len(path) - 1:
            bc = cert.extension(OID_BC)
            if bc is None or not basic_constraints_ca(bc.value, f"{role} basicConstraints"):
                raise Rejected(Reason.CERT_NOT_CA, f"{role} {cert.name!r} issues certificates without "
                                                   "basicConstraints CA:TRUE")
            ku = cert.extension(OID_KU)
            if ku is not None and 5 not in key_usage_bits(ku.value, f"{role} keyUsage"):
                raise Rejected(Reason.CERT_NOT_CA, f"{role} {cert.name!r} keyUsage lacks keyCertSign")
    for index, (cert, role, required) in enumerate(zip(path, layout.roles, layout.ekus, strict=True)):
        ekus = _ekus(cert, role)
        if required is not None and required not in ekus:
            raise Rejected(Reason.CERT_EKU, f"the {role} {cert.name!r} lacks EKU {required} "
                                            f"(has {', '.join(ekus) or 'none'})")
        if index > 0 and EKU_PKC in ekus:
            raise Rejected(Reason.CERT_EKU, f"the {role} {cert.name!r} carries the PKC-only EKU {EKU_PKC}")


def _uint32(cert: Cert, role: str) -> int:
    ext = cert.extension(EXT_SERIAL)
    if ext is None:
        raise Rejected(Reason.ATTR_MISSING, f"the {role} has no HSM serial extension ({EXT_SERIAL})")
    if len(ext.value) != 4:
        raise Rejected(Reason.MALFORMED, f"the {role}'s HSM serial extension is {len(ext.value)} bytes, not 4")
    return int.from_bytes(ext.value, "little")


@dataclass(frozen=True)
class _Device:
    serial: int
    model: str | None
    firmware: str | None
    object_id: str | None


def _check_device(path: list[Cert], layout: Layout, profile: Profile) -> _Device:
    leaf = path[0]
    serial = _uint32(leaf, "PKC")
    issuer_cn = path[1].common_name() or ""
    model = None
    if layout is ECC_LAYOUT:
        if issuer_cn != str(serial):
            raise Rejected(Reason.ATTR_CONFLICT, f"the PKC says HSM serial {serial}, its HOC is {issuer_cn!r}")
    else:
        dac_serial = _uint32(path[1], "DAC")
        if dac_serial != serial:
            raise Rejected(Reason.ATTR_CONFLICT, f"the PKC says HSM serial {serial}, its DAC says {dac_serial}")
        model, _, cn_serial = issuer_cn.rpartition("-")
        if cn_serial != str(serial):
            raise Rejected(Reason.ATTR_CONFLICT, f"the PKC says HSM serial {serial}, its DAC is {issuer_cn!r}")
    object_id = leaf.common_name()
    if profile is Profile.STRICT:
        if object_id is None or not _OUID.fullmatch(object_id):
            raise Rejected(Reason.MALFORMED, f"the PKC's CN {object_id!r} is not a 24-hex Luna object id")
        if object_id[16:] != serial.to_bytes(4, "little").hex():
            raise Rejected(Reason.ATTR_CONFLICT, f"the PKC's object id {object_id} ends in another HSM's serial")
    firmware = next((firmware_text(c.extension(EXT_FIRMWARE).value)  # type: ignore[union-attr]
                     for c in path[:2] if c.extension(EXT_FIRMWARE) is not None), None)
    return _Device(serial, model or None, firmware, object_id)


def _check_binding(spki: bytes, csr_data: bytes | None) -> None:
    if csr_data is None:
        raise Rejected(Reason.MISSING_INPUT, "no CSR to bind the confirmed key to")
    csr = parse_csr(csr_data)
    valid, _ = check_signature(csr.info, csr.signature, csr.algorithm, csr.spki, "CSR")
    if not valid:
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "CSR self-signature does not verify")
    if csr.spki != spki:
        raise Rejected(Reason.KEY_MISMATCH, "the CSR's public key differs from the PKC leaf's")


def _key_facts(spki: bytes) -> tuple[str, int | None]:
    key = load_public_key(spki, "PKC subjectPublicKeyInfo")
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}", key.curve.key_size
    return type(key).__name__, None


def _check_strict(bag: CertBag, path: list[Cert], key_type: str, size: int | None) -> None:
    if bag.extras:
        raise Rejected(Reason.UNEXPECTED_CONTENT, f"the PKC carries what Luna never writes: {'; '.join(bag.extras)}")
    for cert in path:
        unknown = [e.oid for e in cert.extensions if e.oid not in _KNOWN_EXTENSIONS]
        if unknown:
            raise Rejected(Reason.UNEXPECTED_CONTENT, f"{cert.name!r} has unknown extensions: {', '.join(unknown)}")
    require_code_signing_key(key_type, size)


_STRING_TYPES = {0x13: _ASN1Type.PrintableString, 0x0C: _ASN1Type.UTF8String, 0x16: _ASN1Type.IA5String}


def _standin_name(der: bytes) -> x509.Name:
    rdns = []
    for rdn in children(parse_document(der, "Name"), "Name", 64):
        attributes = []
        for attribute in children(rdn, "Name", 16):
            oid_node, value = children(attribute, "Name")[:2]
            if value.tag not in _STRING_TYPES:
                raise Rejected(Reason.UNSUPPORTED, f"name attribute string type 0x{value.tag:02x}")
            attributes.append(x509.NameAttribute(x509.ObjectIdentifier(oid_of(oid_node, "Name")),
                                                 value.value.decode("utf-8"), _type=_STRING_TYPES[value.tag]))
        rdns.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(rdns)


def load_trust_anchor(data: bytes) -> x509.Certificate:
    """A Luna root (PEM or DER) as a cryptography trust anchor, even where cryptography refuses it.

    The Luna verifier trusts a root by DN and key. cryptography cannot load the real ECC root (its
    ecdsa-with-SHA384 carries NULL parameters), so such a root is represented by a stand-in with
    the same subject DN (byte for byte) and public key, self-issued under a throwaway key. Raises
    :class:`BundleError` when the data is no certificate at all.
    """
    try:
        return (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data))
    except ValueError:
        pass
    der = data
    if b"-----BEGIN" in data:
        body = re.search(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", data, re.DOTALL)
        der = base64.b64decode(b"".join(body.group(1).split())) if body else b""
    try:
        cert = parse_certificate(der, "trust anchor")
        public_key = load_public_key(cert.spki, "trust anchor")
        name = _standin_name(cert.subject)
    except (Rejected, UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"cannot use this trust anchor: {getattr(exc, 'detail', exc)}") from None
    if name.public_bytes() != cert.subject:
        raise BundleError("cannot reproduce the trust anchor's subject name")
    signer = derive_key("luna-trust-anchor-stand-in", "signer", KeySpec.parse("ec-p256"))
    return build_certificate(CertSpec(subject=name, issuer=name, public_key=public_key,  # type: ignore[arg-type]
                                      serial=abs(cert.serial) or 1, not_before=cert.not_before,
                                      not_after=cert.not_after), signer)


def _flags(path: list[Cert], quirks: set[str]) -> list[str]:
    if any(e.explicit_false for cert in path for e in cert.extensions):
        quirks.add("explicit-critical-false")
    return sorted(quirks)


class LunaFormat:
    """The ``luna-pkc`` format: Thales Luna Public Key Confirmation (certs-only PKCS#7)."""

    name = FORMAT_NAME
    title = "Thales Luna Network HSM 7 (Public Key Confirmation)"
    key_specs: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")

    def __init__(self, options: LunaOptions | None = None) -> None:
        self.options = options or LunaOptions()


    def trust_anchors_from_files(self, paths: Sequence[Path]) -> TrustAnchors:
        """Trust anchors from PEM/DER files, including Luna roots cryptography cannot load."""
        anchors = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise BundleError(f"cannot read trust anchor {path}: {exc.strerror}") from exc
            anchors.append(load_trust_anchor(data))
        return TrustAnchors({"root": tuple(anchors)})
    def provision(
        self, device: Device, partition: str,
        attesting: tuple[str, PrivateKey, datetime] | None = None,
    ) -> AttestationIdentity:
        """The partition's identity: the DAC key with DAC -> HOC -> MIC and the RSA root (strict DER)."""
        if attesting is not None:
            raise UnsupportedKeyError("a Luna PKC is issued by the HSM's DAC (or HOC); no user key can attest")
        return luna_attestation_identity(device.seed, device_serial(device), model=self.options.model,
                                         firmware=self.options.firmware, ca_extensions=self.options.ca_extensions)

    def generate(self, request: AttestationRequest) -> Evidence:
        """The PKC, CSR and root file for the request's key.

        Parameters: ``pkc_type`` (1 or 2, as ``cmu getpkc -pkctype``), ``options`` (a :class:`LunaOptions`).
        """
        options = request.parameters.get("options", self.options)
        if not isinstance(options, LunaOptions):
            raise UnsupportedKeyError("parameter options must be a LunaOptions")
        pkc_type = request.parameters.get("pkc_type")
        if pkc_type is not None:
            if pkc_type not in (1, 2):
                raise UnsupportedKeyError(f"parameter pkc_type must be 1 or 2, not {pkc_type!r}")
            options = replace(options, pkc_type=pkc_type)
        bundle = assemble(request.key, request.key_signer, request.device.seed, device_serial(request.device),
                          request.partition, options)
        return bundle.evidence()

    def verify(
        self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
        profile: Profile = Profile.STRUCTURAL,
    ) -> Verdict:
        """Check the PKC; see :class:`hsmsim.verdict.Reason`.

        Order: inputs and bounds, the container, every certificate, order, each link signed by the
        next, the last equal to a trust anchor by DN and key, the hierarchy's length, validity at
        ``at`` (default now), critical extensions, CA flags, EKU per position, HSM serial extensions,
        CSR binding, then the profile's policy. The verdict detail lists encoding quirks tolerated.
        """
        try:
            return self._verify(evidence, trust, at or datetime.now(UTC), Profile(profile))
        except Rejected as rejection:
            return Verdict(rejection.reason, rejection.detail)

    def _verify(self, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
        inputs = _gather(evidence)
        bag = parse_certs_only(inputs.pkc)
        if not bag.certificates:
            raise Rejected(Reason.MISSING_INPUT, "the PKC holds no certificate")
        certs = [parse_certificate(der, f"certificate {i}", walked=True) for i, der in enumerate(bag.certificates)]
        if len({c.der for c in certs}) != len(certs):
            raise Rejected(Reason.MALFORMED, "a certificate appears twice in the PKC")
        quirks: set[str] = set()
        chain = _ordered(certs, profile, quirks)
        _check_links(chain, quirks)
        path, root = _anchor(chain, _anchors(trust), quirks)
        layout = _layout(root)
        _check_shape(path, layout)
        _check_certificates(path, layout, at)
        device = _check_device(path, layout, profile)
        leaf = path[0]
        _check_binding(leaf.spki, inputs.csr)
        key_type, size = _key_facts(leaf.spki)
        if profile is Profile.STRICT:
            _check_strict(bag, path, key_type, size)
        claims = Claims(
            spki_der=leaf.spki, key_type=key_type, key_size=size, generated_on_device=True, extractable=False,
            never_extractable=True, sensitive=None, always_sensitive=None, vendor="Thales", model=device.model,
            serial=str(device.serial), firmware=device.firmware,
        )
        flags = _flags(path, quirks)
        detail = f"PKC {device.object_id} confirmed by the {layout.name} chain of Luna {device.serial}"
        return Verdict(Reason.OK, detail + (f"; flags: {', '.join(flags)}" if flags else ""), claims)

    def load(self, path: Path) -> Evidence:
        """Read a PKC file (with the CSR beside it whose name starts like it, or the only CSR there)
        or a directory of loose files."""
        try:
            if path.is_dir():
                return Evidence(self.name, read_bundle_dir(path), path.name)
            if path.stat().st_size > MAX_PKC_BYTES:
                raise BundleError(f"{path} is larger than {MAX_PKC_BYTES} bytes")
            files = {path.name: path.read_bytes()}
            csrs = sorted(p for p in path.parent.glob("*.csr") if p.is_file() and p.stat().st_size <= MAX_CSR_BYTES)
            matching = [p for p in csrs if p.stem.startswith(_pkc_stem(path.name))]
            for csr in matching if len(matching) == 1 else (csrs if len(csrs) == 1 else []):
                files[csr.name] = csr.read_bytes()
        except OSError as exc:
            raise BundleError(f"cannot read {path}: {exc.strerror}") from exc
        return Evidence(self.name, files, path.name)

    def detect(self, path: Path) -> bool:
        """A ``.p7b`` (``.p7c``, ``.p7``) file holding a DER PKCS#7 signedData, or a directory with one."""
        try:
            if path.is_dir():
                return any(p.suffix.lower() in PKC_SUFFIXES and self.detect(p) for p in path.iterdir())
            if path.suffix.lower() not in PKC_SUFFIXES or path.stat().st_size > MAX_PKC_BYTES:
                return False
            with path.open("rb") as fh:
                head = fh.read(32)
        except OSError:
            return False
        oid = bytes.fromhex("06092a864886f70d010702")
        return head[:1] == b"\x30" and oid in head[:16]

    def vector_cases(self, seed: str) -> list[VectorCase]:
        """Golden PKCs for every key type and both pkctypes, and the one-defect mutations."""
        from hsmsim.formats.luna import catalogue as luna_vectors

        return luna_vectors.vector_cases(seed)

    def vector_notes(self) -> dict[str, FlagNote]:
        """Flag definitions of the Luna vectors."""
        from hsmsim.formats.luna import catalogue as luna_vectors

        return luna_vectors.notes()

    def fuzz_model(self, seed: str) -> FuzzModel | None:
        """None: this format is fuzzed through its catalogue and byte-level operators (the generic model)."""
        return None
