"""The structure-aware fuzz model of the Marvell formats: the catalogue's named defects plus random
TLV, blob and certificate-bundle operators, all on the workbench of :mod:`hsmsim.formats.marvell.workbench`."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

from hsmsim import mutate
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell.catalogue import VALIDATION_TIME, mutations
from hsmsim.formats.marvell.layout import Cloud
from hsmsim.formats.marvell.workbench import GOLDEN_SPECS, MarvellKit, Workbench
from hsmsim.model.evidence import Evidence
from hsmsim.model.fuzz import FuzzModel, FuzzOperator, catalogue_operator
from hsmsim.verdict import Rejected

_INTERESTING_VALUES = (b"", b"\x00", b"\x01", b"\x02", b"\xff", b"\x00\x00\x00\x01", b"\xff" * 4, b"\x00" * 128,
                       b"\xff" * 300)


def _tlv_op(edit: Callable[[mb.KeyObject, random.Random], mb.KeyObject]) -> Callable[[Workbench, random.Random], str]:
    """A field-level operator on the private (or secret) object; the blob is re-encoded around it."""
    def apply(bench: Workbench, rng: random.Random) -> str:
        try:
            objects = bench.objects()
        except Rejected as exc:  # an earlier operator broke the framing: no fields to edit
            raise mutate.MutationError(exc.detail) from None
        objects[-1] = edit(objects[-1], rng)
        bench.set_objects(objects)
        return "privateObject/TLV"
    return apply


def _fz_tlv_set(obj: mb.KeyObject, rng: random.Random) -> mb.KeyObject:
    target = rng.choice(obj.attributes)
    value = rng.choice((*_INTERESTING_VALUES, rng.randbytes(len(target.value)),
                        bytes([target.value[0] ^ 1]) + target.value[1:] if target.value else b"\x01"))
    return obj.replace(target.type, value)


def _fz_tlv_remove(obj: mb.KeyObject, rng: random.Random) -> mb.KeyObject:
    return obj.without(rng.choice(obj.types))


def _fz_tlv_duplicate(obj: mb.KeyObject, rng: random.Random) -> mb.KeyObject:
    attrs = list(obj.attributes)
    index = rng.randrange(len(attrs))
    attrs.insert(index + 1, mb.Attribute(attrs[index].type, rng.choice((attrs[index].value, *_INTERESTING_VALUES))))
    return mb.KeyObject(obj.handle, tuple(attrs))


def _fz_tlv_swap(obj: mb.KeyObject, rng: random.Random) -> mb.KeyObject:
    attrs = list(obj.attributes)
    i, j = rng.sample(range(len(attrs)), 2)
    attrs[i], attrs[j] = attrs[j], attrs[i]
    return mb.KeyObject(obj.handle, tuple(attrs))


def _fz_blob_bytes(bench: Workbench, rng: random.Random) -> str:
    blob = bench.att.blob
    choice = rng.randrange(3)
    if choice == 0:
        bench.att.blob = mutate.flip_bit(blob, rng.randrange(len(blob) * 8))
    elif choice == 1:
        bench.att.blob = mutate.truncate(blob, rng.randrange(len(blob)))
    else:
        bench.att.blob = mutate.extend(blob, rng.randbytes(rng.choice((1, 4, 64))))
    return "blob"


def _fz_certs(bench: Workbench, rng: random.Random) -> str:
    certs = bench.att.certs
    if rng.random() < 0.5 and len(certs) > 1:
        del certs[rng.randrange(len(certs))]
    else:
        rng.shuffle(certs)
    return "certificate bundle"


def fuzz_model(cloud: Cloud, seed: str) -> FuzzModel:
    """``cloud``'s fuzzing surface: the catalogue's mutations plus random TLV, blob and bundle operators."""
    kit = MarvellKit.build(seed)
    cache: dict[str, Workbench] = {}

    def open_bench(spec: str) -> Workbench:
        if spec not in cache:
            cache[spec] = Workbench.open(kit, cloud, spec)
        golden = cache[spec]
        att = copy.copy(golden.att)
        att.certs = list(golden.att.certs)
        return Workbench(kit, cloud, spec, att, golden.options, golden.anchors)

    random_ops = (
        FuzzOperator("tlv.set", _tlv_op(_fz_tlv_set)), FuzzOperator("tlv.remove", _tlv_op(_fz_tlv_remove)),
        FuzzOperator("tlv.duplicate", _tlv_op(_fz_tlv_duplicate)), FuzzOperator("tlv.swap", _tlv_op(_fz_tlv_swap)),
        FuzzOperator("blob.bytes", _fz_blob_bytes), FuzzOperator("certs.shuffle", _fz_certs),
    )
    catalogue = tuple(catalogue_operator(m) for m in mutations(cloud) if "bomb" not in m.id)

    def render(bench: Workbench, _packed: bool) -> Evidence:
        try:
            return bench.evidence()
        except (KeyError, TypeError, ValueError, AssertionError, AttributeError):
            # A stacked envelope edit found the envelope another operator reshaped; render without them.
            bench.json_edits.clear()
            bench.text_edit = bench.compressed_edit = None
            return bench.evidence()

    first = open_bench(GOLDEN_SPECS[0])
    return FuzzModel(
        format=cloud.format_name, goldens=GOLDEN_SPECS, operators=catalogue + random_ops, anchors=first.anchors,
        validation_time=VALIDATION_TIME, open=open_bench, resign=Workbench.resign, render=render,
    )
