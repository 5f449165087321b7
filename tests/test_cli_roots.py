"""Trust anchors on the command line: ``hsmsim verify`` without ``--root`` (only evidence naming no issuer can pass),
and ``hsmsim pki export`` writing every PKI a verifier of the device's evidence may need."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim import api
from hsmsim.device import Device
from hsmsim.formats import names
from hsmsim.harness.vectors import Vector
from hsmsim.hsm import pki_exports
from hsmsim.model.vectors import Expected
from hsmsim.pki.chain import issued_by
from hsmsim.pki.identity import PkiExport
from hsmsim.verdict import Profile, Reason
from hsmsim.webauthn.statements import statement_names
from tests.repo_corpus import repo_corpus, write_vector
from tests.test_cli import ROOT, hsmsim

CORPUS = ROOT / "vectors"
NO_ROOT_HINT = "(hint: no --root was given: pass the vendor root, e.g. from `hsmsim pki export`)"


def _extracted(tmp_path: Path, vector: Vector) -> Path:
    """The vector's primary file, extracted with its trust anchors (which the tests here do not pass)."""
    write_vector(vector, tmp_path / "v")
    return tmp_path / "v" / vector.inputs.primary


def _one_line(result_stdout: str) -> str:
    lines = result_stdout.splitlines()
    assert len(lines) == 1, result_stdout
    return lines[0]


# -- verify without --root ------------------------------------------------------------------------------------------

def _self_attestation_goldens() -> list[Vector]:
    return [v for v in repo_corpus().select(formats=["webauthn"]) if v.golden and "SelfAttestation" in v.flags]


def test_the_catalogue_has_self_attestation_goldens() -> None:
    assert len(_self_attestation_goldens()) >= 2


@pytest.mark.parametrize("profile", [p.value for p in Profile])
def test_packed_self_attestation_goldens_verify_without_a_root(tmp_path: Path, profile: str) -> None:
    """A self attestation names no issuer: without --root it gets the verdict its vector expects (accepted by the
    structural profile; the strict one wants an authority: MISSING_INPUT, and no hint, a root would not help)."""
    for index, vector in enumerate(_self_attestation_goldens()):
        expected, reason = vector.expectation(profile)
        record = _extracted(tmp_path / str(index), vector)
        result = hsmsim("verify", str(record), "--at", vector.at.isoformat(), "--profile", profile)
        line = _one_line(result.stdout)
        if expected is Expected.VALID:
            assert (result.returncode, line) == (0, "ACCEPT"), (vector.id, result.stdout, result.stderr)
        else:
            assert result.returncode == 1 and line.startswith(f"REJECT {reason}:"), (vector.id, line)
            assert NO_ROOT_HINT not in line


def test_fmt_none_without_a_root_is_its_expected_rejection_without_the_hint(tmp_path: Path) -> None:
    vector = next(v for v in repo_corpus().select(formats=["webauthn"]) if "FmtNone" in v.flags)
    expected, reason = vector.expectation("structural")
    assert expected is Expected.INVALID
    result = hsmsim("verify", str(_extracted(tmp_path, vector)), "--at", vector.at.isoformat())
    line = _one_line(result.stdout)
    assert result.returncode == 1 and line.startswith(f"REJECT {reason}:") and NO_ROOT_HINT not in line


def _chain_goldens() -> list[Vector]:
    """The first golden of every format whose verifier needs an anchor (its vector carries one) and that is not
    a self attestation."""
    firsts: dict[str, Vector] = {}
    for vector in repo_corpus().vectors:
        if vector.golden and vector.anchors_pem and "SelfAttestation" not in vector.flags:
            firsts.setdefault(vector.format, vector)
    return list(firsts.values())


@pytest.mark.parametrize("vector", _chain_goldens(), ids=lambda v: v.id)
def test_a_chain_golden_without_a_root_is_untrusted_in_one_line_with_a_hint(tmp_path: Path, vector: Vector) -> None:
    """Reason.CHAIN_UNTRUSTED: 'the chain ends at a certificate that is not one of the trust anchors', and with no
    --root there is none; the one line says that no --root was given."""
    result = hsmsim("verify", str(_extracted(tmp_path, vector)), "--format", vector.format,
                    "--at", vector.at.isoformat())
    line = _one_line(result.stdout)
    assert result.returncode == 1 and result.stderr == "", result.stderr
    assert line.startswith(f"REJECT {Reason.CHAIN_UNTRUSTED.value}:") and line.endswith(f" {NO_ROOT_HINT}"), line


def test_json_without_a_root_keeps_the_verifiers_detail(tmp_path: Path) -> None:
    vector = next(v for v in _chain_goldens() if v.format == "primus")
    args = ("verify", str(_extracted(tmp_path, vector)), "--at", vector.at.isoformat())
    line = _one_line(hsmsim(*args).stdout)
    as_json = hsmsim(*args, "--json")
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and document["reason"] == Reason.CHAIN_UNTRUSTED.value
    assert NO_ROOT_HINT not in document["detail"]
    assert line == f"REJECT {document['reason']}: {document['detail']} {NO_ROOT_HINT}"


def test_the_api_verifies_without_roots(tmp_path: Path) -> None:
    self_attested = _self_attestation_goldens()[0]
    accepted = api.verify(_extracted(tmp_path / "self", self_attested), at=self_attested.at)
    assert accepted.accepted, accepted.summary()
    chained = next(v for v in _chain_goldens() if v.format == "primus")
    rejected = api.verify(_extracted(tmp_path / "chain", chained), at=chained.at)
    assert rejected.reason is Reason.CHAIN_UNTRUSTED


# -- pki export -----------------------------------------------------------------------------------------------------

def _create(state: Path, format_name: str, spec: str = "ec-p256") -> None:
    created = hsmsim("key", "create", "--format", format_name, "--label", "k", "--spec", spec, state=state)
    assert created.returncode == 0, created.stderr


def _export_lines(state: Path, directory: Path) -> list[tuple[str, str]]:
    """``pki export``'s lines, in the order it printed them: (file name, subject as printed)."""
    exported = hsmsim("pki", "export", str(directory), state=state)
    assert exported.returncode == 0, exported.stderr
    return [(Path(path).name, subject) for path, subject in (line.split("\t") for line in exported.stdout.splitlines())]


def _export(state: Path, directory: Path) -> list[str]:
    """``pki export``'s file names, in the order it printed them."""
    return [name for name, _subject in _export_lines(state, directory)]


def _attest_and_verify(state: Path, out: Path, root: Path, *params: str) -> subprocess.CompletedProcess[str]:
    attested = hsmsim("attest", "--key", "k", "--out", str(out), *(a for p in params for a in ("--param", p)),
                      state=state)
    assert attested.returncode == 0, attested.stderr
    return hsmsim("verify", str(out), "--root", str(root))


def test_the_exported_roots_of_a_tpm_device_verify_both_hierarchies(tmp_path: Path) -> None:
    """pki_profile chooses the hierarchy above the AK: root.crt is the default (rsa), ecdsa-p384-root.crt the other;
    each verifies what the device attests under it, and not what it attests under the other."""
    state = tmp_path / "st"
    _create(state, "tpm-acme")
    lines = _export_lines(state, tmp_path / "pki")
    files = [name for name, _subject in lines]
    # TCG's AK certificate profile leaves the subject empty; the listing says so rather than printing nothing
    assert ("attestation.crt", "<empty subject>") in lines
    assert files[:3] == ["root.crt", "attestation.crt", "intermediate-1.crt"]  # the default PKI, named as before
    assert {"ecdsa-p384-root.crt", "ecdsa-p384-intermediate-1.crt", "ecdsa-p384-attestation.crt"} <= set(files)
    for profile, root in (("rsa", "root.crt"), ("ecdsa-p384", "ecdsa-p384-root.crt")):
        verified = _attest_and_verify(state, tmp_path / profile, tmp_path / "pki" / root, f"pki_profile={profile}")
        assert (verified.returncode, verified.stdout) == (0, "ACCEPT\n"), (profile, verified.stdout)
    crossed = hsmsim("verify", str(tmp_path / "ecdsa-p384"), "--root", str(tmp_path / "pki" / "root.crt"))
    assert crossed.returncode == 1 and crossed.stdout.startswith("REJECT "), crossed.stdout


# (fmt, attest parameters, the exported root that must verify it)
WEBAUTHN_CASES = [
    ("tpm", (), "root.crt"),
    ("tpm", ("pki_profile=ecdsa-p384",), "tpm-ecdsa-p384-root.crt"),
    ("packed", (), "packed-root.crt"),
    ("fido-u2f", (), "fido-u2f-root.crt"),
    ("android-key", (), "android-key-root.crt"),
    ("android-key", ("shape=rkp-2026",), "android-key-rkp-2026-root.crt"),
    ("apple", (), "apple-root.crt"),
]


def test_the_webauthn_cases_cover_every_statement_that_chains() -> None:
    names()  # the registry imports every family, which registers its statements
    assert {fmt for fmt, _, _ in WEBAUTHN_CASES} == set(statement_names()) - {"none"}


def test_the_exported_roots_of_a_webauthn_device_verify_every_statement(tmp_path: Path) -> None:
    """A WebAuthn device emits any statement (--param fmt): pki export writes each one's PKI, named after it."""
    state = tmp_path / "st"
    _create(state, "webauthn")
    files = _export(state, tmp_path / "pki")
    assert files[:3] == ["root.crt", "attestation.crt", "intermediate-1.crt"]
    for index, (fmt, params, root) in enumerate(WEBAUTHN_CASES):
        assert root in files
        verified = _attest_and_verify(state, tmp_path / f"{index}-{fmt}", tmp_path / "pki" / root, f"fmt={fmt}",
                                      *params)
        assert (verified.returncode, verified.stdout) == (0, "ACCEPT\n"), (fmt, params, verified.stdout)


def test_a_csr_attestation_device_exports_the_pki_of_every_statement_it_can_carry(tmp_path: Path) -> None:
    """A csr-attestation device's requests carry any vendor's evidence on request (--param statements): pki export
    writes each statement format's PKIs, named after it, and those roots verify the request. (Azure's partition
    root is per key pool: it travels in the bundle's csr_attestation_roots.pem, not in an export.) A vendor's
    device exports no other vendor's PKI: its roots must not trust another vendor's evidence."""
    state = tmp_path / "st"
    _create(state, "csr-attestation")
    files = _export(state, tmp_path / "pki")
    statements = ("primus", "marvell-google", "fortanix", "webauthn", "luna-pkc", "tpm-acme")
    assert {f"{name}-root.crt" for name in statements} <= set(files)
    out = tmp_path / "csr"
    attested = hsmsim("attest", "--key", "k", "--out", f"{out}/", "--param", f"statements={','.join(statements)}",
                      state=state)
    assert attested.returncode == 0, attested.stderr
    roots = [a for name in files if name.endswith("root.crt") for a in ("--root", str(tmp_path / "pki" / name))]
    verified = hsmsim("verify", str(out), *roots)
    assert (verified.returncode, verified.stdout) == (0, "ACCEPT\n"), verified.stdout
    own = hsmsim("verify", str(out), "--root", str(tmp_path / "pki" / "root.crt"))
    assert own.returncode == 1 and own.stdout.startswith("REJECT CHAIN_UNTRUSTED: statement 0 (primus)"), own.stdout
    vendor = [e.name for e in pki_exports(Device.from_seed("primus", "test-cli-roots"))]
    assert vendor == ["", "csr-attestation", "csr-attestation-tcg-attest-certify", "pkix-evidence"], vendor


@pytest.mark.parametrize("format_name", names())
def test_every_exported_pki_is_a_chain_from_its_certificate_to_its_root(format_name: str) -> None:
    """Each export's certificate is issued by its first intermediate, each intermediate by the next, the last by
    the root; names are unique, the default one (empty) first."""
    exports = pki_exports(Device.from_seed(format_name, "test-cli-roots"))
    assert exports[0].name == "" and len({e.name for e in exports}) == len(exports)
    for export in exports:
        path = [export.certificate, *export.intermediates, export.root]
        assert all(issued_by(child, issuer) for child, issuer in itertools.pairwise(path)), (format_name, export.name)


def test_pki_export_names() -> None:
    export = pki_exports(Device.from_seed("primus", "test-cli-roots"))[0]
    assert list(export.within("pkix-evidence").files()) == [
        "pkix-evidence-root.crt", "pkix-evidence-attestation.crt", "pkix-evidence-intermediate-1.crt"]
    assert export.within("a").within("b").name == "b-a"
    for bad in ("A", "-x", "x-", "x--y", "x/y", "x.y", " "):
        with pytest.raises(ValueError, match="lower-case words"):
            PkiExport(bad, export.root, (), export.certificate)


def test_api_roots_verify_every_statement_of_a_webauthn_device(tmp_path: Path) -> None:
    state = tmp_path / "st"
    api.create_key("k", spec="ec-p256", state=state, format="webauthn")
    trusted = api.roots(state)
    assert len({root.public_bytes(Encoding.DER) for root in trusted}) == len(trusted), "each root once"
    for fmt, params, _ in WEBAUTHN_CASES:
        evidence = api.attest("k", state=state, params={"fmt": fmt, **dict(p.split("=") for p in params)})
        verdict = api.verify(evidence, trusted)
        assert verdict.accepted, (fmt, params, verdict.summary())


def test_a_root_whose_name_cryptography_warns_about_leaves_standard_error_empty(tmp_path):
    """A country name of nine characters makes cryptography warn (UserWarning) each time the name is parsed; the
    verdict is the command's one line, and nothing else reaches standard error."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.warns(UserWarning, match="Attribute's length must be"):
        country = x509.NameAttribute(NameOID.COUNTRY_NAME, "ABCDEFGHI", _validate=False)
    subject = x509.Name([country, x509.NameAttribute(NameOID.COMMON_NAME, "odd root")])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    root = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(5).not_valid_before(start).not_valid_after(start + timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    (tmp_path / "odd.pem").write_bytes(root.public_bytes(Encoding.PEM))
    vector = repo_corpus().get("yubihsm2::golden::rsa-2048")
    done = hsmsim("verify", str(_extracted(tmp_path, vector)), "--root", str(tmp_path / "odd.pem"))
    assert done.returncode == 1 and _one_line(done.stdout).startswith("REJECT CHAIN_UNTRUSTED"), done
    assert done.stderr == ""


def test_a_root_file_that_cannot_be_used_is_one_line_naming_the_root_option(tmp_path):
    """A ``--root`` that is a directory, missing, or no certificate is the command's error, and says it is the
    ``--root`` (not the evidence) that is wrong; a certificate cryptography refuses says cryptography's reason."""
    vector = repo_corpus().get("yubihsm2::golden::rsa-2048")
    bundle = str(_extracted(tmp_path, vector))
    (tmp_path / "junk.der").write_bytes(b"\x30\x03\x02\x01")
    for root, message in ((tmp_path, f"--root: {tmp_path} is not a regular file"),
                          (tmp_path / "nosuch.pem", f"--root: cannot read {tmp_path / 'nosuch.pem'}: No such file"),
                          (tmp_path / "junk.der", f"--root: {tmp_path / 'junk.der'} is not a PEM or DER certificate "
                                                  "cryptography reads: ")):
        done = hsmsim("verify", bundle, "--root", str(root))
        assert done.returncode == 2 and done.stdout == "", done
        assert _one_line(done.stderr).startswith(f"hsmsim: error: {message}"), done.stderr


def test_a_real_root_whose_names_are_not_der_sorted_is_refused_with_cryptographys_reason(tmp_path, shared_dir):
    """Nuvoton's EK root (a Purebred trust anchor) encodes a SET OF unsorted: openssl reads it, cryptography does
    not, and the error says so rather than that the file is no certificate."""
    root = shared_dir / "interop/purebred/TrustAnchors/SurfacePro/Roots/Nuvoton/RootCA/NTC_TPM_EK_Root_CA_ARSUF_01.cer"
    vector = repo_corpus().get("yubihsm2::golden::rsa-2048")
    done = hsmsim("verify", str(_extracted(tmp_path, vector)), "--root", str(root))
    assert done.returncode == 2 and "cryptography reads: " in done.stderr and "InvalidSetOrdering" in done.stderr
