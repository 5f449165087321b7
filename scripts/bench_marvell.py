"""Marvell rows for scripts/bench.py: attest and verify rates of both cloud envelopes.

    .venv/bin/python scripts/bench_marvell.py [--repeat N]   # these rows alone
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import median_seconds

from hsmsim.device import Device
from hsmsim.formats import get_format
from hsmsim.formats.marvell.generate import owner_pki
from hsmsim.formats.marvell.options import Cloud, KeyNames
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeySpec
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.evidence import TrustAnchors

AT = datetime(2025, 6, 1, tzinfo=UTC)



def rows(repeat: int) -> list[tuple[str, float]]:
    """Median seconds of attest (RSA-2048 on Azure, EC P-256 on Google) and of the reference verifier."""
    store = SoftKeyStore(seed="bench")
    store.generate(KeySpec.parse("rsa-2048"), "bench-rsa", created=AT)
    store.generate(KeySpec.parse("ec-p256"), "bench-ec", created=AT)
    azure = Device.from_seed("marvell-azure", "bench")
    out: list[tuple[str, float]] = []
    for cloud, label, shown in ((Cloud.AZURE, "bench-rsa", "RSA-2048"), (Cloud.GOOGLE, "bench-ec", "EC P-256")):
        name = f"marvell-{cloud.value}"
        hsm = Hsm(replace(azure, format=name), store)
        evidence = hsm.attest(label, name, {"attest_time": AT})
        attest = partial(hsm.attest, label, name, {"attest_time": AT})
        out.append((f"attest {name} {shown}", median_seconds(attest, repeat)))
        identity = hsm.attestation_identity()
        names = KeyNames.derive(hsm.device, label)
        trust = TrustAnchors({"root": (identity.root, owner_pki(cloud, hsm.device, identity, names).root)})
        fmt = get_format(name)
        assert fmt.verify(evidence, trust, at=AT).accepted
        out.append((f"verify {name}", median_seconds(partial(fmt.verify, evidence, trust, at=AT), repeat)))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    for label, seconds in rows(parser.parse_args().repeat):
        print(f"{label:40s} {seconds * 1000:8.2f} ms")
