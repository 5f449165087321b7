"""A verifier process's data segment is bounded (``max_memory_mib``, RLIMIT_DATA): an allocation past the bound fails
inside the verifier, oneshot or persistent, instead of taking the machine's memory; 0 lifts the bound; a JVM or node
still starts under the default; a bad value is refused when the adapter file is read."""

from __future__ import annotations

import resource
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from hsmsim.harness.adapters import open_verifier
from hsmsim.harness.config import DEFAULT_MAX_MEMORY_MIB, AdapterConfig, AdapterConfigError, load_adapter
from hsmsim.harness.model import Actual
from hsmsim.harness.processes import bound_data_segment
from hsmsim.harness.vectors import Corpus, load_corpus

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = "primus::golden::ec-p256"
HOG_MIB = 256
"""What the hogs below allocate: far past the 64 MiB bound the tests set, and small enough for any machine."""


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(ROOT / "vectors")


def _adapter(tmp_path: Path, lines: str, script: str) -> AdapterConfig:
    (tmp_path / "hog.py").write_text(textwrap.dedent(script))
    path = tmp_path / "adapter.toml"
    path.write_text(textwrap.dedent(lines))
    return load_adapter(path)


# A oneshot verifier that touches HOG_MIB MiB, then accepts.
ONESHOT_HOG = f"""
    hog = bytearray({HOG_MIB} << 20)
    hog[::4096] = b"x" * len(hog[::4096])
    print("ACCEPT")
"""

# A persistent verifier that touches HOG_MIB MiB on each verify request, then accepts.
PERSISTENT_HOG = f"""
    import json, sys
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "hello":
            print(json.dumps({{"formats": ["primus"]}}), flush=True)
            continue
        hog = bytearray({HOG_MIB} << 20)
        hog[::4096] = b"x" * len(hog[::4096])
        print(json.dumps({{"id": request["id"], "verdict": "ACCEPT"}}), flush=True)
"""


@pytest.mark.parametrize(("bound", "bounded"), [(64, True), (0, False)])
def test_a_oneshot_verifier_cannot_allocate_past_its_bound(tmp_path, corpus, bound, bounded):
    config = _adapter(tmp_path, f'mode = "oneshot"\ncommand = ["{{python}}", "hog.py"]\nmax_memory_mib = {bound}\n',
                      ONESHOT_HOG)
    with open_verifier(config) as live:
        answer = live.verify(corpus.get(GOLDEN))
    if bounded:  # Python exits 1 on a MemoryError: REJECT by the oneshot protocol, never the ACCEPT it would print
        assert answer.verdict is Actual.REJECT and "MemoryError" in (answer.detail or ""), answer
    else:
        assert answer.verdict is Actual.ACCEPT, answer


@pytest.mark.parametrize(("bound", "bounded"), [(64, True), (0, False)])
def test_a_persistent_verifier_cannot_allocate_past_its_bound(tmp_path, corpus, bound, bounded):
    config = _adapter(tmp_path, f'mode = "persistent"\ncommand = ["{{python}}", "hog.py"]\nmax_memory_mib = {bound}\n'
                                "max_restarts = 0\n", PERSISTENT_HOG)
    with open_verifier(config) as live:
        answer = live.verify(corpus.get(GOLDEN))
    if bounded:  # the MemoryError ends the process before it answers
        assert answer.verdict is Actual.CRASH, answer
    else:
        assert answer.verdict is Actual.ACCEPT, answer


def test_the_default_bound_is_4_gib(tmp_path):
    config = _adapter(tmp_path, 'mode = "oneshot"\ncommand = ["{python}", "hog.py"]\n', ONESHOT_HOG)
    assert config.max_memory_mib == DEFAULT_MAX_MEMORY_MIB == 4096


@pytest.mark.parametrize("value", ["-1", "1.5", "true", '"64"', str((1 << 30) + 1)])
def test_a_bad_bound_is_refused_when_the_adapter_is_read(tmp_path, value):
    with pytest.raises(AdapterConfigError, match=r"max_memory_mib must be an integer from 0 \(no bound\)"):
        _adapter(tmp_path, f'mode = "oneshot"\ncommand = ["{{python}}", "hog.py"]\nmax_memory_mib = {value}\n',
                 ONESHOT_HOG)


@pytest.mark.parametrize("runtime", [["java", "-version"], ["node", "-e", "console.log(process.version)"]])
def test_a_runtime_that_reserves_address_space_starts_under_the_default_bound(runtime):
    """RLIMIT_DATA counts only what is written, not the gigabytes a JVM or V8 reserves at start (RLIMIT_AS would)."""
    if shutil.which(runtime[0]) is None:
        pytest.skip(f"{runtime[0]} is not installed here")
    proc = subprocess.Popen(runtime, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    bound_data_segment(proc.pid, DEFAULT_MAX_MEMORY_MIB << 20)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]


def test_the_bound_never_raises_a_hard_limit_already_lower():
    proc = subprocess.Popen(["sleep", "30"])
    try:
        resource.prlimit(proc.pid, resource.RLIMIT_DATA, (32 << 20, 32 << 20))
        bound_data_segment(proc.pid, 1 << 30)
        assert resource.prlimit(proc.pid, resource.RLIMIT_DATA) == (32 << 20, 32 << 20)
    finally:
        proc.kill()
        proc.wait()
