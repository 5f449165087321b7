"""kill -9 trials (``scripts/killtest.py``, reduced to 3 trials per target): the server and the
soft and pkcs11 key stores, each with concurrent writers, lose no acknowledged key, never show a
key without its password, and are never left unusable."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "killtest.py"


def _targets() -> str:
    from hsmsim.keystore.pkcs11 import find_softhsm_module

    softhsm = find_softhsm_module() is not None and shutil.which("softhsm2-util") is not None
    return "server,soft" + (",pkcs11" if softhsm else "")


@pytest.mark.long
def test_three_kill_9_trials_per_target_lose_nothing():
    done = subprocess.run([sys.executable, str(SCRIPT), "--trials", "3", "--targets", _targets()],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    rows = [line.split() for line in done.stdout.splitlines()[1:] if line and not line.startswith(" ")]
    assert rows and all(row[3:] == ["0", "0", "0"] for row in rows), done.stdout
    assert all(int(row[2]) > 0 for row in rows if row[0] in ("server", "soft")), done.stdout
