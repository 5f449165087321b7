"""The suite's proof that it catches what it claims: each deliberately flawed verifier is flagged for its flaw.

``examples/verifiers/naive-careful.toml`` is a hand-written Primus verifier doing every documented step; each
``flawed-*.toml`` breaks exactly one step. The report must flag each flaw as *unexpected ACCEPT* on the vectors
of that flaw (and the careful baseline must pass those same vectors), in the report's JSON and HTML alike.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hsmsim.harness.config import load_adapter
from hsmsim.harness.model import Outcome
from hsmsim.harness.report import anomalies, write_report
from hsmsim.harness.runner import RunOptions, Session, run_conformance
from hsmsim.harness.vectors import load_corpus

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "verifiers"
ATTRS = {"primus::attr::extractable-true", "primus::attr::never-extractable-false", "primus::attr::creation-imported",
         "primus::attr::extractable-missing", "primus::attr::creation-missing"}
CHAIN_SIGNATURE = {"primus::chain::unknown-root", "primus::chain::device-forged-signature"}
CROSS_VENDOR = "primus::chain::other-vendor-root-also-trusted"
CHAIN_ALL = CHAIN_SIGNATURE | {"primus::chain::other-vendor-root", "primus::chain::leaf-expired",
                               "primus::chain::device-missing", "primus::chain::device-not-yet-valid", CROSS_VENDOR}
BINDING = {"primus::binding::csr-other-key", "primus::binding::csr-signature-broken", "primus::binding::csr-missing"}
LOOSE = {"primus::signature::loose-pubkey-swapped"}

# flawed adapter -> (vectors it must be flagged on as unexpected ACCEPT, vectors it must still get right)
FLAWS = {
    "flawed-signature-only": (ATTRS | CHAIN_ALL | BINDING, {"primus::signature::sig-bit-flip", *LOOSE}),
    "flawed-no-chain": (CHAIN_ALL, ATTRS | BINDING | LOOSE),
    "flawed-chain-by-name": (CHAIN_SIGNATURE, {"primus::chain::other-vendor-root", "primus::chain::leaf-expired",
                                               "primus::chain::device-missing", CROSS_VENDOR, *ATTRS}),
    "flawed-no-csr-binding": (BINDING, ATTRS | CHAIN_ALL | LOOSE),
    "flawed-attributes-ignored": (ATTRS, CHAIN_ALL | BINDING | LOOSE),
    "flawed-loose-pem": (LOOSE, ATTRS | CHAIN_ALL | BINDING),
}


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "vectors")


@pytest.fixture(scope="module")
def flawed_run(corpus, tmp_path_factory):
    configs = [load_adapter(EXAMPLES / "naive-careful.toml")]
    configs += [load_adapter(EXAMPLES / f"{name}.toml") for name in FLAWS]
    run = run_conformance(configs, corpus, RunOptions(formats=("primus",)))
    report = write_report(run, tmp_path_factory.mktemp("flawed-report"))
    return run, report


def test_there_are_at_least_five_flawed_verifiers_and_one_is_persistent():
    assert len(FLAWS) >= 5
    modes = {name: load_adapter(EXAMPLES / f"{name}.toml").mode for name in FLAWS}
    assert "persistent" in modes.values()


def test_the_careful_baseline_passes_every_primus_vector(flawed_run):
    run, _ = flawed_run
    baseline = next(v for v in run.verifiers if v.info.name == "naive-careful")
    assert not baseline.failed
    assert {r.outcome for r in baseline.results} == {Outcome.PASS}


@pytest.mark.parametrize("name", sorted(FLAWS))
def test_each_flaw_is_flagged_as_unexpected_accept(flawed_run, name):
    run, report = flawed_run
    verifier = next(v for v in run.verifiers if v.info.name == name)
    flagged, still_right = FLAWS[name]
    outcome = {r.id: r.outcome for r in verifier.results}
    assert verifier.failed
    assert {i for i in flagged if outcome[i] is not Outcome.UNEXPECTED_ACCEPT} == set(), "flaw not flagged"
    assert {i for i in still_right if outcome[i] is not Outcome.PASS} == set(), "flagged beyond its flaw"
    assert set(outcome.values()) <= {Outcome.PASS, Outcome.UNEXPECTED_ACCEPT}, "no other anomaly category"
    sections = dict(anomalies(verifier))
    accepts = sections["Unexpected ACCEPT"]
    ranks = ["critical", "high", "medium", "low", "info"]
    assert [ranks.index(r.severity) for r in accepts] == sorted(ranks.index(r.severity) for r in accepts), \
        "critical first"
    document = json.loads((report.directory / "results" / f"{name}.json").read_text())
    in_json = {r["id"] for r in document["results"] if r["outcome"] == "UNEXPECTED_ACCEPT"}
    assert flagged <= in_json and document["failed"] is True
    page = report.html.read_text()
    section = page[page.index(f'id="v-{name}"'):]
    section = section[:section.index("<h3>Unexpected REJECT")]
    assert all(f"<code>{vector_id}</code>" in section for vector_id in flagged), "HTML anomalies list the flaw"


def test_signature_only_is_flagged_on_every_attribute_vector(flawed_run, corpus):
    run, _ = flawed_run
    verifier = next(v for v in run.verifiers if v.info.name == "flawed-signature-only")
    attr = [v.id for v in corpus.vectors if v.id.startswith("primus::attr::")
            and v.expectation("structural")[0].value == "invalid"]
    outcome = {r.id: r.outcome for r in verifier.results}
    assert attr and all(outcome[i] is Outcome.UNEXPECTED_ACCEPT for i in attr)


SUBSET = ("primus::golden::rsa-2048", "primus::golden::aes-256", "primus::signature::loose-pubkey-swapped",
          "primus::signature::sig-bit-flip", "primus::chain::unknown-root", "primus::binding::csr-missing",
          "primus::attr::creation-imported")


def test_openssl_walk_oneshot_misses_what_the_readme_says(corpus, openssl):
    run = run_conformance([load_adapter(EXAMPLES / "openssl-walk-primus.toml")], corpus,
                          RunOptions(patterns=SUBSET, jobs=2))
    (walk,) = run.verifiers
    assert walk.info.version.startswith("OpenSSL")
    outcome = {r.id: r.outcome for r in walk.results}
    assert outcome == {
        "primus::golden::rsa-2048": Outcome.PASS,
        "primus::golden::aes-256": Outcome.UNEXPECTED_REJECT,  # the walk needs a CSR public key
        "primus::signature::loose-pubkey-swapped": Outcome.UNEXPECTED_ACCEPT,  # it trusts the loose PEM
        "primus::signature::sig-bit-flip": Outcome.PASS,
        "primus::chain::unknown-root": Outcome.PASS,
        "primus::binding::csr-missing": Outcome.PASS,
        "primus::attr::creation-imported": Outcome.UNEXPECTED_ACCEPT,  # it checks no attributes
    }
    reasons = {r.id: r.reason for r in walk.results}
    assert reasons["primus::chain::unknown-root"] == "chain", "free-text step, not a reason code: verdict only"


ARCHIVE_DEFECTS = ("primus::encoding::zip-slip", "primus::encoding::zip-bomb", "primus::encoding::huge-element")


def test_plain_unzip_vendor_walk_misses_archive_defects_the_careful_one_refuses(corpus, openssl):
    run = run_conformance([load_adapter(EXAMPLES / "openssl-walk-primus.toml"),
                           load_adapter(EXAMPLES / "openssl-walk-primus-careful.toml")], corpus,
                          RunOptions(patterns=("primus::golden::rsa-3072", *ARCHIVE_DEFECTS), jobs=2))
    vendor, careful = ({r.id: r.outcome for r in v.results} for v in run.verifiers)
    golden = {"primus::golden::rsa-3072": Outcome.PASS}
    assert vendor == {**golden, **dict.fromkeys(ARCHIVE_DEFECTS, Outcome.UNEXPECTED_ACCEPT)}
    assert careful == {**golden, **dict.fromkeys(ARCHIVE_DEFECTS, Outcome.PASS)}


def test_tiny_node_persistent_verifier(corpus):
    if shutil.which("node") is None:
        pytest.skip("node is not installed; the tiny persistent example is written in JavaScript")
    run = run_conformance([load_adapter(EXAMPLES / "tiny-persistent.toml")], corpus,
                          RunOptions(patterns=(*SUBSET, "primus::chain::device-missing")))
    (tiny,) = run.verifiers
    assert (tiny.info.name, tiny.info.version, tiny.info.formats) == ("tiny-persistent", "0.1", ("primus",))
    outcome = {r.id: r.outcome for r in tiny.results}
    assert outcome["primus::signature::loose-pubkey-swapped"] is Outcome.PASS
    assert outcome["primus::chain::unknown-root"] is Outcome.PASS
    assert outcome["primus::attr::creation-imported"] is Outcome.UNEXPECTED_ACCEPT
    assert outcome["primus::binding::csr-missing"] is Outcome.UNEXPECTED_ACCEPT
    assert outcome["primus::chain::device-missing"] is Outcome.WRONG_REASON, "CHAIN_UNTRUSTED, not CHAIN_INCOMPLETE"


def test_tiny_bash_oneshot_compares_reason_codes(corpus):
    run = run_conformance([load_adapter(EXAMPLES / "tiny-oneshot.toml")], corpus,
                          RunOptions(patterns=("primus::golden::rsa-3072", "primus::attr::creation-imported"), jobs=2))
    results = {r.id: r for r in run.verifiers[0].results}
    assert not run.failed
    assert results["primus::attr::creation-imported"].reason == "ATTR_NOT_LOCAL"
    assert results["primus::golden::rsa-3072"].verdict.value == "ACCEPT"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("openssl-walk-*.toml")), ids=lambda p: p.stem)
def test_every_documented_openssl_walk_accepts_its_golden(path, corpus, openssl):
    config = load_adapter(path)
    present = [f for f in config.formats or () if f in corpus.formats()]
    if not present:
        pytest.skip(f"the committed corpus has no {', '.join(config.formats or ())} vectors yet")
    session = Session(corpus, [config])
    try:
        for format_name in present:
            check = session.sanity(config.name, format_name)
            assert check.ok, check.message
    finally:
        session.close()


README_FLAW_ROWS = {"signature only": "flawed-signature-only", "no chain validation": "flawed-no-chain",
                    "chain by name, not signature": "flawed-chain-by-name", "no CSR binding": "flawed-no-csr-binding",
                    "attributes ignored": "flawed-attributes-ignored",
                    "trusts the loose PEM (persistent process)": "flawed-loose-pem"}


def test_readme_flawed_verifier_table_is_current(flawed_run):
    run, _ = flawed_run
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| flawed verifier | unexpected ACCEPTs over the Primus set |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        label, count = (cell.strip() for cell in line.strip("|").split("|"))
        rows[label] = int(count.split()[0])
    measured = {label: sum(r.outcome is Outcome.UNEXPECTED_ACCEPT
                           for r in next(v for v in run.verifiers if v.info.name == name).results)
                for label, name in README_FLAW_ROWS.items()}
    assert rows == measured
