"""Verification checks every format shares: CSR binding, the CA/B Forum code-signing key rule, and how a bundle's
files are given their roles (an ambiguous bundle is rejected, never resolved by file order).

Each raises :class:`hsmsim.verdict.Rejected` with the one reason the check stands for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hsmsim.pki.chain import CERT_PARSE_ERRORS
from hsmsim.verdict import Reason, Rejected

CODE_SIGNING_CURVES = ("EC-secp256r1", "EC-secp384r1")
_T = TypeVar("_T")
_R = TypeVar("_R")


def ambiguous(role: str, first: str, second: str) -> Rejected:
    """The rejection of a bundle that holds two different files for one role the format reads once: MALFORMED
    (:attr:`hsmsim.verdict.Reason.MALFORMED`), naming both candidates (each cut to 80 characters)."""
    return Rejected(Reason.MALFORMED, f"two different files for {role}, {first[:80]!r} and {second[:80]!r}: which "
                                      "one is meant is ambiguous")


def one_name(files: Mapping[str, bytes], names: Iterable[str], role: str) -> str | None:
    """The name of the one file of ``files`` among ``names`` (the bundle's candidates for ``role``), None when there
    is none. Copies of one file (the same bytes) count once (the first name in sorted order is returned); two
    different ones raise :func:`ambiguous`, whatever their order."""
    found: dict[bytes, str] = {}
    for name in sorted(names):
        found.setdefault(files[name], name)
    if len(found) > 1:
        first, second = list(found.values())[:2]
        raise ambiguous(role, first, second)
    return next(iter(found.values()), None)


def one_file(files: Mapping[str, bytes], names: Iterable[str], role: str) -> bytes | None:
    """The bytes of the file :func:`one_name` finds for ``role`` among ``names``, None when there is none."""
    name = one_name(files, names, role)
    return files[name] if name is not None else None


@dataclass
class FilesByName:
    """A bundle's files under the names a format reads them by (base names, zip member names), one file a name.

    :meth:`add` the same bytes twice under one name (an export unzipped beside its zip, a copy in another folder)
    and the name still holds that file; add different bytes and it raises :func:`ambiguous`, naming where both
    were found, so which one the verifier reads never depends on the order of the bundle's files."""

    files: dict[str, bytes] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, data: bytes, where: str) -> None:
        """File ``data``, found at ``where``, under ``name``; raises :func:`ambiguous` for a second, different file
        of that name."""
        if self.files.setdefault(name, data) != data:
            first, second = sorted((self.where[name], where))
            raise ambiguous(f"the name {name[:80]!r}", first, second)
        self.where.setdefault(name, where)


def by_base_name(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """``files`` (relative paths) under their base names (what follows the last ``/``), as :class:`FilesByName`
    files them: two different files of one base name raise MALFORMED, an identical copy is the same file."""
    named = FilesByName()
    for rel, data in files.items():
        named.add(rel.rsplit("/", 1)[-1], data, rel)
    return named.files


def one_that_passes(candidates: Sequence[_T], check: Callable[[_T], _R], order: Callable[[_T], bytes]) -> _R:
    """``check`` of a candidate it accepts (it raises :class:`Rejected` for one it refuses), whatever the order the
    candidates were given in: they are tried in the order of ``order`` (a canonical key, such as a certificate's
    DER), so when every one is refused the rejection is that of the first by ``order``. ``candidates`` is not
    empty."""
    first: Rejected | None = None
    for candidate in sorted(candidates, key=order):
        try:
            return check(candidate)
        except Rejected as rejection:
            first = first or rejection
    assert first is not None, "one_that_passes needs a candidate"
    raise first


def require_code_signing_key(key_type: str, size: int | None) -> None:
    """Reject (KEY_POLICY) keys outside CA/B Forum code signing: RSA >= 3072 bits, ECDSA P-256/P-384.

    ``key_type`` is ``RSA``, ``EC-<curve name>`` or anything else (always rejected).
    """
    if (key_type == "RSA" and (size or 0) >= 3072) or key_type in CODE_SIGNING_CURVES:
        return
    shown = key_type if size is None or key_type.startswith("EC-") else f"{key_type}-{size}"
    raise Rejected(Reason.KEY_POLICY, f"{shown} is not allowed for code signing (RSA >= 3072, ECDSA P-256/P-384)")


_VERIFIED_CSRS: ContextVar[dict[bytes, bytes] | None] = ContextVar("hsmsim_verified_csrs", default=None)


@contextmanager
def one_csr_check() -> Iterator[None]:
    """Within the block (one verification), a CSR :func:`check_csr_signature` has accepted is not checked again:
    an outer format that checked a request and hands the same bytes to its inner format (Purebred's YubiKey
    request to ``yubico-piv``) gets the same SPKI at the inner check's own place in the order. What was
    accepted is forgotten when the block ends."""
    token = _VERIFIED_CSRS.set({})
    try:
        yield
    finally:
        _VERIFIED_CSRS.reset(token)


def check_csr_signature(csr_data: bytes) -> bytes:
    """The CSR (PEM or DER) parses (MALFORMED) and is self-signed (CSR_SIGNATURE_INVALID); returns its SPKI DER.

    DER is what starts as a SEQUENCE: a DER request may carry PEM text inside (an attested statement)."""
    verified = _VERIFIED_CSRS.get()
    if verified is not None and csr_data in verified:
        return verified[csr_data]
    try:
        pem = csr_data[:1] != b"\x30" and b"-----BEGIN" in csr_data
        csr = x509.load_pem_x509_csr(csr_data) if pem else x509.load_der_x509_csr(csr_data)
        csr_spki = csr.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        valid = csr.is_signature_valid
    except CERT_PARSE_ERRORS as exc:
        raise Rejected(Reason.MALFORMED, f"CSR does not parse: {str(exc)[:120]}") from None
    if not valid:
        raise Rejected(Reason.CSR_SIGNATURE_INVALID, "CSR self-signature does not verify")
    if verified is not None:
        verified[bytes(csr_data)] = csr_spki
    return csr_spki


def check_csr_binding(spki: bytes, csr_data: bytes, attested: str = "the attested key") -> None:
    """The CSR (PEM or DER) parses (MALFORMED), is self-signed (CSR_SIGNATURE_INVALID) and asks to certify
    exactly ``spki`` (KEY_MISMATCH)."""
    if check_csr_signature(csr_data) != spki:
        raise Rejected(Reason.KEY_MISMATCH, f"the CSR's public key differs from {attested}")
