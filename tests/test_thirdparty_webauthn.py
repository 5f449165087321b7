"""Third-party WebAuthn verifiers (py_webauthn, python-fido2) as conformance adapters on the webauthn vectors.

Skipped without the ``thirdparty`` extra. Each must accept every valid vector of the statements it supports
(tpm, packed, fido-u2f; py_webauthn also android-key, which fido2 lacks: its adapter declines those) and
genuine TPM evidence from the swtpm backend, except the valid vectors pinned in :data:`REFUSED_VALID`;
what each accepts that it must not is pinned here and listed in the README's WebAuthn section.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from hsmsim.device import Device
from hsmsim.harness.adapters import VerifyRequest
from hsmsim.harness.config import load_adapter
from hsmsim.harness.model import Outcome
from hsmsim.harness.runner import RunOptions, run_conformance
from hsmsim.harness.vectors import load_corpus
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.swtpm import swtpm_available
from hsmsim.model.evidence import TrustAnchors

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "verifiers"
ADAPTERS = {"thirdparty-py-webauthn": ("webauthn", "thirdparty_py_webauthn.py"),
            "thirdparty-fido2": ("fido2", "thirdparty_fido2.py")}

ATTRIBUTES = {"webauthn::attributes::no-fixed-tpm", "webauthn::attributes::no-sensitive-data-origin",
              "webauthn::attributes::imported-key", "webauthn::attributes::duplicable-key",
              "webauthn::attributes::restricted", "webauthn::attributes::decrypt-only-key"}
BOTH = ATTRIBUTES | {"webauthn::attest::trailing-bytes", "webauthn::attest::qualified-signer-oversized",
                     "webauthn::attest::qualified-name-wrong-size", "webauthn::attest::qualified-name-is-name",
                     "webauthn::akcert::aaguid-mismatch", "webauthn::akcert::aaguid-not-octet-string",
                     "webauthn::akcert::san-not-critical",
                     "webauthn::binding::cross-origin-iframe", "webauthn::binding::top-origin-present"}
PACKED_PROFILE = {f"webauthn::packed::{name}" for name in (
    "cert-aaguid-mismatch", "cert-aaguid-not-octet-string", "cert-ou-wrong", "cert-no-ou", "cert-no-country",
    "cert-no-organisation", "cert-no-common-name", "cert-ca-true", "cert-no-basic-constraints")}
MISSED = {
    "thirdparty-py-webauthn": BOTH | PACKED_PROFILE | {
        "webauthn::statement::fmt-none", "webauthn::attest::truncated", "webauthn::attest::clock-safe-invalid",
        "webauthn::pubarea::reserved-attribute-bit", "webauthn::pubarea::trailing-bytes",
        "webauthn::cbor::trailing-bytes",
        "webauthn::cbor::indefinite-length-map", "webauthn::packed::ecdaa-key-id",
        "webauthn::android-key::levels-disagree", "webauthn::android-key::purpose-decrypt-in-software-list",
        "webauthn::android-key::key-size-conflict-in-software-list",
        "webauthn::apple::nonce-set-not-sequence"},
    "thirdparty-fido2": BOTH | {
        "webauthn::chain::ak-expired", "webauthn::chain::intermediate-not-ca",
        "webauthn::akcert::manufacturer-fido-conformance", "webauthn::akcert::manufacturer-swtpm-localca",
        "webauthn::authdata::backup-state-without-eligible", "webauthn::statement::ver-1-0",
        "webauthn::packed::cert-expired", "webauthn::packed::cert-not-yet-valid",
        "webauthn::fido-u2f::two-certificates", "webauthn::fido-u2f::aaguid-not-zero",
        "webauthn::fido-u2f::credential-not-p256", "webauthn::fido-u2f::cert-expired",
        "webauthn::packed::credential-alg-curve-mismatch", "webauthn::packed::cose-key-boolean-label",
        "webauthn::apple::cert-of-other-key", "webauthn::apple::cert-expired",
        "webauthn::apple::nonce-set-not-sequence"},
}
"""Invalid vectors each library accepts (measured with webauthn 3.0.1 and fido2 2.2.1)."""
REFUSED_VALID = {
    "thirdparty-py-webauthn": {"webauthn::golden::ec-p384", "webauthn::golden::android-key-no-root-es256",
                               "webauthn::android-key::software-keymint",
                               "webauthn::android-key::origin-only-in-software-list"},
    "thirdparty-fido2": set()}
"""Valid vectors a library refuses: py_webauthn 3.0.1 has no ES384, takes the last x5c certificate as the
root (an RKP chain without its root fails), and reads origin and purpose from teeEnforced only (WebAuthn
§8.4 reads the union of both lists unless the relying party wants TEE keys only)."""
DECLINED = {"thirdparty-py-webauthn": False, "thirdparty-fido2": True}
"""Whether the adapter declines the android-key registrations (python-fido2 has no android-key verifier)."""


def _require(name: str) -> None:
    library = ADAPTERS[name][0]
    if importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed (pip install -e '.[thirdparty]')")


def _adapter_module(name: str) -> ModuleType:
    path = EXAMPLES / ADAPTERS[name][1]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "vectors")


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_library_on_the_webauthn_vectors(corpus, name):
    _require(name)
    run = run_conformance([load_adapter(EXAMPLES / f"{name}.toml")], corpus, RunOptions(formats=("webauthn",)))
    (verifier,) = run.verifiers
    outcome = {r.id: r.outcome for r in verifier.results}
    assert len(outcome) == len([v for v in corpus.vectors if v.id.startswith("webauthn::")])
    accepted_invalid = {i for i, o in outcome.items() if o is Outcome.UNEXPECTED_ACCEPT}
    refused_valid = {i for i, o in outcome.items() if o is Outcome.UNEXPECTED_REJECT}
    assert accepted_invalid == MISSED[name]
    assert refused_valid == REFUSED_VALID[name], "every valid vector but the known gaps is accepted"
    skipped = {i for i, o in outcome.items() if o is Outcome.SKIPPED}
    android = {i for i in outcome if i.startswith(("webauthn::android-key::", "webauthn::golden::android-key"))}
    assert skipped == (android if DECLINED[name] else set())
    assert set(outcome.values()) <= {Outcome.PASS, Outcome.UNEXPECTED_ACCEPT, Outcome.UNEXPECTED_REJECT,
                                     Outcome.SKIPPED}


def test_readme_lists_what_each_library_misses():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## WebAuthn and TPM 2.0 key attestation"):readme.index("## Android key attestation")]
    section = " ".join(section.split())
    for name, missed in MISSED.items():
        entry = section[section.index(f"`{name}`"):]
        entry = entry[:entry.index("accepts") + 40]
        assert f"accepts {len(missed)} invalid vectors" in entry
        assert all(f"`{vector.split('::', 1)[1]}`" in section for vector in missed | REFUSED_VALID[name])


@pytest.mark.swtpm
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_library_accepts_genuine_swtpm_evidence(tmp_path, name):
    _require(name)
    reason = swtpm_available()
    if reason is not None:
        pytest.skip(f"swtpm backend unavailable: {reason}")
    from hsmsim.keystore.swtpm import SwtpmKeyStore

    at = datetime.now(UTC).replace(microsecond=0)
    with SwtpmKeyStore(tmp_path / "swtpm") as store:
        store.generate(KeySpec.parse("ec-p256"), "passkey")
        evidence = Hsm(Device.from_seed("webauthn", "thirdparty"), store).attest(
            "passkey", "webauthn", {"attest_time": at})
    from cryptography import x509

    root = x509.load_pem_x509_certificate(evidence.files["tpm_root_ca.pem"])
    request = VerifyRequest(id="genuine", format="webauthn", profile="structural", evidence=evidence,
                            trust=TrustAnchors({"root": (root,)}), at=at,
                            anchors_pem=(root.public_bytes(Encoding.PEM).decode(),))
    answer = _adapter_module(name).verify(request)
    assert answer["verdict"] == "ACCEPT", answer
