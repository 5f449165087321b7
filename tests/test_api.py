"""The top-level Python API (``hsmsim.verify`` and friends) and its documentation, ``docs/api.md``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from cryptography import x509

import hsmsim
from hsmsim.errors import HsmsimError, UnsupportedFormatError

ROOT = Path(__file__).resolve().parents[1]
API_DOC = ROOT / "docs" / "api.md"


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_examples_in_docs_api_md_run_and_print_what_their_comments_say(tmp_path: Path) -> None:
    blocks = _python_blocks(API_DOC.read_text())
    assert blocks and len(blocks[0].strip().splitlines()) == 5, "the first example is five lines"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HSMSIM_VECTORS", None)
    for block in blocks:
        result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        promised = [line.partition("# ")[2] for line in block.splitlines() if line.startswith("print(")]
        assert result.stdout.splitlines() == promised


def test_import_hsmsim_loads_nothing_else() -> None:
    code = "import sys, hsmsim; print(sorted(m for m in sys.modules if m.startswith('hsmsim')))"
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "['hsmsim']"


def test_every_exported_name_resolves() -> None:
    for name in hsmsim.__all__:
        assert getattr(hsmsim, name) is not None
    with pytest.raises(AttributeError):
        hsmsim.no_such_thing  # noqa: B018 - the attribute access is the test
    assert all(issubclass(error, hsmsim.HsmsimError)
               for error in (hsmsim.ParameterError, hsmsim.UnsupportedFormatError, hsmsim.CorpusLoadError))
    assert hsmsim.HsmsimError is HsmsimError


def test_api_misuse_raises_hsmsim_errors(tmp_path: Path) -> None:
    with pytest.raises(HsmsimError, match="no hsmsim state"):
        hsmsim.attest("k", state=tmp_path / "none")
    with pytest.raises(UnsupportedFormatError, match="no vectors of format 'nope'"):
        hsmsim.vectors(format="nope", root=ROOT / "vectors")
    assert "primus" in hsmsim.format_names()


def test_verify_takes_certificates_or_files_and_str_or_path(tmp_path: Path) -> None:
    vector = hsmsim.load_corpus(ROOT / "vectors").get("primus::attr::extractable-true")
    anchors = vector.trust.certificates()
    by_certificate = hsmsim.verify(vector.evidence, anchors, at=vector.at, profile="strict")
    assert by_certificate.reason is hsmsim.Reason.ATTR_EXTRACTABLE
    written = vector.evidence.write(str(tmp_path / "bundle"))  # docs/api.md: paths are str or pathlib.Path
    anchor = tmp_path / "root.pem"
    anchor.write_text(vector.anchors_pem[0])
    primary = tmp_path / "bundle" / vector.evidence.primary
    assert primary in written
    by_file = hsmsim.verify(str(primary), [anchor], at=vector.at, profile=hsmsim.Profile.STRICT)
    assert by_file == by_certificate


def test_verify_gives_its_verdict_when_the_caller_makes_warnings_errors() -> None:
    """cryptography warns as it parses the real Crypto4A root's ``C=Canada``; a caller's ``-W error`` (a strict
    test suite) must not turn that into an exception out of ``verify``, and gets its filters back as they were."""
    vector = hsmsim.load_corpus(ROOT / "vectors").get("crypto4a::golden::ec-p256")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="Attribute's length must be"):
            _ = x509.load_pem_x509_certificate(vector.anchors_pem[0].encode()).subject
        filters = list(warnings.filters)
        verdict = hsmsim.verify(vector.evidence, vector.trust.certificates(), at=vector.at)
        assert warnings.filters == filters
    assert verdict.accepted, verdict


def test_evidence_write_replaces_regular_files_and_never_writes_through_a_symlink(tmp_path: Path) -> None:
    from hsmsim.model.evidence import Evidence

    evidence = Evidence(format="toy", files={"a.bin": b"new", "sub/b.bin": b"nested"}, primary="a.bin")
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    out.mkdir()
    (out / "a.bin").write_bytes(b"old evidence, a longer file")
    assert evidence.write(out) == [out / "a.bin", out / "sub" / "b.bin"]  # a regular file is replaced
    assert (out / "a.bin").read_bytes() == b"new" and (out / "sub" / "b.bin").read_bytes() == b"nested"

    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "a.bin").symlink_to(outside / "a.bin")  # a dangling link, and one to an existing file
    with pytest.raises(HsmsimError, match=r"a\.bin is a symlink; not writing through it"):
        evidence.write(planted)
    (outside / "a.bin").write_bytes(b"keep")
    with pytest.raises(HsmsimError, match="is a symlink"):
        evidence.write(planted)
    assert (outside / "a.bin").read_bytes() == b"keep"

    through = tmp_path / "through"
    through.mkdir()
    (through / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(HsmsimError, match=r"sub is a symlink; not writing through it"):
        evidence.write(through)
    assert sorted(p.name for p in outside.iterdir()) == ["a.bin"] and not (through / "a.bin").exists()

    fifo = tmp_path / "fifo"
    (fifo / "sub").mkdir(parents=True)
    os.mkfifo(fifo / "sub" / "b.bin")  # opening it for writing would block
    with pytest.raises(HsmsimError, match="exists and is not a regular file"):
        evidence.write(fifo)
    assert not (fifo / "a.bin").exists()
