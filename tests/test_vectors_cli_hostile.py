"""``hsmsim vectors`` (and ``verify``) given hostile corpora, paths and empty values: one line on stderr and exit 2,
nothing written, corpus text escaped; a group without a subcommand prints its help."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hsmsim.harness.vectors import CORPUS_FILES_LIMIT
from tests.test_cli import ROOT, hsmsim

PRIMUS = ROOT / "vectors" / "primus_verify.json"


def _one_line_exit_2(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hsmsim: error: "), result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def _native(path: str, data: bytes) -> dict[str, str]:
    return {"path": path, "base64": base64.b64encode(data).decode(), "sha256": hashlib.sha256(data).hexdigest()}


Edit = Callable[[dict[str, Any], dict[str, Any]], None]
"""Changes a vector file (first argument) and its one vector (second) in place."""


def _one_vector_corpus(directory: Path, edit: Edit, name: str = "primus_verify.json") -> str:
    """A corpus in ``directory`` holding the first primus vector alone, after ``edit(document, vector)``; its id."""
    document = json.loads(PRIMUS.read_text())
    vector = document["tests"][0]
    document["tests"] = [vector]
    edit(document, vector)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(document))
    return str(vector["id"])


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# -- 1: extract writes nothing unless every file can be written ---------------------------------------------------

def _zip_member_under_a_file(_document: dict[str, Any], vector: dict[str, Any]) -> None:
    vector["inputs"]["files"] = [_native("ev.zip", _zip({"sub/inner.txt": b"inner"})), _native("sub", b"plain")]
    vector["inputs"]["primary"] = "ev.zip"


def _file_named_like_an_anchor(_document: dict[str, Any], vector: dict[str, Any]) -> None:
    vector["inputs"]["files"].append(_native("trust-anchor-1.pem", b"not the anchor"))


@pytest.mark.parametrize(("edit", "options", "words"), [
    (_zip_member_under_a_file, ["--unzip"], ("'sub' both as a file and as the directory of 'sub/inner.txt'",)),
    (_file_named_like_an_anchor, [], ("names file 'trust-anchor-1.pem' twice",)),
])
def test_extract_writes_nothing_when_two_outputs_clash(tmp_path: Path, edit: Edit, options: list[str],
                                                      words: tuple[str, ...]) -> None:
    vector_id = _one_vector_corpus(tmp_path / "corpus", edit)
    dest = tmp_path / "out" / "dest"
    result = hsmsim("vectors", "extract", vector_id, str(dest), *options, "--vectors", str(tmp_path / "corpus"))
    _one_line_exit_2(result, f"the output of vector {vector_id!r}", *words)
    assert not (tmp_path / "out").exists()


# -- 2: extract reads the corpus as list and show do ------------------------------------------------------------

def test_extract_refuses_a_corpus_holding_an_id_twice(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    vector_id = _one_vector_corpus(corpus, lambda _d, _v: None)
    _one_vector_corpus(corpus, lambda _d, _v: None, name="primus2_verify.json")
    result = hsmsim("vectors", "extract", vector_id, str(tmp_path / "dest"), "--vectors", str(corpus))
    _one_line_exit_2(result, f"vector id {vector_id!r} appears in primus2_verify.json and primus_verify.json")
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize(("corpus", "reason"), [("missing", "No such file or directory"),
                                                ("file", "Not a directory")])
def test_extract_from_no_corpus_says_it_cannot_read_it(tmp_path: Path, corpus: str, reason: str) -> None:
    (tmp_path / "file").write_text("{}")
    result = hsmsim("vectors", "extract", "primus::golden::rsa-2048", str(tmp_path / "dest"),
                    "--vectors", str(tmp_path / corpus))
    _one_line_exit_2(result, "cannot list the corpus", reason)
    assert not (tmp_path / "dest").exists()


def test_extract_keeps_the_corpus_file_limit(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index in range(CORPUS_FILES_LIMIT + 1):
        (corpus / f"f{index}_verify.json").write_text("{}")
    result = hsmsim("vectors", "extract", "primus::golden::rsa-2048", str(tmp_path / "dest"),
                    "--vectors", str(corpus))
    _one_line_exit_2(result, f"holds {CORPUS_FILES_LIMIT + 1} vector files (at most {CORPUS_FILES_LIMIT})")


# -- 3: a corpus path too long for its manifest's name ------------------------------------------------------------

def _path_of_length(directory: Path, length: int) -> tuple[Path, str]:
    """A directory below ``directory`` and a spelling of its path ``length`` characters long: ``/c/..`` steps (which
    a path keeps, unlike ``/./`` or ``//``), then a name of 1 to 5 characters."""
    (directory / "c").mkdir()
    size = next(size for size in range(1, 6) if (length - len(str(directory)) - 1 - size) % len("/c/..") == 0)
    steps = (length - len(str(directory)) - 1 - size) // len("/c/..")
    return directory / ("c" * size), str(directory) + "/c/.." * steps + "/" + "c" * size


@pytest.mark.parametrize("command", ["show", "list", "extract"])
def test_a_corpus_path_too_long_for_the_manifest_is_one_line(tmp_path: Path, command: str) -> None:
    """A vector file named ``_verify.json`` (12 characters) can be read below a 4082-character path; its
    ``manifest.json`` (13) cannot even be looked at (PATH_MAX is 4096 with the NUL)."""
    corpus, spelled = _path_of_length(tmp_path, 4082)
    vector_id = _one_vector_corpus(corpus, lambda _d, _v: None, name="_verify.json")
    assert len(spelled) == 4082 and os.path.isfile(spelled + "/_verify.json")
    args = {"show": [vector_id], "list": [], "extract": [vector_id, str(tmp_path / "dest")]}[command]
    _one_line_exit_2(hsmsim("vectors", command, *args, "--vectors", spelled), "manifest.json: File name too long")
    assert not (tmp_path / "dest").exists()


# -- 4: an empty value is misuse, never the default --------------------------------------------------------------

@pytest.mark.parametrize("args", [["list"], ["show", "primus::golden::rsa-2048"],
                                  ["extract", "primus::golden::rsa-2048", "dest"]])
def test_an_empty_hsmsim_vectors_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            args: list[str]) -> None:
    """Run where the current directory is a corpus: an empty $HSMSIM_VECTORS must not read it."""
    _one_vector_corpus(tmp_path, lambda _d, _v: None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HSMSIM_VECTORS", "")
    _one_line_exit_2(hsmsim("vectors", *args), "HSMSIM_VECTORS is set but empty")
    assert not (tmp_path / "dest").exists()


def test_verify_with_an_empty_format_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(_zip({"a.txt": b"a"}))
    _one_line_exit_2(hsmsim("verify", "--format", "", str(bundle)), "--format must not be empty")


# -- 5: corpus text is shown escaped -----------------------------------------------------------------------------

def _forging(document: dict[str, Any], vector: dict[str, Any]) -> None:
    vector["comment"] = "line1\nFORGED LINE\r\x1b[31mred"
    vector["features"] = ["feature\x1b[2J"]
    vector["provenance"]["operator"] = "op\nFORGED OPERATOR"
    vector["inputs"]["primary"] = "primary\u2028FORGED PRIMARY"
    note = document["notes"][vector["flags"][0]]
    note.update(description="described\nFORGED NOTE", effect="effect\x07", refs=["ref\x9b1m"])


def test_show_escapes_every_corpus_text(tmp_path: Path) -> None:
    vector_id = _one_vector_corpus(tmp_path / "forged", _forging)
    forged = hsmsim("vectors", "show", vector_id, "--vectors", str(tmp_path / "forged"))
    assert forged.returncode == 0, forged.stderr
    assert all(line.isprintable() for line in forged.stdout.split("\n")), forged.stdout
    # every forged text stays inside the line it was given in, after an escaped line break
    assert forged.stdout.count("FORGED") == 4 == forged.stdout.count("\\nFORGED") + forged.stdout.count("\\u2028FORGED")
    for shown in (r"comment:   line1\nFORGED LINE\r\x1b[31mred", r"features:  feature\x1b[2J",
                  r"operator: op\nFORGED OPERATOR", r"(primary primary\u2028FORGED PRIMARY):",
                  r"described\nFORGED NOTE", r"effect: effect\x07", r"refs: ref\x9b1m"):
        assert shown in forged.stdout, shown


# -- 6: a group without a subcommand prints its help -------------------------------------------------------------

@pytest.mark.parametrize("group", [[], ["vectors"], ["pki"]])
def test_a_group_without_a_subcommand_prints_its_help(group: list[str]) -> None:
    """As click 8.2+ does (a usage error: exit 2), but the help is help on stdout, not one escaped error line."""
    result = hsmsim(*group)
    assert result.returncode == 2, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"Usage: {' '.join(['hsmsim', *group])} [OPTIONS] COMMAND [ARGS]...\n")
    assert "\nCommands:\n" in result.stdout and "\\n" not in result.stdout


# -- 7: verify says why a bundle cannot be looked at -------------------------------------------------------------

def test_verify_a_symlink_loop_says_so(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    _one_line_exit_2(hsmsim("verify", str(loop)), f"cannot read {loop}: Too many levels of symbolic links")
