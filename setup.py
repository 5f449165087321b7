"""Build hook: the wheel carries the vector corpus as package data, copied from ``vectors/`` at build time.

``vectors/`` is the corpus's one place in git. ``build_py`` copies the part a verifier run needs (the
``*_verify.json`` files, whose base64 inputs rebuild every native file, the schema) and what ``vectors check``
regenerates it from (the manifest, the id registry, the promoted fuzz findings) into ``hsmsim/_corpus/`` of the
build, where ``hsmsim.harness.vectors.packaged_vectors_root`` finds it after ``pip install``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CORPUS_SOURCE = Path(__file__).resolve().parent / "vectors"
CORPUS_FILES = ("*_verify.json", "manifest.json", "ids.json", "schema/*.json", "promoted/*.json")
"""hsmsim.harness.vectors.PACKAGED_CORPUS_FILES, which `vectors check` of an installed corpus compares (this
build runs without hsmsim's dependencies, so it cannot import it; tests/test_wheel.py holds the two equal)."""


class BuildPyWithCorpus(build_py):
    """``build_py`` that also copies the corpus into ``hsmsim/_corpus/``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the checkout's vectors/ (hsmsim.harness.vectors)
        target = Path(self.build_lib) / "hsmsim" / "_corpus"
        copied = 0
        for pattern in CORPUS_FILES:
            for path in sorted(CORPUS_SOURCE.glob(pattern)):
                destination = target / path.relative_to(CORPUS_SOURCE)
                self.mkpath(str(destination.parent))
                self.copy_file(str(path), str(destination))
                copied += 1
        if not copied:
            raise SystemExit(f"no corpus under {CORPUS_SOURCE}: the wheel must carry the vectors")


setup(cmdclass={"build_py": BuildPyWithCorpus})
