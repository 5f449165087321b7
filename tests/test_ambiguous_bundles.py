"""An ambiguous bundle, two different files for one role a format reads once, is rejected MALFORMED (naming both),
never resolved by the order of the files; a copy of one file (the same bytes) is not ambiguous (red-team s29
rt-vendors: base names collapsed, two request files ignored, the Fortanix authority chosen by its position, ACME
tokens under 128 bits)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.checks import FilesByName, by_base_name, one_file, one_that_passes
from hsmsim.encoding import pem
from hsmsim.formats import get_format
from hsmsim.formats.android.layout import STATUS_FILE
from hsmsim.formats.android.status import render_status_list
from hsmsim.formats.crypto4a.pki import HSS_CHOICES, crypto4a_pki
from hsmsim.formats.crypto4a.verify import _check_hss_chain
from hsmsim.formats.ietf import asn1
from hsmsim.formats.ietf.layout import evidence_der as pkix_evidence_der
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.builder import reissue
from hsmsim.verdict import Profile, Reason, Rejected
from hsmsim.webauthn.acme import check_token

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _vector(vector_id: str) -> tuple[Evidence, TrustAnchors, datetime]:
    fmt = vector_id.split("::")[0]
    test = next(t for t in json.loads((VECTORS / f"{fmt}_verify.json").read_text())["tests"] if t["id"] == vector_id)
    files = {f["path"]: base64.b64decode(f["base64"]) for f in test["inputs"]["files"]}
    anchors = tuple(x509.load_pem_x509_certificate(a.encode()) for a in test["trust"]["anchors"])
    at = datetime.fromisoformat(test["trust"]["validationTime"].replace("Z", "+00:00"))
    return Evidence(fmt, files, test["inputs"]["primary"]), TrustAnchors({"root": anchors}), at


def _verdicts(evidence: Evidence, trust: TrustAnchors, at: datetime) -> dict[Profile, Reason]:
    fmt = get_format(evidence.format)
    return {profile: fmt.verify(evidence, trust, at=at, profile=profile).reason for profile in Profile}


def _ambiguous(evidence: Evidence, trust: TrustAnchors, at: datetime, *names: str) -> None:
    for profile in Profile:
        verdict = get_format(evidence.format).verify(evidence, trust, at=at, profile=profile)
        assert verdict.reason is Reason.MALFORMED and "ambiguous" in verdict.detail, verdict.summary()
        assert all(name[:80] in verdict.detail for name in names), verdict.summary()


def test_the_shared_helpers():
    files = {"a/x.csr": b"1", "b/x.csr": b"1", "c/y": b"2"}
    assert by_base_name(files) == {"x.csr": b"1", "y": b"2"}
    with pytest.raises(Rejected) as raised:
        by_base_name({**files, "d/x.csr": b"3"})
    assert raised.value.reason is Reason.MALFORMED and "'a/x.csr'" in raised.value.detail
    assert one_file(files, ["a/x.csr", "b/x.csr"], "the CSR") == b"1" and one_file(files, [], "the CSR") is None
    for order in (["a/x.csr", "c/y"], ["c/y", "a/x.csr"]):
        with pytest.raises(Rejected, match=r"'a/x\.csr' and 'c/y'"):
            one_file(files, order, "the CSR")
    named = FilesByName()
    named.add("m.xml", b"1", "a.zip:m.xml")
    named.add("m.xml", b"1", "m.xml")
    with pytest.raises(Rejected, match="ambiguous"):
        named.add("m.xml", b"2", "b/m.xml")

    def check(value: int) -> int:
        if value % 2:
            raise Rejected(Reason.CERT_EXPIRED if value == 1 else Reason.CERT_NOT_CA, str(value))
        return value
    assert one_that_passes([1, 4, 3], check, lambda v: bytes([v])) == 4
    for order in ([1, 3], [3, 1]):
        with pytest.raises(Rejected) as raised:
            one_that_passes(order, check, lambda v: bytes([v]))
        assert raised.value.reason is Reason.CERT_EXPIRED


# -- two different CSRs: MALFORMED in every format (was ATTR_CONFLICT, MISSING_INPUT or, by name, accepted) --------

CSR_GOLDENS = {
    "android-acme": ("tee-rkp-ec-p256", "tee-rkp-rsa-3072"),
    "apple-acme": ("ec-p256-serial", "ec-p384-serial"),
    "crypto4a": ("ec-p256", "rsa-3072"),
    "fortanix": ("rsa-3072", "rsa-4096"),
    "luna-pkc": ("rsa-3072", "rsa-4096"),
    "primus": ("rsa-3072", "rsa-4096"),
    "smartcard-hsm": ("ec-p256", "rsa-2048"),
    "tpm-acme": ("rsa-3072", "ec-p256"),
    "yubico-piv": ("legacy-ec-p256-ykman", "legacy-rsa-2048-ykman"),
    "yubihsm2": ("rsa-3072", "ec-p256"),
}


def _golden(fmt: str, name: str) -> tuple[Evidence, TrustAnchors, datetime]:
    ids = [t["id"] for t in json.loads((VECTORS / f"{fmt}_verify.json").read_text())["tests"]]
    return _vector(next(i for i in ids if i.startswith(f"{fmt}::golden::{name}")))


@pytest.mark.parametrize("fmt", sorted(CSR_GOLDENS))
def test_a_second_different_csr_is_malformed_and_a_copy_is_not(fmt):
    """The key's CSR copied into another folder is the same file; another key's CSR under the same name in another
    folder makes two candidates for the one CSR the format binds, in either order."""
    mine, theirs = CSR_GOLDENS[fmt]
    evidence, trust, at = _golden(fmt, mine)
    other = _golden(fmt, theirs)[0]
    csr_name = next(name for name in evidence.files if name.endswith(".csr"))
    other_csr = next(data for name, data in other.files.items() if name.endswith(".csr"))
    assert other_csr != evidence.files[csr_name]
    expected = _verdicts(evidence, trust, at)
    copy = Evidence(fmt, {f"copy/{csr_name}": evidence.files[csr_name], **evidence.files}, evidence.primary)
    assert _verdicts(copy, trust, at) == expected
    for files in ({f"other/{csr_name}": other_csr, **evidence.files},
                  {**evidence.files, f"other/{csr_name}": other_csr}):
        _ambiguous(Evidence(fmt, files, evidence.primary), trust, at, f"other/{csr_name}")


@pytest.mark.parametrize("fmt", ["luna-pkc", "primus"])
def test_two_csrs_named_for_no_key_are_malformed(fmt):
    """Luna and Primus take the CSR named for the key; when none is and two different ones lie there, which one was
    meant is ambiguous (was MISSING_INPUT, 'no CSR')."""
    mine, theirs = CSR_GOLDENS[fmt]
    evidence, trust, at = _golden(fmt, mine)
    other_csr = next(data for name, data in _golden(fmt, theirs)[0].files.items() if name.endswith(".csr"))
    csr_name = next(name for name in evidence.files if name.endswith(".csr"))
    files = {k: v for k, v in evidence.files.items() if k != csr_name}
    renamed = Evidence(fmt, {**files, "request-a.csr": evidence.files[csr_name]}, evidence.primary)
    assert _verdicts(renamed, trust, at)[Profile.STRUCTURAL] is Reason.OK  # the only CSR there
    _ambiguous(Evidence(fmt, {**renamed.files, "request-b.csr": other_csr}, evidence.primary), trust, at,
               "request-a.csr", "request-b.csr")


# -- the primary and other pieces read by base name --------------------------------------------------------------

BY_BASE_NAME = {  # primus reads zip members by name: tests/formats/test_primus.py
    "fortanix": "rsa-3072",
    "marvell-azure": "rsa-3072",
    "marvell-google": "rsa-3072",
    "yubico-piv": "legacy-ec-p256-ykman",
    "yubihsm2": "rsa-3072",
}


@pytest.mark.parametrize("fmt", sorted(BY_BASE_NAME))
def test_a_different_file_of_the_primarys_base_name_is_malformed_and_a_copy_is_not(fmt):
    """The formats that read their pieces by base name: garbage under the primary's name in another folder is a
    second candidate for the evidence, listed before or after the genuine one (the later one was verified)."""
    evidence, trust, at = _golden(fmt, BY_BASE_NAME[fmt])
    base = evidence.primary.rsplit("/", 1)[-1]
    assert _verdicts(evidence, trust, at)[Profile.STRUCTURAL] is Reason.OK
    copy = Evidence(fmt, {f"copy/{base}": evidence.files[evidence.primary], **evidence.files}, evidence.primary)
    assert _verdicts(copy, trust, at) == _verdicts(evidence, trust, at)
    for files in ({f"a/{base}": b"{}", **evidence.files}, {**evidence.files, f"a/{base}": b"{}"}):
        _ambiguous(Evidence(fmt, files, evidence.primary), trust, at, f"a/{base}")


def test_purebred_sibling_of_one_base_name_twice_is_malformed():
    """The challenge handed to Purebred's inner android-key verifier: two different ones of one base name."""
    evidence, trust, at = _golden("purebred", "android::ec-p256")
    name = next(n for n in evidence.files if n.endswith(".challenge"))
    assert _verdicts(evidence, trust, at)[Profile.STRUCTURAL] is Reason.OK
    for files in ({f"x/{name}": b"another challenge", **evidence.files},
                  {**evidence.files, f"x/{name}": b"another challenge"}):
        _ambiguous(Evidence("purebred", files, evidence.primary), trust, at, f"x/{name}")


@pytest.mark.parametrize("fmt", ["android-key", "android-acme"])
def test_two_different_status_lists_are_malformed(fmt):
    """Google's status list, found by its base name: two different ones (the first was read)."""
    evidence, trust, at = _golden(fmt, "tee-rkp-ec-p256")
    empty, other = render_status_list({}), render_status_list({"ab": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}})
    same = Evidence(fmt, {**evidence.files, f"a/{STATUS_FILE}": empty, f"b/{STATUS_FILE}": empty}, evidence.primary)
    assert _verdicts(same, trust, at)[Profile.STRUCTURAL] is Reason.OK
    files = {**evidence.files, f"a/{STATUS_FILE}": empty, f"b/{STATUS_FILE}": other}
    _ambiguous(Evidence(fmt, files, evidence.primary), trust, at, f"a/{STATUS_FILE}", f"b/{STATUS_FILE}")


def test_pkix_evidence_two_nonces_or_csrs_are_malformed():
    """The relying party's nonce and the CSR beside a PKIX Evidence: the last one of each was read."""
    evidence, trust, at = _golden("pkix-evidence", "ec-p256")
    nonce = next(n for n in evidence.files if n.endswith(".nonce"))
    assert _verdicts(evidence, trust, at)[Profile.STRUCTURAL] is Reason.OK
    copy = Evidence("pkix-evidence", {**evidence.files, f"copy/{nonce}": evidence.files[nonce]}, evidence.primary)
    assert _verdicts(copy, trust, at)[Profile.STRUCTURAL] is Reason.OK
    for files in ({f"a/{nonce}": b"00" * 32 + b"\n", **evidence.files},
                  {**evidence.files, f"a/{nonce}": b"00" * 32 + b"\n"}):
        _ambiguous(Evidence("pkix-evidence", files, evidence.primary), trust, at, f"a/{nonce}")
    csrs = _golden("tpm-acme", "rsa-3072")[0], _golden("tpm-acme", "ec-p256")[0]
    one, two = (next(d for n, d in e.files.items() if n.endswith(".csr")) for e in csrs)
    _ambiguous(Evidence("pkix-evidence", {**evidence.files, "a.csr": one, "b.csr": two}, evidence.primary),
               trust, at, "a.csr", "b.csr")


# -- two request files (Yubico) ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "vector"), [("yubico-piv", "yubico-piv::request::second-request"),
                                             ("yubihsm2", "yubihsm2::request::second-request")])
def test_two_different_request_files_are_malformed_and_a_copy_is_not(fmt, vector):
    """Neither of two request files was read (ACCEPT with a request naming another device beside the genuine one)."""
    evidence, trust, at = _vector(vector)
    _ambiguous(evidence, trust, at, "other.request.json")
    genuine = next(n for n in evidence.files if n.endswith(".request.json") and n != "other.request.json")
    copy = {**{k: v for k, v in evidence.files.items() if k != "other.request.json"},
            "other.request.json": evidence.files[genuine]}
    assert _verdicts(Evidence(fmt, copy, evidence.primary), trust, at) == dict.fromkeys(Profile, Reason.OK)


# -- the signer among several candidates: order-independent ------------------------------------------------------

def _with_chain(evidence: Evidence, edit) -> Evidence:
    document = json.loads(evidence.files[evidence.primary])
    document["authority_chain"] = edit(document["authority_chain"])
    return Evidence(evidence.format, {**evidence.files, evidence.primary: json.dumps(document, indent=2).encode()},
                    evidence.primary)


@pytest.mark.parametrize("vector", ["fortanix::variant::renewed-authority-listed-first",
                                    "fortanix::variant::expired-authority-listed-first"])
def test_fortanix_two_authorities_give_one_verdict_in_any_order(vector):
    """The period's authority certificate and its renewal (same name and key) both in authority_chain: the one
    valid at the verification time is the authority, whichever comes first (structural); strict keeps the
    vendor's three-entry layout. The first that signed was taken: CERT_NOT_YET_VALID or CERT_EXPIRED by order."""
    evidence, trust, at = _vector(vector)
    swapped = _with_chain(evidence, lambda chain: [chain[1], chain[0], *chain[2:]])
    expected = {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.MALFORMED}
    assert _verdicts(evidence, trust, at) == expected
    assert _verdicts(swapped, trust, at) == expected


def test_crypto4a_hss_issuer_is_any_candidate_that_validates():
    """Two certificates named as the HSS authority's issuer that both signed it (the sub-CA and an expired issue
    of it with the same key): the HSS chain validates in either order (the first that signed was taken)."""
    pki = crypto4a_pki("rt-vendors", "C4A-1", datetime(2025, 1, 1).astimezone(), HSS_CHOICES["H5"])
    expired = reissue(pki.sca, pki.root_key, not_before=pki.sca.not_valid_before_utc - timedelta(days=800),
                      not_after=pki.sca.not_valid_before_utc - timedelta(days=400))
    hss = x509.load_der_x509_certificate(pki.hss.certificate)
    at = hss.not_valid_before_utc + timedelta(days=1)
    for pool in ([expired, pki.sca], [pki.sca, expired]):
        _check_hss_chain(hss, pool, [pki.root], at, 1)
    with pytest.raises(Rejected) as raised:
        _check_hss_chain(hss, [expired], [pki.root], at, 1)
    assert raised.value.reason is Reason.CERT_EXPIRED
    assert pki.sca.public_bytes(Encoding.DER) != expired.public_bytes(Encoding.DER)


def _intermediates_reversed(evidence: Evidence) -> Evidence:
    """The pkix-evidence bundle with its intermediateCertificates in the reverse order (nothing re-signed: the
    list is outside the TbsEvidence)."""
    ev = asn1.decode_evidence(pkix_evidence_der(evidence.files[evidence.primary]))
    assert ev.intermediates is not None and len(set(ev.intermediates)) > 2
    der = asn1.encode_evidence(ev.tbs, ev.signatures, ev.intermediates[::-1],
                               explicit_intermediates=ev.explicit_intermediates)
    return Evidence(evidence.format, {**evidence.files, evidence.primary: pem(der, "EVIDENCE")}, evidence.primary)


@pytest.mark.parametrize(("vector", "expected"), [
    ("pkix-evidence::variant::keyid-another-keys-certificate-first", Reason.OK),
    ("pkix-evidence::signature::keyid-two-certificates-verify", Reason.MALFORMED)])
def test_pkix_evidence_keyid_signer_is_the_certificate_whose_key_verifies_in_any_order(vector, expected):
    """A signer named by keyId alone, and two certificates with that key identifier: the one whose key verifies
    the signature signs (OK); two different ones that both verify are ambiguous (MALFORMED). The first listed was
    taken: SIGNATURE_INVALID with another key's certificate first, OK with the AK's re-issue first."""
    evidence, trust, at = _vector(vector)
    for bundle in (evidence, _intermediates_reversed(evidence)):
        assert _verdicts(bundle, trust, at) == dict.fromkeys(Profile, expected)


# -- ACME tokens under 128 bits ------------------------------------------------------------------------------------

def test_an_acme_token_under_16_bytes_is_a_challenge_mismatch():
    """RFC 8555 8.3: a token has at least 128 bits of entropy (the apple-acme, tpm-acme and android-acme vectors
    give the verdicts; this pins the bound)."""
    check_token("A" * 22)  # 16 bytes
    for token in ("", "AA", "A" * 20, "not base64!"):
        with pytest.raises(Rejected) as raised:
            check_token(token)
        assert raised.value.reason is Reason.CHALLENGE_MISMATCH, token
