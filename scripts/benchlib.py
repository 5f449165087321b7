"""The timing primitives and the row every bench figure is printed as."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One bench figure: wall (and CPU) seconds, the goal it is held to, and how it compares."""

    label: str
    seconds: float
    cpu: float | None = None
    """CPU seconds of this process for the same work (``time.process_time``): on a shared machine the
    wall figure grows with the load, the CPU figure much less."""
    goal: float | None = None
    """Upper bound in seconds; None when the figure has no goal (it is informative)."""
    goal_text: str = ""
    """How the goal reads, e.g. ``<= 1 ms`` or ``<= 3x floor``."""
    note: str = ""


@dataclass(frozen=True)
class Sample:
    """Median wall and CPU seconds of one call."""

    wall: float
    cpu: float


def measure(fn: Callable[[], object], repeat: int, per: int = 1) -> Sample:
    """Median wall and CPU time of ``repeat`` calls of ``fn`` (after one untimed warm-up call), divided by ``per``."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, start = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return Sample(statistics.median(walls) / per, statistics.median(cpus) / per)


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn``, after one untimed warm-up call."""
    return measure(fn, repeat).wall
