"""hsmsim fuzzes itself: any bytes, any mutated bundle -> a Verdict, never an exception, in bounded time and memory."""

from __future__ import annotations

import re
import time
import tracemalloc
from functools import cache, lru_cache

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hsmsim.encoding import der_children, read_tlv
from hsmsim.formats import get_format, names
from hsmsim.fuzz.campaign import load_model
from hsmsim.fuzz.engine import CaseBuildError, build_case, plan_case
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.parse_warnings import certificate_warnings_ignored
from hsmsim.verdict import Profile, Verdict

SEED = "hsmsim-corpus-v1"
TIME_BOUND = 2.0
settings.register_profile("hsmsim", derandomize=True, deadline=None, max_examples=120,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("hsmsim")


@cache
def golden(format_name: str):
    fmt = get_format(format_name)
    case = next(c for c in fmt.vector_cases(SEED) if "Golden" in c.flags)
    return case.evidence, TrustAnchors({"root": case.anchors}), case.validation_time


def _verify_bounded(format_name: str, evidence: Evidence) -> Verdict:
    _, trust, at = golden(format_name)
    start = time.perf_counter()
    with certificate_warnings_ignored():  # as every caller of verify() has them: random bytes make zero serials
        verdict = get_format(format_name).verify(evidence, trust, at=at, profile=Profile.STRICT)
    assert time.perf_counter() - start < TIME_BOUND
    assert isinstance(verdict, Verdict)
    return verdict


@pytest.mark.parametrize("format_name", names())
@given(data=st.data())
def test_random_bytes_in_any_file_give_a_verdict(format_name, data):
    evidence, _, _ = golden(format_name)
    files = dict(evidence.files)
    for name in data.draw(st.lists(st.sampled_from(sorted(files)), min_size=1, max_size=len(files), unique=True)):
        original = files[name]
        files[name] = data.draw(st.one_of(
            st.binary(max_size=4096),
            st.builds(lambda cut, o=original: o[:cut], st.integers(0, len(original))),
            st.builds(lambda pos, b, o=original: o[:pos] + bytes([b]) + o[pos + 1:],
                      st.integers(0, max(0, len(original) - 1)), st.integers(0, 255)),
        ))
    if data.draw(st.booleans()):
        files[data.draw(st.sampled_from(["extra.bin", "x.xml", "y.csr", "z.json", "chain.pem"]))] = data.draw(
            st.binary(max_size=512))
    _verify_bounded(format_name, Evidence(format_name, files, evidence.primary))


@given(index=st.integers(0, 2**31))
def test_any_mutated_primus_bundle_gives_a_verdict(index):
    model = _primus_model()
    try:
        built = build_case(model, plan_case(model, "properties", index), packed=index % 2 == 0)
    except CaseBuildError:  # the fuzzer skips such a case too
        assume(False)
    _verify_bounded("primus", built.evidence)


@lru_cache(maxsize=1)
def _primus_model():
    return load_model("primus", SEED)


@pytest.mark.parametrize("vector_id", ["primus::encoding::zip-bomb", "primus::encoding::huge-element",
                                       "primus::encoding::billion-laughs"])
def test_hostile_vectors_stay_within_a_memory_bound(vector_id):
    case = next(c for c in get_format("primus").vector_cases(SEED) if c.id == vector_id)
    trust = TrustAnchors({"root": case.anchors})
    tracemalloc.start()
    try:
        verdict = get_format("primus").verify(case.evidence, trust, at=case.validation_time)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not verdict.accepted
    assert peak < 48 * 1024 * 1024, f"peak {peak} bytes"


def _children_read_one_by_one(content: bytes, der: bool) -> list[bytes]:
    out, pos = [], 0
    while pos < len(content):
        end = read_tlv(content, pos, der)[2]
        out.append(content[pos:end])
        pos = end
    return out


def _header(size: int, octets: int) -> bytes:
    """A length in the short form (``octets`` 0, where it fits) or in ``octets`` octets, shortest or not."""
    if octets == 0 and size <= 0x7F:
        return bytes([size])
    octets = max(octets, 1, (size.bit_length() + 7) // 8)
    return bytes([0x80 | octets]) + size.to_bytes(octets, "big")


_TLVS = st.lists(st.builds(
    lambda tag, value, octets: bytes([tag]) + _header(len(value), octets) + value,
    st.integers(0, 255), st.binary(max_size=300), st.integers(0, 3)), max_size=6).map(b"".join)


@given(content=st.one_of(st.binary(max_size=300), _TLVS, st.builds(lambda tlvs, cut: tlvs[:cut], _TLVS,
                                                                    st.integers(0, 2000))),
       der=st.booleans())
def test_der_children_splits_content_as_read_tlv_reads_it(content, der):
    # der_children reads short-form and one- or two-octet shortest lengths itself: the children and the errors are
    # read_tlv's all the same, with or without ``der``.
    try:
        expected = _children_read_one_by_one(content, der)
    except ValueError as exc:
        with pytest.raises(ValueError, match=f"^{re.escape(str(exc))}$"):
            der_children(content, der)
        return
    assert der_children(content, der) == expected
