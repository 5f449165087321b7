"""``hsmsim verify DIR``: every format verifies the directory ``hsmsim attest --out DIR/`` (here: ``vectors extract``)
writes, as its contract says (``load``/``detect`` take a file or a directory), exactly as it verifies the record file
in it; and a record is read with the files named for it, never another key's that sits in the same folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding

import hsmsim
from hsmsim._cli import cli
from hsmsim.formats import names
from hsmsim.harness.vectors import Vector
from hsmsim.verdict import Reason
from tests.repo_corpus import repo_corpus, write_vector
from tests.test_cli import ROOT
from tests.test_cli import hsmsim as run_hsmsim

CORPUS = ROOT / "vectors"


def _first_golden(format_name: str) -> tuple[str, str]:
    vector = next(v for v in repo_corpus().select(formats=[format_name]) if v.golden)
    return vector.id, vector.at.isoformat()


def _roots(directory: Path) -> list[str]:
    return [arg for path in sorted(directory.glob("trust-anchor-*.pem")) for arg in ("--root", str(path))]


def _verify(*args: str) -> tuple[int, str, str]:
    """``hsmsim verify ARGS`` in-process (the command's own code path): exit code, last stdout line, stderr."""
    result = CliRunner().invoke(cli, ["verify", *args])
    lines = result.stdout.splitlines()
    return result.exit_code, lines[-1] if lines else "", result.stderr


def _extracted(vector: Vector, directory: Path) -> list[str]:
    """The vector's files and its anchors in a new ``directory`` (:func:`write_vector`); the ``--root`` arguments
    naming those anchors."""
    directory.mkdir()
    write_vector(vector, directory)
    return _roots(directory)


@pytest.mark.parametrize("format_name", names())
def test_verify_takes_the_directory_of_a_golden(tmp_path: Path, format_name: str) -> None:
    vector_id, at = _first_golden(format_name)
    directory = tmp_path / "bundle"
    write_vector(repo_corpus().get(vector_id), directory)
    result = run_hsmsim("verify", "--at", at, *_roots(directory), str(directory))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ACCEPT"


@pytest.mark.parametrize("format_name", names())
def test_every_vector_verifies_from_its_directory_as_from_its_record(tmp_path: Path, format_name: str) -> None:
    """A directory holding one bundle gives the verdict its record file gives, also when the record is damaged
    beyond recognition (found by the name the format writes) and the anchors given as --root sit beside it."""
    for index, vector in enumerate(repo_corpus().select(formats=[format_name])):
        directory = tmp_path / str(index)
        roots = _extracted(vector, directory)
        options = ["--format", format_name, "--at", vector.at.isoformat(), *roots]
        from_file = _verify(str(directory / vector.inputs.primary), *options)
        from_directory = _verify(str(directory), *options)
        assert from_file[0] in (0, 1), f"{vector.id}: {from_file}"
        assert from_directory[:2] == from_file[:2], f"{vector.id}: directory {from_directory}, file {from_file}"


@pytest.mark.parametrize("format_name", names())
def test_an_empty_directory_is_missing_input_for_every_format(tmp_path: Path, format_name: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes").mkdir()  # a subdirectory is no record either
    code, line, stderr = _verify("--format", format_name, str(empty))
    assert code == 1 and line.startswith("REJECT MISSING_INPUT: "), (line, stderr)
    assert hsmsim.verify(empty, format=format_name).reason is Reason.MISSING_INPUT


def test_an_empty_directory_of_no_told_format_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_hsmsim("verify", str(tmp_path / "empty"))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "cannot tell the format" in result.stderr, result.stderr


@pytest.mark.parametrize("format_name", ["tpm-acme", "parsec-tpm", "webauthn", "csr-attestation"])
def test_a_directory_with_two_records_is_one_line_and_exit_2(tmp_path: Path, format_name: str) -> None:
    vector_id, at = _first_golden(format_name)
    directory = tmp_path / "bundle"
    write_vector(repo_corpus().get(vector_id), directory)
    primary = next(p for p in sorted(directory.iterdir()) if not p.name.startswith("trust-anchor-")
                   and run_hsmsim("verify", "--at", at, *_roots(directory), str(p)).returncode == 0)
    (directory / f"copy-{primary.name}").write_bytes(primary.read_bytes())
    for args in (["--format", format_name], []):
        result = run_hsmsim("verify", *args, "--at", at, *_roots(directory), str(directory))
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("hsmsim: error: "), result.stderr


def test_a_root_given_from_inside_the_directory_is_never_the_record(tmp_path: Path) -> None:
    """The chain of ``android-key::chain::extension-missing`` carries no KeyDescription: the directory's record is
    found by its name, ``*.pem``, as the trust anchor beside it is named too. Given as --root, the anchor is no
    candidate; given from elsewhere, the two ``.pem`` files are ambiguous."""
    directory = tmp_path / "v1"
    write_vector(repo_corpus().get("android-key::chain::extension-missing"), directory)
    options = ["--format", "android-key", "--at", "2026-01-01T00:00:00Z"]
    code, line, _stderr = _verify(str(directory), *options, *_roots(directory))
    assert code == 1 and line.startswith("REJECT ATTR_MISSING: "), line
    elsewhere = tmp_path / "root.pem"
    elsewhere.write_bytes((directory / "trust-anchor-1.pem").read_bytes())
    code, _line, stderr = _verify(str(directory), *options, "--root", str(elsewhere))
    assert code == 2 and "name the one to verify" in stderr, stderr
    link = tmp_path / "link.pem"  # the same file by another path is the same anchor
    link.symlink_to(directory / "trust-anchor-1.pem")
    others = [arg for path in sorted(directory.glob("trust-anchor-*.pem")) if path.name != "trust-anchor-1.pem"
              for arg in ("--root", str(path))]
    assert _verify(str(directory), *options, "--root", str(link), *others)[1].startswith("REJECT ATTR_MISSING")


# -- a folder of several keys' bundles ------------------------------------------------------------------------------

def _bundles(tmp_path: Path, format_name: str, labels: tuple[str, ...]) -> tuple[Path, dict[str, str], list[str]]:
    """Each key of ``labels`` attested in ``format_name`` into one folder, as ``attest --out DIR/`` writes them one
    after another: the folder, each key's record name, and --root arguments for every root of the device."""
    state, out, roots = tmp_path / "state", tmp_path / "out", tmp_path / "roots"
    records = {}
    for label in labels:
        hsmsim.create_key(label, spec="ec-p256", state=state, format=format_name)
        evidence = hsmsim.attest(label, state=state)
        evidence.write(out)
        records[label] = evidence.primary
    roots.mkdir()
    for index, root in enumerate(hsmsim.roots(state)):
        (roots / f"{index}.pem").write_bytes(root.public_bytes(Encoding.PEM))
    return out, records, [arg for path in sorted(roots.iterdir()) for arg in ("--root", str(path))]


@pytest.mark.parametrize("format_name", names())
def test_two_keys_whose_labels_share_a_prefix_both_verify_from_one_folder(tmp_path: Path, format_name: str) -> None:
    """``k1``'s record never takes ``k10``'s CSR, chain or challenge (a second key's bundle beside the first is
    normal: the README's ``attest --out``); the folder itself holds two records, so it is a usage error."""
    out, records, roots = _bundles(tmp_path, format_name, ("k1", "k10"))
    for label, record in records.items():
        code, line, stderr = _verify(str(out / record), "--format", format_name, *roots)
        assert (code, line) == (0, "ACCEPT"), f"{label}: {line} {stderr}"
    code, _line, stderr = _verify(str(out), "--format", format_name, *roots)
    assert code == 2 and "name the one to verify" in stderr, stderr


@pytest.mark.parametrize("format_name", names())
def test_directories_named_like_the_record_beside_it_are_ignored(tmp_path: Path, format_name: str) -> None:
    out, records, roots = _bundles(tmp_path, format_name, ("k1",))
    for name in {f"{records['k1']}.d", "k1dir", "k1.csr.d"}:
        (out / name).mkdir()
    for target in (out / records["k1"], out):
        assert _verify(str(target), "--format", format_name, *roots)[:2] == (0, "ACCEPT"), target
