"""End to end as a user runs it: the CLI, and the vendor's openssl walk over its bundles."""

from __future__ import annotations

import _hashlib
import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import click
import pytest

from hsmsim import __version__
from hsmsim.errors import HsmsimError
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.state import HsmState
from tests.cli_process import run_hsmsim
from tests.hostile_files import DEEP_JSON, make_hostile

ROOT = Path(__file__).resolve().parents[1]
WALK = ROOT / "scripts" / "verify_primus_openssl.sh"


def hsmsim(*args: str, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``hsmsim *args [--state state]``, run as :func:`tests.cli_process.run_hsmsim` runs it."""
    extra = ["--state", str(state)] if state is not None else []
    return run_hsmsim([*args, *extra])


def _wait_until_listening(process: subprocess.Popen[str], host: str, port: int) -> None:
    """Return once ``host:port`` accepts a connection; fail when 20 s pass or ``process`` ends first."""
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection((host, port), timeout=5).close()
            return
        except ConnectionRefusedError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)


def walk(bundle: Path, csr: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(WALK), str(bundle), str(csr), str(root)], capture_output=True, text=True,
                          timeout=60)


def _softhsm_available() -> bool:
    if shutil.which("softhsm2-util") is None:
        return False
    try:
        from hsmsim.keystore.pkcs11 import Pkcs11KeyStore

        Pkcs11KeyStore().close()
    except Exception:  # noqa: BLE001 - any failure means the backend cannot run here
        return False
    return True


BACKENDS = ["soft", pytest.param("pkcs11", marks=pytest.mark.skipif(
    not _softhsm_available(), reason="SoftHSM2 is not installed (make setup installs it)"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_attest_verify_and_openssl_walk(tmp_path, backend, openssl):
    state = tmp_path / "hsm"
    created = hsmsim("key", "create", "--label", "qsig", "--spec", "rsa-3072", "--backend", backend, state=state)
    assert created.returncode == 0, created.stderr
    assert "local=true extractable=false never_extractable=true" in created.stdout
    out = tmp_path / "bundle" / "qsig_attestation.zip"
    attested = hsmsim("attest", "--format", "primus", "--key", "qsig", "--out", str(out), state=state)
    assert attested.returncode == 0, attested.stderr
    root = out.parent / "hsm_rsa_root.crt"
    verified = hsmsim("verify", str(out), "--root", str(root), "--profile", "strict")
    assert (verified.returncode, verified.stdout.strip()) == (0, "ACCEPT"), verified.stderr
    result = walk(out, out.parent / "qsig.csr", root)
    assert result.stdout.splitlines()[-1] == "ACCEPT", result.stdout + result.stderr
    assert "PrimusHSM_Attestation.crt: OK" in result.stdout and result.stdout.count("Verified OK") == 2


def test_imported_key_is_rejected_by_reference_but_not_by_the_walk(tmp_path, openssl):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "imp", "--spec", "ec-p256", "--imported", state=state).returncode == 0
    out = tmp_path / "b" / "imp_attestation.zip"
    assert hsmsim("attest", "--key", "imp", "--out", str(out), state=state).returncode == 0
    verified = hsmsim("verify", str(out), "--root", str(out.parent / "hsm_rsa_root.crt"))
    assert verified.returncode == 1
    assert verified.stdout.startswith("REJECT ATTR_NOT_LOCAL:")
    assert walk(out, out.parent / "imp.csr", out.parent / "hsm_rsa_root.crt").stdout.splitlines()[-1] == "ACCEPT"


def test_walk_rejects_a_tampered_signature(tmp_path, openssl):
    state = tmp_path / "hsm"
    hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state)
    out = tmp_path / "b" / "k_attestation.zip"
    hsmsim("attest", "--key", "k", "--out", str(out), state=state)
    with zipfile.ZipFile(out) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    members["k.sig"] = bytes([members["k.sig"][0] ^ 1]) + members["k.sig"][1:]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    out.write_bytes(buffer.getvalue())
    result = walk(out, out.parent / "k.csr", out.parent / "hsm_rsa_root.crt")
    assert result.stdout.splitlines()[-1] == "REJECT signature"
    verified = hsmsim("verify", str(out), "--root", str(out.parent / "hsm_rsa_root.crt"))
    assert verified.returncode == 1 and verified.stdout.startswith("REJECT SIGNATURE_INVALID")


@pytest.mark.parametrize(("args", "message"), [
    (["verify", "/nonexistent.zip", "--root", "/nonexistent.crt"], "does not exist"),
    (["key", "create", "--label", "x", "--spec", "rsa-1024"], "unsupported key spec"),
    (["attest", "--key", "missing", "--out", "x.zip"], "no hsmsim state in"),
    (["key", "list"], "no hsmsim state in"),
    (["pki", "export", "pki"], "no hsmsim state in"),
    (["key", "create", "--label", ""], "--label must not be empty"),
    (["key", "create", "--label", "x", "--format", "nope"], "unknown format 'nope'"),
    (["verify", str(ROOT / "README.md"), "--root", "r", "--format", "nope"], "unknown format 'nope'"),
    (["verify", str(ROOT / "README.md"), "--root", "r"], "cannot tell the format"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, args, message):
    result = hsmsim(*args, state=tmp_path / "s") if args[0] != "verify" else hsmsim(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_verify_help_names_every_kind_of_root_file_the_formats_read():
    """``--root`` takes more than certificates (docs/formats/android.md: roots.json; ms-kast.md: the CA's PKCS#8
    exchange key, an AIK certificate): its help says so, where it said "Trusted root certificate" only."""
    shown = " ".join(hsmsim("verify", "--help").stdout.split())
    assert "roots.json" in shown and "PKCS#8" in shown and "AIK certificate" in shown


def test_top_level_help_lists_the_lazy_commands_as_click_would_without_importing_them(monkeypatch):
    """``hsmsim --help`` describes conformance, fuzz and serve by their recorded summaries: the listing is what
    click prints from the imported commands themselves, and printing it imports none of them."""
    probe = ("import sys\n"
             "from hsmsim._cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "lazy = ('hsmsim.harness.cli', 'hsmsim.fuzz.cli', 'hsmsim.server.cli')\n"
             "print('imported:', [m for m in lazy if m in sys.modules])\n")
    monkeypatch.setenv("COLUMNS", "80")  # one width for both listings
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    listing, imported = shown.stdout.rsplit("imported: ", 1)
    assert imported.strip() == "[]"
    from hsmsim._cli import cli
    imported_group = click.Group(commands={name: cli.get_command(click.Context(cli), name)
                                           for name in cli.list_commands(click.Context(cli))})
    formatter = click.HelpFormatter()
    imported_group.format_commands(click.Context(cli), formatter)
    assert formatter.getvalue() in listing and "conformance  Run verifiers" in listing


def test_verify_json_and_pki_export(tmp_path):
    state = tmp_path / "hsm"
    hsmsim("key", "create", "--label", "k", "--spec", "ec-p384", "--created", "2026-01-01T00:00:00Z", state=state)
    out = tmp_path / "b" / "k_attestation.zip"
    hsmsim("attest", "--key", "k", "--out", str(out), "--at", "2026-02-01T00:00:00Z", state=state)
    result = hsmsim("verify", str(out), "--root", str(out.parent / "hsm_rsa_root.crt"), "--json",
                    "--at", "2026-03-01T00:00:00Z")
    assert result.returncode == 0 and '"key_type": "EC-secp384r1"' in result.stdout
    document = json.loads(result.stdout)
    assert (document["format"], document["profile"], document["validationTime"], document["hsmsimVersion"]) == (
        "primus", "structural", "2026-03-01T00:00:00+00:00", __version__)
    exported = hsmsim("pki", "export", str(tmp_path / "pki"), state=state)
    assert exported.returncode == 0
    assert (tmp_path / "pki" / "root.crt").read_bytes() == (out.parent / "hsm_rsa_root.crt").read_bytes()
    assert "<attest_time>2026-02-01T00:00:00Z</attest_time>" in zipfile.ZipFile(out).read("k.xml").decode()


def test_key_create_takes_the_format_and_still_the_deprecated_vendor_alias(tmp_path):
    created = hsmsim("key", "create", "--label", "a", "--spec", "ec-p256", "--format", "fortanix", state=tmp_path / "n")
    assert created.returncode == 0 and "(device fortanix SN" in created.stdout and created.stderr == ""
    again = hsmsim("key", "create", "--label", "b", "--spec", "ec-p256", state=tmp_path / "n")
    assert again.returncode == 0 and "(device fortanix SN" in again.stdout, "the state keeps its format"
    aliased = hsmsim("key", "create", "--label", "a", "--spec", "ec-p256", "--vendor", "fortanix", state=tmp_path / "v")
    assert aliased.returncode == 0 and "(device fortanix SN" in aliased.stdout
    assert aliased.stderr.strip() == "hsmsim: warning: --vendor is deprecated; use --format"
    conflict = hsmsim("key", "create", "--label", "a", "--format", "primus", "--vendor", "fortanix",
                      state=tmp_path / "c")
    assert conflict.returncode == 2 and "contradicts" in conflict.stderr
    shown = hsmsim("key", "create", "--help").stdout
    assert "--format" in shown and "--vendor" not in shown


def test_key_create_notes_a_spec_the_device_format_cannot_attest(tmp_path):
    created = hsmsim("key", "create", "--label", "a", "--format", "apple-appattest", state=tmp_path / "a")
    assert created.returncode == 0, "the key is kept: a generic format can attest it"
    assert created.stderr.strip() == ("hsmsim: note: apple-appattest evidence attests ec-p256 keys, not rsa-3072; "
                                      "attest it with --format csr-attestation or --format pkix-evidence")
    attested = hsmsim("attest", "--key", "a", "--format", "pkix-evidence", "--out", str(tmp_path / "e"),
                      state=tmp_path / "a")
    assert attested.returncode == 0, attested.stderr


def test_key_create_in_a_state_whose_creation_lock_cannot_be_opened_is_one_line_and_exit_2(tmp_path):
    """A read-only or full state directory (here the lock file is a directory, an open every user sees fail): key
    create says so in one line, and the state stays usable once the lock can be opened."""
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    (state / "labels.lock").unlink()
    (state / "labels.lock").mkdir()
    refused = hsmsim("key", "create", "--label", "k2", "--spec", "ec-p256", state=state)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == f"hsmsim: error: cannot create keys in {state}: Is a directory\n"
    (state / "labels.lock").rmdir()
    assert hsmsim("key", "create", "--label", "k2", "--spec", "ec-p256", state=state).returncode == 0
    listed = hsmsim("key", "list", state=state).stdout.splitlines()
    # two keys made in one second by two processes list in either order (created= has whole seconds)
    assert sorted(line.rsplit("\t", 1)[0] for line in listed) == ["k\tec-p256\tsoft\tlocal=true",
                                                                 "k2\tec-p256\tsoft\tlocal=true"]


def test_misuse_of_an_existing_state_is_one_line_and_exit_2(tmp_path):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    occupied = tmp_path / "occupied"
    occupied.write_text("")
    for args, message in [
        (["attest", "--key", "k", "--out", "x.zip", "--param", "colour=red"], "primus has no parameter 'colour'"),
        (["attest", "--key", "k", "--out", "x.zip", "--param", "options=x"], "--param options takes a Python object"),
        (["attest", "--key", "k", "--out", "x.zip", "--format", "nope"], "unknown format 'nope'"),
        (["attest", "--key", "k", "--out", str(occupied)], f"{occupied} exists and is not a directory"),
        (["pki", "export", str(occupied)], f"{occupied} exists and is not a directory"),
    ]:
        result = hsmsim(*args, state=state)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and message in lines[0], (args, result.stderr)
    extracted = hsmsim("vectors", "extract", "primus::golden::rsa-2048", str(occupied),
                       "--vectors", str(ROOT / "vectors"))
    assert extracted.returncode == 2 and extracted.stderr.strip().endswith(f"{occupied} exists and is not a directory")


def test_outputs_never_overwrite_follow_a_symlink_or_open_a_fifo(tmp_path):
    """An occupied output (a file, a FIFO, a symlink) is refused before anything is written: nothing is
    replaced, nothing outside the output directory is written, no FIFO is opened (the call would hang)."""
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--created", "2025-12-01T00:00:00Z",
                  state=state).returncode == 0
    victim = tmp_path / "victim"
    (tmp_path / "fifo").mkdir()
    for name in ("k.csr", "root.crt"):
        os.mkfifo(tmp_path / "fifo" / name)
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "hsm_rsa_root.crt").symlink_to(victim)
    (tmp_path / "link" / "root.crt").symlink_to(victim)
    for args, occupied in [
        (["attest", "--key", "k", "--out", str(tmp_path / "fifo" / "x.zip")], "fifo/k.csr"),
        (["attest", "--key", "k", "--out", str(tmp_path / "link" / "x.zip")], "link/hsm_rsa_root.crt"),
        (["pki", "export", str(tmp_path / "fifo")], "fifo/root.crt"),
        (["pki", "export", str(tmp_path / "link")], "link/root.crt"),
        (["vectors", "extract", "primus::golden::rsa-2048", str(tmp_path / "link"), "--vectors", str(ROOT / "vectors")],
         "link/hsm_rsa_root.crt"),
    ]:
        result = hsmsim(*args, state=state if args[0] != "vectors" else None)
        _one_line_exit_2(result, f"{tmp_path / occupied} already exists")
    assert not victim.exists() and not (tmp_path / "fifo" / "x.zip").exists()
    assert sorted(p.name for p in (tmp_path / "link").iterdir()) == ["hsm_rsa_root.crt", "root.crt"]
    first = hsmsim("attest", "--key", "k", "--out", str(tmp_path / "a" / "x.zip"), "--at", "2026-01-01T00:00:00Z",
                   state=state)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "a" / "x.zip").read_bytes()
    again = hsmsim("attest", "--key", "k", "--out", str(tmp_path / "a" / "x.zip"), "--at", "2026-01-02T00:00:00Z",
                   state=state)
    _one_line_exit_2(again, f"{tmp_path / 'a' / 'x.zip'} already exists")
    assert (tmp_path / "a" / "x.zip").read_bytes() == before
    # the same bytes again are no conflict: a second key's bundle beside the first shares the root; export re-run
    assert hsmsim("key", "create", "--label", "k2", "--spec", "ec-p256", state=state).returncode == 0
    second = hsmsim("attest", "--key", "k2", "--out", str(tmp_path / "a" / "y.zip"), state=state)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "a" / "x.zip").read_bytes() == before and (tmp_path / "a" / "y.zip").exists()
    for _ in range(2):
        exported = hsmsim("pki", "export", str(tmp_path / "pki"), state=state)
        assert exported.returncode == 0, exported.stderr


def test_attest_out_named_like_a_sibling_is_refused(tmp_path):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    result = hsmsim("attest", "--key", "k", "--out", str(tmp_path / "o" / "k.csr"), state=state)
    _one_line_exit_2(result, "--out k.csr is the name of another file of the bundle")
    assert not (tmp_path / "o").exists()
    too_long = hsmsim("attest", "--key", "k", "--out", str(tmp_path / ("a" * 5000 + ".zip")), state=state)
    _one_line_exit_2(too_long, "File name too long")


def test_extract_refuses_a_corpus_path_outside_dest(tmp_path):
    """H1: a corpus is input like any other; a file path leaving DEST is refused before anything is written."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    document = json.loads((ROOT / "vectors" / "primus_verify.json").read_text())
    document["tests"][0]["inputs"]["files"][1]["path"] = "../../escaped.txt"
    (corpus / "primus_verify.json").write_text(json.dumps(document))
    vector_id = document["tests"][0]["id"]
    result = hsmsim("vectors", "extract", vector_id, str(tmp_path / "a" / "dest"), "--vectors", str(corpus))
    _one_line_exit_2(result, "file path '../../escaped.txt' is not a plain relative path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_a_parameter_given_twice_is_one_line_and_exit_2(tmp_path):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    result = hsmsim("attest", "--format", "pkix-evidence", "--key", "k", "--out", str(tmp_path / "o"),
                    "--param", "fips_level=2", "--param", "fips_level=3", state=state)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == ["hsmsim: error: --param fips_level is given twice"]


@pytest.mark.parametrize("given", ["abc", "\u00b2"])  # '²' is a digit to str.isdigit, not to int()
def test_a_bad_parameter_value_is_one_line_and_exit_2(tmp_path, given):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    result = hsmsim("attest", "--format", "pkix-evidence", "--key", "k", "--out", str(tmp_path / "o"),
                    "--param", f"fips_level={given}", state=state)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"hsmsim: error: parameter fips_level must be an integer from 1 to 4, not {given!r}"]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("given", ["1234", "0011"])
def test_a_digit_only_text_parameter_keeps_its_characters(tmp_path, given):
    """``--param`` passes a canonical decimal as an int; a text parameter reads it back as those digits, and a
    value that is not an integer's one spelling (leading zero) stays text."""
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    result = hsmsim("attest", "--format", "pkix-evidence", "--key", "k", "--out", str(tmp_path / "o"),
                    "--param", f"nonce={given}", "--param", "fips_level=2", state=state)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "o" / "k.nonce").read_text() == given + "\n"


def test_vectors_list_and_show(tmp_path):
    corpus = ["--vectors", str(ROOT / "vectors")]
    listed = hsmsim("vectors", "list", "--format", "primus", "--flag", "Golden", *corpus)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines and all(line.startswith("primus::golden::") for line in lines)
    assert "primus::golden::rsa-3072\tvalid\tOK\tGolden" in lines
    critical = hsmsim("vectors", "list", "--severity", "critical", *corpus).stdout.splitlines()
    assert "primus::attr::extractable-true\tinvalid\tATTR_EXTRACTABLE\tAttrExtractableTrue,Resigned" in critical
    unknown = hsmsim("vectors", "list", "--format", "nope", *corpus)
    assert unknown.returncode == 2 and "no vectors of format 'nope'" in unknown.stderr
    shown = hsmsim("vectors", "show", "primus::attr::extractable-true", *corpus)
    assert shown.returncode == 0, shown.stderr
    for expected in ("comment:   extractable=true", "AttrExtractableTrue [ATTRIBUTE_POLICY, critical]",
                     "structural: invalid ATTR_EXTRACTABLE", "golden: primus::golden::rsa-3072  operator: xml.set",
                     "hsm_rsa_root.crt  2000 bytes"):
        assert expected in shown.stdout
    missing = hsmsim("vectors", "show", "primus::nope", *corpus)
    assert missing.returncode == 2 and "no vector 'primus::nope'" in missing.stderr


def test_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = hsmsim("serve", "--no-tls", "--port", str(port), "--state", str(tmp_path / "srv"))
    assert result.returncode == 2, result.stderr
    message = f"hsmsim: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert result.stderr.strip().splitlines() == [message]


def test_serve_on_a_host_that_does_not_resolve_says_why(tmp_path):
    result = hsmsim("serve", "--no-tls", "--host", "999.1.1.1", "--port", "18443", "--state", str(tmp_path / "srv"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hsmsim: error: cannot listen on 999.1.1.1:18443: "), lines
    assert "Unknown error" not in lines[0] and "while attempting" not in lines[0], lines


def test_serve_on_port_0_says_the_port_it_listens_on(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "hsmsim", "serve", "--no-tls", "--port", "0",
                                "--state", str(tmp_path / "srv")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.search(r" on http://127\.0\.0\.1:(\d+) ", line)
        assert found is not None and found[1] != "0", line
        socket.create_connection(("127.0.0.1", int(found[1])), timeout=5).close()  # listening once it says so
    finally:
        process.terminate()
        process.wait(timeout=10)


def _ipv6_loopback_port() -> int | None:
    """A free port on ::1, or None when this machine cannot listen on IPv6."""
    try:
        with socket.create_server(("::1", 0), family=socket.AF_INET6) as probe:
            return int(probe.getsockname()[1])
    except OSError:
        return None


def test_serve_listens_on_an_ipv6_host(tmp_path):
    """The free-port check binds as the server does: ``--host ::1`` was refused, its probe being IPv4 only."""
    port = _ipv6_loopback_port()
    if port is None:
        pytest.skip("this machine cannot listen on ::1")
    process = subprocess.Popen([sys.executable, "-m", "hsmsim", "serve", "--no-tls", "--host", "::1", "--port",
                                str(port), "--state", str(tmp_path / "srv")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert f"on http://[::1]:{port} " in line, line + process.stderr.read()
        _wait_until_listening(process, "::1", port)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _one_line_exit_2(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hsmsim: error: ") and message in lines[0], result.stderr


@pytest.mark.parametrize(("label", "message"), [
    ("x" * 65, "at most 64 bytes in UTF-8"),
    ("\U0001F600" * 17, "limit), not 68"),
    ("\udcff\udcfe", "not UTF-8"),  # the bytes ff fe on the command line
    ("bad\uffff", "noncharacters"),
    ("a\tb", "control characters"),
    ("  ", "must not be empty"),
])
def test_key_create_refuses_a_label_no_device_can_attest(tmp_path, label: str, message: str):
    _one_line_exit_2(hsmsim("key", "create", "--label", label, "--spec", "ec-p256", state=tmp_path / "s"), message)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("format_name", "times"), [
    ("primus", ("0001-01-01T00:00:00Z", "1979-12-31T23:59:59Z", "2108-01-01T00:00:00Z", "9999-12-31T23:59:59Z")),
    ("fortanix", ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")),
    ("android-key", ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")),
    ("apple-acme", ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")),
])
def test_attest_at_a_time_the_format_cannot_encode_is_one_line_and_exit_2(tmp_path, format_name: str,
                                                                           times: tuple[str, ...]):
    state = tmp_path / "s"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--format", format_name,
                  state=state).returncode == 0
    for at in times:
        # 1979 is within hsmsim's range and refused by the zip's: a key made through the CLI is younger than both
        expected = "is before the attested key 'k' was created" if at.startswith("1979") else "must be between"
        _one_line_exit_2(hsmsim("attest", "--key", "k", "--out", str(tmp_path / "o" / "x.zip"), "--at", at,
                                state=state), expected)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("common_name", ["x" * 100, ""])
def test_attest_refuses_a_csr_common_name_no_certificate_can_carry(tmp_path, common_name: str):
    state = tmp_path / "s"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    _one_line_exit_2(hsmsim("attest", "--key", "k", "--out", str(tmp_path / "x.zip"),
                            "--param", f"csr_common_name={common_name}", state=state),
                     "parameter csr_common_name must")


def test_an_android_key_labelled_like_a_path_is_written_inside_the_bundle_directory(tmp_path):
    state = tmp_path / "s"
    assert hsmsim("key", "create", "--label", "../../evil", "--spec", "ec-p256", "--format", "android-key",
                  state=state).returncode == 0
    out = tmp_path / "a" / "b" / "out"
    written = hsmsim("attest", "--key", "../../evil", "--out", str(out / "x.pem"), state=state)
    assert written.returncode == 0, written.stderr
    assert {p.parent for p in tmp_path.rglob("*evil*")} == {out}


def test_serve_refuses_an_empty_host(tmp_path):
    _one_line_exit_2(hsmsim("serve", "--host", "", "--no-tls", "--port", "0", "--state", str(tmp_path / "srv")),
                     "--host must not be empty")


def test_serve_with_a_token_option_does_not_claim_a_token_file(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "hsmsim", "serve", "--no-tls", "--port", str(port),
                                "--state", str(tmp_path / "srv"), "--token", "T"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "bearer token given with --token" in line and "token)" in line, line
    assert not (tmp_path / "srv" / "token").exists()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("signum", "code", "started_ignoring_sigint"), [
    (signal.SIGINT, 130, False), (signal.SIGTERM, 143, False), (signal.SIGINT, 130, True),
], ids=["SIGINT", "SIGTERM", "SIGINT-in-background"])
def test_serve_stopped_by_a_signal_exits_128_plus_it(tmp_path, signum, code, started_ignoring_sigint):
    """Also when started as a non-interactive shell starts `hsmsim serve &`, with SIGINT ignored: uvicorn still
    stops on it, so the command must still say it was interrupted, never exit 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "hsmsim", "serve", "--no-tls", "--port", str(port),
                                "--state", str(tmp_path / "srv")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_ignore_sigint if started_ignoring_sigint else None)
    try:
        assert process.stderr is not None
        assert "hsmsim serving" in process.stderr.readline()
        _wait_until_listening(process, "127.0.0.1", port)  # once it listens, uvicorn has its signal handlers
        process.send_signal(signum)
        assert process.wait(timeout=20) == code, process.stderr.read()
    finally:
        process.kill()
        process.wait(timeout=10)


def test_verify_prints_one_line_for_a_certificate_with_a_negative_serial(tmp_path: Path) -> None:
    """cryptography warns at parse time about a non-positive serial; the CLI prints only the verdict."""
    golden = Path(__file__).resolve().parents[1] / "vectors" / "android-key" / "golden" / "tee-rkp-ec-p256"
    pem_text = (golden / "tee-rkp-ec-p256.pem").read_text()
    blocks = pem_text.split("-----END CERTIFICATE-----")
    leaf = bytearray(base64.b64decode("".join(blocks[0].split("-----BEGIN CERTIFICATE-----")[1].split())))
    # Certificate SEQ > TBS SEQ > [0] version > INTEGER serial: set the serial's top bit (negative).
    pos = 0
    for _ in range(2):  # into the two SEQUENCE headers
        pos += 2 + (leaf[pos + 1] & 0x7F if leaf[pos + 1] & 0x80 else 0)
    pos += 2 + leaf[pos + 1]  # past [0] EXPLICIT version
    assert leaf[pos] == 0x02
    leaf[pos + 2] |= 0x80
    body = base64.encodebytes(bytes(leaf)).decode()
    blocks[0] = f"-----BEGIN CERTIFICATE-----\n{body}"
    (tmp_path / "chain.pem").write_text("-----END CERTIFICATE-----".join(blocks))
    (tmp_path / "chain.challenge").write_bytes((golden / "tee-rkp-ec-p256.challenge").read_bytes())
    (tmp_path / "root.pem").write_text(pem_text[pem_text.rindex("-----BEGIN CERTIFICATE-----"):])
    result = hsmsim("verify", str(tmp_path / "chain.pem"), "--format", "android-key", "--root",
                    str(tmp_path / "root.pem"))
    assert result.returncode == 1, result.stderr
    assert result.stderr == "" and len(result.stdout.splitlines()) == 1, (result.stdout, result.stderr)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr)
    return lines[0]


_CONFIG = '{"format": %s, "serial": "1", "seed": "x", "initialised": %s}'


@pytest.mark.parametrize(("config", "message"), [
    ("fifo", "hsm.json is not a regular file"),
    ("/dev/zero", "hsm.json is not a regular file"),
    ("dangling", "hsm.json: No such file or directory"),
    (DEEP_JSON, "hsm.json nests too deeply"),
    ("[]", "hsm.json is not a JSON object"),
    (_CONFIG % ('"primus"', "5"), "hsm.json: initialised is not a string"),
    (_CONFIG % ('"nope"', '"2025-02-27T13:24:33+00:00"'), "hsm.json: unknown format 'nope'"),
    (_CONFIG % ("1", '"2025-02-27T13:24:33+00:00"'), "hsm.json: format is not a string"),
    (_CONFIG % ('"primus"', '"9999-01-01T00:00:00+00:00"'), "hsm.json: initialised is not a time with a UTC offset"),
    (_CONFIG % ('"primus"', '"2025-02-27T13:24:33"'), "hsm.json: initialised is not a time with a UTC offset"),
    (_CONFIG.replace('"1"', '"abc\\n"') % ('"primus"', '"2025-02-27T13:24:33+00:00"'),
     "hsm.json: serial is not 1 to 20 decimal digits"),
    (_CONFIG.replace('"1"', '"' + "9" * 3000 + '"') % ('"primus"', '"2025-02-27T13:24:33+00:00"'),
     "hsm.json: serial is not 1 to 20 decimal digits"),
    (_CONFIG.replace('"x"', '""') % ('"primus"', '"2025-02-27T13:24:33+00:00"'), "hsm.json: seed is empty"),
])
def test_a_corrupt_hsm_json_is_one_line_and_exit_2(tmp_path, config, message):
    """hsm.json is read bounded (never a FIFO or device, never deeper than the parser goes) and must be the
    object hsmsim writes; a dangling link is corrupt state, not "no state" (key create does not replace it)."""
    state = tmp_path / "s"
    path = state / "hsm.json"
    make_hostile(path, config)
    commands = [["key", "create", "--label", "k", "--spec", "ec-p256"]]
    if config == "fifo":
        commands += [["key", "list"], ["attest", "--key", "k", "--out", str(tmp_path / "o.zip")],
                     ["pki", "export", str(tmp_path / "pki")]]
    for args in commands:
        line = _one_line_error(hsmsim(*args, state=state))
        assert line.startswith("hsmsim: error: corrupt HSM state") and message in line, (args, line)
    left_as_it_was = path.is_symlink() or config == "fifo" or path.read_text() == config
    assert left_as_it_was and not (state / "soft").exists()


def test_a_state_created_meanwhile_by_another_process_is_checked_not_replaced(tmp_path, monkeypatch):
    """Of processes creating one state at once, one writes hsm.json; the others find it and are checked against it
    (here: the window between the look and the write, opened wide)."""
    first = HsmState.open(tmp_path / "s", format="fortanix", seed="one")
    monkeypatch.setattr("hsmsim.state.existing_directory", lambda _directory: False)
    with pytest.raises(HsmsimError, match="created with another seed"):
        HsmState.open(tmp_path / "s", format="primus", seed="two")
    again = HsmState.open(tmp_path / "s", format="fortanix", seed="one")
    assert again.device == first.device
    assert json.loads((tmp_path / "s" / "hsm.json").read_text())["seed"] == "one"


def test_key_list_escapes_labels_and_an_empty_hsmsim_state_is_misuse(tmp_path):
    state = tmp_path / "s"
    assert hsmsim("key", "create", "--label", "plain", "--spec", "ec-p256", "--created", "2026-01-01T00:00:00Z",
                  state=state).returncode == 0
    record = next((state / "soft").glob("*.json"))  # as another tool, or a hand edit, could leave it
    record.write_text(record.read_text().replace('"label": "plain"', '"label": "two\\nlines\\u001b[31m"'))
    listed = hsmsim("key", "list", state=state)
    assert listed.returncode == 0 and listed.stdout.splitlines() == [
        "two\\nlines\\x1b[31m\tec-p256\tsoft\tlocal=true\tcreated=2026-01-01T00:00:00+00:00"]
    empty = run_hsmsim(["key", "list"], cwd=tmp_path, env={**os.environ, "HSMSIM_STATE": ""})
    assert _one_line_error(empty) == "hsmsim: error: HSMSIM_STATE is set but empty: unset it or name a directory"


def test_attest_out_ending_in_a_slash_is_a_directory(tmp_path):
    state = tmp_path / "s"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    done = hsmsim("attest", "--key", "k", "--out", f"{tmp_path / 'bundle.v2'}/", state=state)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "bundle.v2").iterdir()) == ["hsm_rsa_root.crt", "k.csr",
                                                                         "k_attestation.zip"]
    wrong = hsmsim("attest", "--key", "k", "--out", str(tmp_path / "o" / "evidence.pem"), state=state)
    assert _one_line_error(wrong) == ("hsmsim: error: --out evidence.pem: the main file of primus evidence is a .zip "
                                      "(k_attestation.zip); name it so, or give a directory")
    assert not (tmp_path / "o").exists()


def test_a_state_that_is_not_a_usable_directory_is_one_line_and_exit_2(tmp_path):
    junk, fifo, dangling = tmp_path / "junk", tmp_path / "fifo", tmp_path / "dangling"
    for path, kind in ((junk, "x"), (fifo, "fifo"), (dangling, "dangling")):
        make_hostile(path, kind)
    for state, message in [
        (junk, f"the state directory {junk} is not a directory"),
        (fifo, f"the state directory {fifo} is not a directory"),
        (Path("/dev/null"), "the state directory /dev/null is not a directory"),
        (dangling, f"cannot use the state directory {dangling}: No such file or directory"),
        (tmp_path / ("a" * 5000), "File name too long"),
    ]:
        for args in (["key", "create", "--label", "k", "--spec", "ec-p256"], ["key", "list"]):
            line = _one_line_error(hsmsim(*args, state=state))
            assert message in line, (state, args, line)
    assert not dangling.exists() and dangling.is_symlink()
    for args, message in [
        (["key", "create", "--label", "k", "--spec", "ec-p256"], "cannot write the HSM state /proc/hsm.json"),
        (["serve", "--print-ca"], "cannot write the TLS CA in /proc"),
    ]:
        assert message in _one_line_error(hsmsim(*args, state=Path("/proc")))
    for args in (["serve", "--no-tls", "--port", "0"], ["serve", "--print-ca"]):
        assert f"the state directory {junk} is not a directory" in _one_line_error(hsmsim(*args, state=junk))


def test_corpus_directories_that_cannot_be_used_are_one_line_and_exit_2(tmp_path):
    (tmp_path / "file").write_text("")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "piped").mkdir()
    os.mkfifo(tmp_path / "piped" / "manifest.json")  # read for the seed: it must not block
    for args, message in [
        (["vectors", "generate", "--out", str(tmp_path / "file")], "exists and is not a directory"),
        (["vectors", "generate", "--out", str(tmp_path / "fifo")], "exists and is not a directory"),
        (["vectors", "generate", "--out", str(tmp_path / ("a" * 5000))], "File name too long"),
        (["vectors", "generate", "--out", str(tmp_path / "piped")], "manifest.json is not a regular file"),
        (["vectors", "list", "--vectors", str(tmp_path / ("a" * 5000))], "File name too long"),
    ]:
        _one_line_exit_2(hsmsim(*args), message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "file", "piped"]


def test_an_empty_output_path_is_not_the_current_directory(tmp_path):
    for args, message in [(["attest", "--key", "k", "--out", ""], "--out must not be empty"),
                          (["pki", "export", ""], "DIRECTORY must not be empty"),
                          (["vectors", "extract", "primus::golden::rsa-2048", ""], "DEST must not be empty"),
                          (["vectors", "generate", "--out", ""], "--out must not be empty")]:
        result = run_hsmsim(args, cwd=tmp_path)
        _one_line_exit_2(result, message)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_path_or_seed_of_any_command_is_misuse_not_a_default(tmp_path):
    """Every command line refuses an empty path (not the current directory) and an empty seed or token (not the
    built-in one), in one line before it writes anything."""
    reference = str(ROOT / "examples" / "verifiers" / "reference.toml")
    for args, message in [
        (["serve", "--state", ""], "--state must not be empty"),
        (["serve", "--state", "s", "--token", ""], "--token must not be empty"),
        (["serve", "--state", "s", "--seed", ""], "--seed must not be empty"),
        (["key", "create", "--label", "k", "--state", "s", "--seed", ""], "--seed must not be empty"),
        (["vectors", "generate", "--out", "v", "--seed", ""], "--seed must not be empty"),
        (["fuzz", "--format", "primus", "--iterations", "1", "--out", ""], "--out must not be empty"),
        (["fuzz", "--format", "primus", "--iterations", "1", "--out", "f", "--verifier", ""],
         "--verifier must not be empty"),
        (["fuzz", "--format", "primus", "--iterations", "1", "--out", "f", "--seed", ""], "--seed must not be empty"),
        (["conformance", "run", "--verifier", reference, "--report", ""], "--report must not be empty"),
        (["conformance", "run", "--verifier", reference, "--report", "r", "--vectors", ""],
         "--vectors must not be empty"),
    ]:
        result = run_hsmsim(args, cwd=tmp_path)
        _one_line_exit_2(result, message)
    assert list(tmp_path.iterdir()) == []


def test_a_state_is_never_created_with_an_empty_seed(tmp_path):
    from hsmsim.errors import HsmsimError
    from hsmsim.state import HsmState

    with pytest.raises(HsmsimError, match="the seed must not be empty"):
        HsmState.open(tmp_path / "s", seed="")
    assert not (tmp_path / "s").exists()


def test_conformance_names_an_unknown_format(tmp_path):
    result = hsmsim("conformance", "run", "--verifier", str(ROOT / "examples" / "verifiers" / "reference.toml"),
                    "--format", "nosuch", "--report", str(tmp_path / "r"))
    _one_line_exit_2(result, "hsmsim: error: --format 'nosuch': the corpus has no such format (it has android-acme,")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("adapter", "message"), [
    ("nosuch.toml", "hsmsim: error: adapter file: cannot read"),
    ('name = "bad-entry"\nmode = "python"\nentry = "no_such_module_here:verify"\nformats = ["primus"]\n',
     "hsmsim: error: cannot import 'no_such_module_here'"),
    ('name = "bad-command"\nmode = "persistent"\ncommand = ["/nonexistent/verifier"]\nformats = ["primus"]\n',
     "command '/nonexistent/verifier' does not exist"),
    ('name = "luna-only"\nmode = "python"\nentry = "hsmsim.harness.reference:verify"\nformats = ["luna-pkc"]\n',
     "hsmsim: error: luna-only does not claim format primus (formats it claims: luna-pkc)"),
])
def test_fuzz_refuses_a_verifier_it_cannot_start_or_that_does_not_claim_the_format(tmp_path, adapter: str,
                                                                                    message: str):
    """Checked once before any case, with one line and no progress table: not a CRASH on every case, and not a
    campaign of meaningless differentials against a verifier of another format."""
    path = tmp_path / "nosuch.toml"
    if adapter != "nosuch.toml":
        path = tmp_path / "adapter.toml"
        path.write_text(adapter)
    result = hsmsim("fuzz", "--format", "primus", "--iterations", "5", "-j", "2", "--verifier", str(path),
                    "--out", str(tmp_path / "out"))
    _one_line_exit_2(result, message)
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["attest", "--out", "bundle.zip"], "Missing option '--key'. (see 'hsmsim attest --help')"),
    (["nosuch"], "No such command 'nosuch'. (see 'hsmsim --help')"),
    (["fuzz", "--format", "primus", "--iterations", "0", "--out", "o"], "Invalid value for '--iterations'"),
    (["key", "list", "--state", ""], "--state must not be empty"),  # not the current directory
    (["verify", "", "--root", "r.pem"], "BUNDLE must not be empty"),
    (["verify", "b.zip", "--root", ""], "--root must not be empty"),
])
def test_click_usage_errors_are_one_line_and_exit_2(tmp_path, args: list[str], message: str):
    _one_line_exit_2(hsmsim(*args, state=None), message)


def _plant(path: Path, kind: str) -> None:
    """A hostile file hsmsim keeps: a FIFO (opening it would wait for a writer), a sparse 80 MiB file, or JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        with path.open("wb") as fh:
            fh.truncate(80 * 1024 * 1024)
    else:
        path.write_text(kind)


def _swtpm_unavailable() -> str | None:
    try:
        from hsmsim.keystore.swtpm import swtpm_available
    except ImportError as exc:
        return str(exc)
    return swtpm_available()


@pytest.mark.skipif(not _softhsm_available(), reason="SoftHSM2 is not installed (make setup installs it)")
@pytest.mark.parametrize(("kind", "message"), [
    ("fifo", "is not a regular file"),
    ("huge", "is larger than 4194304 bytes"),
    ('{"00": "yes"}', "the time of key '00' is not an ISO 8601 time"),
    ('{"00": 5}', "the time of key '00' is not an ISO 8601 time"),
    ('{"00": "2025-01-01T00:00:00"}', "the time of key '00' is not an ISO 8601 time with a UTC offset"),
    ("[]", "is not a JSON object"),
])
def test_a_hostile_pkcs11_creation_time_file_is_one_line_and_exit_2(tmp_path, kind, message):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--backend", "pkcs11",
                  state=state).returncode == 0
    sidecar = state / "token" / "hsmsim-created.json"
    sidecar.unlink()
    _plant(sidecar, kind)
    result = hsmsim("key", "list", state=state)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "corrupt creation-time file" in lines[0], result.stderr
    assert message in lines[0], result.stderr


@pytest.mark.parametrize(("module", "message"), [
    ("missing.so", "missing.so does not exist"),
    ("empty.so", "cannot load PKCS#11 module"),
    (os.__file__, "cannot load PKCS#11 module"),  # a file that is no shared library
    (_hashlib.__file__, "cannot load PKCS#11 module"),  # a shared library without C_GetFunctionList
])
def test_a_failed_first_key_create_leaves_no_state_and_a_retry_may_choose_its_seed(tmp_path, monkeypatch, module,
                                                                                    message):
    state = tmp_path / "hsm"
    (tmp_path / "empty.so").touch()
    path = str(tmp_path / module)  # the module itself when absolute
    monkeypatch.setenv("HSMSIM_PKCS11_MODULE", path)
    failed = hsmsim("key", "create", "--label", "k", "--backend", "pkcs11", "--seed", "one", state=state)
    assert failed.returncode == 2 and message in failed.stderr, failed.stderr
    assert not state.exists()  # the directory the creation made is gone too, not left holding labels.lock
    monkeypatch.delenv("HSMSIM_PKCS11_MODULE")
    retried = hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--seed", "two", state=state)
    assert retried.returncode == 0, retried.stderr
    assert json.loads((state / "hsm.json").read_text())["seed"] == "two"
    monkeypatch.setenv("HSMSIM_PKCS11_MODULE", path)
    again = hsmsim("key", "create", "--label", "k2", "--backend", "pkcs11", state=state)
    assert again.returncode == 2 and (state / "hsm.json").exists()  # a state with a key is never withdrawn
    assert sorted(path.name for path in state.iterdir()) == ["hsm.json", "labels.lock", "soft"]


@pytest.mark.skipif(not _softhsm_available(), reason="SoftHSM2 is not installed (make setup installs it)")
def test_a_first_pkcs11_key_create_failing_after_its_token_directory_was_made_leaves_nothing(tmp_path):
    """softhsm2-util missing: the library loads and the token directory is made before initialising the token
    fails. Neither it nor the state may stay: the state would refuse a retry with another seed."""
    state = tmp_path / "hsm"
    bare = tmp_path / "bin"  # a PATH without softhsm2-util
    bare.mkdir()
    failed = run_hsmsim(["key", "create", "--label", "k", "--spec", "ec-p256", "--backend", "pkcs11", "--seed", "one",
                         "--state", str(state)], env={**os.environ, "PATH": str(bare)})
    _one_line_exit_2(failed, "softhsm2-util is not on PATH")
    assert not state.exists()
    retried = hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--backend", "pkcs11", "--seed", "two",
                     state=state)
    assert retried.returncode == 0, retried.stderr
    assert json.loads((state / "hsm.json").read_text())["seed"] == "two"


@pytest.mark.parametrize(("options", "message"), [
    (["--spec", "ed25519"], "not ed25519"), (["--spec", "aes-128"], "not aes-128"),
    (["--spec", "ec-p256", "--extractable"], "extractable=True"),
    (["--spec", "ec-p256", "--not-sensitive"], "sensitive=False"),
])
def test_a_first_swtpm_key_create_the_tpm_cannot_hold_leaves_no_state(tmp_path, options, message):
    """Refused before the swtpm store is opened: its directory would have kept the state from being withdrawn."""
    state = tmp_path / "hsm"
    failed = hsmsim("key", "create", "--label", "k", "--backend", "swtpm", "--seed", "one", *options, state=state)
    _one_line_exit_2(failed, message)
    assert not state.exists()
    retried = hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--seed", "two", state=state)
    assert retried.returncode == 0, retried.stderr
    assert json.loads((state / "hsm.json").read_text())["seed"] == "two"


def test_a_creation_in_a_state_withdrawn_meanwhile_is_refused(tmp_path):
    opened = HsmState.open(tmp_path / "s", seed="first")
    assert opened.created and not HsmState.open(tmp_path / "s").created
    assert opened.withdraw_if_unused() and not (tmp_path / "s" / "hsm.json").exists()
    with pytest.raises(HsmsimError, match="was removed; create it again"):
        opened.new_key("soft", "k", KeySpec.parse("ec-p256"), KeyPolicy())
    assert not (tmp_path / "s" / "soft").exists()


@pytest.mark.skipif(not _softhsm_available(), reason="SoftHSM2 is not installed (make setup installs it)")
def test_a_deleted_token_with_recorded_keys_is_refused_not_made_again(tmp_path):
    state = tmp_path / "hsm"
    for label in ("a", "b"):
        assert hsmsim("key", "create", "--label", label, "--spec", "ec-p256", "--backend", "pkcs11",
                      state=state).returncode == 0
    assert hsmsim("key", "create", "--label", "s", "--spec", "ec-p256", state=state).returncode == 0
    for token in (state / "token" / "tokens").iterdir():
        shutil.rmtree(token)
    gone = "is empty, but hsmsim-created.json beside it records 2 keys made on it"
    listed = hsmsim("key", "list", state=state)
    lines = listed.stderr.strip().splitlines()
    assert listed.returncode == 2 and len(lines) == 1, listed.stderr
    assert lines[0].startswith("hsmsim: error: the keys of the pkcs11 backend are not listed: ") and gone in lines[0]
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [["s", "ec-p256", "soft"]]
    attested = hsmsim("attest", "--key", "a", "--out", str(tmp_path / "out") + "/", state=state)
    lines = attested.stderr.strip().splitlines()
    assert attested.returncode == 2 and len(lines) == 1 and gone in lines[0], attested.stderr  # "a" may be there
    assert attested.stdout == "" and not (tmp_path / "out").exists()
    assert not any((state / "token" / "tokens").iterdir())


@pytest.mark.skipif(not _softhsm_available(), reason="SoftHSM2 is not installed (make setup installs it)")
def test_a_backend_that_cannot_be_read_hides_no_key_of_another(tmp_path):
    """A corrupt record in the soft store (read first) neither hides the pkcs11 keys from attest nor from the
    listing; a soft key is refused with the record's error, and the listing still exits 2 naming it."""
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "s", "--spec", "ec-p256", state=state).returncode == 0
    assert hsmsim("key", "create", "--label", "p", "--spec", "ec-p256", "--backend", "pkcs11",
                  state=state).returncode == 0
    (state / "soft" / "00.json").write_text("[]")  # sorts before the key's own record
    attested = hsmsim("attest", "--key", "p", "--out", str(tmp_path / "p") + "/", state=state)
    assert attested.returncode == 0 and attested.stderr == "", attested.stderr
    refused = hsmsim("attest", "--key", "s", "--out", str(tmp_path / "s") + "/", state=state)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    assert lines[0] == f"hsmsim: error: corrupt key file {state / 'soft' / '00.json'}: not a JSON object", lines[0]
    listed = hsmsim("key", "list", state=state)
    lines = listed.stderr.strip().splitlines()
    assert listed.returncode == 2 and lines == [
        "hsmsim: error: the keys of the soft backend are not listed: corrupt key file "
        f"{state / 'soft' / '00.json'}: not a JSON object"], listed.stderr
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [["p", "ec-p256", "pkcs11"]]
    created = hsmsim("key", "create", "--label", "n", "--spec", "ec-p256", "--backend", "pkcs11", state=state)
    assert created.returncode == 2 and "corrupt key file" in created.stderr  # "n" might be in the soft store


@pytest.mark.skipif(_swtpm_unavailable() is not None, reason=f"swtpm backend unavailable: {_swtpm_unavailable()}")
@pytest.mark.parametrize(("kind", "message"), [
    ("fifo", "is not a regular file"),
    ("huge", "is larger than 65536 bytes"),
    ('{"label": "k", "order": "1", "created": "2025-01-01T00:00:00+00:00", "public": "", "private": ""}',
     "order an integer"),
    ('{"label": 5, "order": 1}', "label, created, public and private must be strings"),
    ('{"label": "k", "order": 1, "created": "2025-01-01T00:00:00", "public": "", "private": ""}',
     "created is a time without a UTC offset"),  # another instant on another machine
])
def test_a_hostile_swtpm_key_record_is_one_line_and_exit_2(tmp_path, kind, message):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0
    _plant(state / "swtpm" / "keys" / "planted.json", kind)
    result = hsmsim("key", "list", state=state)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "corrupt swtpm key record" in lines[0], result.stderr
    assert message in lines[0], result.stderr


@pytest.mark.skipif(_swtpm_unavailable() is not None, reason=f"swtpm backend unavailable: {_swtpm_unavailable()}")
def test_a_fifo_left_as_swtpm_pid_file_neither_blocks_nor_fails_the_start(tmp_path):
    state = tmp_path / "hsm"
    _plant(state / "swtpm" / "swtpm.pid", "fifo")
    result = hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--backend", "swtpm", state=state)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("field", "value", "message"), [
    ("sensitive", "yes", "attribute sensitive is a string, not a boolean"),
    ("sensitive", 1, "attribute sensitive is an integer, not a boolean"),
    ("sensitive", None, "attribute sensitive is null, not a boolean"),
    ("modulus_bits", "x", "attribute modulus_bits is a string, not an integer or null"),
    ("modulus_bits", True, "attribute modulus_bits is a boolean, not an integer or null"),
    ("value_len", 1.5, "attribute value_len is a number, not an integer or null"),
    ("label", 5, "attribute label is an integer, not a string"),
    ("key_gen_mechanism", [], "attribute key_gen_mechanism is a list, not a string or null"),
    ("id", "zz", "attribute id is 'zz', not a bytes value"),
    ("key_type", "DSA", "attribute key_type is 'DSA', not a KeyType value"),
    ("unheard_of", True, "attributes have unknown unheard_of"),
    ("local", "delete", "attributes lack local"),
])
def test_a_key_record_with_a_field_of_the_wrong_type_is_one_line_and_exit_2(tmp_path, field, value, message):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "rsa-2048", state=state).returncode == 0
    assert hsmsim("key", "list", state=state).returncode == 0
    path = next((state / "soft").glob("*.json"))
    record = json.loads(path.read_text())
    if value == "delete":
        del record["attributes"][field]
    else:
        record["attributes"][field] = value
    path.write_text(json.dumps(record))
    result = hsmsim("key", "list", state=state)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0] == (f"hsmsim: error: the keys of the soft backend are not listed: corrupt key file {path}: "
                        f"{message}"), lines[0]


@pytest.mark.parametrize("case", ["detected", "primus", "ms-kast", "vectors", "fuzz-merge"])
def test_a_file_name_holding_a_newline_is_shown_escaped_on_one_line(tmp_path, case):
    """Messages that name a file print it escaped: a name with a newline cannot split the one-line error."""
    root = tmp_path / "root.pem"
    root.write_text("")
    odd = tmp_path / "two\nlines"
    if case in ("detected", "primus"):
        os.mkfifo(odd)
        args = ["verify", str(odd), "--root", str(root), *(["--format", "primus"] if case == "primus" else [])]
    elif case == "ms-kast":
        odd.mkdir()
        for name in ("a.kast.cmc", "b.kast.cmc"):
            (odd / name).write_bytes(b"0")
        args = ["verify", str(odd), "--root", str(root), "--format", "ms-kast"]
    elif case == "vectors":
        odd.mkdir()
        args = ["vectors", "list", "--vectors", str(odd)]
    else:
        odd.mkdir()
        args = ["fuzz", "merge", str(odd), "--out", str(tmp_path / "out")]
    result = hsmsim(*args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("hsmsim: error: ") and "two\\nlines" in lines[0], lines[0]


def test_a_refused_write_leaves_no_directory_it_made(tmp_path):
    from hsmsim._atomic import write_new_files
    from hsmsim.errors import HsmsimError

    dest = tmp_path.joinpath(*(["d" * 250] * 15))  # made, but no file name fits below it
    with pytest.raises(HsmsimError, match="File name too long"):
        write_new_files(dest, {"x" * 200 + "/" + "y" * 200: b"data"})
    assert list(tmp_path.iterdir()) == []


# -- creation times, and who may attest -----------------------------------------------------------------------------

_SWTPM = pytest.param("swtpm", marks=pytest.mark.skipif(_swtpm_unavailable() is not None,
                                                        reason=f"swtpm backend unavailable: {_swtpm_unavailable()}"))


@pytest.mark.parametrize("backend", [*BACKENDS, _SWTPM])
def test_a_chosen_creation_time_is_recorded_listed_carried_and_nothing_is_attested_before_it(tmp_path, backend):
    state = tmp_path / "hsm"
    created = hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--backend", backend,
                     "--created", "2025-10-01T10:00:00+02:00", state=state)
    assert created.returncode == 0, created.stderr
    assert created.stdout.rstrip().endswith(" created=2025-10-01T08:00:00+00:00"), created.stdout
    listed = hsmsim("key", "list", state=state)  # a new process: the time is read back from the backend's records
    assert listed.stdout.splitlines() == [f"k\tec-p256\t{backend}\tlocal=true\tcreated=2025-10-01T08:00:00+00:00"]
    early = hsmsim("attest", "--key", "k", "--out", str(tmp_path / "early") + "/", "--at", "2025-10-01T07:59:59Z",
                   state=state)
    _one_line_exit_2(early, "before the attested key 'k' was created (2025-10-01T08:00:00+00:00)")
    assert not (tmp_path / "early").exists()
    out = tmp_path / "out"
    attested = hsmsim("attest", "--key", "k", "--out", str(out) + "/", "--at", "2025-10-01T08:00:00Z", state=state)
    assert attested.returncode == 0, attested.stderr
    with zipfile.ZipFile(out / "k_attestation.zip") as bundle:
        xml = bundle.read("k.xml").decode()
    assert "<create_time>2025-10-01T08:00:00Z</create_time>" in xml and "<attest_time>2025-10-01T08:00:00Z<" in xml
    verified = hsmsim("verify", str(out / "k_attestation.zip"), "--root", str(out / "hsm_rsa_root.crt"),
                      "--at", "2025-10-01T09:00:00Z")
    assert verified.returncode == 0, verified.stdout


def test_attest_refuses_a_time_before_the_attested_or_the_attesting_key_was_created(tmp_path):
    state = tmp_path / "hsm"
    assert hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", state=state).returncode == 0  # created now
    _one_line_exit_2(hsmsim("attest", "--key", "k", "--out", str(tmp_path / "o") + "/", "--at", "2026-01-01T00:00:00Z",
                            state=state), "is before the attested key 'k' was created")
    assert hsmsim("key", "create", "--label", "old", "--spec", "ec-p256", "--created", "2025-10-01T00:00:00Z",
                  state=state).returncode == 0
    _one_line_exit_2(hsmsim("attest", "--key", "old", "--attesting-key", "k", "--out", str(tmp_path / "o") + "/",
                            "--at", "2026-01-01T00:00:00Z", state=state), "is before the attesting key 'k' was created")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("created", "message"), [
    ("2999-01-01T00:00:00Z", "the creation time 2999-01-01T00:00:00+00:00 is in the future"),
    ("2001-01-01T00:00:00", "the creation time 2001-01-01T00:00:00+00:00 is before the device was initialised"),
    ("last week", "--created 'last week' is not an ISO 8601 time"),
])
def test_key_create_refuses_a_creation_time_no_key_can_have_and_leaves_nothing(tmp_path, created, message):
    state = tmp_path / "hsm"
    _one_line_exit_2(hsmsim("key", "create", "--label", "k", "--spec", "ec-p256", "--created", created, state=state),
                     message)
    assert not state.exists()


def test_attest_refuses_a_key_as_its_own_attesting_key(tmp_path):
    state = tmp_path / "hsm"
    for label in ("k", "other"):
        assert hsmsim("key", "create", "--label", label, "--spec", "ec-p256", state=state).returncode == 0
    _one_line_exit_2(hsmsim("attest", "--key", "k", "--attesting-key", "k", "--out", str(tmp_path / "o") + "/",
                            state=state), "the attesting key is the attested key 'k' itself")
    assert not (tmp_path / "o").exists()
    assert hsmsim("attest", "--key", "k", "--attesting-key", "other", "--out", str(tmp_path / "o") + "/",
                  state=state).returncode == 0  # another key still may
