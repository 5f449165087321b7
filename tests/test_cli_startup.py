"""What the command line imports before it does any work: a command imports what it uses, no more.

Each case runs the command in a fresh interpreter and looks at ``sys.modules`` when it ends, so an import added
at the top of a module on the path (a catalogue, a generator, every family for a lookup by name) fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "vectors" / "primus" / "golden" / "ec-p256"
BUNDLE = GOLDEN / "merritt-lewis-and-gibson-signing-ec-p256_attestation.zip"
ROOT = GOLDEN / "hsm_rsa_root.crt"

_RUN = """
import json, sys
from hsmsim._cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _imported_by(*args: str) -> tuple[int, set[str]]:
    """The exit code of ``hsmsim ARGS`` and every module imported when it ends, in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True, timeout=120,
                          check=False)
    report = json.loads(done.stderr.splitlines()[-1])
    return report["code"], set(report["modules"])


def _vector_builders(modules: set[str]) -> list[str]:
    """The modules that build a format's vectors or fuzz cases: a family's catalogues and fuzz models."""
    return sorted(name for name in modules if name.startswith("hsmsim.formats.")
                  and name.rpartition(".")[2].endswith(("catalogue", "fuzz")))


def _families(modules: set[str]) -> set[str]:
    return {name.split(".")[2] for name in modules if name.startswith("hsmsim.formats.") and name.count(".") >= 2
            and name.split(".")[2] != "contract"}


@pytest.mark.parametrize("named", [True, False], ids=["--format", "detected"])
def test_verify_imports_no_catalogue_fuzz_model_or_hsm(named: bool) -> None:
    code, modules = _imported_by("verify", *(("--format", "primus") if named else ()), str(BUNDLE),
                                 "--root", str(ROOT), "--at", "2026-01-01T00:00:00Z")
    assert code == 0
    assert _vector_builders(modules) == []
    assert not {"hsmsim.hsm", "hsmsim.state", "hsmsim.keystore.soft", "faker", "pydantic", "rich"} & modules


def test_verify_of_a_named_format_imports_its_family_alone() -> None:
    code, modules = _imported_by("verify", "--format", "primus", str(BUNDLE), "--root", str(ROOT),
                                 "--at", "2026-01-01T00:00:00Z")
    assert code == 0
    assert _families(modules) == {"primus"}


_DETECTION_ONLY = {
    "android": {"acme", "cbor", "generate", "keydescription", "options", "pki", "status", "verify", "webauthn"},
    "apple": {"acme", "appattest", "extensions", "pki", "receipt", "record", "webauthn_statement"},
    "cardcontact": {"cvc", "generate", "pki", "verify"},
    "crypto4a": {"generate", "message", "pki", "verify"},
    "fortanix": {"captured_encoding", "certificates", "generate", "pki", "statement", "verify"},
    "ietf": {"asn1", "csr", "evidence", "pki", "tcg"},
    "luna": {"der_reader", "generate", "options", "pki", "signatures", "trust_anchor", "verify"},
    "marvell": {"blob", "envelopes", "generate", "options", "pki", "verify", "workbench"},
    "primus": {"archive", "bundle", "pki"},  # its verify, xml and options: the evidence verified here is primus's
    "purebred": {"envelope", "generate", "pki", "verify"},
    "tpm": {"acme", "credential", "device", "generate", "genuine", "kast", "kast_format", "marshal", "parsec", "pki",
            "statement", "structures", "webauthn"},
    "webauthn": {"standard", "verify"},
    "yubico": {"extensions", "fido", "hsm2", "piv", "pki", "verify_hsm2", "verify_piv"},
}
"""Per family whose detection is light: the modules of its codecs, verifiers, generators and PKIs, which detecting
(and verifying another family's evidence) must not import."""


def test_detected_verify_imports_no_codec_or_verifier_of_another_family() -> None:
    code, modules = _imported_by("verify", str(BUNDLE), "--root", str(ROOT), "--at", "2026-01-01T00:00:00Z")
    assert code == 0
    heavy = {f"hsmsim.formats.{family}.{module}" for family, names in _DETECTION_ONLY.items() for module in names}
    assert sorted(heavy & modules) == []


def test_help_imports_no_format_and_no_certificate_parser() -> None:
    code, modules = _imported_by("--help")
    assert code == 0
    assert not {"hsmsim.formats", "hsmsim.safeio", "cryptography.x509", "lxml.etree"} & modules


def test_an_unknown_format_still_names_every_known_one(capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "hsmsim", "verify", "--format", "primus-nonesuch", str(BUNDLE)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "unknown format 'primus-nonesuch'; known formats: android-acme, android-key," in done.stderr
    assert "primus, purebred, smartcard-hsm, tpm-acme, webauthn, yubico-piv, yubihsm2" in done.stderr
