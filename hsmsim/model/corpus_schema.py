"""The serialised corpus, typed once: a vector file (``vectors/<format>_verify.json``) and its vectors.

Every writer (the corpus builder, fuzz-finding promotion) and every reader (the harness loader,
``vectors extract``, promoted findings) goes through these models, and the committed JSON Schema
``vectors/schema/hsmsim_vector_v1.json`` is :func:`vector_schema`'s output. Fields are snake_case in
Python and camelCase on the wire (``tc_id`` is ``tcId``); every model is closed (no unknown member)
and immutable.

The format-facing dataclasses of :mod:`hsmsim.model.vectors` (:class:`VectorCase`, :class:`FlagNote`,
:class:`Provenance`) are what catalogues build; the ``*Record`` models here are their wire form.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b64decode, b64encode
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import GenerateJsonSchema

from hsmsim.encoding import indented_json
from hsmsim.model.evidence import Evidence
from hsmsim.model.vectors import Expected, FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.verdict import Profile, Reason

SCHEMA_NAME: Final = "hsmsim_vector_v1.json"
"""The schema's file name under ``vectors/schema/``, also each vector file's ``schema`` member."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def _utc_second(value: object) -> object:
    """Accept a datetime, or the one string form the corpus writes (``2026-01-01T00:00:00Z``)."""
    if isinstance(value, str):
        if not re.fullmatch(_TIME_PATTERN, value):
            raise ValueError(f"{value!r} is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ")
        return datetime.fromisoformat(value)  # strptime's result for this one form, without its locale look-ups
    return value


UtcSecond = Annotated[
    datetime, BeforeValidator(_utc_second),
    PlainSerializer(lambda moment: moment.strftime(_TIME_FORMAT), return_type=str),
    WithJsonSchema({"type": "string", "pattern": _TIME_PATTERN}),
]
"""A time to the second, written ``YYYY-MM-DDTHH:MM:SSZ``."""

VectorId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*(::[a-z0-9][a-z0-9-]*)+$")]
FlagName = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9]*$")]
PemCertificate = Annotated[str, Field(pattern=r"^-----BEGIN CERTIFICATE-----")]


def native_dir(vector_id: str) -> str:
    """Where a vector's native files live under the corpus root: ``primus::attr::x`` → ``primus/attr/x``."""
    return vector_id.replace("::", "/")


def corpus_json(data: object) -> bytes:
    """The corpus's JSON encoding of plain JSON data without floats, or of a :class:`WireModel` (its
    :meth:`~WireModel.wire` data): one-space indent, ASCII only, a final newline."""
    return indented_json(data, 1)


class WireModel(BaseModel):
    """Base of every serialised corpus object: camelCase on the wire, closed, immutable."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True, extra="forbid", frozen=True, use_attribute_docstrings=True)

    def wire(self) -> dict[str, Any]:
        """The JSON data of this object (camelCase members, enums as their values)."""
        return self.model_dump(mode="json")


def _file_fields(path: str, data: bytes) -> dict[str, str]:
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "base64": b64encode(data).decode()}


def _inputs_fields(vector_id: str, evidence: Evidence) -> dict[str, Any]:
    return {"primary": evidence.primary, "dir": native_dir(vector_id),
            "files": tuple(_file_fields(path, data) for path, data in evidence.files.items())}


@lru_cache(maxsize=1024)
def _anchor_pem(anchor: x509.Certificate) -> str:
    """The PEM of a trust anchor: a format's vectors share a few roots, each encoded once."""
    return anchor.public_bytes(Encoding.PEM).decode()


def _trust_fields(anchors: tuple[x509.Certificate, ...], validation_time: datetime) -> dict[str, Any]:
    return {"anchors": tuple(_anchor_pem(anchor) for anchor in anchors), "validation_time": validation_time}


def _profile_fields(reason: Reason) -> dict[str, Any]:
    return {"result": Expected.VALID if reason is Reason.OK else Expected.INVALID, "reason": reason}


def _provenance_fields(provenance: Provenance) -> dict[str, Any]:
    return {"golden": provenance.golden, "operator": provenance.operator, "path": provenance.path,
            "seed": provenance.seed, "signing": provenance.signing}


class NativeFileRecord(WireModel):
    """One native file of a vector, inline."""

    path: str = Field(pattern=r"^[A-Za-z0-9._-][A-Za-z0-9._/-]*$")
    """Relative path inside the vector's directory."""
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    """SHA-256 of the file's bytes, lowercase hex."""
    base64: str = Field(json_schema_extra={"contentEncoding": "base64"})
    """The file's bytes."""

    def data(self) -> bytes:
        """The file's bytes."""
        return b64decode(self.base64)


class InputsRecord(WireModel):
    """The native files a verifier receives, exactly as a user gets them."""

    primary: str
    """The file a user hands to a verifier first (e.g. the zip)."""
    dir: str
    """The directory under the corpus root that holds the files (the id with ``::`` as ``/``)."""
    files: tuple[NativeFileRecord, ...] = Field(min_length=1)
    """Every native file, in the order the format wrote them."""

    @classmethod
    def of(cls, vector_id: str, evidence: Evidence) -> InputsRecord:
        """The inputs of vector ``vector_id`` holding ``evidence``."""
        return cls.model_validate(_inputs_fields(vector_id, evidence))

    def evidence(self, format_name: str) -> Evidence:
        """The files decoded, as :class:`Evidence` of ``format_name``."""
        return Evidence(format_name, {entry.path: entry.data() for entry in self.files}, self.primary)


class TrustRecord(WireModel):
    """What a verifier trusts, and when it verifies."""

    anchors: tuple[PemCertificate, ...]
    """TEST-ONLY emulated roots, PEM."""
    validation_time: UtcSecond
    """The time to verify at."""

    @classmethod
    def of(cls, anchors: tuple[x509.Certificate, ...], validation_time: datetime) -> TrustRecord:
        """The record of ``anchors`` at ``validation_time``."""
        return cls.model_validate(_trust_fields(anchors, validation_time))

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The anchors, parsed."""
        return tuple(x509.load_pem_x509_certificate(pem.encode()) for pem in self.anchors)


class ProfileRecord(WireModel):
    """What one policy profile must answer."""

    result: Literal[Expected.VALID, Expected.INVALID]
    """valid: accept; invalid: reject."""
    reason: Reason
    """The reason the reference verifier returns (``OK`` when it accepts)."""

    @classmethod
    def of(cls, reason: Reason) -> ProfileRecord:
        """Accept when ``reason`` is OK, else reject with it."""
        return cls.model_validate(_profile_fields(reason))


def _every_profile(profiles: dict[Profile, ProfileRecord]) -> dict[Profile, ProfileRecord]:
    missing = [profile.value for profile in Profile if profile not in profiles]
    if missing:
        raise ValueError(f"no expectation for profile(s) {', '.join(missing)}")
    return profiles


ProfileRecords = Annotated[
    dict[Profile, ProfileRecord], AfterValidator(_every_profile),
    Field(json_schema_extra={"required": [profile.value for profile in Profile]}),
]
"""One expectation per policy profile, every profile present, in the catalogue's order."""


class ProvenanceRecord(WireModel):
    """Where a vector came from (:class:`hsmsim.model.vectors.Provenance`)."""

    golden: str | None
    """The golden vector it mutates, or null for a golden."""
    operator: str | None
    """The mutation operator(s), or null."""
    path: str | None
    """What the operator touched, or null."""
    seed: str
    """The seed every random choice came from."""
    signing: Signing
    """Whether the genuine attestation key signed the final bytes."""

    @classmethod
    def of(cls, provenance: Provenance) -> ProvenanceRecord:
        """The record of ``provenance``."""
        return cls.model_validate(_provenance_fields(provenance))


class NoteRecord(WireModel):
    """The definition of one flag (:class:`hsmsim.model.vectors.FlagNote`)."""

    bug_type: str
    """The kind of bug a verifier that gets the vector wrong has."""
    severity: Severity
    """How bad it is to accept a vector with this flag."""
    description: str
    effect: str
    """What a verifier that gets it wrong lets through."""
    refs: tuple[str, ...]
    """Specifications, CVEs, vendor documents."""

    @classmethod
    def of(cls, note: FlagNote) -> NoteRecord:
        """The record of ``note``."""
        return cls(bug_type=note.bug_type, severity=note.severity, description=note.description, effect=note.effect,
                   refs=note.refs)


def _draft_fields(case: VectorCase) -> dict[str, Any]:
    """The members a draft and a record share, built from ``case`` as plain data: the record is then validated
    in one pass, its parts included (a model per part would validate each separately)."""
    return {"id": case.id, "comment": case.comment, "flags": case.flags,
            "profiles": {profile: _profile_fields(reason) for profile, reason in case.expected.items()},
            "features": case.features, "inputs": _inputs_fields(case.id, case.evidence),
            "trust": _trust_fields(case.anchors, case.validation_time),
            "provenance": _provenance_fields(case.provenance)}


class VectorDraft(WireModel):
    """A vector before the corpus builder numbers it: a fuzz finding, promoted into ``vectors/promoted/<format>.json``.

    The builder derives the rest (``tcId``, ``result``, ``expectedReason``, ``severity``) as for any other case.
    The fields are :class:`VectorRecord`'s without those four; they are declared again rather than inherited
    because the four sit between them on the wire, and a subclass's fields would serialise after its base's.
    """

    id: VectorId
    comment: str
    flags: tuple[FlagName, ...] = Field(min_length=1)
    profiles: ProfileRecords
    features: tuple[str, ...]
    inputs: InputsRecord
    trust: TrustRecord
    provenance: ProvenanceRecord

    @classmethod
    def from_case(cls, case: VectorCase) -> VectorDraft:
        """The draft of ``case``; raises pydantic's ValidationError on a malformed case."""
        return cls.model_validate(_draft_fields(case))

    def to_case(self, seed: str) -> VectorCase:
        """The :class:`VectorCase` back; ``seed`` stands in for an empty provenance seed."""
        provenance = self.provenance
        return VectorCase(
            id=self.id, comment=self.comment, flags=self.flags,
            expected={profile: record.reason for profile, record in self.profiles.items()},
            evidence=self.inputs.evidence(self.id.split("::")[0]), anchors=self.trust.certificates(),
            validation_time=self.trust.validation_time, features=self.features,
            provenance=Provenance(seed=provenance.seed or seed, signing=provenance.signing, golden=provenance.golden,
                                  operator=provenance.operator, path=provenance.path),
        )


class VectorRecord(WireModel):
    """One vector, as a vector file's ``tests[]`` holds it."""

    id: VectorId
    """``<format>::<category>::<name>``: stable, never reused."""
    tc_id: int = Field(ge=1)
    """Wycheproof's numeric id, stable across regenerations (``ids.json``)."""
    comment: str
    flags: tuple[FlagName, ...] = Field(min_length=1)
    """Names defined in the file's ``notes``."""
    result: Expected
    """valid (every profile accepts), invalid (every profile rejects) or acceptable (it depends)."""
    expected_reason: Reason
    """The reason of the strictest rejecting profile, or OK."""
    severity: Severity
    """The most severe of the vector's defect flags."""
    profiles: ProfileRecords
    """What each policy profile must answer."""
    features: tuple[str, ...]
    """Optional capabilities a verifier must claim to be asked about this vector."""
    inputs: InputsRecord
    trust: TrustRecord
    provenance: ProvenanceRecord

    @classmethod
    def from_case(cls, case: VectorCase, *, tc_id: int, severity: Severity) -> VectorRecord:
        """The record of ``case`` numbered ``tc_id``; raises pydantic's ValidationError on a malformed case."""
        return cls.model_validate({**_draft_fields(case), "tc_id": tc_id, "result": case.result,
                                   "expected_reason": case.expected_reason, "severity": severity})


PROMOTED_DRAFTS = TypeAdapter(tuple[VectorDraft, ...])
"""A ``vectors/promoted/<format>.json`` file: the drafts promoted into one format, in promotion order."""


class GeneratorRecord(WireModel):
    """The tool that wrote the file."""

    name: str
    version: str


class VectorFile(WireModel):
    """hsmsim attestation verification vectors of one format (``<format>_verify.json``), schema version 1."""

    model_config = ConfigDict(title="hsmsim attestation verification vectors, version 1")

    schema_name: Literal["hsmsim_vector_v1.json"] = Field(validation_alias="schema", serialization_alias="schema")
    """The schema this file follows (a new shape gets a new name)."""
    format: str
    """The attestation format every vector of the file is in."""
    operation: Literal["verify"]
    suite_version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    generator: GeneratorRecord
    master_seed: str
    """The seed the whole corpus is a pure function of."""
    header: tuple[str, ...]
    notes: dict[str, NoteRecord]
    """The definition of every flag the vectors use."""
    number_of_tests: int = Field(ge=0)
    tests: tuple[VectorRecord, ...]


class _Schema(GenerateJsonSchema):
    """Pydantic's schema without a title on every property (the names say it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def vector_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a vector file, generated from :class:`VectorFile`."""
    generated = VectorFile.model_json_schema(by_alias=True, mode="validation", schema_generator=_Schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_NAME, **generated}
