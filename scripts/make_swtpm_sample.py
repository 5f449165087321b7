"""Write one genuine TPM2_Certify output from swtpm to tests/data/swtpm/ (see its README).

Usage: PYTHONPATH=. python scripts/make_swtpm_sample.py [OUT_DIR]

Needs the swtpm backend (swtpm, swtpm-tools, tpm2-pytss). Every run makes a new TPM, so the
bytes differ from run to run; the facts the tests check do not.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.swtpm import AK_HANDLE, SwtpmKeyStore

SPECS = ("rsa-2048", "ec-p256")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "swtpm"


def extra_data(spec: str) -> bytes:
    """The qualifyingData used for ``spec``: 32 bytes, like a WebAuthn SHA-256(authData ‖ cdh)."""
    return hashlib.sha256(f"hsmsim swtpm sample {spec}".encode()).digest()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hsmsim-swtpm-sample-") as tmp, SwtpmKeyStore(Path(tmp)) as store:
        keys = {}
        for spec in SPECS:
            store.generate(KeySpec.parse(spec), spec)
            result = store.certify(spec, extra_data(spec))
            for part, data in (("attest", result.attest), ("signature", result.signature),
                               ("public", result.public)):
                (out / f"{spec}.{part}.hex").write_text(data.hex() + "\n")
            keys[spec] = {"label": spec, "extra_data": extra_data(spec).hex()}
        ak = store.attestation_key()
        (out / "ak.public.hex").write_text(ak.public_area.hex() + "\n")
        (out / "ak.qualified_name.hex").write_text(ak.qualified_name.hex() + "\n")
        for cert, name in zip(store.endorsement_chain(), ("ek-rsa2048", "localca-intermediate", "localca-root"),
                              strict=True):
            (out / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        swtpm = subprocess.run(["swtpm", "--version"], capture_output=True, text=True, timeout=10, check=False)
        produced = {
            "ak_handle": f"{AK_HANDLE:#x}",
            "keys": keys,
            "swtpm": swtpm.stdout.strip(),
            "tpm2-pytss": metadata.version("tpm2-pytss"),
        }
        (out / "sample.json").write_text(json.dumps(produced, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
