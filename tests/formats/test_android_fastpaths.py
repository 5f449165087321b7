"""The android-key readers' one-pass paths (KeyDescription spans, canonical PEM, the DER check for a second
KeyDescription) read exactly what the general readers read and raise what they raise: each is compared with the
general reader on the goldens and on seeded perturbations of them."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import MISSING, fields

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.formats.android import keydescription
from hsmsim.formats.android import verify as android_verify
from hsmsim.formats.android.catalogue import GOLDENS, AndroidKit, Workbench
from hsmsim.formats.android.keydescription import (
    AuthorizationList,
    parse_key_description,
    read_authorization_list,
    read_children,
)
from hsmsim.formats.android.layout import key_description_der
from hsmsim.verdict import Rejected
from tests.conftest import SEED

_BYTES = (0x00, 0x01, 0x02, 0x04, 0x05, 0x0A, 0x1F, 0x30, 0x31, 0x7F, 0x80, 0x81, 0x82, 0xA0, 0xBF, 0xFF)


@pytest.fixture(scope="module")
def benches() -> list[Workbench]:
    kit = AndroidKit.build(SEED)
    return [Workbench.open(kit, golden.name) for golden in GOLDENS]


def _outcome(read: Callable[[], object]) -> tuple[object, ...]:
    try:
        return ("read", repr(read()))
    except Rejected as rejection:
        return ("rejected", rejection.reason, rejection.detail)


def _general_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keydescription, "_span_key_description", lambda *_args: None)
    monkeypatch.setattr(keydescription, "_span_authorization_list", lambda *_args: None)


def _tlv(identifier: bytes, content: bytes, *, long_form: bool = False) -> bytes:
    if long_form or len(content) >= 0x80:
        length = len(content).to_bytes((len(content).bit_length() + 7) // 8 or 1, "big")
        return identifier + bytes([0x80 | len(length)]) + length + content
    return identifier + bytes([len(content)]) + content


def _entry_edit(rng: random.Random, entries: list[bytes]) -> list[bytes]:
    """One list-level edit a lenient reader, a strict one or neither accepts."""
    entries = list(entries)
    index = rng.randrange(len(entries))
    entry = entries[index]
    size = 1
    if entry[0] & 31 == 31:  # a high tag number: its octets, up to the one without the continuation bit
        while entry[size] & 0x80:
            size += 1
        size += 1
    identifier, value = entry[:size], read_children(entry, "", 2)[0].content
    edits: list[Callable[[], None]] = [
        lambda: entries.insert(rng.randrange(len(entries) + 1), entry),  # a tag twice
        lambda: entries.pop(index),
        lambda: entries.insert(0, entries.pop()),  # tags out of order
        lambda: entries.insert(rng.randrange(len(entries) + 1), bytes.fromhex("bf870403020101")),  # unknown [900]
        lambda: entries.__setitem__(index, _tlv(identifier, value, long_form=True)),
        lambda: entries.__setitem__(index, _tlv(identifier, value + b"\x05\x00")),  # two values
        lambda: entries.__setitem__(index, _tlv(identifier, bytes([rng.choice(_BYTES)]) + value[1:])),
        lambda: entries.__setitem__(index, _tlv(identifier, b"")),
        lambda: entries.__setitem__(index, _tlv(bytes([0xBF, 0x80]) + identifier[1:] if identifier[0] == 0xBF
                                                else bytes([0xBF, identifier[0] & 31]), value)),
    ]
    rng.choice(edits)()
    return entries


def _byte_edit(rng: random.Random, data: bytes) -> bytes:
    edited = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3))):
        at = rng.randrange(len(edited) + 1)
        choice = rng.random()
        if choice < 0.5 and at < len(edited):
            edited[at] = rng.choice(_BYTES) if choice < 0.3 else edited[at] ^ 1 << rng.randrange(8)
        elif choice < 0.7:
            edited[at:at] = bytes([rng.choice(_BYTES)])
        elif choice < 0.9 and at < len(edited):
            del edited[at]
        else:
            del edited[at:]
    return bytes(edited)


def _perturbed(benches: list[Workbench], count: int) -> list[bytes]:
    rng = random.Random(20260302)
    goldens = [bench.der() for bench in benches]
    out = list(goldens)
    while len(out) < count:
        der = rng.choice(goldens)
        (top,) = read_children(der, "", 2)
        children = [child.der for child in read_children(top.content, "", 9)]
        which = rng.choice((6, 7))
        entries = [entry.der for entry in read_children(read_children(children[which], "", 2)[0].content, "", 99)]
        children[which] = _tlv(b"\x30", b"".join(_entry_edit(rng, entries)))
        structural = _tlv(b"\x30", b"".join(children))
        out += [structural, _byte_edit(rng, der)]
    return out


@pytest.mark.parametrize("strict", [False, True])
def test_one_pass_key_description_reads_what_the_general_reader_reads(benches, monkeypatch, strict):
    inputs = _perturbed(benches, 600)
    fast = [_outcome(lambda der=der: parse_key_description(der, strict=strict)) for der in inputs]
    _general_only(monkeypatch)
    general = [_outcome(lambda der=der: parse_key_description(der, strict=strict)) for der in inputs]
    assert fast == general
    assert sum(outcome[0] == "read" for outcome in general) > 100  # the perturbations keep many inputs readable


@pytest.mark.parametrize("strict", [False, True])
def test_one_pass_list_reads_what_the_general_reader_reads(benches, monkeypatch, strict):
    lists = []
    for der in _perturbed(benches, 300):
        try:
            top = read_children(der, "", 2)[0]
            lists += [child.content for child in read_children(top.content, "", 9)[6:]]
        except Rejected:
            continue
    fast = [_outcome(lambda content=content: read_authorization_list(content, "x", strict=strict))
            for content in lists]
    _general_only(monkeypatch)
    assert fast == [_outcome(lambda content=content: read_authorization_list(content, "x", strict=strict))
                    for content in lists]


def test_fast_list_object_equals_the_initialised_one(benches):
    assert all(field.default is not MISSING for field in fields(AuthorizationList))
    for bench in benches:
        for made in (bench.description.software_enforced, bench.description.hardware_enforced):
            values = {f.name: getattr(made, f.name) for f in fields(AuthorizationList)}
            built = keydescription._authorization_list(
                {k: v for k, v in values.items() if k not in ("unknown", "tags_ordered")}, values["tags_ordered"])
            assert built == made and repr(built) == repr(made) and hash(built) == hash(made)
            assert list(vars(built)) == list(vars(made))


def _pem_variants(pem: bytes) -> list[bytes]:
    return [pem, pem.replace(b"\n", b"\r\n"), pem[:-1], pem + b"\n", b"text before\n" + pem,
            pem.replace(b"-----\n", b"-----\n\n", 1), pem.replace(b"\n", b"", 2), pem.replace(b"=\n", b"\n"),
            pem.replace(b"CERTIFICATE", b"X509 CERTIFICATE", 2), pem * 2, b"", pem.replace(b"A", b"B", 1),
            pem.replace(b"\n-----END", b"\n\n-----END", 1), pem.replace(b"\n", b"", 1).replace(b"==", b"==\n", 1)]


def test_canonical_pem_loads_what_cryptography_loads(benches, monkeypatch):
    def outcome(pem: bytes) -> tuple[object, ...]:
        try:
            chain, _ders = android_verify.load_chain(pem)
        except Rejected as rejection:
            return ("rejected", rejection.reason, rejection.detail)
        return ("read", [cert.public_bytes(Encoding.DER) for cert in chain])

    pems = [variant for bench in benches for variant in _pem_variants(bench.evidence().files[bench.evidence().primary])]
    assert all(android_verify.canonical_pem_ders(bench.evidence().files[bench.evidence().primary]) is not None
               for bench in benches)
    fast = [outcome(pem) for pem in pems]
    monkeypatch.setattr(android_verify, "canonical_pem_ders", lambda _pem: None)
    assert fast == [outcome(pem) for pem in pems]


def test_a_second_key_description_is_found_from_the_der(benches):
    bench = benches[0]
    chain, ders = android_verify.load_chain(bench.evidence().files[bench.evidence().primary])
    assert ders is not None and android_verify._OID_CONTENT in ders[0]
    doubled = [chain[0], *chain]
    with pytest.raises(Rejected) as caught:
        android_verify._check_extension_position(doubled, [ders[0], *ders])
    assert caught.value.reason.name == "ATTR_CONFLICT"
    assert android_verify._check_extension_position(chain, ders) == android_verify._check_extension_position(
        chain, None)
    assert all(key_description_der(x509.load_der_x509_certificate(der)) is None for der in ders[1:])


def test_the_root_copy_a_chain_carries_is_parsed_once(parsed_certificates: list[bytes]) -> None:
    """A chain's copy of the root (the anchor's name and key, other bytes) is remembered by its bytes once a path
    validated, as the intermediates are: the next chain of the vendor does not parse it again; the leaf is parsed in
    every verification."""
    from pathlib import Path

    from hsmsim.formats import get_format
    from hsmsim.harness.vectors import load_corpus
    from hsmsim.model.evidence import TrustAnchors

    corpus = load_corpus(Path(__file__).resolve().parents[2] / "vectors")
    goldens = [v for v in corpus.select(formats=["android-key"]) if v.golden]
    ders = [android_verify.canonical_pem_ders(v.evidence.files[v.evidence.primary]) or [] for v in goldens]
    anchors = [{p.encode() for p in v.anchors_pem} for v in goldens]
    copies = {chain_ders[-1] for chain_ders, pems in zip(ders, anchors, strict=True)
              if x509.load_der_x509_certificate(chain_ders[-1]).public_bytes(Encoding.PEM) not in pems}
    assert copies  # some golden chain ends at a root copy that is not the anchor's bytes
    parsed = parsed_certificates
    for _ in range(3):
        for vector in goldens:
            roots = tuple(x509.load_pem_x509_certificate(pem.encode()) for pem in vector.anchors_pem)
            trust = TrustAnchors({"root": roots})
            assert get_format("android-key").verify(vector.evidence, trust, at=vector.at).accepted
    assert all(parsed.count(copy) == 1 for copy in copies)
    assert all(parsed.count(chain_ders[0]) >= 3 for chain_ders in ders)
