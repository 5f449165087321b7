"""kill -9 trials: concurrent writers are killed mid-write, then the state is checked.

    .venv/bin/python scripts/killtest.py [--trials 20] [--targets server,soft,pkcs11,swtpm] [--seed N]

Each trial starts from a new state directory. For ``server``, ``hsmsim serve`` on 127.0.0.1
takes TSB key creations (every other key with a password) from 4 client threads and is killed
with SIGKILL after a random delay; for a key store backend, 4 writer processes create keys in one
state directory (a shared contended label among them) and are all killed with SIGKILL. Then a
fresh process (a restarted server) checks:

* lost: an acknowledged key (the server answered 200, a writer printed it) that cannot be used
  (attested, with its password where it has one);
* no password: a key created with a password that can be used without one;
* unusable: the state cannot be opened, a new key cannot be created in it, a label is held by
  two keys, or the server fails to restart.

Bounded and self-stopping: every wait has a deadline, every process started here is killed by
its id at the end of its trial, and the server listens on 127.0.0.1 only. Exit status 0 when
every count is 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = "killtest-token"
WRITERS = 4
CONTENDED = "contended"
_EC_P256 = "1.2.840.10045.3.1.7"
_DEADLINE = 60.0


@dataclass
class Outcome:
    """The counts of one target over its trials."""

    target: str
    trials: int = 0
    acknowledged: int = 0
    lost: int = 0
    without_password: int = 0
    unusable: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether nothing was lost, exposed or left unusable."""
        return self.lost == self.without_password == self.unusable == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


# -- the server ----------------------------------------------------------------------------------

class _Client:
    def __init__(self, port: int, state: Path) -> None:
        self.base = f"https://127.0.0.1:{port}"
        self.context = ssl.create_default_context(cafile=str(state / "tls" / "ca.pem"))

    def post(self, path: str, body: dict[str, object]) -> int:
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {TOKEN}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)


def _start_server(state: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "hsmsim", "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--state", str(state), "--token", TOKEN],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + _DEADLINE
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    _stop(process)
    raise RuntimeError("the server did not start")


def _password(label: str) -> list[str] | None:
    return list(f"pw-{label}") if sum(map(ord, label)) % 2 else None


def server_trial(rng: random.Random, outcome: Outcome) -> None:
    """One kill -9 of the server during concurrent TSB key creation, then a restart and checks."""
    with tempfile.TemporaryDirectory(prefix="hsmsim-killtest-") as tmp:
        state, port = Path(tmp) / "state", _free_port()
        server = _start_server(state, port)
        client = _Client(port, state)
        acknowledged: dict[str, list[str] | None] = {}
        attempted: dict[str, list[str] | None] = {}
        stop = threading.Event()

        def write(worker: int) -> None:
            for index in range(1000):
                label = CONTENDED if index % 5 == 0 else f"w{worker}-{index}"
                password = _password(label)
                attempted.setdefault(label, password)
                if stop.is_set():
                    return
                try:
                    status = client.post("/v1/key", {"label": label, "password": password, "algorithm": "EC",
                                                     "curveOid": _EC_P256})
                except OSError:
                    return
                if status == 200:
                    acknowledged[label] = password

        threads = [threading.Thread(target=write, args=(worker,), daemon=True) for worker in range(WRITERS)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.3, 2.0))
        os.kill(server.pid, signal.SIGKILL)
        stop.set()
        server.wait(timeout=30)
        for thread in threads:
            thread.join(timeout=_DEADLINE)
        outcome.acknowledged += len(acknowledged)
        try:
            server = _start_server(state, port)
        except RuntimeError:
            outcome.unusable += 1
            outcome.notes.append("the server did not restart")
            return
        try:
            for label, password in acknowledged.items():
                if client.post("/v1/key/keyAttestation", {"label": label, "password": password}) != 200:
                    outcome.lost += 1
            for label, password in attempted.items():  # acknowledged or not: never usable without its password
                if password is not None and client.post("/v1/key/keyAttestation", {"label": label}) == 200:
                    outcome.without_password += 1
            if client.post("/v1/key", {"label": "after-restart", "algorithm": "EC", "curveOid": _EC_P256}) != 200:
                outcome.unusable += 1
                outcome.notes.append("no key can be created after the restart")
        finally:
            _stop(server)


# -- the key store backends ------------------------------------------------------------------------

_WRITER = f"""
import sys
from pathlib import Path
from hsmsim.errors import KeystoreError
from hsmsim.keystore.base import KeySpec
from hsmsim.formats import names
from hsmsim.state import HsmState
state, backend, worker = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
names()  # every format module imported (compiled, in a fresh clone) before the timed part, not inside it
print("ready", flush=True)
for index in range(1000):
    label = {CONTENDED!r} if index % 5 == 0 else f"w{{worker}}-{{index}}"
    hsm = HsmState.open(state, format="primus")
    try:
        hsm.store(backend).generate(KeySpec.parse("ec-p256"), label)
    except KeystoreError:
        continue
    finally:
        hsm.close()  # swtpm serves one process at a time: let the other writers in
    print(label, flush=True)
"""

_CHECKER = """
import json, sys
from pathlib import Path
from hsmsim.keystore.base import KeySpec
from hsmsim.state import HsmState
state, backend = Path(sys.argv[1]), sys.argv[2]
hsm = HsmState.open(state, format="primus")
report = {"lost": [], "duplicates": [], "create": True}
try:
    store = hsm.store(backend)
    labels = [key.label for key in store.all_keys()]
    report["duplicates"] = sorted({label for label in labels if labels.count(label) > 1})
    for label in json.loads(sys.argv[3]):
        try:
            hsm.hsm(label).attest(label, mechanism="primus")
        except Exception as exc:
            report["lost"].append(f"{label}: {type(exc).__name__}: {exc}")
    try:
        store.generate(KeySpec.parse("ec-p256"), "after-restart")
    except Exception as exc:
        report["create"] = f"{type(exc).__name__}: {exc}"
finally:
    hsm.close()
print(json.dumps(report))
"""


def keystore_trial(backend: str, rng: random.Random, outcome: Outcome) -> None:
    """4 writer processes on a new state directory, all killed with SIGKILL, then a check in a new process."""
    with tempfile.TemporaryDirectory(prefix="hsmsim-killtest-") as tmp:
        state = Path(tmp) / "state"
        writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(state), backend, str(worker)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                   for worker in range(WRITERS)]
        for writer in writers:
            assert writer.stdout is not None
            writer.stdout.readline()  # "ready" (or nothing, if it died): imports are done
        # opening a token or a TPM is slow: give the writers time to acknowledge some keys
        time.sleep(rng.uniform(0.3, 2.5) * {"soft": 1, "pkcs11": 3}.get(backend, 4))
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
        acknowledged: list[str] = []
        for writer in writers:
            out, _ = writer.communicate(timeout=_DEADLINE)
            acknowledged += [label for label in out.split() if label != "ready"]
        outcome.acknowledged += len(acknowledged)
        if acknowledged.count(CONTENDED) > 1:
            outcome.unusable += 1
            outcome.notes.append(f"{acknowledged.count(CONTENDED)} writers were told they created {CONTENDED!r}")
        try:
            done = subprocess.run([sys.executable, "-c", _CHECKER, str(state), backend, json.dumps(acknowledged)],
                                  capture_output=True, text=True, timeout=_DEADLINE * 2, check=False)
            report = json.loads(done.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            outcome.unusable += 1
            outcome.notes.append("the state cannot be opened: " + (done.stderr.strip().splitlines() or ["?"])[-1]
                                 if "done" in locals() else "the check timed out")
            return
        outcome.lost += len(report["lost"])
        outcome.notes += report["lost"][:3]
        if report["duplicates"] or report["create"] is not True:
            outcome.unusable += 1
            outcome.notes.append(f"duplicates {report['duplicates']}, new key: {report['create']}")


def run(targets: list[str], trials: int, seed: int) -> list[Outcome]:
    """``trials`` kill -9 trials against each target."""
    rng = random.Random(seed)
    outcomes = []
    for target in targets:
        outcome = Outcome(target)
        for _ in range(trials):
            outcome.trials += 1
            if target == "server":
                server_trial(rng, outcome)
            else:
                keystore_trial(target, rng, outcome)
        outcomes.append(outcome)
    return outcomes


def main() -> int:
    """Run the trials and print the table; exit 1 when anything was lost, exposed or left unusable."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--targets", default="server,soft,pkcs11,swtpm")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    outcomes = run([t.strip() for t in args.targets.split(",") if t.strip()], min(args.trials, 100), args.seed)
    print(f"{'target':<8}{'trials':>7}{'acked':>7}{'lost':>6}{'no password':>13}{'unusable':>10}")
    for outcome in outcomes:
        print(f"{outcome.target:<8}{outcome.trials:>7}{outcome.acknowledged:>7}{outcome.lost:>6}"
              f"{outcome.without_password:>13}{outcome.unusable:>10}")
    for outcome in outcomes:
        for note in outcome.notes[:5]:
            print(f"  {outcome.target}: {note}")
    return 0 if all(outcome.clean for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
