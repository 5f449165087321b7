"""The Python API (``hsmsim.create_key`` and friends) under misuse: wrong types raise TypeError naming the argument,
bad values an :class:`HsmsimError` in one line, before anything is written; never an error deep inside."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

import hsmsim
from hsmsim.device import Device
from hsmsim.errors import (
    BackendUnavailableError,
    HsmsimError,
    KeystoreError,
    ParameterError,
    UnsupportedFormatError,
    UnsupportedKeyError,
)
from hsmsim.formats import get_format
from hsmsim.harness.vectors import Vector
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.state import HsmState

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "vectors"
AT = datetime(2026, 1, 2, 12, tzinfo=UTC)
CREATED = AT - timedelta(days=1)
"""When the keys attested at ``AT`` are created: an attestation never precedes its key."""


def _golden() -> list[Vector]:
    corpus = hsmsim.load_corpus(VECTORS)
    first: dict[str, Vector] = {}
    for vector in corpus.vectors:
        if "Golden" in vector.flags:
            first.setdefault(vector.format, vector)
    return list(first.values())


GOLDEN = _golden()
PRIMUS = hsmsim.load_corpus(VECTORS).get("primus::golden::rsa-3072")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state holding the soft EC key ``k``."""
    path = tmp_path / "state"
    hsmsim.create_key("k", spec="ec-p256", state=path, created=CREATED)
    return path


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty current directory, to show an empty path never becomes it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    assert list(cwd.iterdir()) == []


def _accepts(state: Path, label: str) -> bool:
    evidence = hsmsim.attest(label, state=state, at=AT)
    return hsmsim.verify(evidence, hsmsim.roots(state), at=AT + timedelta(minutes=5)).accepted


# -- 1. labels, and creation through the state ----------------------------------------------------------------------

@pytest.mark.parametrize(("label", "phrase"), [
    ("", "label must not be empty"),
    ("   ", "label must not be empty"),
    ("a\nb", "label must not contain control characters"),
    ("x" * 100000, "label must be at most 64 bytes"),
])
def test_create_key_refuses_a_label_key_create_refuses_and_writes_nothing(tmp_path: Path, label: str,
                                                                          phrase: str) -> None:
    path = tmp_path / "state"
    with pytest.raises(HsmsimError, match=phrase):
        hsmsim.create_key(label, spec="ec-p256", state=path)
    assert not path.exists()


@pytest.mark.parametrize("label", [None, b"k", 5])
def test_create_key_refuses_a_label_that_is_not_a_str_and_the_state_stays_usable(state: Path, label: object) -> None:
    with pytest.raises(TypeError, match="label must be a str"):
        hsmsim.create_key(label, spec="ec-p256", state=state)  # type: ignore[arg-type]
    hsmsim.create_key("second", spec="ec-p256", state=state, created=CREATED)
    assert _accepts(state, "k") and _accepts(state, "second")


def test_create_key_refuses_a_label_another_backend_holds(state: Path) -> None:
    try:
        with pytest.raises(HsmsimError, match="exists in the soft backend"):
            hsmsim.create_key("k", spec="ec-p256", state=state, backend="pkcs11")
    except BackendUnavailableError as exc:
        pytest.skip(f"pkcs11 backend unavailable: {exc}")
    assert _accepts(state, "k")


def test_a_failed_first_creation_leaves_no_state_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise KeystoreError("the token refused")

    path = tmp_path / "state"
    monkeypatch.setattr(HsmState, "new_key", fail)
    with pytest.raises(KeystoreError, match="the token refused"):
        hsmsim.create_key("k", spec="ec-p256", state=path, format="luna-pkc")
    assert not path.exists()  # nor the directory it made, which held labels.lock
    monkeypatch.undo()
    hsmsim.create_key("k", spec="ec-p256", state=path, created=CREATED)  # primus now: the failed luna-pkc state is gone
    assert _accepts(path, "k")


def test_create_key_records_a_chosen_creation_time_and_attest_refuses_an_earlier_time(tmp_path: Path) -> None:
    path = tmp_path / "state"
    stored = hsmsim.create_key("k", spec="ec-p256", state=path, created=CREATED.replace(tzinfo=None))  # naive: UTC
    assert stored.created == CREATED and stored.created.tzinfo is not None
    with pytest.raises(ParameterError, match=r"before the attested key 'k' was created \(2026-01-01T12:00:00\+00:00\)"):
        hsmsim.attest("k", state=path, at=CREATED - timedelta(seconds=1))
    evidence = hsmsim.attest("k", state=path, at=CREATED)
    assert hsmsim.verify(evidence, hsmsim.roots(path), at=CREATED + timedelta(minutes=5)).accepted
    with pytest.raises(HsmsimError, match="is in the future"):
        hsmsim.create_key("later", spec="ec-p256", state=path, created=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(HsmsimError, match="before the device was initialised"):
        hsmsim.create_key("older", spec="ec-p256", state=path, created=datetime(2001, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("format_name", hsmsim.format_names())
def test_no_format_lets_a_key_be_its_own_attesting_key(format_name: str) -> None:
    """Every format's attesting key is an attestation key the device's PKI certifies to vouch for other keys
    (WebAuthn's self attestation is its parameter attestation=self, without that PKI)."""
    store = SoftKeyStore(seed="self-attesting")
    spec = "ec-p256" if "ec-p256" in get_format(format_name).key_specs else get_format(format_name).key_specs[0]
    store.generate(KeySpec.parse(spec), "k", created=CREATED)
    hsm = Hsm(Device.from_seed(format_name, "self-attesting"), store)
    with pytest.raises(UnsupportedKeyError, match="the attesting key is the attested key 'k' itself"):
        hsm.attest("k", format_name, {"attest_time": AT}, attesting_key="k")



class _CountingKeyStore(SoftKeyStore):
    """A soft key store counting its lookups by label: a store backed by a token can change between two."""

    def __init__(self, seed: str) -> None:
        super().__init__(seed=seed)
        self.lookups: list[str] = []

        self._inside_signer = False

    def get(self, label: str):  # type: ignore[no-untyped-def]
        if not self._inside_signer:  # the soft store's signer re-reads its record: not a caller's lookup
            self.lookups.append(label)
        return super().get(label)

    def signer(self, key):  # type: ignore[no-untyped-def]
        self._inside_signer = True
        try:
            return super().signer(key)
        finally:
            self._inside_signer = False


def test_attest_looks_the_attesting_key_up_once() -> None:
    """The key whose creation time attest checks is the key that signs: one lookup, not one per use."""
    store = _CountingKeyStore("attesting-once")
    store.generate(KeySpec.parse("ec-p256"), "k", created=CREATED)
    store.generate(KeySpec.parse("ec-p256"), "signer", created=CREATED)
    hsm = Hsm(Device.from_seed("primus", "attesting-once"), store)
    evidence = hsm.attest("k", "primus", {"attest_time": AT}, attesting_key="signer")
    assert store.lookups.count("signer") == 1 and store.lookups.count("k") == 1
    assert evidence.files

# -- 2. format and spec checked before the state is written ---------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "phrase"), [
    ({"format": "bogus"}, UnsupportedFormatError, "unknown format 'bogus'"),
    ({"spec": "rsa-1"}, UnsupportedKeyError, "unsupported key spec 'rsa-1'"),
    ({"backend": "nope"}, KeystoreError, "unknown keystore backend 'nope'; choose one of soft, pkcs11, swtpm"),
])
def test_create_key_checks_format_spec_and_backend_before_writing_the_state(
        tmp_path: Path, kwargs: dict[str, str], error: type[Exception], phrase: str) -> None:
    path = tmp_path / "state"
    with pytest.raises(error, match=phrase):
        hsmsim.create_key("k", state=path, **kwargs)  # type: ignore[arg-type]
    assert not path.exists()
    hsmsim.create_key("k", spec="ec-p256", state=path, created=CREATED)
    assert _accepts(path, "k")


# -- 3. at: naive is UTC, anything but a datetime is a TypeError ----------------------------------------------------

@pytest.mark.parametrize("vector", GOLDEN, ids=lambda vector: vector.format)
def test_verify_takes_a_naive_at_as_utc(vector: Vector) -> None:
    anchors = vector.trust.certificates()
    naive = vector.at.astimezone(UTC).replace(tzinfo=None)
    assert hsmsim.verify(vector.evidence, anchors, at=naive) == hsmsim.verify(vector.evidence, anchors, at=vector.at)


def test_attest_takes_a_naive_at_as_utc(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[object] = []
    original = Hsm.attest

    def recording(hsm: Hsm, label: str, mechanism: str | None, params: dict[str, object],
                  attesting_key: str | None) -> Evidence:
        given.append(params["attest_time"])
        return original(hsm, label, mechanism, params, attesting_key)

    monkeypatch.setattr(Hsm, "attest", recording)
    naive = hsmsim.attest("k", state=state, at=AT.replace(tzinfo=None))
    assert given == [AT]  # aware: a naive datetime never equals an aware one
    assert hsmsim.verify(naive, hsmsim.roots(state), at=AT + timedelta(minutes=5)).accepted


@pytest.mark.parametrize("at", ["2026-01-02T00:00:00Z", date(2026, 1, 2), 0])
def test_an_at_that_is_not_a_datetime_is_a_type_error(state: Path, at: object) -> None:
    with pytest.raises(TypeError, match="at must be a datetime"):
        hsmsim.verify(PRIMUS.evidence, PRIMUS.trust.certificates(), at=at)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at must be a datetime"):
        hsmsim.attest("k", state=state, at=at)  # type: ignore[arg-type]


# -- 4. roots: any iterable, read once; a single path is one file ---------------------------------------------------

@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, Path]:
    """PRIMUS's evidence written to files, and a directory holding its roots."""
    PRIMUS.evidence.write(tmp_path / "bundle")
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    for index, certificate in enumerate(PRIMUS.trust.certificates()):
        (anchors / f"root{index}.pem").write_bytes(certificate.public_bytes(Encoding.PEM))
    return tmp_path / "bundle" / PRIMUS.evidence.primary, anchors


def test_verify_reads_roots_given_as_a_generator_once(written: tuple[Path, Path]) -> None:
    primary, anchors = written
    assert hsmsim.verify(primary, anchors.glob("*.pem"), at=PRIMUS.at).accepted


@pytest.mark.parametrize("as_type", [str, Path])
def test_verify_takes_a_single_path_as_one_root_file(written: tuple[Path, Path], as_type: type) -> None:
    primary, anchors = written
    assert hsmsim.verify(primary, as_type(anchors / "root0.pem"), at=PRIMUS.at).accepted


@pytest.mark.parametrize(("roots", "phrase"), [
    (None, "roots must be certificate files"),
    (5, "roots must be certificate files"),
    (b"root.pem", "roots must be certificate files"),
    ([None], "a root must be a str or pathlib.Path, not NoneType"),
    ([5], "a root must be a str or pathlib.Path, not int"),
])
def test_verify_refuses_roots_of_a_wrong_type(roots: object, phrase: str) -> None:
    with pytest.raises(TypeError, match=phrase):
        hsmsim.verify(PRIMUS.evidence, roots, at=PRIMUS.at)  # type: ignore[arg-type]


# -- 5. Evidence and TrustAnchors check their types -----------------------------------------------------------------

@pytest.mark.parametrize(("args", "phrase"), [
    (("primus", {"a.zip": "text"}, "a.zip"), "Evidence file 'a.zip' must be bytes, not str"),
    (("primus", {"a.zip": None}, "a.zip"), "Evidence file 'a.zip' must be bytes, not NoneType"),
    (("primus", {b"a.zip": b""}, "a.zip"), "Evidence file names must be str, not bytes"),
    (("primus", None, "a.zip"), "Evidence files must be a mapping of str to bytes, not NoneType"),
    (("primus", {"a.zip": b""}, Path("a.zip")), "Evidence primary must be a str, not PosixPath"),
    ((None, {"a.zip": b""}, "a.zip"), "Evidence format must be a str, not NoneType"),
])
def test_evidence_refuses_fields_of_a_wrong_type(args: tuple[object, object, object], phrase: str) -> None:
    with pytest.raises(TypeError, match=phrase):
        Evidence(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("vector", GOLDEN, ids=lambda vector: vector.format)
@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_evidence_takes_bytes_like_files_as_bytes(vector: Vector, kind: type) -> None:
    original = vector.evidence
    files = {name: kind(bytearray(data)) for name, data in original.files.items()}
    converted = Evidence(original.format, files, original.primary)
    assert all(type(data) is bytes for data in converted.files.values())
    assert converted.files == original.files
    assert all(type(data) is kind for data in files.values())  # the caller's mapping is left alone
    anchors = vector.trust.certificates()
    assert hsmsim.verify(converted, anchors, at=vector.at) == hsmsim.verify(original, anchors, at=vector.at)


def test_evidence_keeps_a_mapping_of_bytes_as_given() -> None:
    files = {"a.zip": b"x"}
    assert Evidence("primus", files, "a.zip").files is files


def _certificate() -> x509.Certificate:
    return PRIMUS.trust.certificates()[0]


@pytest.mark.parametrize(("kwargs", "phrase"), [
    ({"roots": {"root": (object(),)}}, r"roots\['root'\] must hold certificates only, not object"),
    ({"roots": {"root": None}}, r"roots\['root'\] must be a tuple of certificates, not NoneType"),
    ({"roots": {"root": _certificate()}}, r"roots\['root'\] must be a tuple of certificates, not Certificate"),
    ({"roots": None}, "TrustAnchors roots must be a mapping of role to certificates, not NoneType"),
    ({"roots": [_certificate()]}, "TrustAnchors roots must be a mapping of role to certificates, not list"),
    ({"keys": {"ca-key": (_certificate(),)}}, r"keys\['ca-key'\] must hold private keys only, not Certificate"),
])
def test_trust_anchors_refuse_fields_of_a_wrong_type(kwargs: dict[str, object], phrase: str) -> None:
    with pytest.raises(TypeError, match=phrase):
        TrustAnchors(**kwargs)  # type: ignore[arg-type]


def test_trust_anchors_take_any_iterable_as_a_tuple() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    anchors = TrustAnchors({"root": [_certificate()]}, {"ca-key": iter([key])})
    assert anchors.roots == {"root": (_certificate(),)} and anchors.keys == {"ca-key": (key,)}
    assert hsmsim.verify(PRIMUS.evidence, TrustAnchors({"root": [_certificate()]}), at=PRIMUS.at).accepted


# -- 6. argument types of create_key and attest ---------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "phrase"), [
    ({"spec": None}, "spec must be a key spec name"),
    ({"backend": None}, "backend must be a backend name, not NoneType"),
    ({"format": 5}, "format must be a format name or None, not int"),
    ({"seed": b"seed"}, "seed must be a str or None, not bytes"),
    ({"extractable": "no"}, "extractable must be a bool, not str"),
    ({"created": "2026-01-01T00:00:00Z"}, "created must be a datetime or None, not str"),
    ({"state": 5}, "state must be a str or pathlib.Path, not int"),
])
def test_create_key_refuses_arguments_of_a_wrong_type(tmp_path: Path, kwargs: dict[str, object], phrase: str) -> None:
    path = tmp_path / "state"
    with pytest.raises(TypeError, match=phrase):
        hsmsim.create_key("k", **{"state": path, **kwargs})  # type: ignore[arg-type]
    assert not path.exists()


@pytest.mark.parametrize(("kwargs", "phrase"), [
    ({"params": "abc"}, "params must be a mapping of parameter names to values or None, not str"),
    ({"params": {5: 1}}, "a parameter name must be a str, not int"),
    ({"format": ["primus"]}, "format must be a format name or None, not list"),
    ({"attesting_key": 5}, "attesting_key must be a key label or None, not int"),
])
def test_attest_refuses_arguments_of_a_wrong_type(state: Path, kwargs: dict[str, object], phrase: str) -> None:
    with pytest.raises(TypeError, match=phrase):
        hsmsim.attest("k", state=state, **kwargs)  # type: ignore[arg-type]


def test_attest_refuses_a_label_that_is_not_a_str(state: Path) -> None:
    with pytest.raises(TypeError, match="label must be a str, not bytes"):
        hsmsim.attest(b"k", state=state)  # type: ignore[arg-type]


def test_attest_checks_the_format_and_speaks_the_generic_mechanisms(state: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match="unknown format 'bogus'"):
        hsmsim.attest("k", state=state, format="bogus")
    generic = hsmsim.attest("k", state=state, format="pkix-evidence", at=AT)
    assert generic.format == "pkix-evidence"


# -- 7. an empty path is misuse, never the current directory --------------------------------------------------------

@pytest.mark.usefixtures("empty_cwd")
@pytest.mark.parametrize(("call", "phrase"), [
    (lambda: hsmsim.create_key("z", spec="ec-p256", state=""), "state must not be empty"),
    (lambda: hsmsim.attest("z", state=""), "state must not be empty"),
    (lambda: hsmsim.roots(""), "state must not be empty"),
    (lambda: hsmsim.load_corpus(""), "root must not be empty"),
    (lambda: hsmsim.vectors(root=""), "root must not be empty"),
    (lambda: hsmsim.verify(""), "evidence must not be empty"),
    (lambda: hsmsim.verify(PRIMUS.evidence, ""), "a root must not be empty"),
    (lambda: hsmsim.verify(PRIMUS.evidence, [""]), "a root must not be empty"),
], ids=["create_key", "attest", "roots", "load_corpus", "vectors", "verify-evidence", "verify-root",
        "verify-roots"])
def test_an_empty_path_is_refused(call: object, phrase: str) -> None:
    with pytest.raises(HsmsimError, match=phrase):
        call()  # type: ignore[operator]


# -- 8. vectors: a filter that can match nothing is misuse ----------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "phrase"), [
    ({"severity": "bogus"}, HsmsimError, "no severity 'bogus' \\(severities: critical, high, medium, low, info\\)"),
    ({"flag": "nope"}, HsmsimError, "no flag 'nope' in "),
    ({"flag": 5}, TypeError, "flag must be a str or None, not int"),
    ({"severity": 1}, TypeError, "severity must be a str or None, not int"),
    ({"format": ["primus"]}, TypeError, "format must be a str or None, not list"),
    ({"root": 5}, TypeError, "root must be a str or pathlib.Path, not int"),
])
def test_vectors_refuses_filters_that_match_nothing(kwargs: dict[str, object], error: type[Exception],
                                                    phrase: str) -> None:
    with pytest.raises(error, match=phrase):
        hsmsim.vectors(**{"root": VECTORS, **kwargs})  # type: ignore[arg-type]


def test_vectors_filters_by_a_known_flag_and_severity() -> None:
    chosen = hsmsim.vectors(flag="Golden", severity="info", root=str(VECTORS))
    assert chosen and all("Golden" in vector.flags and vector.severity.value == "info" for vector in chosen)


# -- 9. profile -----------------------------------------------------------------------------------------------------

def test_verify_refuses_an_unknown_profile_with_a_value_error_docs_api_md_names() -> None:
    with pytest.raises(ValueError, match="'bogus' is not a valid Profile"):
        hsmsim.verify(PRIMUS.evidence, PRIMUS.trust.certificates(), at=PRIMUS.at, profile="bogus")
    with pytest.raises(TypeError, match="profile must be a profile name, not int"):
        hsmsim.verify(PRIMUS.evidence, at=PRIMUS.at, profile=5)  # type: ignore[arg-type]
    assert "`ValueError` for an unknown `profile`" in (ROOT / "docs" / "api.md").read_text()


def test_verify_refuses_evidence_of_a_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"evidence must be an Evidence, a str or a pathlib\.Path, not NoneType"):
        hsmsim.verify(None)  # type: ignore[arg-type]
