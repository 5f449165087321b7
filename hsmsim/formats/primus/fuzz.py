"""The Primus fuzz model: the catalogue's named defects plus random field-level operators.

Operators work on the catalogue's :class:`~hsmsim.formats.primus.catalogue.Workbench` (zip
members and outer files of one golden bundle) and return the path they touched.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from hsmsim import mutate
from hsmsim.formats.primus.archive import build_zip
from hsmsim.formats.primus.bundle import sign_xml
from hsmsim.formats.primus.catalogue import ATTEST_TIME, GOLDEN_SPECS, VALIDATION_TIME, PrimusKit, Workbench, mutations
from hsmsim.formats.primus.layout import CHAIN_FILE
from hsmsim.keystore.base import PrivateKey
from hsmsim.model.evidence import Evidence
from hsmsim.model.fuzz import FuzzModel, FuzzOperator, catalogue_operator

_INTERESTING_VALUES = (b"", b"true", b"false", b"TRUE", b"1", b"0", b"-1", b"imported", b"generated", b"A" * 300,
                       b"\xc3\xa9", b"&amp;", b"&lt;x&gt;", b"9" * 40, b"MIIB", b"2099-01-01T00:00:00Z", b" true")
_MEMBER_KINDS = ("xml", "sig", "chain", "pem", "csr")


def _member_name(bench: Workbench, kind: str) -> tuple[dict[str, bytes], str]:
    if kind == "csr":
        return bench.outer, bench.csr_name
    name = {"xml": bench.xml_name, "sig": bench.sig_name, "chain": CHAIN_FILE, "pem": f"{bench.stem}.pem"}[kind]
    return bench.members, name


def _xml_tags(bench: Workbench) -> list[str]:
    return re.findall(r"^\s*<([a-z_]+)>", bench.xml.decode("utf-8", "replace"), flags=re.M)


def _fz_xml_set(bench: Workbench, rng: random.Random) -> str:
    tag = rng.choice(_xml_tags(bench))
    bench.xml = mutate.set_element(bench.xml, tag, rng.choice(_INTERESTING_VALUES))
    return f"/private_key//{tag}"


def _fz_xml_remove(bench: Workbench, rng: random.Random) -> str:
    tag = rng.choice(_xml_tags(bench))
    bench.xml = mutate.remove_element(bench.xml, tag)
    return f"/private_key//{tag}"


def _fz_xml_duplicate(bench: Workbench, rng: random.Random) -> str:
    tag = rng.choice(_xml_tags(bench))
    bench.xml = mutate.duplicate_element(bench.xml, tag, rng.choice((None, *_INTERESTING_VALUES)))
    return f"/private_key//{tag}"


def _fz_xml_swap_lines(bench: Workbench, rng: random.Random) -> str:
    lines = bench.xml.split(b"\n")
    index = rng.randrange(1, max(2, len(lines) - 3))
    lines[index], lines[index + 1] = lines[index + 1], lines[index]
    bench.xml = b"\n".join(lines)
    return f"<label>.xml:line{index}"


def _fz_xml_insert(bench: Workbench, rng: random.Random) -> str:
    tag = rng.choice(_xml_tags(bench))
    extra = rng.choice((b"\t<x>1</x>", b"\t<!-- c -->", b"\t<?pi x?>", b"\t<public_key_hash>AA==</public_key_hash>",
                        b"\t<extractable>true</extractable>", b"\t<a><b>deep</b></a>"))
    bench.xml = mutate.insert_after(bench.xml, tag, extra)
    return f"/private_key//{tag}/following-sibling"


def _pick_member(bench: Workbench, rng: random.Random, *, non_empty: bool = False) -> tuple[dict[str, bytes], str]:
    kind = rng.choice(_MEMBER_KINDS)
    where, key = _member_name(bench, kind)
    if key not in where or (non_empty and not where[key]):
        raise mutate.MutationError(f"no {kind}")
    return where, key


def _fz_flip(bench: Workbench, rng: random.Random) -> str:
    where, key = _pick_member(bench, rng, non_empty=True)
    where[key] = mutate.flip_bit(where[key], rng.randrange(len(where[key]) * 8))
    return key


def _fz_truncate(bench: Workbench, rng: random.Random) -> str:
    where, key = _pick_member(bench, rng)
    where[key] = mutate.truncate(where[key], rng.randrange(max(1, len(where[key]))))
    return key


def _fz_extend(bench: Workbench, rng: random.Random) -> str:
    where, key = _pick_member(bench, rng)
    where[key] = mutate.extend(where[key], rng.randbytes(rng.choice((1, 2, 16, 256))))
    return key


def _fz_chain_shuffle(bench: Workbench, rng: random.Random) -> str:
    certs = bench.chain()
    choice = rng.randrange(3)
    if choice == 0:
        rng.shuffle(certs)
    elif choice == 1 and len(certs) > 1:
        del certs[rng.randrange(len(certs))]
    else:
        certs.insert(rng.randrange(len(certs) + 1), rng.choice(certs))
    bench.set_chain(certs)
    return CHAIN_FILE


def _splice_from(other: Callable[[], Workbench]) -> Callable[[Workbench, random.Random], str]:
    def apply(bench: Workbench, rng: random.Random) -> str:
        donor = other()
        kind = rng.choice(("sig", "csr", "pem", "xml"))
        where, key = _member_name(bench, kind)
        donor_where, donor_key = _member_name(donor, kind)
        if donor_key not in donor_where:
            raise mutate.MutationError(f"donor has no {kind}")
        where[key] = donor_where[donor_key]
        return f"{key}<-splice"
    return apply


_BENCH_FIELDS = tuple(f.name for f in fields(Workbench) if f.name != "kit")
"""What a mutation may change of a workbench: everything but the kit."""


def _state(bench: Workbench) -> dict[str, Any]:
    """The workbench's mutable fields, the dictionaries copied."""
    return {name: dict(value) if isinstance(value, dict) else value
            for name in _BENCH_FIELDS for value in (getattr(bench, name),)}


def _on_golden(op: FuzzOperator, open_bench: Callable[[str], Workbench],
               pristine: Callable[[str], Workbench]) -> FuzzOperator:
    """``op`` (a catalogue defect, which takes no randomness) applied to an untouched golden from memory: the
    result is a pure function of the golden's bytes, and a catalogue defect re-issues certificates and re-signs
    (milliseconds) where the memory costs a comparison. Applied after another operator, it runs afresh."""
    assert op.goldens is not None and len(op.goldens) == 1, "a catalogue defect is designed for one golden"
    golden = op.goldens[0]

    @functools.lru_cache(maxsize=1)
    def applied() -> tuple[dict[str, Any], str]:
        bench = open_bench(golden)
        path = op.apply(bench, random.Random(0))
        return _state(bench), path

    def apply(bench: Workbench, rng: random.Random) -> str:
        untouched = pristine(golden)
        if any(getattr(bench, name) != getattr(untouched, name) for name in _BENCH_FIELDS):
            return op.apply(bench, rng)
        try:
            state, path = applied()
        except Exception:  # noqa: BLE001 - rerun on the case's bench: the same failure, leaving the same changes
            return op.apply(bench, rng)
        for name, value in state.items():
            setattr(bench, name, dict(value) if isinstance(value, dict) else value)
        return path
    return replace(op, apply=apply)


def fuzz_model(seed: str) -> FuzzModel:
    """The Primus fuzzing surface: the catalogue's mutations plus random field-level operators."""
    kit = PrimusKit.build(seed)
    cache: dict[str, Workbench] = {}

    def pristine(spec: str) -> Workbench:
        if spec not in cache:
            cache[spec] = Workbench.open(kit, spec)
        return cache[spec]

    def open_bench(spec: str) -> Workbench:
        golden = pristine(spec)
        return Workbench(kit, golden.key, golden.stem, dict(golden.members), dict(golden.outer))

    asymmetric = tuple(s for s in GOLDEN_SPECS if not s.startswith("aes"))
    random_ops = (
        FuzzOperator("xml.set", _fz_xml_set), FuzzOperator("xml.remove", _fz_xml_remove),
        FuzzOperator("xml.duplicate", _fz_xml_duplicate), FuzzOperator("xml.swap", _fz_xml_swap_lines),
        FuzzOperator("xml.insert", _fz_xml_insert),
        FuzzOperator("bytes.flip", _fz_flip, invalidating=False, resign=None),
        FuzzOperator("bytes.truncate", _fz_truncate), FuzzOperator("bytes.extend", _fz_extend),
        FuzzOperator("chain.shuffle", _fz_chain_shuffle),
        FuzzOperator("splice", _splice_from(lambda: open_bench("ec-p256"))),
    )
    catalogue = tuple(_on_golden(catalogue_operator(m), open_bench, pristine) for m in mutations()
                      if m.id not in ("primus::encoding::huge-element", "primus::encoding::zip-bomb"))

    @functools.lru_cache(maxsize=256)
    def signature(xml: bytes, key: PrivateKey) -> bytes:
        return sign_xml(xml, key)

    def resign(bench: Workbench) -> None:
        # Deterministic signatures (PKCS#1 v1.5, RFC 6979): a case whose operators left the XML as some
        # earlier case's (a member, chain or splice operator; a catalogue defect) reuses its signature.
        bench.members[bench.sig_name] = signature(bench.xml, bench.kit.identity.key)

    @functools.lru_cache(maxsize=256)
    def zipped(members: tuple[tuple[str, bytes], ...]) -> bytes:
        # Most cases render a golden's members (a case's evidence operator plans on the rendering too).
        return build_zip(list(members), ATTEST_TIME)

    def render(bench: Workbench, packed: bool) -> Evidence:
        if bench.zip_override is not None:
            return bench.evidence()
        if packed:
            return bench.evidence(zipped(tuple(bench.members.items())))
        return Evidence("primus", {**bench.members, **bench.outer}, bench.xml_name)

    return FuzzModel(
        format="primus", goldens=asymmetric, operators=catalogue + random_ops, anchors=(kit.identity.root,),
        validation_time=VALIDATION_TIME, open=open_bench, resign=resign, render=render,
    )
