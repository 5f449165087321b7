"""hsmsim's Python API, re-exported at the package root (``hsmsim.verify``, ``hsmsim.attest``, ...).

A stable surface over the layers below: paths are ``str`` or :class:`~pathlib.Path`, profiles and formats
are their names, and every function reaches formats only through the registry. ``docs/api.md`` shows it
in use. Importing :mod:`hsmsim` stays cheap: the root resolves these names on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509

from hsmsim.corpus.listing import select
from hsmsim.errors import HsmsimError, KeystoreError, ParameterError, UnsupportedFormatError
from hsmsim.formats import Format, detect, get_format, load_evidence, names
from hsmsim.harness import vectors as harness_vectors
from hsmsim.harness.vectors import Corpus, CorpusLoadError, Vector, default_vectors_root
from hsmsim.hsm import GENERIC_MECHANISMS, Hsm, pki_exports
from hsmsim.keystore import BACKENDS
from hsmsim.keystore.base import KeyPolicy, KeySpec, StoredKey, label_problem
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.model.vectors import Severity
from hsmsim.pki.parse_warnings import certificate_warnings_ignored
from hsmsim.state import HsmState
from hsmsim.verdict import Claims, Profile, Reason, Verdict, escaped

if TYPE_CHECKING:
    from hsmsim.keystore.pkcs11 import ExistingToken

__all__ = [
    "Claims", "Corpus", "CorpusLoadError", "Evidence", "Hsm", "HsmState", "HsmsimError", "ParameterError", "Profile",
    "Reason", "TrustAnchors", "UnsupportedFormatError", "Vector", "Verdict", "attest", "create_key",
    "format_names", "load_corpus", "roots", "vectors", "verify",
]

StrPath = str | os.PathLike[str]
DEFAULT_STATE = ".hsmsim"
_API_PIN_HINT = "pass user_pin= (the Python API never reads $HSMSIM_PKCS11_PIN)"


def _require(name: str, value: object, kind: type | tuple[type, ...], what: str) -> None:
    """Raise TypeError (one line naming the argument) unless ``value`` is a ``kind``."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {what}, not {type(value).__name__}")


def _path(name: str, value: object) -> Path:
    """``value`` as a Path: TypeError unless it is a str or a str PathLike, HsmsimError when it is empty (never
    the current directory in disguise, as on the command line)."""
    text = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str or pathlib.Path, not {type(value).__name__}")
    if text == "":
        raise HsmsimError(f"{name} must not be empty")
    return Path(text)


def _moment(at: object) -> datetime | None:
    """``at`` as an aware datetime (a naive one is UTC, as the CLI's ``--at``); TypeError unless None or a
    datetime."""
    if at is None:
        return None
    if not isinstance(at, datetime):
        raise TypeError(f"at must be a datetime, not {type(at).__name__}")
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def format_names() -> list[str]:
    """The names of every registered attestation format, sorted (``primus``, ``webauthn``, ...)."""
    return names()


def create_key(
    label: str, *, spec: str = "rsa-3072", state: StrPath = DEFAULT_STATE, backend: str = "soft",
    format: str | None = None, seed: str | None = None, extractable: bool = False, sensitive: bool = True,
    imported: bool = False, created: datetime | None = None, pkcs11_module: StrPath | None = None,
    token_label: str | None = None, user_pin: str | None = None,
) -> StoredKey:
    """Generate (or, with ``imported``, import) a key in the emulated HSM whose state lives in ``state``.

    ``token_label`` (with ``pkcs11_module``, default SoftHSM2) makes the state's pkcs11 backend that existing
    token, logged into with ``user_pin``, as ``hsmsim key create --token-label`` does: hsmsim never creates a token
    there; the state records the module, label and serial number, never the PIN, and refuses another token later.

    ``created`` is the key's creation time (default now; a naive datetime is UTC), which the evidence of formats
    carrying one holds and before which ``attest`` refuses to attest the key; it may not be in the future nor
    before the device was initialised (:class:`~hsmsim.errors.HsmsimError`).
    A new state directory is created emulating ``format`` (default ``primus``) from ``seed``. The label, spec,
    backend and format are checked before the state is opened, so a refused call writes nothing; a creation that
    fails in a state this call created leaves no state behind. Raises TypeError for an argument of the wrong type
    and :class:`~hsmsim.errors.HsmsimError` for a label ``key create`` refuses (empty, control characters, too
    long), a bad spec, an unknown backend or format, an empty ``state``, a state of another format, a label
    another backend of the state holds, a token option with another backend than ``pkcs11``, a module path that
    is no regular file, a missing token, a missing or wrong PIN, or another token than the state records.
    """
    _require("label", label, str, "a str")
    _require("spec", spec, str, "a key spec name such as 'ec-p256'")
    _require("backend", backend, str, "a backend name")
    _require("format", format, (str, type(None)), "a format name or None")
    _require("seed", seed, (str, type(None)), "a str or None")
    for flag_name, flag in (("extractable", extractable), ("sensitive", sensitive), ("imported", imported)):
        _require(flag_name, flag, bool, "a bool")
    _require("created", created, (datetime, type(None)), "a datetime or None")
    token = _pkcs11_token(pkcs11_module, token_label, user_pin)
    if token is not None and backend != "pkcs11":
        raise HsmsimError(f"token_label names the pkcs11 backend's token, but backend is {backend!r}")
    state_path = _path("state", state)
    problem = label_problem(label, "label")
    if problem is not None:
        raise HsmsimError(problem)
    if backend not in BACKENDS:
        raise KeystoreError(f"unknown keystore backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if format is not None:
        get_format(format)
    key_spec = KeySpec.parse(spec)
    opened = HsmState.open(state_path, format=format, seed=seed, pkcs11_token=token, pkcs11_pin=user_pin,
                           pin_hint=_API_PIN_HINT)
    try:
        stored = opened.new_key(backend, label, key_spec, KeyPolicy(sensitive=sensitive, extractable=extractable),
                                imported=imported, created=created)
    except BaseException:
        opened.close()
        opened.withdraw_if_unused()  # a failed first creation leaves no state behind, as `key create` does
        raise
    opened.close()
    return stored


def _pkcs11_token(module: StrPath | None, label: str | None, user_pin: str | None) -> ExistingToken | None:
    """The existing token ``module`` and ``label`` name (:func:`~hsmsim.keystore.pkcs11.requested_token`), None for
    neither; TypeError for an argument of the wrong type, HsmsimError for an empty ``user_pin`` or ``module``."""
    _require("token_label", label, (str, type(None)), "a str or None")
    _require("user_pin", user_pin, (str, type(None)), "a str or None")
    if user_pin == "":
        raise HsmsimError("user_pin must not be empty")
    path = None if module is None else _path("pkcs11_module", module)
    if path is None and label is None:
        return None
    from hsmsim.keystore.pkcs11 import requested_token

    return requested_token(path, label, names=("pkcs11_module", "token_label"))


def attest(
    label: str, *, state: StrPath = DEFAULT_STATE, format: str | None = None, at: datetime | None = None,
    params: Mapping[str, object] | None = None, attesting_key: str | None = None,
    pkcs11_module: StrPath | None = None, token_label: str | None = None, user_pin: str | None = None,
) -> Evidence:
    """The attestation evidence of the key ``label`` in ``state``, in the device's format (or ``format``, which
    may also be a generic mechanism every device speaks: ``pkix-evidence``, ``csr-attestation``).

    ``at`` fixes the attestation time (default now; a naive datetime is UTC); ``params`` are the format's
    parameters. ``user_pin`` logs into the existing PKCS#11 token the state records (``create_key(token_label=...)``);
    ``pkcs11_module`` and ``token_label``, optional, must name that token. Write the files with
    :meth:`Evidence.write`. Raises TypeError for an argument of the wrong type
    and :class:`~hsmsim.errors.HsmsimError` on misuse (an empty ``state``, no state there, an unknown format or
    key, a bad parameter, an ``at`` before the key, or ``attesting_key``, was created, an ``attesting_key`` that
    is ``label`` itself).
    """
    _require("label", label, str, "a str")
    _require("format", format, (str, type(None)), "a format name or None")
    _require("params", params, (Mapping, type(None)), "a mapping of parameter names to values or None")
    _require("attesting_key", attesting_key, (str, type(None)), "a key label or None")
    moment = _moment(at)
    token = _pkcs11_token(pkcs11_module, token_label, user_pin)
    state_path = _path("state", state)
    if format is not None:
        get_format(format)
    parameters: dict[str, object] = {}
    for name, value in (params or {}).items():
        _require("a parameter name", name, str, "a str")
        parameters[name] = value
    if moment is not None:
        parameters["attest_time"] = moment
    opened = HsmState.open(state_path, format=None if format in GENERIC_MECHANISMS else format, create=False,
                           pkcs11_token=token, pkcs11_pin=user_pin, pin_hint=_API_PIN_HINT)
    try:
        return opened.hsm(label).attest(label, format, parameters, attesting_key)
    finally:
        opened.close()


def roots(state: StrPath = DEFAULT_STATE) -> list[x509.Certificate]:
    """Every emulated root a verifier of ``state``'s evidence may trust, each once: the default attestation
    identity's first, then those of the other PKIs ``hsmsim pki export`` writes (parameter choices, WebAuthn
    statements, generic mechanisms)."""
    opened = HsmState.open(_path("state", state), create=False)
    try:
        found: list[x509.Certificate] = []
        for export in pki_exports(opened.device):
            if export.root not in found:
                found.append(export.root)
        return found
    finally:
        opened.close()


def _trust(fmt: Format, roots: object) -> tuple[TrustAnchors, list[Path]]:
    """The anchors ``roots`` gives ``fmt``'s verifier, and the files they were read from: a TrustAnchors as it is,
    a single path as one file, else an iterable (walked once) of paths and certificates. TypeError for anything
    else, HsmsimError for ``""``."""
    if isinstance(roots, TrustAnchors):
        return roots, []
    if isinstance(roots, str | os.PathLike):
        given: list[object] = [roots]
    elif isinstance(roots, Iterable) and not isinstance(roots, bytes | bytearray | memoryview):
        given = list(roots)
    else:
        raise TypeError(f"roots must be certificate files and/or x509.Certificates, a single file, or a TrustAnchors, "
                        f"not {type(roots).__name__}")
    certificates = [root for root in given if isinstance(root, x509.Certificate)]
    files = [_path("a root", root) for root in given if not isinstance(root, x509.Certificate)]
    trust = fmt.trust_anchors_from_files(files) if files else TrustAnchors()
    if certificates:
        trust = TrustAnchors({**trust.roots, "root": (*trust.get(), *certificates)})
    return trust, files


def verify(
    evidence: StrPath | Evidence,
    roots: Iterable[StrPath | x509.Certificate] | StrPath | TrustAnchors = (), *,
    at: datetime | None = None, profile: str | Profile = Profile.STRUCTURAL, format: str | None = None,
) -> Verdict:
    """Verify evidence (a file or directory as a user received it, or :class:`Evidence`) with hsmsim's
    reference verifier, trusting ``roots``: certificate files and/or certificates (any iterable, read once),
    a single certificate file (a str or path), or :class:`TrustAnchors`.

    Without ``roots`` nothing is trusted: evidence that names no issuer (WebAuthn ``packed`` self attestation)
    can still be accepted, and a certificate chain is rejected ``CHAIN_UNTRUSTED``.

    ``at`` is the validation time (default now; a naive datetime is UTC). The format is ``format``, else the
    evidence's, else detected from the file. Bad evidence never raises: it is a REJECT :class:`Verdict` with a
    reason, whatever the process's warning filters (the warnings cryptography gives on a malformed certificate are
    ignored during the call). Raises TypeError for an argument of the wrong type, ValueError for an unknown
    ``profile``, and :class:`~hsmsim.errors.HsmsimError` for an empty path, a file that cannot be read or an unknown
    format.
    """
    _require("format", format, (str, type(None)), "a format name or None")
    _require("profile", profile, str, "a profile name")
    _require("evidence", evidence, (Evidence, str, os.PathLike), "an Evidence, a str or a pathlib.Path")
    validation_profile = Profile(profile)
    moment = _moment(at)
    if isinstance(evidence, Evidence):
        fmt = get_format(format or evidence.format)
        trust, _files = _trust(fmt, roots)
        loaded = evidence
    else:
        path = _path("evidence", evidence)
        fmt = get_format(format) if format else detect(path)
        trust, files = _trust(fmt, roots)
        loaded = load_evidence(fmt, path, ignore=files)  # a root file in the evidence's directory is no record
    with certificate_warnings_ignored():
        return fmt.verify(loaded, trust, at=moment, profile=validation_profile)


def load_corpus(root: StrPath | None = None) -> Corpus:
    """The vector corpus at ``root`` (default: ``$HSMSIM_VECTORS``, ``./vectors``, else the installed one).

    Raises TypeError when ``root`` is not a path, :class:`~hsmsim.errors.HsmsimError` when it is empty and
    :class:`CorpusLoadError` when it holds no vector file."""
    return harness_vectors.load_corpus(_path("root", root) if root is not None else default_vectors_root())


def vectors(
    *, format: str | None = None, flag: str | None = None, severity: str | None = None, root: StrPath | None = None,
) -> list[Vector]:
    """The corpus's vectors, optionally only one format's, those carrying ``flag``, or of one ``severity``.

    A filter that can match nothing is misuse, as in ``hsmsim vectors list``: raises TypeError for a filter that
    is not a str, :class:`UnsupportedFormatError` for a format the corpus lacks and
    :class:`~hsmsim.errors.HsmsimError` for a severity that is not one of :class:`~hsmsim.model.vectors.Severity`
    or a flag the corpus does not define; and what :func:`load_corpus` raises."""
    for name, value in (("format", format), ("flag", flag), ("severity", severity)):
        _require(name, value, (str, type(None)), "a str or None")
    severities = [level.value for level in Severity]
    if severity is not None and severity not in severities:
        raise HsmsimError(f"no severity {severity!r} (severities: {', '.join(severities)})")
    loaded = load_corpus(root)
    if format is not None and format not in loaded.formats():
        raise UnsupportedFormatError(f"no vectors of format {format!r} (the corpus has {', '.join(loaded.formats())})")
    if flag is not None and flag not in loaded.notes:
        raise HsmsimError(f"no flag {flag!r} in {escaped(str(loaded.root))}")
    return select(loaded, format=format, flag=flag, severity=severity)
