"""Findings on disk, as vectors awaiting an expected verdict, and their promotion into the corpus.

A finding directory holds ``finding.json`` (:class:`FindingFile`: the case in the corpus schema with
provenance naming the fuzz operators, what the target and the reference verifier said, and the
expected verdict when the catalogue knows it) and the native files. ``promote`` appends the case to
``vectors/promoted/<format>.json``, which the corpus builder includes under its
``<format>::fuzz::<name>`` id.

A promoted vector's expected verdict is never what the reference verifier answered (that would make
the reference check itself): it is the catalogue's, when the case is one named defect applied alone,
or what a person states with ``--expect``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, ValidationError

from hsmsim._atomic import write_atomic
from hsmsim.corpus.build import PROMOTED_DIR, CorpusError, check_draft, committed_seed, promoted_json, read_promoted
from hsmsim.errors import BundleError
from hsmsim.fuzz.engine import HAVOC, BuiltCase, Finding
from hsmsim.harness.vectors import validation_summary
from hsmsim.model.corpus_schema import (
    FlagName,
    InputsRecord,
    ProfileRecord,
    ProfileRecords,
    ProvenanceRecord,
    TrustRecord,
    VectorDraft,
    VectorId,
    WireModel,
    corpus_json,
)
from hsmsim.model.fuzz import FuzzModel, FuzzOperator
from hsmsim.model.vectors import Provenance, Signing
from hsmsim.safeio import read_local_file
from hsmsim.verdict import Profile, Reason, escaped

FINDING_FILE_LIMIT = 64 * 1024 * 1024
"""A finding carries its evidence in base64, and evidence is read within a 32 MiB budget."""


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
    found_key: str
    """The dedup key of the case before minimisation (what campaigns and merges choose a finding by)."""
    case_index: int
    """The campaign's case the finding was minimised from."""


class FindingCase(WireModel):
    """The finding's case as a vector draft (:class:`VectorDraft`) whose expectation may be unknown."""

    id: VectorId
    comment: str
    flags: tuple[FlagName, ...] = Field(min_length=1)
    profiles: ProfileRecords | None
    """What each profile must answer, from the catalogue: null when no catalogue defect alone makes the
    case (a person states the verdict when promoting it)."""
    expected_from: str | None
    """The catalogue defect the expectation comes from, or null."""
    features: tuple[str, ...]
    inputs: InputsRecord
    trust: TrustRecord
    provenance: ProvenanceRecord

    def draft(self, expected: Mapping[Profile, Reason] | None) -> VectorDraft:
        """The vector draft, expecting ``expected`` (default: the catalogue's expectation).

        Raises :class:`CorpusError` when neither says what the vector must answer, or when ``expected``
        contradicts the catalogue.
        """
        profiles = {profile: ProfileRecord.of(reason) for profile, reason in expected.items()} if expected else None
        if profiles and self.profiles and profiles != self.profiles:
            raise CorpusError(f"{self.id}: the catalogue defect {self.expected_from} expects "
                              f"{_said(self.profiles)}, not {_said(profiles)}")
        profiles = profiles or self.profiles
        if profiles is None:
            raise CorpusError(f"{self.id}: no catalogue defect says what this case must answer; "
                              "promote it with --expect REJECT:REASON or --expect ACCEPT")
        return VectorDraft(id=self.id, comment=self.comment, flags=self.flags, profiles=profiles,
                           features=self.features, inputs=self.inputs, trust=self.trust, provenance=self.provenance)


def _said(profiles: Mapping[Profile, ProfileRecord]) -> str:
    return ", ".join(f"{profile.value} {record.reason.value}" for profile, record in profiles.items())


class FindingFile(WireModel):
    """``finding.json``: the finding's case, and what the target and the reference said."""

    case: FindingCase
    finding: FindingReport


def parse_expectation(text: str) -> dict[Profile, Reason]:
    """``ACCEPT`` or ``REJECT:REASON`` as every profile's expectation; raises :class:`CorpusError` otherwise."""
    verdict, _, reason = text.partition(":")
    if verdict == "ACCEPT" and not reason:
        return dict.fromkeys(Profile, Reason.OK)
    if verdict == "REJECT" and reason in Reason.__members__ and reason != Reason.OK.name:
        return dict.fromkeys(Profile, Reason[reason])
    raise CorpusError(f"--expect {text!r}: give ACCEPT or REJECT:REASON with a reason other than OK "
                      f"(e.g. REJECT:{Reason.MALFORMED.value})")


def catalogue_defect(built: BuiltCase, model: FuzzModel) -> FuzzOperator | None:
    """The catalogue defect the case is, when it is one such defect alone (no havoc) with an expectation."""
    names = [name for name, _ in built.applied]
    if len(names) != 1 or names[0] == HAVOC:
        return None
    operator = next(op for op in model.operators if op.name == names[0])
    return operator if operator.expected is not None else None


def finding_case(finding: Finding, model: FuzzModel, seed: str, target_name: str) -> FindingCase:
    """The finding's case in the corpus schema, with the catalogue's expectation when there is one."""
    built = finding.built
    vector_id = f"{model.format}::fuzz::{finding.slug}"
    operators = "+".join(name for name, _ in built.applied) or "none"
    signing = Signing.RESIGNED if built.resigned else Signing.STALE
    provenance = Provenance(seed=f"{seed}:{built.case.index}", signing=signing,
                            golden=model.golden_id(built.case.golden), operator=operators,
                            path="; ".join(path for _, path in built.applied) or None)
    known = catalogue_defect(built, model)
    return FindingCase(
        id=vector_id, comment=f"fuzz finding ({finding.kind}) against {target_name}: {operators}",
        flags=("FuzzFinding", signing.value, *(known.flags if known else ())),
        profiles=({profile: ProfileRecord.of(reason) for profile, reason in known.expected.items()}
                  if known is not None and known.expected is not None else None),
        expected_from=known.name if known else None, features=(), inputs=InputsRecord.of(vector_id, built.evidence),
        trust=TrustRecord.of(model.anchors, model.validation_time), provenance=ProvenanceRecord.of(provenance),
    )


def write_finding(out: Path, finding: Finding, model: FuzzModel, seed: str, target_name: str) -> Path:
    """Write ``out/findings/<slug>/`` (finding.json + native files) whole or not at all; returns the directory.

    The files go into a staging directory beside it (``.<slug>.partial``), renamed into place once complete; the
    staging directory is removed when the write fails or is interrupted (Ctrl-C, SIGTERM), so an interrupted
    campaign leaves only complete findings. Raises OSError, also when ``<slug>`` names a directory that is not
    empty (nothing is written into it)."""
    directory = out / "findings" / finding.slug
    record = FindingFile(
        case=finding_case(finding, model, seed, target_name),
        finding=FindingReport(kind=finding.kind, key=finding.key, target=target_name,
                              target_verdict=finding.target.verdict, target_reason=finding.target.reason,
                              target_detail=finding.target.detail, reference_verdict=finding.reference.verdict,
                              reference_reason=finding.reference.reason, found_key=finding.found_key or finding.key,
                              case_index=finding.built.case.index),
    )
    staging = directory.with_name(f".{directory.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)  # what a campaign killed outright left (never through a symlink)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        for rel, data in finding.built.evidence.files.items():
            write_atomic(staging / "files" / Path(rel).name, data)
        write_atomic(staging / "finding.json", corpus_json(record.wire()))
        staging.rename(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def read_finding(finding_dir: Path) -> FindingFile:
    """The ``finding.json`` of a finding directory; raises :class:`CorpusError` when it is unreadable."""
    try:
        return FindingFile.model_validate_json(read_local_file(finding_dir / "finding.json", FINDING_FILE_LIMIT))
    except BundleError as exc:
        raise CorpusError(f"no readable finding: {exc}") from None
    except ValidationError as exc:
        raise CorpusError(f"{escaped(str(finding_dir))} holds no readable finding.json: "
                          f"{validation_summary(exc)}") from None


def promote(finding_dir: Path, corpus: Path, expected: Mapping[Profile, Reason] | None = None) -> str:
    """Add the finding's case to ``corpus/promoted/<format>.json``, expecting the catalogue's verdict or
    ``expected`` (a person's); returns its id.

    Raises :class:`CorpusError`, writing nothing, when ``corpus`` is neither absent, empty nor an hsmsim corpus, the
    finding is unreadable or its case is not one a vector file may hold (:func:`~hsmsim.corpus.build.check_draft`),
    neither says what it must answer, they disagree, or it is already promoted. Run ``hsmsim vectors generate``
    afterwards to number it and write its native files.
    """
    if committed_seed(corpus) is None and corpus.exists() and any(corpus.iterdir()):
        raise CorpusError(f"{escaped(str(corpus))} is not empty and holds no corpus manifest; not promoting into it")
    draft = read_finding(finding_dir).case.draft(expected)
    check_draft(draft, f"{escaped(str(finding_dir))}: case {escaped(draft.id)!r}")
    path = corpus / PROMOTED_DIR / f"{draft.id.split('::')[0]}.json"
    promoted = read_promoted(path)
    if any(entry.id == draft.id for entry in promoted):
        raise CorpusError(f"{draft.id} is already promoted")
    write_atomic(path, promoted_json((*promoted, draft)))
    return draft.id
