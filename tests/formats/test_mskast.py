"""ms-kast: Windows TPM key attestation (MS-WCCE KAST) in a CMC or PKCS#10 request."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID

from hsmsim.device import AttestationRequest
from hsmsim.encoding import der_children, der_content, der_set_of_order, pem, spki_der
from hsmsim.errors import ParameterError
from hsmsim.formats import detect, get_format
from hsmsim.formats.tpm import kast as wire
from hsmsim.formats.tpm.catalogue import ATTEST_TIME, GOLDEN_SPECS, VALIDATION_TIME
from hsmsim.formats.tpm.device import Parent
from hsmsim.formats.tpm.format import MsKastFormat
from hsmsim.formats.tpm.kast_catalogue import KastKit, mutations, notes, vector_cases
from hsmsim.formats.tpm.kast_format import check_aik_ca, looks_like_request, pkcs8_pem, request_der
from hsmsim.formats.tpm.layout import CA_KEY_SUFFIX, ROLE_AIK, ROLE_CA_KEY, may_be_request
from hsmsim.formats.tpm.pki import EKU_AIK_CERTIFICATE, EKU_MS_AIK_CA, tpm_pki
from hsmsim.keystore.base import KeySpec
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.builder import (
    PRINTABLE,
    CertSpec,
    Ext,
    build_certificate,
    extension_tlvs,
    key_usage,
    reissue,
    verbatim_extensions,
)
from hsmsim.pki.builder import name as x509_name
from hsmsim.pki.seed import derive_key
from hsmsim.tpm.structures import TpmsAttest
from hsmsim.verdict import Profile, Reason, Rejected
from tests.cli_process import run_hsmsim

FMT = get_format("ms-kast")
SEED = "mskast-test"
SURFACES = ("SP2017_1803", "SP3_1803", "SP4_1709")
PUREBRED_ATTRIBUTE = "1.3.6.1.4.1.37623.26.3"
SAMPLE_TIME = datetime(2018, 9, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def kit() -> KastKit:
    return KastKit.build(SEED, MsKastFormat())


@pytest.fixture(scope="module")
def cases() -> list:
    return vector_cases(SEED, MsKastFormat())


def trust_of(kit: KastKit) -> TrustAnchors:
    return TrustAnchors({"root": (kit.tpm_kit.identity.root,)})


def without_ca_key(evidence: Evidence) -> Evidence:
    return Evidence(evidence.format, {k: v for k, v in evidence.files.items() if not k.endswith(CA_KEY_SUFFIX)},
                    evidence.primary)


# -- goldens and the catalogue ------------------------------------------------------------------------

@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_golden_verifies_with_the_tpm_signature(kit: KastKit, spec: str) -> None:
    evidence = kit.draft(spec).evidence()
    verdict = FMT.verify(evidence, trust_of(kit), at=VALIDATION_TIME)
    assert verdict.accepted, verdict.summary()
    assert verdict.claims is not None
    extra = verdict.claims.extra
    assert extra["tpm_signature_checked"] is True
    key = kit.keys[spec].public_key
    assert extra["key_spki_sha256"] == hashlib.sha256(spki_der(key)).hexdigest()  # type: ignore[arg-type]
    assert verdict.claims.spki_der == spki_der(key)  # type: ignore[arg-type]
    assert verdict.claims.vendor == "IBM" and verdict.claims.generated_on_device is True
    assert verdict.claims.to_json()["extra"]["envelope"] == "cmc"


@pytest.mark.parametrize(("spec", "attributes"), [("rsa-2048", 0x00060072), ("rsa-3072", 0x00060072),
                                                  ("ec-p256", 0x00040072), ("ec-p384", 0x00040072)])
def test_a_golden_key_signs_and_decrypts_as_the_real_windows_keys(kit: KastKit, spec: str, attributes: int) -> None:
    """The three real Surface Pro requests attest RSA keys with TPMA_OBJECT 0x00060072 (fixedTPM, fixedParent,
    sensitiveDataOrigin, userWithAuth, decrypt, sign); EC keys, of which there is no real request, sign only."""
    assert int(kit.draft(spec).area.object_attributes) == attributes


def _name(data: bytes) -> bytes:
    return b"\x00\x0b" + hashlib.sha256(data).digest()


def test_the_aik_is_in_the_storage_hierarchy_and_its_attest_obfuscated(kit: KastKit) -> None:
    draft = dataclasses.replace(kit.draft("rsa-3072"), id_binding=True)
    tpm = kit.tpm_kit.tpm
    aik_area = tpm.ak_public(kit.tpm_kit.identity.key.public_key()).marshal()
    # QN(AIK) = H(QN(SRK) ‖ Name(AIK)), QN(SRK) = H(TPM_RH_OWNER ‖ Name(SRK)): the parent the creation data names
    qn_srk = _name(bytes.fromhex("40000001") + _name(tpm.srk_public().marshal()))
    qn_aik = _name(qn_srk + _name(aik_area))
    # the reference implementation's FillInAttestInfo: KDFa(SHA-256, shProof, "OBFUSCATE", QN(signer), "", 128)
    mask = hmac.new(tpm.hierarchy.sh_proof, b"\x00\x00\x00\x01OBFUSCATE\x00" + qn_aik + b"\x00\x00\x00\x80",
                    "sha256").digest()[:16]
    word0, word1 = struct.unpack("<QQ", mask)
    clear = tpm.clock_info(ATTEST_TIME)
    expected = ((tpm.model.firmware_version + word0) % 2**64, (clear.reset_count + (word1 >> 32)) % 2**32,
                (clear.restart_count + word1) % 2**32)
    kast = wire.parse_kast(draft.key_attestation())
    binding = wire.IdBinding.unmarshal(kast.id_binding)
    assert b"\x00\x22" + _name(tpm.srk_public().marshal()) + b"\x00\x22" + qn_srk in binding.creation_data
    for attest in (TpmsAttest.unmarshal(kast.key_attest),
                   TpmsAttest.unmarshal(binding.attest)):
        assert attest.qualified_signer == qn_aik
        assert (attest.firmware_version, attest.clock_info.reset_count, attest.clock_info.restart_count) == expected
        assert attest.firmware_version != tpm.model.firmware_version
        assert attest.clock_info.clock == clear.clock and attest.clock_info.safe == clear.safe
    verdict = FMT.verify(draft.evidence(), trust_of(kit), at=VALIDATION_TIME)
    assert verdict.accepted, verdict.summary()


def test_every_vector_is_judged_as_its_catalogue_says(cases: list) -> None:
    for case in cases:
        trust = TrustAnchors({"root": case.anchors})
        for profile, expected in case.expected.items():
            verdict = FMT.verify(case.evidence, trust, at=case.validation_time, profile=profile)
            assert verdict.reason is expected, (case.id, profile, verdict.summary())


def test_catalogue_size_flags_and_reasons() -> None:
    catalogue = mutations()
    assert len([m for m in catalogue if any(r is not Reason.OK for r in m.expected.values())]) >= 30
    assert len({m.id for m in catalogue}) == len(catalogue)
    defined = notes()
    assert all(m.flag in defined for m in catalogue)
    reasons = {r for m in catalogue for r in m.expected.values()}
    assert {Reason.MALFORMED, Reason.UNSUPPORTED, Reason.KEY_MISMATCH, Reason.CHALLENGE_MISMATCH,
            Reason.SIGNATURE_INVALID, Reason.CSR_SIGNATURE_INVALID, Reason.ATTR_MISSING, Reason.ATTR_CONFLICT,
            Reason.CHAIN_UNTRUSTED, Reason.CERT_EXPIRED, Reason.ATTESTATION_KEY_MISMATCH, Reason.MISSING_INPUT,
            Reason.UNEXPECTED_CONTENT, Reason.ATTR_NOT_LOCAL, Reason.ATTR_EXTRACTABLE, Reason.KEY_PURPOSE} <= reasons


def test_vectors_are_deterministic(cases: list) -> None:
    again = vector_cases(SEED, MsKastFormat())
    assert [c.id for c in again] == [c.id for c in cases]
    assert all(a.evidence.files == b.evidence.files for a, b in zip(again, cases, strict=True))


def test_pkcs10_output_and_parameters(kit: KastKit) -> None:
    evidence = kit.draft("ec-p256", output="pkcs10").evidence()
    assert evidence.primary.endswith(".kast.p10") and not wire.is_content_info(evidence.files[evidence.primary])
    assert FMT.verify(evidence, trust_of(kit), at=VALIDATION_TIME).accepted
    tpm_kit = kit.tpm_kit
    key = kit.keys["ec-p256"]
    request = AttestationRequest(device=tpm_kit.device, partition="default", key=key,
                                 key_signer=tpm_kit.store.signer(key), attesting=tpm_kit.identity,
                                 parameters={"output": "json"}, at=ATTEST_TIME)
    with pytest.raises(ParameterError, match="parameter output must be one of cmc, pkcs10, not 'json'"):
        FMT.generate(request)


def test_pem_request_and_the_purebred_evidence_shape(kit: KastKit) -> None:
    evidence = kit.draft("rsa-3072").evidence()
    der = evidence.files[evidence.primary]
    ca_key = evidence.files[next(k for k in evidence.files if k.endswith(CA_KEY_SUFFIX))]
    trust = TrustAnchors({"root": (kit.tpm_kit.identity.root,)}, {ROLE_CA_KEY: (kit.draft("rsa-3072").ca_key,)})
    for body in (der, pem(der, "CMS")):
        handed = Evidence("ms-kast", {"request.cmc": body}, "request.cmc")
        verdict = FMT.verify(handed, trust, at=VALIDATION_TIME, profile=Profile.STRICT)
        assert verdict.accepted and verdict.claims is not None, verdict.summary()
        assert verdict.claims.extra["tpm_signature_checked"] is True
        unchecked = FMT.verify(handed, trust_of(kit), at=VALIDATION_TIME)
        assert unchecked.accepted and unchecked.claims is not None
        assert unchecked.claims.extra["tpm_signature_checked"] is False
        assert unchecked.claims.generated_on_device is None and unchecked.claims.never_extractable is None
    assert b"PRIVATE KEY" in ca_key


def _aik_ca_edited(kit: KastKit, edit: str) -> list[x509.Certificate]:
    """The CMC's certificates with the AIK CA re-issued by the genuine TPM root with one AIK CA property missing."""
    pki = kit.draft("rsa-3072").tpm.pki
    ca = pki.intermediate
    extensions = verbatim_extensions(ca)
    if edit == "no-eku":
        extensions = [e for e in extensions if e.value.oid != ExtensionOID.EXTENDED_KEY_USAGE]
    elif edit in ("tcg-eku-only", "microsoft-eku-only"):
        kept = EKU_AIK_CERTIFICATE if edit == "tcg-eku-only" else EKU_MS_AIK_CA
        extensions = [Ext(x509.ExtendedKeyUsage([kept])) if e.value.oid == ExtensionOID.EXTENDED_KEY_USAGE else e
                      for e in extensions]
    elif edit == "not-ca":
        extensions = [Ext(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                      if e.value.oid == ExtensionOID.BASIC_CONSTRAINTS else e for e in extensions]
    if edit == "self-issued":
        return [reissue(ca, pki.intermediate_key, issuer=ca.subject), pki.root]
    return [reissue(ca, pki.root_key, extensions=tuple(extensions)), pki.root]


@pytest.mark.parametrize("edit", ["no-eku", "tcg-eku-only", "microsoft-eku-only", "not-ca", "self-issued"])
def test_an_unrecovered_aik_needs_an_aik_ca_certificate_under_the_tpm_root(kit: KastKit, edit: str) -> None:
    """The AIK not recovered, structural accepts only on an AIK CA the request carries (not self-issued, CA:TRUE,
    both AIK CA EKUs) chaining to a root anchor; each property missing leaves the request with no AIK CA:
    MISSING_INPUT (the code before accepted any request whose AIK it could not recover)."""
    draft = kit.draft("rsa-3072")
    draft.include_ca_key = False
    assert FMT.verify(draft.evidence(), trust_of(kit), at=VALIDATION_TIME).accepted
    draft.cmc_certificates = _aik_ca_edited(kit, edit)
    for profile in Profile:
        verdict = FMT.verify(draft.evidence(), trust_of(kit), at=VALIDATION_TIME, profile=profile)
        assert verdict.reason is Reason.MISSING_INPUT, (profile, verdict.summary())
    assert "no AIK CA" in FMT.verify(draft.evidence(), trust_of(kit), at=VALIDATION_TIME).detail


def test_an_unrecovered_aiks_ca_must_chain_to_a_root_anchor(kit: KastKit) -> None:
    """The AIK CA the request carries under another TPM root (of another seed) chains to no anchor."""
    draft = kit.draft("rsa-3072")
    draft.include_ca_key = False
    other = tpm_pki(f"{SEED}/other-root")
    draft.cmc_certificates = [other.intermediate, other.root]
    verdict = FMT.verify(draft.evidence(), trust_of(kit), at=VALIDATION_TIME)
    assert verdict.reason is Reason.CHAIN_UNTRUSTED and "the request's AIK CA" in verdict.detail, verdict.summary()


def test_a_bare_pkcs10_with_an_unrecovered_aik_reads_its_aik_ca_beside_it(kit: KastKit) -> None:
    """A bare PKCS#10 carries no certificates: the AIK CA is the ``.aik-ca.pem`` beside it, without which the
    structural profile has no AIK CA (MISSING_INPUT)."""
    evidence = without_ca_key(kit.draft("rsa-3072", output="pkcs10").evidence())
    assert FMT.verify(evidence, trust_of(kit), at=VALIDATION_TIME).accepted
    bare = Evidence(evidence.format, {k: v for k, v in evidence.files.items() if not k.endswith(".aik-ca.pem")},
                    evidence.primary)
    assert FMT.verify(bare, trust_of(kit), at=VALIDATION_TIME).reason is Reason.MISSING_INPUT


def test_an_id_binding_makes_the_aiks_qualified_name_known_and_checked(kit: KastKit) -> None:
    """The idBinding's creation data names the AIK's parent: QN(AIK) = H(parentQualifiedName ‖ Name(AIK)) must be
    the qualifiedSigner of its TPM2_CertifyCreation and of the key's certify (ATTESTATION_KEY_MISMATCH otherwise;
    the code before read neither)."""
    tpm = kit.tpm_kit.tpm
    draft = dataclasses.replace(kit.draft("rsa-3072"), id_binding=True)
    binding = wire.IdBinding.unmarshal(wire.parse_kast(draft.key_attestation()).id_binding)
    qn_srk = _name(bytes.fromhex("40000001") + _name(tpm.srk_public().marshal()))
    assert wire.read_parent_qualified_name(binding.creation_data) == qn_srk
    for cut in (binding.creation_data[:-1], binding.creation_data + b"\x00"):
        with pytest.raises(Rejected) as caught:
            wire.read_parent_qualified_name(cut)
        assert caught.value.reason is Reason.MALFORMED
    other = tpm.ak_qualified_name(kit.tpm_kit.identity.key.public_key(), Parent.EK)
    for knob in ("attest_edit", "creation_attest_edit"):
        edited = dataclasses.replace(draft, **{knob: lambda a: dataclasses.replace(a, qualified_signer=other)})
        verdict = FMT.verify(edited.evidence(), trust_of(kit), at=VALIDATION_TIME)
        assert verdict.reason is Reason.ATTESTATION_KEY_MISMATCH and "qualifiedSigner" in verdict.detail, knob


def test_trust_files_give_the_ca_key_or_the_aik(kit: KastKit, tmp_path: Path) -> None:
    draft = kit.draft("ec-p384")
    evidence = without_ca_key(draft.evidence())
    root = tmp_path / "root.pem"
    root.write_bytes(kit.tpm_kit.identity.root.public_bytes(Encoding.PEM))
    key_file = tmp_path / "ca.p8"
    key_file.write_bytes(pkcs8_pem(draft.ca_key))
    aik_file = tmp_path / "aik.der"
    aik_file.write_bytes(kit.tpm_kit.identity.certificate.public_bytes(Encoding.DER))
    for extra in (key_file, aik_file):
        trust = FMT.trust_anchors_from_files([root, extra])
        assert trust.get("root") == [kit.tpm_kit.identity.root]
        assert bool(trust.private_keys(ROLE_CA_KEY)) == (extra is key_file)
        assert bool(trust.get(ROLE_AIK)) == (extra is aik_file)
        verdict = FMT.verify(evidence, trust, at=VALIDATION_TIME, profile=Profile.STRICT)
        assert verdict.accepted, verdict.summary()
    strict = FMT.verify(evidence, FMT.trust_anchors_from_files([root]), at=VALIDATION_TIME, profile=Profile.STRICT)
    assert strict.reason is Reason.MISSING_INPUT


def test_bad_input_never_raises(kit: KastKit) -> None:
    der = kit.draft("ec-p256").evidence().files
    primary = next(iter(der.values()))
    for data in (b"", b"\x30", b"-----BEGIN CMS-----\n!!\n-----END CMS-----\n", primary[:100], primary + b"\x00",
                 bytes(40)):
        verdict = FMT.verify(Evidence("ms-kast", {"r": data}, "r"), trust_of(kit), at=VALIDATION_TIME)
        assert verdict.reason in (Reason.MALFORMED, Reason.LIMIT_EXCEEDED), verdict.summary()
    missing = FMT.verify(Evidence("ms-kast", {}, "r"), trust_of(kit), at=VALIDATION_TIME)
    assert missing.reason is Reason.MISSING_INPUT


# -- the real Surface requests --------------------------------------------------------------------------

def surface_requests(shared_dir: Path) -> list[tuple[str, bytes, bytes]]:
    """(name, Windows CMC, target certificate) of every Surface sample: the pre-enrollment CMC as is, the SCEP
    requests' inner CMC from the Purebred .26.3 attribute."""
    out = []
    for device in SURFACES:
        folder = shared_dir / "interop" / "purebred" / device
        for request in sorted(folder.glob("*_attestation.bin")) + sorted(folder.glob("*_scep_request.bin")):
            data = request.read_bytes()
            if request.name.endswith("_scep_request.bin"):
                (attribute,) = wire.parse_csr(data).attribute(PUREBRED_ATTRIBUTE)
                (data,) = attribute.values
            target = folder / request.name.replace("_attestation.bin", "_target.der").replace("_request.bin",
                                                                                              "_target.der")
            out.append((f"{device}/{request.name}", data, target.read_bytes()))
    return out


MICROSOFT_TPM_ROOT = ("interop", "purebred", "TrustAnchors", "SurfacePro", "Roots", "Microsoft", "RootCA",
                      "Microsoft_TPM_Root_Certificate_Authority_2014.cer")


def test_real_surface_requests_pass_the_structural_checks(shared_dir: Path) -> None:
    """The AIK is enveloped to the Purebred CA: structural accepts on the AIK CA each CMC carries under Microsoft TPM
    Root Certificate Authority 2014 (an EUS-*-KeyId-... certificate with the AIK CA EKUs), and on nothing without that
    root trusted."""
    requests = surface_requests(shared_dir)
    assert len(requests) == 15
    microsoft = x509.load_der_x509_certificate(shared_dir.joinpath(*MICROSOFT_TPM_ROOT).read_bytes())
    for label, der, target in requests:
        evidence = Evidence("ms-kast", {"request.cmc": der}, "request.cmc")
        untrusted = FMT.verify(evidence, TrustAnchors(), at=SAMPLE_TIME)
        assert not untrusted.accepted and "the request's AIK CA" in untrusted.detail, (label, untrusted.summary())
        verdict = FMT.verify(evidence, TrustAnchors({"root": (microsoft,)}), at=SAMPLE_TIME)
        assert verdict.accepted and verdict.claims is not None, (label, verdict.summary())
        assert "AIK CA CN=EUS-" in verdict.detail and "the TPM's signature is not checked" in verdict.detail, label
        assert verdict.claims.extra["tpm_signature_checked"] is False
        assert verdict.claims.generated_on_device is None and verdict.claims.sensitive is None, label
        target_spki = spki_der(x509.load_der_x509_certificate(target).public_key())
        assert verdict.claims.extra["key_spki_sha256"] == hashlib.sha256(target_spki).hexdigest(), label
        strict = FMT.verify(evidence, TrustAnchors(), at=SAMPLE_TIME, profile=Profile.STRICT)
        assert strict.reason is Reason.MISSING_INPUT, label


def _shape(der: bytes) -> dict[str, object]:
    """What must match between an emulated and a real request: envelope layout, attribute order, KAST sizes."""
    cmc = wire.parse_cmc(der)
    csr = wire.parse_csr(cmc.request)
    statement = der_content(csr.attribute(wire.OID_STATEMENT)[0].values[0])
    kast = struct.unpack_from("<7I", statement)
    kads = struct.unpack_from("<6I", statement, kast[3] + kast[4])
    pki = der_children(der_content(cmc.content))
    return {
        "pki": [len(der_children(der_content(part))) for part in pki], "body_part": cmc.body_part_id,
        "certificates": len(cmc.certificates), "ski_sid": cmc.sid_ski == csr.subject_key_identifier(),
        "signed_attrs": [der_children(der_content(a))[0] for a in der_children(cmc.signed_attrs[2:]
                                                                               if cmc.signed_attrs else b"")],
        "attributes": [a.oid for a in csr.attributes], "kast": (kast[:5], kast[6]), "kads": kads,
        "attest_type": wire.parse_kast(statement).key_attest[4:6],
        "key_blob_header": struct.unpack_from("<4I", wire.parse_kast(statement).key_blob),
    }


def test_byte_shape_matches_the_real_request(kit: KastKit, shared_dir: Path) -> None:
    real = (shared_dir / "interop" / "purebred" / "SP3_1803" / "1_device_preenroll_attestation.bin").read_bytes()
    evidence = kit.draft("rsa-2048").evidence()
    assert _shape(evidence.files[evidence.primary]) == _shape(real)


@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_the_cmc_certificates_are_in_der_set_of_order_as_the_real_requests(kit: KastKit, cases: list,
                                                                           shared_dir: Path, spec: str) -> None:
    """Every real Surface CMC holds the AIK CA and root in DER SET OF order (X.690 11.6: ascending encodings); so do
    the goldens, where chain order (AIK CA, root) is not DER order; ``variant::cmc-chain-order`` keeps chain order."""
    for device in SURFACES:
        for name in ("1_device_preenroll_attestation.bin", "2_device_scep_request.bin"):
            der = (shared_dir / "interop" / "purebred" / device / name).read_bytes()
            if name.startswith("2_"):
                der = next(a for a in wire.parse_csr(der).attributes if a.oid == PUREBRED_ATTRIBUTE).values[0]
            real = wire.parse_cmc(der).certificates
            assert len(real) == 2 and list(real) == der_set_of_order(real), f"{device}/{name}"
    identity = kit.tpm_kit.identity
    chain = [c.public_bytes(Encoding.DER) for c in [*identity.chain[1:], identity.root]]
    assert chain != der_set_of_order(chain), "chain order is DER order: the test would not tell them apart"
    evidence = kit.draft(spec).evidence()
    assert list(wire.parse_cmc(evidence.files[evidence.primary]).certificates) == der_set_of_order(chain)
    variant = next(c for c in cases if c.id == "ms-kast::variant::cmc-chain-order")
    assert list(wire.parse_cmc(variant.evidence.files[variant.evidence.primary]).certificates) == chain


_CA_OWN = (ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
           ExtensionOID.CRL_DISTRIBUTION_POINTS, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
"""The extensions whose values are the CA's own (keys, URLs): compared by shape, not value."""


def _aik_ca_profile(cert: x509.Certificate) -> list[tuple[str, bool, object]]:
    """Each extension's OID and criticality, in order, with its value where it is not the CA's own."""
    return [(e.oid.dotted_string, e.critical, None if e.oid in _CA_OWN else e.value) for e in cert.extensions]


def _without_key_usage(profile: list[tuple[str, bool, object]]) -> list[tuple[str, bool, object]]:
    """``profile`` with keyUsage's criticality and value left out (its place kept)."""
    return [(oid, False, None) if oid == "2.5.29.15" else (oid, critical, value) for oid, critical, value in profile]


def _uri_shape(uri: str, issuer: x509.Certificate) -> tuple[str, str]:
    """A CA URI's scheme and path with the issuer's percent-encoded common name as ``{issuer}``."""
    common_name = str(issuer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    parts = urlsplit(uri)
    assert not (parts.query or parts.fragment), uri
    return parts.scheme, parts.path.replace(quote(common_name), "{issuer}")


def _aik_ca_own_shape(ca: x509.Certificate, issuer: x509.Certificate) -> dict[str, object]:
    """The shape of the CA's own extensions: the AKI's fields and its key identifier's length against the
    issuer's SKI, the CDP's distribution points and the AIA's access methods with their URIs' shapes."""
    aki = ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    cdp = ca.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    aia = ca.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    return {
        "aki": (aki.key_identifier is not None, aki.authority_cert_issuer, aki.authority_cert_serial_number),
        "aki_length": (len(aki.key_identifier or b""), len(issuer_ski)),
        "ski_length": len(ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest),
        "cdp": [(dp.relative_name, dp.reasons, dp.crl_issuer,
                 [(type(n).__name__, _uri_shape(n.value, issuer)) for n in dp.full_name or ()]) for dp in cdp],
        "aia": [(d.access_method.dotted_string, type(d.access_location).__name__,
                 _uri_shape(d.access_location.value, issuer)) for d in aia],
    }


def _ca_uris(ca: x509.Certificate) -> list[str]:
    cdp = ca.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    aia = ca.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    return [n.value for dp in cdp for n in dp.full_name or ()] + [d.access_location.value for d in aia]


@pytest.mark.parametrize("surface", SURFACES)
def test_the_emulated_aik_ca_has_the_extensions_of_the_real_ones(kit: KastKit, shared_dir: Path,
                                                                 surface: str) -> None:
    """Same extensions, order, criticality and (where not the CA's own) values as Microsoft's AIK CA; its own
    (AKI, CDP, AIA) have the sample's shape, with URIs of the sample's path pattern under pki.hsmsim.example."""
    real = request_der((shared_dir / "interop" / "purebred" / surface / "1_device_preenroll_attestation.bin")
                       .read_bytes())
    certificates = [x509.load_der_x509_certificate(c) for c in wire.parse_cmc(real).certificates]
    aik_ca = next(c for c in certificates if c.subject.rfc4514_string().upper().startswith("CN=EUS-"))
    microsoft_root = next(c for c in certificates if c.subject == aik_ca.issuer)
    real_shape = _aik_ca_own_shape(aik_ca, microsoft_root)
    # the sample's shape is what the emulation mirrors: a key identifier only, one distribution point with one
    # URI, URIs naming the issuer
    assert real_shape["aki"] == (True, None, None)
    crl_uri = ("UniformResourceIdentifier", ("http", "/pkiops/crl/{issuer}.crl"))
    assert real_shape["cdp"] == [(None, None, None, [crl_uri])]
    assert [shape for *_, shape in real_shape["aia"]] == [("http", "/pkiops/certs/{issuer}.crt")]
    for pki in (kit.tpm_kit.pki, tpm_pki(SEED, "ecdsa-p384")):
        # keyUsage aside: these 2014-2017 CAs say digitalSignature, keyCertSign, cRLSign (not critical); hsmsim's
        # follows the CAs Microsoft has issued since 2019 (critical, no cRLSign; test_tpm.py compares it with
        # py_webauthn's two Windows Hello samples)
        assert _without_key_usage(_aik_ca_profile(pki.intermediate)) == _without_key_usage(_aik_ca_profile(aik_ca))
        assert _aik_ca_own_shape(pki.intermediate, pki.root) == real_shape
        aki = pki.intermediate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier == pki.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        # the SKI is the CA key's own (RFC 5280 method 1, as Microsoft's), which the AIK certificates' AKI name
        ski = pki.intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert ski == x509.SubjectKeyIdentifier.from_public_key(pki.intermediate.public_key())
        assert all(urlsplit(uri).netloc == "pki.hsmsim.example" for uri in _ca_uris(pki.intermediate))


# -- detection and the CLI ------------------------------------------------------------------------------

def test_detect_claims_requests_only(kit: KastKit, tmp_path: Path) -> None:
    for output in ("cmc", "pkcs10"):
        written = kit.draft("ec-p256", output=output).evidence()
        paths = written.write(tmp_path / output)
        primary = next(p for p in paths if p.name == written.primary)
        assert detect(primary).name == "ms-kast"
        assert all(not FMT.detect(p) for p in paths if p != primary)
        assert detect(tmp_path / output).name == "ms-kast"
        assert FMT.load(tmp_path / output).files == FMT.load(primary).files
    assert not FMT.detect(tmp_path)


def test_detection_reads_with_the_codec_only_what_may_be_a_request(kit: KastKit, tmp_path: Path) -> None:
    """layout.may_be_request passes every request form the reader takes (DER, PEM, PEM after whitespace) and
    turns away the rest before the KAST codec is imported."""
    der = kit.draft("ec-p256").evidence().files[kit.draft("ec-p256").evidence().primary]
    for name, body in (("der", der), ("pem", pem(der, "CMS")), ("indented", b"\n  " + pem(der, "CMS")),
                       ("zip", b"PK\x03\x04" + der), ("octets", b"\x04\x01\x00")):
        path = tmp_path / name
        path.write_bytes(body)
        assert may_be_request(body) == looks_like_request(body) == FMT.detect(path) == (name not in ("zip", "octets"))


def test_request_file_names_in_a_directory(kit: KastKit, tmp_path: Path) -> None:
    """Detection and load agree on which entry of a directory is the request: a regular file (not a link, FIFO or
    directory) named ``<stem>.kast.cmc`` / ``<stem>.kast.p10`` in lower case; its siblings share the stem
    without that one suffix."""
    written = kit.draft("ec-p256").evidence()
    request = written.files[written.primary]
    ca_key = next(data for name, data in written.files.items() if name.endswith(CA_KEY_SUFFIX))

    both = tmp_path / "both"  # the stem keeps the other suffix: its siblings are a.kast.p10.*, not a.*
    both.mkdir()
    (both / "a.kast.p10.kast.cmc").write_bytes(request)
    (both / f"a.kast.p10{CA_KEY_SUFFIX}").write_bytes(ca_key)
    (both / f"a{CA_KEY_SUFFIX}").write_bytes(b"not this one")
    assert FMT.detect(both)
    assert set(FMT.load(both).files) == {"a.kast.p10.kast.cmc", f"a.kast.p10{CA_KEY_SUFFIX}"}

    bare = tmp_path / "bare"  # a name that is only the suffix: an empty stem
    bare.mkdir()
    (bare / ".kast.cmc").write_bytes(request)
    (bare / CA_KEY_SUFFIX).write_bytes(ca_key)
    assert FMT.detect(bare) and set(FMT.load(bare).files) == {".kast.cmc", CA_KEY_SUFFIX}

    others = tmp_path / "others"  # entries so named that are not regular files do not count
    (others / "nested.kast.cmc").mkdir(parents=True)
    (others / "nested.kast.cmc" / "k.kast.cmc").write_bytes(request)
    os.mkfifo(others / "fifo.kast.p10")
    (others / "link.kast.cmc").symlink_to(others / "nested.kast.cmc" / "k.kast.cmc")
    assert not FMT.detect(others)
    assert FMT.load(others).files == {}  # no record: the verifier says MISSING_INPUT
    (others / "k.kast.cmc").write_bytes(request)
    assert FMT.detect(others) and list(FMT.load(others).files) == ["k.kast.cmc"]

    upper = tmp_path / "upper"  # suffixes are matched in lower case, as hsmsim writes them
    upper.mkdir()
    (upper / "K.KAST.CMC").write_bytes(request)
    assert not FMT.detect(upper) and FMT.detect(upper / "K.KAST.CMC")
    assert list(FMT.load(upper / "K.KAST.CMC").files) == ["K.KAST.CMC"]  # no stem, so no siblings


def test_detect_real_requests_but_not_the_purebred_envelope(shared_dir: Path) -> None:
    folder = shared_dir / "interop" / "purebred" / "SP3_1803"
    assert FMT.detect(folder / "1_device_preenroll_attestation.bin")  # purebred claims it too, by its name
    assert not FMT.detect(folder / "2_device_scep_request.bin")
    assert not FMT.detect(folder / "1_device_preenroll_target.der")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_hsmsim(list(args), timeout=120)


def test_cli_key_create_attest_verify(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    created = run("key", "create", "--state", state, "--format", "ms-kast", "--label", "L", "--spec", "ec-p256",
                  "--created", "2025-05-01T00:00:00Z")
    assert created.returncode == 0, created.stderr
    out = tmp_path / "out"
    attest = run("attest", "--format", "ms-kast", "--key", "L", "--out", str(out), "--state", state,
                 "--at", "2025-06-01T00:00:00Z")
    assert attest.returncode == 0, attest.stderr
    request = out / "L.kast.cmc"
    verdict = run("verify", str(request), "--root", str(out / "tpm_root_ca.pem"), "--json", "--profile", "strict")
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert json.loads(verdict.stdout)["claims"]["extra"]["tpm_signature_checked"] is True
    data = bytearray(request.read_bytes())
    data[-1] ^= 1
    request.write_bytes(bytes(data))
    rejected = run("verify", str(request), "--root", str(out / "tpm_root_ca.pem"))
    assert rejected.returncode == 1 and rejected.stdout.startswith("REJECT CSR_SIGNATURE_INVALID"), rejected.stdout


def _aik_certificate(case) -> x509.Certificate:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from hsmsim.formats.tpm.kast_format import recover_aik

    files = case.evidence.files
    csr = wire.parse_csr(wire.parse_cmc(request_der(files[case.evidence.primary])).request)
    ca_key = load_pem_private_key(next(v for k, v in files.items() if k.endswith(CA_KEY_SUFFIX)), None)
    aik = recover_aik(csr, [ca_key])
    assert aik is not None and aik.certificate is not None
    return aik.certificate


def test_the_expired_aik_certificate_moves_only_not_after(cases: list) -> None:
    # AikExpired names notAfter only: serial, notBefore, extensions and key stay the golden's.
    by_id = {case.id: case for case in cases}
    golden = _aik_certificate(by_id["ms-kast::golden::rsa-3072"])
    expired = _aik_certificate(by_id["ms-kast::aik::expired"])
    assert expired.not_valid_after_utc < VALIDATION_TIME < golden.not_valid_after_utc
    assert expired.not_valid_before_utc == golden.not_valid_before_utc < expired.not_valid_after_utc
    assert (expired.serial_number, expired.public_key(), expired.issuer, expired.subject) == (
        golden.serial_number, golden.public_key(), golden.issuer, golden.subject)
    assert extension_tlvs(expired.tbs_certificate_bytes)[1] == extension_tlvs(golden.tbs_certificate_bytes)[1]


def _kast(case) -> wire.Kast:
    csr = wire.parse_csr(wire.parse_cmc(request_der(case.evidence.files[case.evidence.primary])).request)
    (statement,) = csr.attribute(wire.OID_STATEMENT)
    return wire.parse_kast(der_content(statement.values[0]))


SIGNED_ATTEST = {"attest", "signature"}  # the AIK re-signs an edited attest
ID_BINDING_PARTS = {"attest-for-other-aik": SIGNED_ATTEST, "public-of-other-aik": {"aik_public", *SIGNED_ATTEST},
                    "signed-by-other-key": {"signature"}, "creation-data-edited": {"creation_data"},
                    "aik-not-restricted": {"aik_public", *SIGNED_ATTEST}}


@pytest.mark.parametrize(("vector", "parts"), ID_BINDING_PARTS.items())
def test_an_id_binding_defect_differs_from_its_base_only_in_the_named_part(cases: list, vector: str,
                                                                           parts: set[str]) -> None:
    # The goldens leave the idBinding empty as real requests do: an idBinding defect's one-defect base is
    # variant::id-binding, and its provenance says so.
    by_id = {case.id: case for case in cases}
    case = by_id[f"ms-kast::id-binding::{vector}"]
    assert case.provenance.golden == "ms-kast::variant::id-binding"
    base, mutated = _kast(by_id[case.provenance.golden]), _kast(case)
    assert (mutated.key_attest, mutated.signature, mutated.key_blob) == (base.key_attest, base.signature,
                                                                         base.key_blob)
    base_binding, mutated_binding = wire.IdBinding.unmarshal(base.id_binding), wire.IdBinding.unmarshal(
        mutated.id_binding)
    changed = {part for part in ("aik_public", "creation_data", "attest", "signature")
               if getattr(mutated_binding, part) != getattr(base_binding, part)}
    assert changed == parts


def test_the_edited_creation_data_still_parses_and_differs_only_in_locality(cases: list) -> None:
    # IdBindingCreationData: not what the TPM hashed (ATTR_CONFLICT), but a well-formed TPMS_CREATION_DATA.
    by_id = {case.id: case for case in cases}
    base = wire.IdBinding.unmarshal(_kast(by_id["ms-kast::variant::id-binding"]).id_binding).creation_data
    edited = wire.IdBinding.unmarshal(_kast(by_id["ms-kast::id-binding::creation-data-edited"]).id_binding)
    locality = 4 + 2 + 32  # empty TPML_PCR_SELECTION, TPM2B pcrDigest (SHA-256), then TPMA_LOCALITY
    assert len(edited.creation_data) == len(base)
    assert [i for i, (a, b) in enumerate(zip(base, edited.creation_data, strict=True)) if a != b] == [locality]
    assert (base[locality], edited.creation_data[locality]) == (0x01, 0x02)
    assert base[-2:] == edited.creation_data[-2:] == b"\x00\x00"  # outsideInfo stays empty


def test_a_broken_aik_signature_is_flagged_stale() -> None:
    # Stale: the final bytes are not signed by the genuine attestation key (the AIK) after the mutation.
    flags = {m.id: m.resign for m in mutations()}
    for vector in ("certify::signature-bit-flip", "certify::signed-by-other-aik", "id-binding::signed-by-other-key"):
        assert flags[f"ms-kast::{vector}"] is False


def test_the_generic_fuzz_model_still_replays_the_id_binding_defects_on_their_golden() -> None:
    from hsmsim.fuzz.generic import generic_fuzz_model

    operators = {op.name: op for op in generic_fuzz_model("ms-kast", SEED).operators}
    for vector in ID_BINDING_PARTS:
        assert operators[f"ms-kast::id-binding::{vector}"].goldens == ("rsa-3072",)


def test_the_aik_ca_rejection_is_the_first_by_der_in_any_order() -> None:
    """Two carried AIK CA certificates, neither of which chains (one expired, one whose issuer is not there): the
    rejection is the chain reason of the first by DER, whatever their order in the request (was the first
    carried's)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    root_key = derive_key("kast-aik-ca-order", "root", KeySpec.parse("ec-p256"))
    root_name = x509_name(("CN", "AIK order root", PRINTABLE))
    root = build_certificate(CertSpec(root_name, root_name, root_key.public_key(), 1, at - timedelta(days=10),
                                      at + timedelta(days=10), (Ext(x509.BasicConstraints(True, None), True),
                                                                Ext(key_usage("key_cert_sign"), True))), root_key)

    def aik_ca(label: str, issuer: x509.Name, not_after: datetime) -> x509.Certificate:
        key = derive_key("kast-aik-ca-order", label, KeySpec.parse("ec-p256"))
        eku = x509.ExtendedKeyUsage([EKU_AIK_CERTIFICATE, EKU_MS_AIK_CA])
        spec = CertSpec(x509_name(("CN", label, PRINTABLE)), issuer, key.public_key(), 2, at - timedelta(days=5),
                        not_after, (Ext(x509.BasicConstraints(True, 0), True), Ext(eku, False)))
        return build_certificate(spec, root_key)

    expired = aik_ca("expired", root_name, at - timedelta(days=1))
    orphan = aik_ca("orphan", x509_name(("CN", "not carried", PRINTABLE)), at + timedelta(days=5))
    first = min((expired, orphan), key=lambda c: c.public_bytes(Encoding.DER))
    expected = Reason.CERT_EXPIRED if first is expired else Reason.CHAIN_INCOMPLETE
    for order in ([expired, orphan], [orphan, expired]):
        with pytest.raises(Rejected) as raised:
            check_aik_ca(order, TrustAnchors({"root": (root,)}), at)
        assert raised.value.reason is expected
