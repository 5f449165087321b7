"""Bench rows for the fuzzer: seconds per case against the in-process reference verifier (-j 1 and -j 2),
and against a persistent external verifier when the conformance examples are present.

Goals (issue 6): >= 1,000 execs/s in-process on 2 cores (<= 1 ms per case), >= 300 execs/s
through a persistent external verifier (<= 3.3 ms per case).
"""

from __future__ import annotations

from pathlib import Path

from hsmsim.fuzz.campaign import CampaignSpec, load_model, reference_target, run_campaign
from hsmsim.fuzz.targets import target_factory

CASES = 3000
PERSISTENT_ADAPTER = Path(__file__).resolve().parents[1] / "examples" / "verifiers" / "flawed-loose-pem.toml"


def _per_case(spec: CampaignSpec) -> float:
    result = run_campaign(spec)
    return result.stats.seconds / result.stats.executed


def rows(repeat: int) -> list[tuple[str, float]]:
    """Seconds per fuzz case (the table prints ms; execs/s = 1000 / ms)."""
    load_model("primus")  # build (and cache) the model before anything is timed
    out = []
    for jobs in (1, 2):
        spec = CampaignSpec(format="primus", seed="bench", target=reference_target("primus"), iterations=CASES,
                            jobs=jobs)
        out.append((f"fuzz primus vs in-process reference, -j {jobs} (per case)", _per_case(spec)))
    if PERSISTENT_ADAPTER.exists():
        spec = CampaignSpec(format="primus", seed="bench", target=target_factory(PERSISTENT_ADAPTER, "primus"),
                            iterations=CASES // 3, jobs=2)
        label = "fuzz primus vs persistent external verifier (naive_primus_server), -j 2 (per case)"
        out.append((label, _per_case(spec)))
    return out
