"""``hsmsim verify DIR``: every format verifies the directory ``hsmsim attest --out DIR/`` (here: ``vectors extract``)
writes, as its contract says (``load``/``detect`` take a file or a directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsmsim.corpus.check import extract_vector
from hsmsim.formats import names
from hsmsim.harness.vectors import load_corpus
from tests.test_cli import ROOT, hsmsim

CORPUS = ROOT / "vectors"


def _first_golden(format_name: str) -> tuple[str, str]:
    vector = next(v for v in load_corpus(CORPUS).select(formats=[format_name]) if v.golden)
    return vector.id, vector.at.isoformat()


def _roots(directory: Path) -> list[str]:
    return [arg for path in sorted(directory.glob("trust-anchor-*.pem")) for arg in ("--root", str(path))]


@pytest.mark.parametrize("format_name", names())
def test_verify_takes_the_directory_of_a_golden(tmp_path: Path, format_name: str) -> None:
    vector_id, at = _first_golden(format_name)
    directory = tmp_path / "bundle"
    extract_vector(CORPUS, vector_id, directory)
    result = hsmsim("verify", "--at", at, *_roots(directory), str(directory))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ACCEPT"


@pytest.mark.parametrize("format_name", ["tpm-acme", "parsec-tpm", "webauthn", "csr-attestation"])
def test_a_directory_with_two_records_is_one_line_and_exit_2(tmp_path: Path, format_name: str) -> None:
    vector_id, at = _first_golden(format_name)
    directory = tmp_path / "bundle"
    extract_vector(CORPUS, vector_id, directory)
    primary = next(p for p in sorted(directory.iterdir()) if not p.name.startswith("trust-anchor-")
                   and hsmsim("verify", "--at", at, *_roots(directory), str(p)).returncode == 0)
    (directory / f"copy-{primary.name}").write_bytes(primary.read_bytes())
    for args in (["--format", format_name], []):
        result = hsmsim("verify", *args, "--at", at, *_roots(directory), str(directory))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("hsmsim: error: "), result.stderr


def test_an_empty_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    root = tmp_path / "root.pem"
    root.write_bytes(b"")
    (tmp_path / "empty").mkdir()
    for args in (["--format", "tpm-acme"], []):
        result = hsmsim("verify", *args, "--root", str(root), str(tmp_path / "empty"))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("hsmsim: error: "), result.stderr
