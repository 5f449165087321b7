"""Findings on disk, as ready-to-add vectors, and their promotion into the corpus.

A finding directory holds ``finding.json`` (:class:`FindingFile`: the case as a vector draft in the
corpus schema, with per-profile verdicts from the reference verifier and provenance naming the fuzz
operators, plus what the target said) and the native files. ``promote`` appends the draft to
``vectors/promoted/<format>.json``, which the corpus builder includes under its
``<format>::fuzz::<name>`` id.
"""

from __future__ import annotations

from pathlib import Path

from hsmsim._atomic import write_atomic
from hsmsim.corpus.build import PROMOTED_DIR, CorpusError, promoted_json, read_promoted
from hsmsim.fuzz.engine import Finding, ReferenceTarget
from hsmsim.model.corpus_schema import VectorDraft, WireModel, corpus_json
from hsmsim.model.evidence import TrustAnchors
from hsmsim.model.fuzz import FuzzModel
from hsmsim.model.vectors import Provenance, Signing, VectorCase
from hsmsim.verdict import Profile, Reason


class FindingReport(WireModel):
    """What the target and the reference verifier said about a finding's case."""

    kind: str
    """The oracle that fired: specification, differential or robustness."""
    key: str
    """The deduplication key (operators, verdict pair, reason)."""
    target: str
    """The name of the verifier under fuzz."""
    target_verdict: str
    target_reason: str | None
    target_detail: str
    reference_verdict: str
    reference_reason: str | None


class FindingFile(WireModel):
    """``finding.json``: the finding's case as a vector draft, and what the target said."""

    vector: VectorDraft | None
    """Null when the reference verifier gave no verdict on the case (it crashed or hung): a bug in hsmsim, with no
    expected verdict to promote."""
    finding: FindingReport


def finding_vector(finding: Finding, model: FuzzModel, seed: str, target_name: str) -> VectorDraft | None:
    """The finding's case as a vector draft, its verdicts per profile from the reference verifier.

    None when the reference verifier gives no verdict (CRASH, HANG, MEMORY, ERROR) for some profile.
    """
    built = finding.built
    trust = TrustAnchors({"root": model.anchors})
    reference = ReferenceTarget(model.format)
    vector_id = f"{model.format}::fuzz::{finding.slug}"
    expected: dict[Profile, Reason] = {}
    for profile in Profile:
        answer = reference.verify(built.evidence, trust, model.validation_time, profile, case_id=vector_id)
        if answer.verdict not in ("ACCEPT", "REJECT") or answer.reason is None:
            return None
        expected[profile] = Reason(answer.reason)
    operators = "+".join(name for name, _ in built.applied) or "none"
    signing = Signing.RESIGNED if built.resigned else Signing.STALE
    provenance = Provenance(seed=f"{seed}:{built.case.index}", signing=signing,
                            golden=f"{model.format}::golden::{built.case.golden}", operator=operators,
                            path="; ".join(path for _, path in built.applied) or None)
    return VectorDraft.from_case(VectorCase(
        id=vector_id, comment=f"fuzz finding ({finding.kind}) against {target_name}: {operators}",
        flags=("FuzzFinding", signing.value), expected=expected, evidence=built.evidence, anchors=model.anchors,
        validation_time=model.validation_time, provenance=provenance,
    ))


def write_finding(out: Path, finding: Finding, model: FuzzModel, seed: str, target_name: str) -> Path:
    """Write ``out/findings/<slug>/`` (finding.json + native files); returns the directory."""
    directory = out / "findings" / finding.slug
    record = FindingFile(
        vector=finding_vector(finding, model, seed, target_name),
        finding=FindingReport(kind=finding.kind, key=finding.key, target=target_name,
                              target_verdict=finding.target.verdict, target_reason=finding.target.reason,
                              target_detail=finding.target.detail, reference_verdict=finding.reference.verdict,
                              reference_reason=finding.reference.reason),
    )
    for rel, data in finding.built.evidence.files.items():
        write_atomic(directory / "files" / Path(rel).name, data)
    write_atomic(directory / "finding.json", corpus_json(record.wire()))
    return directory


def promote(finding_dir: Path, corpus: Path) -> str:
    """Add the finding's vector draft to ``corpus/promoted/<format>.json``; returns its id.

    Raises :class:`CorpusError` when the finding is unreadable, has no vector (the reference verifier
    gave no verdict) or is already promoted. Run ``hsmsim vectors generate`` afterwards to number it and
    write its native files.
    """
    try:
        record = FindingFile.model_validate_json((finding_dir / "finding.json").read_bytes())
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{finding_dir} holds no readable finding.json: {exc}") from exc
    draft = record.vector
    if draft is None:
        raise CorpusError(f"{finding_dir}: the reference verifier gave no verdict on this case; nothing to promote")
    path = corpus / PROMOTED_DIR / f"{draft.id.split('::')[0]}.json"
    promoted = read_promoted(path)
    if any(entry.id == draft.id for entry in promoted):
        raise CorpusError(f"{draft.id} is already promoted")
    write_atomic(path, promoted_json((*promoted, draft)))
    return draft.id
