"""Trust anchors on the command line: ``hsmsim verify`` without ``--root`` (only evidence naming no issuer can pass),
and ``hsmsim pki export`` writing every PKI a verifier of the device's evidence may need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hsmsim import api
from hsmsim.corpus.check import extract_vector
from hsmsim.harness.vectors import Vector, load_corpus
from hsmsim.model.vectors import Expected
from hsmsim.verdict import Profile, Reason
from tests.test_cli import ROOT, hsmsim

CORPUS = ROOT / "vectors"
NO_ROOT_HINT = "(hint: no --root was given)"


def _extracted(tmp_path: Path, vector: Vector) -> Path:
    """The vector's primary file, extracted with its trust anchors (which the tests here do not pass)."""
    extract_vector(CORPUS, vector.id, tmp_path / "v")
    return tmp_path / "v" / vector.inputs.primary


def _one_line(result_stdout: str) -> str:
    lines = result_stdout.splitlines()
    assert len(lines) == 1, result_stdout
    return lines[0]


# -- verify without --root ------------------------------------------------------------------------------------------

def _self_attestation_goldens() -> list[Vector]:
    return [v for v in load_corpus(CORPUS).select(formats=["webauthn"]) if v.golden and "SelfAttestation" in v.flags]


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
    vector = next(v for v in load_corpus(CORPUS).select(formats=["webauthn"]) if "FmtNone" in v.flags)
    expected, reason = vector.expectation("structural")
    assert expected is Expected.INVALID
    result = hsmsim("verify", str(_extracted(tmp_path, vector)), "--at", vector.at.isoformat())
    line = _one_line(result.stdout)
    assert result.returncode == 1 and line.startswith(f"REJECT {reason}:") and NO_ROOT_HINT not in line


def _chain_goldens() -> list[Vector]:
    """The first golden of every format whose verifier needs an anchor (its vector carries one) and that is not
    a self attestation."""
    firsts: dict[str, Vector] = {}
    for vector in load_corpus(CORPUS).vectors:
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
