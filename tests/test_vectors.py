"""The committed corpus: schema-valid, verified as declared, reproducible byte for byte, self-consistent."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pydantic import ValidationError

from hsmsim.corpus.build import CorpusError, IdRegistry, build_corpus
from hsmsim.encoding import der_children, der_content, indented_json, read_tlv
from hsmsim.formats import detect, get_format, register, unregister
from hsmsim.formats.ietf import asn1, tcg
from hsmsim.formats.ietf.layout import csr_der
from hsmsim.harness.vectors import CorpusLoadError, load_corpus
from hsmsim.model.corpus_schema import (
    GeneratorRecord,
    TrustRecord,
    VectorDraft,
    VectorFile,
    VectorRecord,
    corpus_json,
    vector_schema,
)
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.model.vectors import Severity
from hsmsim.pki.chain import issued_by
from hsmsim.pki.signing import verify as verify_signature
from hsmsim.verdict import Profile
from tests.cli_process import run_hsmsim

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "vectors"
FILES = sorted(VECTORS.glob("*_verify.json"))
TESTS = [(path.name, test) for path in FILES for test in json.loads(path.read_text())["tests"]]


def _evidence(test: dict) -> tuple[Evidence, TrustAnchors, datetime]:
    files = {f["path"]: base64.b64decode(f["base64"]) for f in test["inputs"]["files"]}
    anchors = tuple(x509.load_pem_x509_certificate(a.encode()) for a in test["trust"]["anchors"])
    at = datetime.fromisoformat(test["trust"]["validationTime"].replace("Z", "+00:00"))
    return Evidence(test["id"].split("::")[0], files, test["inputs"]["primary"]), TrustAnchors({"root": anchors}), at


def test_corpus_exists():
    assert FILES, "vectors/*_verify.json missing: run 'hsmsim vectors generate'"
    assert (VECTORS / "manifest.json").exists() and (VECTORS / "CHANGELOG.md").exists()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_files_validate_against_the_committed_schema(path):
    schema = json.loads((VECTORS / "schema" / "hsmsim_vector_v1.json").read_text())
    assert schema == json.loads(json.dumps(vector_schema()))
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads(path.read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    assert document["numberOfTests"] == len(document["tests"])
    used = {flag for test in document["tests"] for flag in test["flags"]}
    assert used == set(document["notes"]), "every flag used is defined, and every defined flag is used"


@pytest.mark.parametrize(("file", "test"), TESTS, ids=[t["id"] for _, t in TESTS])
def test_reference_verifier_returns_the_declared_verdicts(file, test):
    evidence, trust, at = _evidence(test)
    fmt = get_format(test["id"].split("::")[0])
    for profile, expected in test["profiles"].items():
        verdict = fmt.verify(evidence, trust, at=at, profile=Profile(profile))
        assert verdict.reason.value == expected["reason"], f"{profile}: {verdict.summary()}"
        assert verdict.accepted == (expected["result"] == "valid")
    results = {p["result"] for p in test["profiles"].values()}
    assert test["result"] == (results.pop() if len(results) == 1 else "acceptable")
    if test["result"] == "acceptable":
        assert set(test["flags"]) - {"Resigned", "Stale", "Golden"}, "acceptable vectors carry a flag saying why"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_model_reads_and_writes_every_file_byte_for_byte(path):
    assert corpus_json(VectorFile.model_validate_json(path.read_bytes()).wire()) == path.read_bytes()


@pytest.mark.parametrize("data", [
    {"a": [], "b": {}, "c": [[], {"d": None}], "e": True, "f": -(10**30)},
    ["\x00\x1f\b\f\n\r\t\"\\/ ~", "é ‖ § \u2028 \uffff \U0001f600", {"ключ": "\x7f"}],
    ["\ud800 lone surrogate"],
    {"é": ["‖ § \u2028 \uffff \U0001f600", "ascii"]},  # no DEL: pydantic-core escapes it
], ids=["structure", "escapes", "lone-surrogate", "non-ascii"])
def test_corpus_json_writes_what_json_does(data):
    assert corpus_json(data) == (json.dumps(data, indent=1, ensure_ascii=True) + "\n").encode()
    assert indented_json(data, 2) == (json.dumps(data, indent=2) + "\n").encode()


@pytest.mark.parametrize("name", ["hsmsim ‖ §", "DEL \x7f", "\udc80"])
def test_corpus_json_writes_a_model_as_its_wire_data(name):
    model = GeneratorRecord(name=name, version="1.0")
    assert corpus_json(model) == (json.dumps(model.wire(), indent=1, ensure_ascii=True) + "\n").encode()


@pytest.mark.parametrize("name", ["../escaped", "a/../../escaped", "/tmp/escaped", "a//b", "./a"])
def test_build_refuses_a_native_file_name_that_is_not_plain(tmp_path, monkeypatch, name):
    from tests.toyformat import FORMAT

    golden = FORMAT.vector_cases("s")[0]
    hostile = dataclasses.replace(golden, evidence=dataclasses.replace(golden.evidence,
                                                                       files={name: b"x", **golden.evidence.files}))
    monkeypatch.setattr(type(FORMAT), "vector_cases", lambda self, seed: [hostile])
    register(FORMAT)
    try:
        with pytest.raises(CorpusError, match=r"not writing|does not fit the vector schema"):
            build_corpus(tmp_path / "corpus" / "out", formats=[FORMAT.name])
    finally:
        unregister(FORMAT.name)
    assert [p.name for p in tmp_path.rglob("escaped")] == []
    with pytest.raises(ValueError, match="not a plain relative file name"):
        hostile.evidence.write(tmp_path / "bundle")


@pytest.mark.parametrize("target", ["elsewhere", "missing"])
def test_the_writer_never_writes_through_a_symlink(tmp_path, target):
    from hsmsim.corpus.build import _OutputTree

    root, outside = tmp_path / "out", tmp_path / target
    root.mkdir()
    if target == "elsewhere":
        outside.write_bytes(b"kept")
    (root / "a.json").symlink_to(outside)
    with pytest.raises(CorpusError, match=r"cannot write 'a\.json' into the corpus: File exists"):
        _OutputTree(str(root)).write("a.json", b"written")
    assert (outside.read_bytes() == b"kept") if target == "elsewhere" else not outside.exists()


def test_a_draft_round_trips_to_the_same_case():
    case = next(c for c in get_format("primus").vector_cases("hsmsim-corpus-v1") if c.id.startswith("primus::attr::"))
    draft = VectorDraft.model_validate_json(corpus_json(VectorDraft.from_case(case).wire()))
    again = draft.to_case("unused")
    assert again.evidence.files == case.evidence.files and again.anchors == case.anchors
    record = VectorRecord.from_case(case, tc_id=1, severity=Severity.HIGH)
    assert VectorRecord.from_case(again, tc_id=1, severity=Severity.HIGH) == record


DETECTED = [(file, test) for file, test in TESTS
            if test["id"].split("::")[0] in ("luna-pkc", "marvell-azure", "marvell-google")]


@pytest.mark.parametrize(("file", "test"), DETECTED, ids=[t["id"] for _, t in DETECTED])
def test_detect_tells_the_format_of_every_vector(file, test):
    """What ``hsmsim verify`` without ``--format`` does: the envelope and file names decide, whatever
    defect is inside."""
    directory = VECTORS / test["inputs"]["dir"]
    wanted = test["id"].split("::")[0]
    assert detect(directory / test["inputs"]["primary"]).name == wanted
    assert detect(directory).name == wanted


def test_native_files_and_manifest_hashes():
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    on_disk = {p.relative_to(VECTORS).as_posix() for p in VECTORS.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == set(manifest["files"])
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((VECTORS / rel).read_bytes()).hexdigest() == digest, rel
    for _, test in TESTS:
        directory = VECTORS / test["inputs"]["dir"]
        assert sorted(p.name for p in directory.iterdir()) == sorted(f["path"] for f in test["inputs"]["files"])
        for entry in test["inputs"]["files"]:
            assert hashlib.sha256((directory / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert manifest["numberOfTests"] == len(TESTS)
    assert sum(manifest["counts"]["result"].values()) == len(TESTS)


def test_ids_are_unique_stable_and_registered():
    ids = [t["id"] for _, t in TESTS]
    assert len(ids) == len(set(ids))
    registry = json.loads((VECTORS / "ids.json").read_text())["ids"]
    assert [registry[i]["tcId"] for i in ids] == [t["tcId"] for _, t in TESTS]
    assert len({t["tcId"] for _, t in TESTS}) == len(TESTS)
    changelog = (VECTORS / "CHANGELOG.md").read_text()
    assert all(f"`{i}`" in changelog for i in ids)


def test_primus_set_covers_the_required_defects():
    primus = [t for name, t in TESTS if name == "primus_verify.json"]
    defects = {f for t in primus if t["result"] != "valid" for f in t["flags"]} - {"Resigned", "Stale", "Golden",
                                                                                   "StrictKeyPolicy"}
    assert len(defects) >= 30
    categories = Counter(t["id"].split("::")[1] for t in primus)
    assert {"golden", "signature", "chain", "binding", "attr", "encoding", "variant"} <= set(categories)
    goldens = {t["id"].split("::")[2] for t in primus if t["id"].startswith("primus::golden::")}
    assert goldens == {"rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "ed25519", "aes-256"}
    signing = Counter(t["provenance"]["signing"] for t in primus)
    assert signing["Resigned"] > 10 and signing["Stale"] > 10


def test_id_registry_never_reuses_retired_ids():
    registry = IdRegistry()
    assert registry.assign(["a::x", "a::y"], "1.0.0") == {"a::x": 1, "a::y": 2}
    assert registry.assign(["a::y", "a::z"], "1.1.0") == {"a::y": 2, "a::z": 3}
    assert registry.entries["a::x"]["retired"] == "1.1.0"
    with pytest.raises(CorpusError, match="retired"):
        registry.assign(["a::x"], "1.2.0")
    assert "Retired (1):" in registry.changelog()


def _hostile_corpus_file(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would wait for a writer
    elif kind == "huge":
        with path.open("wb") as fh:
            fh.truncate(80 * 1024 * 1024)  # sparse: past every limit, costs nothing on disk
    elif kind == "ids-not-object":
        path.write_text('{"ids": 5}')
    elif kind == "tcid-string":
        path.write_text('{"ids": {"primus::golden::rsa-3072": {"tcId": "1", "added": "1.0.0", "retired": null}}}')
    else:
        path.write_text('[{"id": 5}]')


@pytest.mark.parametrize(("name", "kind", "message"), [
    ("ids.json", "fifo", "is not a regular file"),
    ("ids.json", "huge", "is larger than 16777216 bytes"),
    ("ids.json", "ids-not-object", "'ids' is not an object"),
    ("ids.json", "tcid-string", "is not {tcId: integer"),
    ("promoted/primus.json", "fifo", "is not a regular file"),
    ("promoted/primus.json", "huge", "is larger than 16777216 bytes"),
    ("promoted/primus.json", "invalid", "corrupt promoted vectors"),
])
def test_a_hostile_registry_or_promoted_file_is_one_line_and_exit_2(tmp_path, name, kind, message):
    corpus = tmp_path / "vectors"
    corpus.mkdir()
    (corpus / "manifest.json").write_text('{"masterSeed": "hsmsim-corpus-v1", "generator": {"name": "hsmsim"}}')
    _hostile_corpus_file(corpus / name, kind)
    result = run_hsmsim(["vectors", "check", "--vectors", str(corpus)], timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.long  # the whole corpus regenerated (19 s under load), collected near the end: started first instead
def test_regeneration_is_byte_identical():
    result = run_hsmsim(["vectors", "check", "--vectors", str(VECTORS)], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: ")


def test_extract(tmp_path):
    result = run_hsmsim(["vectors", "extract", "primus::golden::rsa-3072",
                         str(tmp_path / "g"), "--unzip", "--vectors", str(VECTORS)])
    assert result.returncode == 0, result.stderr
    names = {p.name for p in (tmp_path / "g").iterdir()}
    assert {"PrimusHSM_Attestation.crt", "hsm_rsa_root.crt", "trust-anchor-1.pem"} <= names
    assert any(n.endswith(".xml") for n in names) and any(n.endswith(".csr") for n in names)
    bomb = run_hsmsim(["vectors", "extract", "primus::encoding::zip-bomb",
                       str(tmp_path / "b"), "--unzip", "--vectors", str(VECTORS)])
    assert bomb.returncode == 2 and "LIMIT_EXCEEDED" in bomb.stderr
    assert not (tmp_path / "b" / "padding.bin").exists()


def test_generate_refuses_to_overwrite_a_foreign_directory(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = run_hsmsim(["vectors", "generate", "--out", str(tmp_path)])
    assert result.returncode == 2 and "refusing to overwrite" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_the_readmes_corpus_figures_are_the_corpus():
    """The README's corpus bullets (the suite version, the vectors per format, the files, mebibytes and vectors of
    hsmsim's own corpus) say what ``vectors/`` holds: the counts went stale twice as vectors were added."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    corpus = load_corpus(VECTORS)
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    summary = re.search(r"\* (\d+) vectors in suite ([0-9.]+) .*?: ((?:`[a-z0-9-]+` \d+,? )+)", readme)
    assert summary is not None, "the README's bullet '* N vectors in suite V ...' is gone"
    per_format = Counter(vector.format for vector in corpus.vectors)
    assert (int(summary[1]), summary[2]) == (len(corpus.vectors), manifest["suiteVersion"])
    assert {name: int(count) for name, count in re.findall(r"`([a-z0-9-]+)` (\d+)", summary[3])} == per_format
    own = re.search(r"hsmsim's own: (\d+) files, (\d+) MiB, ([0-9,]+) vectors", readme)
    assert own is not None, "the README's figures of hsmsim's own corpus are gone"
    files = sorted(VECTORS.glob("*_verify.json"))
    mebibytes = round(sum(path.stat().st_size for path in files) / 2**20)
    assert (int(own[1]), int(own[2]), int(own[3].replace(",", ""))) == (len(files), mebibytes, len(corpus.vectors))


@pytest.mark.long
def test_openssl_walk_table_in_readme_is_current(openssl):
    sys.path.insert(0, str(ROOT / "scripts"))
    from openssl_walk_report import report

    table = report(VECTORS)
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- openssl-walk-table -->\n") + len("<!-- openssl-walk-table -->\n")
    end = readme.index("<!-- /openssl-walk-table -->")
    assert readme[start:end].strip() == table.strip(), "README table is stale: rerun scripts/openssl_walk_report.py"
    assert "| ACCEPT | ACCEPT | ACCEPT |" in table
    # The only false rejects are the spec's caveat: a second line mentioning public_key breaks the recipe's grep.
    caveat = {t["id"] for name, t in TESTS if name == "primus_verify.json" and GREP_CAVEAT & set(t["flags"])}
    assert len(caveat) == 2
    assert {row.split("`")[1] for row in table.splitlines() if "false reject" in row} == caveat


def _primus_walk(test: dict, walk: str) -> str:
    sys.path.insert(0, str(ROOT / "scripts"))
    from openssl_walk_report import walk_verdict

    return walk_verdict(VectorRecord.model_validate(test), VECTORS, ROOT / "scripts" / walk)


GREP_CAVEAT = {"LabelMentionsPublicKey", "SkaPolicy"}
"""Valid Primus evidence with a second line mentioning public_key: shared/specs/primus.md 1.3 says the documented
``grep public_key | sed`` step fails on it."""
PRIMUS_VALID_WITH_CSR = [test for name, test in TESTS if name == "primus_verify.json"
                         and test["profiles"]["structural"]["result"] == "valid"
                         and any(f["path"].endswith(".csr") for f in test["inputs"]["files"])]


@pytest.mark.parametrize("test", [t for t in PRIMUS_VALID_WITH_CSR if not GREP_CAVEAT & set(t["flags"])],
                         ids=lambda t: t["id"])
def test_every_valid_primus_vector_passes_the_verbatim_vendor_walk(test, openssl):
    assert _primus_walk(test, "verify_primus_openssl.sh") == "ACCEPT"


@pytest.mark.parametrize("test", [t for t in PRIMUS_VALID_WITH_CSR if GREP_CAVEAT & set(t["flags"])],
                         ids=lambda t: t["id"])
def test_the_vendor_grep_fails_on_a_second_public_key_line(test, openssl):
    """The spec's caveat: ``grep public_key`` reads two lines, so the key comparison fails on genuine evidence."""
    assert _primus_walk(test, "verify_primus_openssl.sh") == "REJECT binding"


def test_primus_vendor_walk_never_writes_outside_its_temp_dir(tmp_path, openssl):
    """Plain unzip strips the zip-slip vector's "../": the walk accepts it, writing nowhere else."""
    (test,) = [t for name, t in TESTS if t["id"] == "primus::encoding::zip-slip"]
    inner = tmp_path / "cwd"
    inner.mkdir()
    directory = VECTORS / test["inputs"]["dir"]
    csr = next(directory / f["path"] for f in test["inputs"]["files"] if f["path"].endswith(".csr"))
    anchor = tmp_path / "anchor.pem"
    anchor.write_text(test["trust"]["anchors"][0])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    at = datetime.fromisoformat(test["trust"]["validationTime"].replace("Z", "+00:00"))
    result = subprocess.run(["bash", str(ROOT / "scripts" / "verify_primus_openssl.sh"),
                             str(directory / test["inputs"]["primary"]), str(csr), str(anchor),
                             str(int(at.timestamp()))], capture_output=True, text=True, timeout=120, cwd=inner,
                            env={**os.environ, "TMPDIR": str(inner)}, stdin=subprocess.DEVNULL)
    assert 'skipped "../" path component' in result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "ACCEPT"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not list(directory.parent.glob("*.xml")) and not list(VECTORS.rglob("*.xml"))
    assert _primus_walk(test, "verify_primus_openssl_careful.sh") == "REJECT unzip"


def test_a_vector_shows_its_own_formats_note_of_a_shared_flag():
    from hsmsim.corpus.listing import describe
    from hsmsim.harness.vectors import load_corpus

    corpus = load_corpus(VECTORS)
    shown = {vector_id: "\n".join(describe(corpus.get(vector_id), corpus))
             for vector_id in ("primus::attr::extractable-true", "yubico-piv::chain::f9-expired")}
    primus_note = json.loads((VECTORS / "primus_verify.json").read_text())["notes"]["Resigned"]["description"]
    yubico_note = json.loads((VECTORS / "yubico-piv_verify.json").read_text())["notes"]["Resigned"]["description"]
    assert primus_note != yubico_note
    primus_shown = shown["primus::attr::extractable-true"]
    assert primus_note in primus_shown and "f9" not in primus_shown
    assert yubico_note in shown["yubico-piv::chain::f9-expired"]


ROOT_CA_FILES = [(file, test) for file, test in TESTS
                 if any(f["path"].endswith("_root_ca.pem") for f in test["inputs"]["files"])]


@pytest.mark.parametrize(("file", "test"), ROOT_CA_FILES, ids=[t["id"] for _, t in ROOT_CA_FILES])
def test_the_native_root_ca_file_is_the_relying_partys_anchor(file, test):
    # <fmt>_root_ca.pem is hsmsim's copy of the root the relying party trusts, never attacker evidence: a
    # foreign-root defect carries its root copy inside the evidence and leaves this file genuine.
    files = {f["path"]: base64.b64decode(f["base64"]) for f in test["inputs"]["files"]}
    anchors = [x509.load_pem_x509_certificate(a.encode()) for a in test["trust"]["anchors"]]
    for name, data in files.items():
        if name.endswith("_root_ca.pem"):
            assert x509.load_pem_x509_certificates(data) == anchors, name


def _blobs(data: bytes) -> list[bytes]:
    """``data`` and what it encodes: PEM bodies, and the base64 or base64url strings of a JSON document."""
    blobs = [data]
    for body in re.findall(rb"-----BEGIN [A-Z ]+-----([A-Za-z0-9+/=\s]+)-----END", data):
        blobs.append(base64.b64decode(b"".join(body.split())))
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return blobs
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and len(value) >= 64:
            padded = value.replace("+", "-").replace("/", "_") + "=" * (-len(value) % 4)
            with contextlib.suppress(ValueError):
                blobs.append(base64.urlsafe_b64decode(padded))
    return blobs


def _certificates(test: dict) -> dict[bytes, x509.Certificate]:
    """Every DER certificate anywhere in the vector's files or trust anchors, nested ones included, by DER."""
    found: dict[bytes, x509.Certificate] = {}
    datas = [base64.b64decode(f["base64"]) for f in test["inputs"]["files"]]
    datas += [a.encode() for a in test["trust"]["anchors"]]
    for blob in (b for data in datas for b in _blobs(data)):
        for start in (m.start() for m in re.finditer(rb"\x30\x82", blob)):
            der = blob[start:start + 4 + int.from_bytes(blob[start + 2:start + 4], "big")]
            try:
                found[der] = x509.load_der_x509_certificate(der)
            except ValueError:
                continue
    return found


FOREIGN_SIGNED = ("webauthn::apple::chain-foreign-root", "webauthn::apple::chain-app-attest-pki",
                  "webauthn::packed::chain-foreign-root", "webauthn::fido-u2f::chain-foreign-root",
                  "android-key::chain::wrong-root", "csr-attestation::tcg::root-impostor")


@pytest.mark.parametrize("vector_id", FOREIGN_SIGNED)
def test_a_leaf_no_genuine_key_signs_is_stale(vector_id):
    """Stale: the final bytes are not signed by the genuine attestation key. Every certificate these vectors add to
    their golden's (the leaf, and the foreign CAs above it) is signed by none of the golden's certificate keys."""
    tests = {t["id"]: t for _, t in TESTS}
    test = tests[vector_id]
    golden = _certificates(tests[test["provenance"]["golden"]])
    added = [c for der, c in _certificates(test).items() if der not in golden]
    assert added, "the vector carries certificates its golden does not"
    for cert in added:
        assert not any(issued_by(cert, issuer) for issuer in golden.values()), cert.subject.rfc4514_string()
    assert "Stale" in test["flags"] and test["provenance"]["signing"] == "Stale"


def _statement_signature(test: dict) -> tuple[bytes, bytes, hashes.HashAlgorithm | bytes]:
    """(signed bytes, signature, algorithm) of the first attestation statement of a CSR vector: a TPM signature's
    hash, or a PKIX Evidence signature block's AlgorithmIdentifier DER."""
    files = {f["path"]: base64.b64decode(f["base64"]) for f in test["inputs"]["files"]}
    data = files[test["inputs"]["primary"]]
    request = asn1.decode_request(csr_der(data))
    statement = asn1.decode_bundle(request.attributes[0][1][0]).statements[0]
    if statement.type == asn1.TCG_ATTEST_CERTIFY:
        attest, signature, _public = tcg.parse(statement.stmt)
        raw, algorithm = tcg.read_signature(signature)
        return attest, raw, algorithm
    _tag, start, end = read_tlv(statement.stmt)
    tbs, signatures = der_children(statement.stmt[start:end])[:2]
    block = der_children(der_content(der_children(der_content(signatures))[0]))
    return tbs, der_content(block[2]), block[1]


def _signed_under(key: object, signed: bytes, signature: bytes, algorithm: hashes.HashAlgorithm | bytes) -> bool:
    if isinstance(algorithm, bytes):
        return verify_signature(key, algorithm, signature, signed) is True
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), algorithm)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


@pytest.mark.parametrize("vector_id", ["csr-attestation::tcg::signature-foreign-key",
                                       "csr-attestation::pkix-evidence::key-not-in-chain"])
def test_a_statement_signed_by_a_foreign_key_is_stale(vector_id):
    """The outer CSR is re-signed by its subject key, but the attestation statement is signed by no key of the
    golden's certificates (the golden's statement is, by one of them): Stale."""
    tests = {t["id"]: t for _, t in TESTS}
    test = tests[vector_id]
    golden = tests[test["provenance"]["golden"]]
    keys = [cert.public_key() for cert in _certificates(golden).values()]
    assert any(_signed_under(key, *_statement_signature(golden)) for key in keys)
    assert not any(_signed_under(key, *_statement_signature(test)) for key in keys)
    assert "Stale" in test["flags"] and test["provenance"]["signing"] == "Stale"


def _tampered_corpus(tmp_path: Path, edit) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    document = json.loads((VECTORS / "yubihsm2_verify.json").read_text())
    edit(document)
    (root / "yubihsm2_verify.json").write_text(json.dumps(document))
    return root


def _first_files(document: dict) -> list[dict]:
    return document["tests"][0]["inputs"]["files"]


def _add_file(document: dict, path: str) -> None:
    data = b"x"
    _first_files(document).append({"path": path, "sha256": hashlib.sha256(data).hexdigest(),
                                   "base64": base64.b64encode(data).decode()})


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: _first_files(d)[0].update(sha256="0" * 64), "does not match its sha256"),
    (lambda d: d["tests"][0]["trust"].update(anchors=["-----BEGIN CERTIFICATE-----\ngarbage\n"]),
     "trust anchor 1 is not a PEM certificate"),
    (lambda d: _add_file(d, "n" * 300), "is longer than a file system allows"),
    (lambda d: _add_file(d, "/".join(["d"] * 600)), "is longer than a file system allows"),
    (lambda d: (_add_file(d, "x.csr"), _add_file(d, "x.csr/inner")), "both as a file and as the directory"),
    (lambda d: (_add_file(d, "twice.bin"), _add_file(d, "twice.bin")), "names file 'twice.bin' twice"),
    (lambda d: d.update(suiteVersion="1.1." + "9" * 5000), "is not dotted numbers of at most 9 digits"),
])
def test_a_corpus_that_cannot_be_run_is_refused_when_loaded(tmp_path, edit, message):
    root = _tampered_corpus(tmp_path, edit)
    with pytest.raises(CorpusLoadError, match=re.escape(message)):
        load_corpus(root)


def test_an_id_registry_whose_versions_are_not_versions_is_refused(tmp_path):
    registry = tmp_path / "ids.json"
    registry.write_text(json.dumps({"ids": {"a::b": {"tcId": 1, "added": "one", "retired": None}}}))
    with pytest.raises(CorpusError, match="corrupt id registry"):
        IdRegistry.load(registry)


@pytest.mark.parametrize("written", ["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z",
                                     "2026-01-01T00:00:60Z", "2026-01-01T00:00:00+00:00", "2026-01-01 00:00:00Z",
                                     "2026-01-01T00:00:00.5Z"])
def test_a_validation_time_not_written_as_the_corpus_writes_it_is_refused(written):
    with pytest.raises(ValidationError):
        TrustRecord.model_validate({"anchors": (), "validationTime": written})


def test_a_validation_time_reads_back_as_the_utc_second_written():
    record = TrustRecord.model_validate({"anchors": (), "validationTime": "2026-02-28T23:59:59Z"})
    assert record.validation_time == datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
    assert record.validation_time.tzinfo is UTC
    assert record.wire()["validationTime"] == "2026-02-28T23:59:59Z"
