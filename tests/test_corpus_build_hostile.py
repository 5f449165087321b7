"""``vectors generate`` / ``promote`` on hostile input: a directory that is not an hsmsim corpus is never replaced, and
an error part-way leaves the previous corpus byte for byte as it was (the corpus is built beside it and renamed in)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hsmsim.corpus.build import CorpusError, build_corpus, promoted_drafts
from hsmsim.fuzz.findings import promote
from tests.test_cli import ROOT, hsmsim

SEED = "hostile-build"
FORMAT = "purebred"  # a format with promoted findings in the committed corpus
PROMOTED = ROOT / "vectors" / "promoted" / f"{FORMAT}.json"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("small") / "corpus"
    promoted = {FORMAT: promoted_drafts(ROOT / "vectors")[FORMAT]}
    build_corpus(corpus, seed=SEED, formats=[FORMAT], promoted=promoted)
    return corpus


@pytest.fixture
def corpus(small_corpus: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "corpus"
    shutil.copytree(small_corpus, copy, symlinks=True)
    return copy


def _edit_promoted(corpus: Path, edit) -> None:
    path = corpus / "promoted" / f"{FORMAT}.json"
    drafts = json.loads(path.read_text())
    edit(drafts)
    path.write_text(json.dumps(drafts))


def test_a_directory_with_a_foreign_manifest_is_never_replaced(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "manifest.json").write_text('{"name": "pwa"}')
    (app / "index.html").write_text("x")
    before = _snapshot(app)
    result = hsmsim("vectors", "generate", "--seed", "s1", "--out", str(app))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "is not an hsmsim corpus manifest" in result.stderr
    assert _snapshot(app) == before and (app / "src").is_dir()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d[0].__setitem__("flags", ["NoSuchFlag"]), "flag NoSuchFlag has no note"),
    (lambda d: d[0]["trust"].__setitem__("anchors", ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"]),
     "trust anchor 1 is not a PEM certificate"),
    (lambda d: d[0]["inputs"]["files"][0].__setitem__("base64", "abc"), "is not valid base64"),
    (lambda d: d[0].__setitem__("id", "yubihsm2::fuzz::elsewhere"), "is not a purebred vector"),
    (lambda d: d.append(d[0]), "twice"),
])
def test_a_hostile_promoted_draft_is_one_line_and_leaves_the_corpus_as_it_was(corpus: Path, edit, message) -> None:
    _edit_promoted(corpus, edit)
    before = _snapshot(corpus)
    with pytest.raises(CorpusError, match=message):
        build_corpus(corpus, seed=SEED, formats=[FORMAT])
    assert _snapshot(corpus) == before
    assert not [p for p in corpus.parent.iterdir() if p.name.startswith(".corpus.")]  # no staging left behind


def test_a_vector_whose_file_is_another_vectors_directory_is_refused_before_replacing(corpus: Path) -> None:
    first = json.loads((corpus / "promoted" / f"{FORMAT}.json").read_text())[0]
    golden = next(t for t in json.loads((corpus / f"{FORMAT}_verify.json").read_text())["tests"]
                  if "Golden" in t["flags"])
    directory = golden["inputs"]["dir"].split("/")  # purebred/golden/<name>
    _edit_promoted(corpus, lambda d: (d[0].__setitem__("id", f"{FORMAT}::{directory[1]}"),
                                      d[0]["inputs"]["files"][0].__setitem__("path", directory[2])))
    assert first["inputs"]["files"][0]["path"] != directory[2]
    before = _snapshot(corpus)
    with pytest.raises(CorpusError, match=r"cannot write .* into the corpus: File exists"):
        build_corpus(corpus, seed=SEED, formats=[FORMAT])
    assert _snapshot(corpus) == before


@pytest.mark.parametrize(("duplicate", "message"), [(False, "integer from 1"), (True, "have the same tcId")])
def test_an_id_registry_with_tc_id_zero_or_twice_is_refused(corpus: Path, duplicate: bool, message: str) -> None:
    registry = corpus / "ids.json"
    data = json.loads(registry.read_text())
    first, second = list(data["ids"])[:2]
    data["ids"][second]["tcId"] = data["ids"][first]["tcId"] if duplicate else 0
    registry.write_text(json.dumps(data))
    before = _snapshot(corpus)
    with pytest.raises(CorpusError, match=message):
        build_corpus(corpus, seed=SEED, formats=[FORMAT])
    assert _snapshot(corpus) == before


def test_a_symlink_in_the_corpus_is_removed_not_followed(corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (corpus / "zz").symlink_to(outside)
    build_corpus(corpus, seed=SEED, formats=[FORMAT])
    assert not (corpus / "zz").exists() and (outside / "keep.txt").read_text() == "mine"
    assert (corpus / "manifest.json").is_file()


def test_promoted_holds_only_registered_formats_files(corpus: Path) -> None:
    (corpus / "promoted" / "zz0.json").write_text("[]")
    with pytest.raises(CorpusError, match=r"holds 'zz0\.json', not a <format>\.json of a registered format"):
        promoted_drafts(corpus)
    result = hsmsim("vectors", "check", "--vectors", str(corpus))
    assert result.returncode == 2 and "zz0.json" in result.stderr and len(result.stderr.splitlines()) == 1


def _finding(directory: Path, case_id: str) -> Path:
    draft = json.loads(PROMOTED.read_text())[0]
    report = {"kind": "specification", "key": "k", "target": "t", "targetVerdict": "ACCEPT", "targetReason": "OK",
              "targetDetail": "", "referenceVerdict": "REJECT", "referenceReason": "MALFORMED", "foundKey": "k",
              "caseIndex": 0}
    directory.mkdir()
    (directory / "finding.json").write_text(json.dumps({"case": {**draft, "id": case_id, "expectedFrom": None},
                                                        "finding": report}))
    return directory


def test_promote_refuses_an_unknown_format_and_a_directory_that_is_no_corpus(tmp_path: Path) -> None:
    unknown = _finding(tmp_path / "unknown", "nosuchfmt::fuzz::x")
    with pytest.raises(CorpusError, match="no format 'nosuchfmt' is registered"):
        promote(unknown, tmp_path / "corpus")
    assert not (tmp_path / "corpus").exists()
    known = _finding(tmp_path / "known", f"{FORMAT}::fuzz::new-one")
    other = tmp_path / "notcorpus"
    other.mkdir()
    (other / "x").write_text("y")
    with pytest.raises(CorpusError, match="holds no corpus manifest"):
        promote(known, other)
    assert sorted(p.name for p in other.iterdir()) == ["x"]
    assert promote(known, tmp_path / "corpus") == f"{FORMAT}::fuzz::new-one"  # the same finding, into a new corpus


def test_a_built_corpus_gets_the_permissions_of_a_directory_made_there(small_corpus: Path, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(small_corpus.stat().st_mode) == 0o777 & ~umask  # not mkdtemp's owner-only 0700
    small_corpus.chmod(0o750)
    build_corpus(small_corpus, seed=SEED, formats=[FORMAT])  # a rebuild keeps the replaced directory's
    assert stat.S_IMODE(small_corpus.stat().st_mode) == 0o750
    small_corpus.chmod(0o777 & ~umask)


def test_directories_abandoned_by_a_killed_build_are_removed_by_the_next(corpus: Path) -> None:
    # What a build killed with SIGKILL leaves beside the corpus, an hour and more ago, and one a build running now
    # is writing; and names that only look alike.
    hour_ago = os.path.getmtime(corpus) - 3700
    abandoned = [corpus.parent / ".corpus.new-0badc0de", corpus.parent / ".corpus.old-12345678"]
    running = corpus.parent / ".corpus.new-abcdef01"
    unrelated = [corpus.parent / ".other.new-0badc0de", corpus.parent / ".corpus.new-notahex0"]
    for directory in (*abandoned, running, *unrelated):
        (directory / "sub").mkdir(parents=True)
        (directory / "sub" / "f").write_text("x")
    for directory in (*abandoned, *unrelated):
        os.utime(directory, (hour_ago, hour_ago))
    build_corpus(corpus, seed=SEED, formats=[FORMAT])
    assert not any(d.exists() for d in abandoned)
    assert running.is_dir() and all(d.is_dir() for d in unrelated)
    assert sorted(p.name for p in corpus.parent.iterdir()) == sorted(
        [corpus.name, running.name, *(d.name for d in unrelated)])


def test_abandoned_directories_are_kept_while_no_corpus_is_in_place(tmp_path: Path) -> None:
    # A build killed between its two renames: no corpus at the target, and the directories hold the only copies.
    corpus = tmp_path / "corpus"
    left = tmp_path / ".corpus.old-0badc0de"
    left.mkdir()
    os.utime(left, (0, 0))
    build_corpus(corpus, seed=SEED, formats=["pkix-evidence"])
    assert left.is_dir() and (corpus / "manifest.json").is_file()
