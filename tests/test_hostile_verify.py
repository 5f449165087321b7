"""Hostile evidence never makes a reference verifier raise, and the CLI prints any verdict on one line.

Each test here reproduces a defect found by fuzzing or review (issue 12, items 6, 11 and 14): an
exception class escaping ``verify()``, a verdict printed over two lines or not at all, or the strict
profile accepting content it should reject.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.encoding import pem
from hsmsim.formats import get_format, register, unregister, verify_guarded
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell import envelopes
from hsmsim.formats.marvell.layout import Cloud
from hsmsim.formats.primus.catalogue import PrimusKit, Workbench
from hsmsim.fuzz.engine import ReferenceTarget
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.builder import map_extensions, resign_tbs
from hsmsim.verdict import Profile, Reason, Rejected, Verdict, shown_int
from hsmsim.webauthn.container import parse_json_object
from tests.conftest import REPO, VALIDATION_TIME
from tests.formats.test_marvell import World, azure_blobs, resigned, with_azure_blob

# -- item 6: every exception class closed at its root ----------------------------------------------


def test_marvell_oversize_modulus_bits_is_malformed_not_a_value_error():
    """A 1,800-byte MODULUS_BITS: not a 4-byte CK_ULONG, so MALFORMED (a wrong attribute width, as a 4-byte CLASS);
    read as a number, its decimal form would exceed Python's int->str limit (a ValueError once escaped)."""
    world = World()
    evidence = world.attest(Cloud.AZURE, "rsa-3072")
    blob, _ = azure_blobs(evidence)
    parsed = mb.parse_blob(blob)
    changed = mb.encode_body([parsed.objects[0].replace(mb.MODULUS_BITS, b"\x7f" * 1800)],
                             header=parsed.header_style, info_flags=parsed.info_flags) + b"\x00" * 256
    bad = with_azure_blob(evidence, resigned(world, Cloud.AZURE, changed))
    verdict = get_format("marvell-azure").verify(bad, world.trust(Cloud.AZURE), at=VALIDATION_TIME)
    assert verdict.reason is Reason.MALFORMED
    assert len(verdict.detail) < 300


def test_shown_int_bounds_every_size():
    assert shown_int(3072) == "3072"
    assert shown_int(-(10 ** 30)) == str(-(10 ** 30))
    assert shown_int(1 << 20000) == "<20001-bit integer>"


@pytest.fixture(scope="module")
def primus_kit() -> PrimusKit:
    return PrimusKit.build("hostile-verify")


def _duplicate_first_extension(extensions: list[bytes]) -> list[bytes]:
    return [extensions[0], *extensions]


@pytest.mark.parametrize("position", [0, 1])
def test_primus_duplicated_certificate_extension_is_malformed(primus_kit, position):
    """A chain certificate with one extension twice, properly re-signed: cryptography raises
    DuplicateExtension on first access, which escaped the chain walk."""
    bench = Workbench.open(primus_kit, "rsa-3072")
    chain = bench.chain()
    issuer_key = primus_kit.pki.device_key if position == 0 else primus_kit.pki.root_key
    target = chain[position]
    chain[position] = resign_tbs(target, map_extensions(target.tbs_certificate_bytes, _duplicate_first_extension),
                                 issuer_key)
    bench.set_chain(chain)
    trust = TrustAnchors({"root": (primus_kit.identity.root,)})
    for profile in Profile:
        verdict = get_format("primus").verify(bench.evidence(), trust, at=VALIDATION_TIME, profile=profile)
        assert verdict.reason is Reason.MALFORMED, verdict
        assert "twice" in verdict.detail


class _Exploding:
    """A format whose verifier breaks the contract by raising."""

    name = "exploding-test"
    title = "raises from verify()"
    key_specs = ()

    def verify(self, evidence: Evidence, trust: TrustAnchors, *, at: datetime | None = None,
               profile: Profile = Profile.STRUCTURAL) -> Verdict:
        raise KeyError("boom")


def test_the_guard_turns_an_escaping_exception_into_internal_error_and_the_fuzzer_still_sees_it():
    fmt = _Exploding()
    evidence, trust = Evidence(fmt.name, {"x": b""}, "x"), TrustAnchors({})
    verdict = verify_guarded(fmt, evidence, trust)  # type: ignore[arg-type]
    assert verdict.reason is Reason.INTERNAL_ERROR and verdict.detail.startswith("KeyError")
    register(fmt)  # type: ignore[arg-type]
    try:
        answer = ReferenceTarget(fmt.name).verify(evidence, trust, VALIDATION_TIME, Profile.STRUCTURAL, case_id="c")
    finally:
        unregister(fmt.name)
    assert answer.verdict == "CRASH" and answer.detail.startswith("KeyError")


# -- item 11: one escaped line, exit code 0/1/2 ------------------------------------------------------


def test_summary_is_one_printable_line_for_any_detail():
    verdict = Verdict(Reason.MALFORMED, "first\nsecond \ud800 \x00 \u2028 caf\u00e9")
    line = verdict.summary()
    assert "\n" not in line and line.isprintable() and "caf\u00e9" in line
    line.encode("utf-8")  # no lone surrogate left
    assert "\\n" in line and "\\ud800" in line
    document = json.dumps(verdict.to_json())
    document.encode("ascii")
    assert json.loads(document)["detail"].encode("utf-8")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "ascii"}
    return subprocess.run([sys.executable, "-m", "hsmsim", *args], cwd=cwd, capture_output=True, env=env,
                          timeout=120, check=False)


def test_cli_verify_with_an_overlong_path_component_exits_2_without_traceback(tmp_path):
    result = _cli("verify", str(tmp_path / ("a" * 300) / "bundle.zip"), "--root", "root.crt", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert b"Traceback" not in result.stderr


def test_cli_verify_prints_an_undecodable_detail_on_one_line(tmp_path, primus_kit):
    """The bundle's file name reaches the detail; under an ASCII stdout non-ASCII must not raise."""
    bench = Workbench.open(primus_kit, "rsa-3072")
    bench.members["zzz-\u00e9\nx.xml"] = b"<x/>"  # a second .xml: MALFORMED naming both members
    evidence = bench.evidence()
    for rel, data in evidence.files.items():
        (tmp_path / rel).write_bytes(data)
    (tmp_path / "root.pem").write_bytes(primus_kit.identity.root.public_bytes(Encoding.PEM))
    for extra in ((), ("--json",)):
        result = _cli("verify", evidence.primary, "--root", "root.pem", "--format", "primus", *extra, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert b"Traceback" not in result.stderr
        if extra:
            assert json.loads(result.stdout)["reason"] == "MALFORMED"
        else:
            assert result.stdout.decode("ascii").count("\n") == 1


# -- item 14: what strict (and structural) must not accept ---------------------------------------------


def _primus_with_xml(kit: PrimusKit, edit) -> tuple[Evidence, TrustAnchors]:
    bench = Workbench.open(kit, "rsa-3072")
    bench.xml = edit(bench.xml)
    bench.resign()
    return bench.evidence(), TrustAnchors({"root": (kit.identity.root,)})


def _verdicts(format_name: str, evidence: Evidence, trust: TrustAnchors,
              at: datetime = VALIDATION_TIME) -> dict[Profile, Reason]:
    fmt = get_format(format_name)
    return {p: fmt.verify(evidence, trust, at=at, profile=p).reason for p in Profile}


def test_primus_xml_attribute_flood_is_bounded(primus_kit):
    flood = b"".join(b' a%d="x"' % i for i in range(60_000))
    evidence, trust = _primus_with_xml(primus_kit, lambda x: x.replace(b"<label>", b"<label" + flood + b">", 1))
    assert _verdicts("primus", evidence, trust) == dict.fromkeys(Profile, Reason.LIMIT_EXCEEDED)


def test_primus_strict_rejects_an_unknown_xml_attribute(primus_kit):
    evidence, trust = _primus_with_xml(primus_kit, lambda x: x.replace(b"<label>", b'<label lang="en">', 1))
    assert _verdicts("primus", evidence, trust) == {Profile.STRUCTURAL: Reason.OK,
                                                    Profile.STRICT: Reason.UNEXPECTED_CONTENT}


@pytest.fixture(scope="module")
def fortanix_case():
    case = next(c for c in get_format("fortanix").vector_cases("hostile-verify") if c.id.endswith("golden::rsa-3072"))
    return case.evidence, TrustAnchors({"root": case.anchors}), case.validation_time


def _with_member(evidence: Evidence, member: bytes) -> Evidence:
    data = evidence.files[evidence.primary]
    start = data.index(b"{") + 1
    return Evidence(evidence.format, {**evidence.files, evidence.primary: data[:start] + member + b"," + data[start:]},
                    evidence.primary)


@pytest.mark.parametrize(("member", "expected"), [
    (b'"x": 1e99999999999', dict.fromkeys(Profile, Reason.MALFORMED)),
    (b'"x": -1e400', dict.fromkeys(Profile, Reason.MALFORMED)),
    (b'"x": "\\ud800"', dict.fromkeys(Profile, Reason.MALFORMED)),
    (b'"\\udfff": 1', dict.fromkeys(Profile, Reason.MALFORMED)),
    (b'"x": "a\\u0000b"', {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.UNEXPECTED_CONTENT}),
])
def test_fortanix_json_numbers_and_strings(fortanix_case, member, expected):
    evidence, trust, at = fortanix_case
    assert _verdicts("fortanix", _with_member(evidence, member), trust, at) == expected


def test_fortanix_lone_surrogate_in_a_known_member_is_malformed(fortanix_case):
    evidence, trust, at = fortanix_case
    data = evidence.files[evidence.primary].replace(b'"x509_certificate"', b'"x509_certificate\\ud800"', 1)
    bad = Evidence(evidence.format, {**evidence.files, evidence.primary: data}, evidence.primary)
    assert _verdicts("fortanix", bad, trust, at) == dict.fromkeys(Profile, Reason.MALFORMED)


@pytest.mark.parametrize(("member", "expected"), [
    (b'"x": 1e99999999999', dict.fromkeys(Profile, Reason.MALFORMED)),
    (b'"x": "\\ud800"', dict.fromkeys(Profile, Reason.MALFORMED)),
    (b'"x": "\\u0000"', {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.UNEXPECTED_CONTENT}),
    (b'"x\\u0000": 1', {Profile.STRUCTURAL: Reason.OK, Profile.STRICT: Reason.UNEXPECTED_CONTENT}),
])
def test_marvell_azure_json_numbers_and_strings(member, expected):
    world = World()
    evidence = world.attest(Cloud.AZURE, "rsa-3072")
    assert _verdicts("marvell-azure", _with_member(evidence, member), world.trust(Cloud.AZURE)) == expected


@pytest.mark.parametrize("payload", [b'{"type": 1e99999}', b'{"type": NaN}', b'{"type": "\\ud800"}',
                                     b'{"type": ' + b"1" * 100 + b"}"])
def test_webauthn_client_data_json_is_i_json(payload):
    with pytest.raises(Rejected) as caught:
        parse_json_object(payload, "clientDataJSON", 4096)
    assert caught.value.reason is Reason.MALFORMED


def test_marvell_certificate_with_an_unknown_version_is_malformed():
    """x509.InvalidVersion is raised when the PEM is loaded and is no ValueError: it escaped verify()."""
    world = World()
    evidence = world.attest(Cloud.AZURE, "rsa-3072")
    der = bytearray(world.hsms[Cloud.AZURE].attestation_identity().certificate.public_bytes(Encoding.DER))
    der[der.index(bytes.fromhex("a003020102")) + 4] = 5
    document = json.loads(evidence.files[evidence.primary])
    document["attributes"]["attestation"]["certificatePemFile"] = envelopes.b64url(pem(bytes(der)))
    bad = Evidence(evidence.format, {**evidence.files, evidence.primary: json.dumps(document).encode()},
                   evidence.primary)
    assert _verdicts("marvell-azure", bad, world.trust(Cloud.AZURE)) == dict.fromkeys(Profile, Reason.MALFORMED)
