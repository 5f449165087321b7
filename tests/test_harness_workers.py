"""The worker pool: batched tasks, a death blamed on the task that caused it, a worker stuck where no signal
reaches Python killed after its stall timeout, fork only when it is safe."""

from __future__ import annotations

import collections
import gc
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hsmsim.harness.workers import WorkerDied, WorkerPool, frozen_heap, mark_progress, mark_unwatched

ROOT = Path(__file__).resolve().parents[1]


def _nothing() -> None:
    pass


def _answer(task: str) -> str:
    if task == "die":
        os._exit(3)
    if task == "raise":
        raise LookupError(task)
    return task.upper()


STARTED_AS = "imported"
"""A forked worker sees what the parent set here before it started; a spawned one imports this module afresh."""


def _started_as(task: str) -> str:
    if task == "die":
        os._exit(3)
    return STARTED_AS


@pytest.mark.parametrize("batch", [1, 4, 16])
def test_a_death_is_the_first_unanswered_task_of_its_batch_and_the_rest_run_elsewhere(batch):
    tasks = [f"t{i}" for i in range(12)] + ["die"] + [f"u{i}" for i in range(12)] + ["die"] + ["v0", "v1"]
    with WorkerPool(2, _answer, _nothing, ()) as pool:
        answers = list(pool.run(tasks, batch=batch))
    assert sorted(task for task, _ in answers) == sorted(tasks)  # every task answered once
    died = [(task, answer) for task, answer in answers if isinstance(answer, WorkerDied)]
    assert [task for task, _ in died] == ["die", "die"]
    assert all(answer.exitcode == 3 for _, answer in died)
    assert all(answer == task.upper() for task, answer in answers if task != "die")


STALL_S = 1.0


@contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail, rather than hang the suite, when the block takes longer than ``seconds``: a pool's parent waits for its
    workers where a signal reaches it, however stuck they are."""
    def overdue(_signum: int, _frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s: a stalled worker was never killed")

    previous = signal.signal(signal.SIGALRM, overdue)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _stuck_or_slow(task: str) -> str:
    if task == "stuck":
        collections.deque(itertools.repeat(None), maxlen=0)  # a loop inside C holding the GIL: no signal handler runs
    elif task == "steps":  # longer than the stall timeout as a whole, never in one step
        for _ in range(4):
            mark_progress()
            time.sleep(STALL_S * 0.3)
    elif task == "unwatched":
        mark_unwatched()
        time.sleep(STALL_S * 1.5)
    elif task == "slow":
        time.sleep(STALL_S * 1.5)
    return task.upper()


@pytest.mark.parametrize("batch", [1, 3])
def test_a_worker_stuck_in_c_code_is_killed_after_the_stall_timeout_and_blamed_alone(batch):
    tasks = ["a", "b", "stuck", "c", "steps", "d", "unwatched", "slow", "e"]
    with within(60), WorkerPool(2, _stuck_or_slow, _nothing, (), start_method="fork", stall_timeout=STALL_S) as pool:
        answers = dict(pool.run(tasks, batch=batch))
    assert sorted(answers) == sorted(tasks)
    for task in ("stuck", "slow"):  # a unit longer than the timeout is a stall, whether a signal could end it or not
        died = answers.pop(task)
        assert isinstance(died, WorkerDied) and died.stalled and died.exitcode == -signal.SIGKILL, died
        assert died.describe().startswith("the worker process was killed after 1 s without an answer: a verifier "
                                          "stuck in code that signals cannot interrupt"), died.describe()
    assert answers == {task: task.upper() for task in answers}  # the rest of a stalled batch ran elsewhere
    assert not WorkerDied(3).stalled and "exited with status 3" in WorkerDied(3).describe()


def test_a_handler_exception_is_raised_in_the_parent():
    with WorkerPool(1, _answer, _nothing, ()) as pool, pytest.raises(LookupError):
        list(pool.run(["a", "b", "raise", "c"], batch=4))


FORK_CHECK = """
import threading
import tests.test_harness_workers as here
from hsmsim.harness.workers import WorkerPool

def started_as(tasks):
    with WorkerPool(2, here._started_as, here._nothing, (), start_method="fork-if-single-threaded") as pool:
        return sorted({answer for task, answer in pool.run(tasks) if task != "die"})

def main():
    here.STARTED_AS = "a copy of the parent"
    print(started_as(["a", "b", "c", "d"]))
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
    print(started_as(["a", "die", "c", "d"]))  # the replacement for the dead worker too
    stop.set()

if __name__ == "__main__":
    main()
"""


def test_workers_are_forked_only_while_the_process_runs_one_thread(tmp_path):
    script = tmp_path / "fork_check.py"
    script.write_text(textwrap.dedent(FORK_CHECK))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['a copy of the parent']", "['imported']"]


def test_only_verifiers_that_bring_no_third_party_code_into_the_parent_are_forked(tmp_path):
    from hsmsim.harness.config import load_adapter
    from hsmsim.harness.runner import fork_safe

    def adapter(text: str):
        path = tmp_path / "a.toml"
        path.write_text(text)
        return load_adapter(path)

    assert fork_safe(load_adapter(ROOT / "examples" / "verifiers" / "reference.toml"))
    assert fork_safe(load_adapter(ROOT / "examples" / "verifiers" / "flawed-loose-pem.toml"))  # persistent
    assert not fork_safe(adapter('entry = "mine.py:verify"\n'))
    assert not fork_safe(adapter('entry = "mine:verify"\n'))
    assert not fork_safe(adapter('entry = "hsmsim.py:verify"\n'))
    assert not fork_safe(adapter('entry = "hsmsim.mine/v.py:verify"\n'))
    assert fork_safe(adapter('entry = "mine:verify"\nisolate = true\n'))
    assert not fork_safe(adapter('entry = "hsmsim.harness.reference:verify"\nhello = "mine:hello"\n'))


HANG_AND_DEATH = """
import os
import time

from hsmsim.harness.reference import verify as reference


def hang_then_die(request):
    if request.id == "primus::attr::extractable-true":
        time.sleep(30)
    if request.id == "primus::attr::sensitive-false":
        os._exit(3)
    return reference(request)
"""


def test_a_hang_and_a_death_in_the_workers_are_one_case_each(tmp_path):
    from hsmsim.harness.config import load_adapter
    from hsmsim.harness.model import Actual, Outcome
    from hsmsim.harness.runner import RunOptions, _batch_size, run_conformance
    from hsmsim.harness.vectors import load_corpus

    (tmp_path / "hostile.py").write_text(HANG_AND_DEATH)
    (tmp_path / "hostile.toml").write_text('entry = "hostile.py:hang_then_die"\nformats = ["primus"]\n'
                                           'timeout_s = 3\n')  # a cold worker's first case takes a while
    corpus = load_corpus(ROOT / "vectors")
    options = RunOptions(jobs=2, patterns=("primus::*",))
    results = {r.id: r for r in run_conformance([load_adapter(tmp_path / "hostile.toml")], corpus,
                                                options).verifiers[0].results}
    assert len(results) == len(corpus.select(patterns=options.patterns))
    # the hang and the death struck workers holding more cases (the batch is cut from all but the probed golden)
    assert _batch_size(len(results) - 1, options.jobs) > 1
    hung = results.pop("primus::attr::extractable-true")
    died = results.pop("primus::attr::sensitive-false")
    assert (hung.verdict, hung.outcome) == (Actual.HANG, Outcome.HANG)
    assert (died.verdict, died.outcome) == (Actual.CRASH, Outcome.CRASH) and "status 3" in died.detail
    assert {r.outcome for r in results.values()} == {Outcome.PASS}


def test_one_selected_case_of_an_in_process_verifier_still_runs_in_a_worker(tmp_path):
    """``-j 2`` puts an in-process verifier in a worker process however few cases are selected (re-running one
    failing case with ``-k``): one that ends its process is that case's CRASH, not the end of the run."""
    (tmp_path / "hostile.py").write_text(HANG_AND_DEATH)
    (tmp_path / "hostile.toml").write_text('entry = "hostile.py:hang_then_die"\nformats = ["primus"]\n')
    done = subprocess.run([sys.executable, "-m", "hsmsim", "conformance", "run", "--verifier",
                           str(tmp_path / "hostile.toml"), "-k", "primus::attr::sensitive-false", "-j", "2",
                           "--vectors", str(ROOT / "vectors"), "--report", str(tmp_path / "report")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "CRASH primus::attr::sensitive-false" in done.stdout and "status 3" in done.stdout, done.stdout
    assert (tmp_path / "report" / "results" / "hostile.json").is_file()


def _freeze_count(_task):
    return gc.get_freeze_count()


def test_a_worker_leaves_what_it_loaded_out_of_full_collections_and_a_run_hands_its_heap_back():
    """A worker freezes its heap once its initializer ran; a run in this process freezes it for the run only,
    and inside a caller's own freeze it neither adds nor undoes one."""
    with WorkerPool(1, _freeze_count, _nothing, (), start_method="fork") as pool:
        assert [count > 0 for _, count in pool.run([0, 1])] == [True, True]
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        held = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == held
    finally:
        gc.unfreeze()
