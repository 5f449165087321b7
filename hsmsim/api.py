"""hsmsim's Python API, re-exported at the package root (``hsmsim.verify``, ``hsmsim.attest``, ...).

A stable surface over the layers below: paths are ``str`` or :class:`~pathlib.Path`, profiles and formats
are their names, and every function reaches formats only through the registry. ``docs/api.md`` shows it
in use. Importing :mod:`hsmsim` stays cheap: the root resolves these names on first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509

from hsmsim.corpus.listing import select
from hsmsim.errors import HsmsimError, ParameterError, UnsupportedFormatError
from hsmsim.formats import detect, get_format, names
from hsmsim.harness import vectors as harness_vectors
from hsmsim.harness.vectors import Corpus, CorpusLoadError, Vector, default_vectors_root
from hsmsim.hsm import Hsm, pki_exports
from hsmsim.keystore.base import KeyPolicy, KeySpec, StoredKey
from hsmsim.keystore.soft import new_key_material
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.state import HsmState
from hsmsim.verdict import Claims, Profile, Reason, Verdict

__all__ = [
    "Claims", "Corpus", "CorpusLoadError", "Evidence", "Hsm", "HsmState", "HsmsimError", "ParameterError", "Profile",
    "Reason", "TrustAnchors", "UnsupportedFormatError", "Vector", "Verdict", "attest", "create_key",
    "format_names", "load_corpus", "roots", "vectors", "verify",
]

StrPath = str | os.PathLike[str]
DEFAULT_STATE = ".hsmsim"


def format_names() -> list[str]:
    """The names of every registered attestation format, sorted (``primus``, ``webauthn``, ...)."""
    return names()


def create_key(
    label: str, *, spec: str = "rsa-3072", state: StrPath = DEFAULT_STATE, backend: str = "soft",
    format: str | None = None, seed: str | None = None, extractable: bool = False, sensitive: bool = True,
    imported: bool = False,
) -> StoredKey:
    """Generate (or, with ``imported``, import) a key in the emulated HSM whose state lives in ``state``.

    A new state directory is created emulating ``format`` (default ``primus``) from ``seed``. Raises
    :class:`~hsmsim.errors.HsmsimError` on a bad spec, an unknown backend or a state of another format.
    """
    opened = HsmState.open(Path(state), format=format, seed=seed)
    try:
        store = opened.store(backend)
        key_spec = KeySpec.parse(spec)
        policy = KeyPolicy(sensitive=sensitive, extractable=extractable)
        if imported:
            return store.import_key(new_key_material(key_spec), label, policy=policy)
        return store.generate(key_spec, label, policy=policy)
    finally:
        opened.close()


def attest(
    label: str, *, state: StrPath = DEFAULT_STATE, format: str | None = None, at: datetime | None = None,
    params: Mapping[str, object] | None = None, attesting_key: str | None = None,
) -> Evidence:
    """The attestation evidence of the key ``label`` in ``state``, in the device's format (or ``format``).

    ``at`` fixes the attestation time (default now); ``params`` are the format's parameters. Write the
    files with :meth:`Evidence.write`. Raises :class:`~hsmsim.errors.HsmsimError` on misuse.
    """
    opened = HsmState.open(Path(state), format=format, create=False)
    try:
        parameters = dict(params or {})
        if at is not None:
            parameters["attest_time"] = at
        return opened.hsm(label).attest(label, format, parameters, attesting_key)
    finally:
        opened.close()


def roots(state: StrPath = DEFAULT_STATE) -> list[x509.Certificate]:
    """Every emulated root a verifier of ``state``'s evidence may trust, each once: the default attestation
    identity's first, then those of the other PKIs ``hsmsim pki export`` writes (parameter choices, WebAuthn
    statements, generic mechanisms)."""
    opened = HsmState.open(Path(state), create=False)
    try:
        found: list[x509.Certificate] = []
        for export in pki_exports(opened.device):
            if export.root not in found:
                found.append(export.root)
        return found
    finally:
        opened.close()


def verify(
    evidence: StrPath | Evidence, roots: Sequence[StrPath | x509.Certificate] | TrustAnchors = (), *,
    at: datetime | None = None, profile: str | Profile = Profile.STRUCTURAL, format: str | None = None,
) -> Verdict:
    """Verify evidence (a file or directory as a user received it, or :class:`Evidence`) with hsmsim's
    reference verifier, trusting ``roots`` (certificate files, certificates, or :class:`TrustAnchors`).

    Without ``roots`` nothing is trusted: evidence that names no issuer (WebAuthn ``packed`` self attestation)
    can still be accepted, and a certificate chain is rejected ``CHAIN_UNTRUSTED``.

    ``at`` is the validation time (default now). The format is ``format``, else the evidence's, else
    detected from the file. Bad evidence never raises: it is a REJECT :class:`Verdict` with a reason.
    Raises :class:`~hsmsim.errors.HsmsimError` when a file cannot be read or its format is unknown.
    """
    if isinstance(evidence, Evidence):
        fmt = get_format(format or evidence.format)
        loaded = evidence
    else:
        path = Path(evidence)
        fmt = get_format(format) if format else detect(path)
        loaded = fmt.load(path)
    if isinstance(roots, TrustAnchors):
        trust = roots
    else:
        certificates = [root for root in roots if isinstance(root, x509.Certificate)]
        files = [Path(root) for root in roots if not isinstance(root, x509.Certificate)]
        trust = fmt.trust_anchors_from_files(files) if files else TrustAnchors()
        if certificates:
            trust = TrustAnchors({**trust.roots, "root": (*trust.get(), *certificates)})
    return fmt.verify(loaded, trust, at=at, profile=Profile(profile))


def load_corpus(root: StrPath | None = None) -> Corpus:
    """The vector corpus at ``root`` (default: ``$HSMSIM_VECTORS``, ``./vectors``, else the installed one)."""
    return harness_vectors.load_corpus(Path(root) if root is not None else default_vectors_root())


def vectors(
    *, format: str | None = None, flag: str | None = None, severity: str | None = None, root: StrPath | None = None,
) -> list[Vector]:
    """The corpus's vectors, optionally only one format's, those carrying ``flag``, or of one ``severity``."""
    loaded = load_corpus(root)
    if format is not None and format not in loaded.formats():
        raise UnsupportedFormatError(f"no vectors of format {format!r} (the corpus has {', '.join(loaded.formats())})")
    return select(loaded, format=format, flag=flag, severity=severity)
