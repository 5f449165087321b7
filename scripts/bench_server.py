"""Bench rows for ``hsmsim serve``: attestation requests over loopback HTTPS with concurrent clients.

Bounded: one server on 127.0.0.1, a fixed number of requests, then the server is stopped.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TOKEN = "bench-token"
REQUESTS = 120
CLIENTS = 4


def _post(url: str, context: ssl.SSLContext, body: dict[str, object]) -> bytes:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=context, timeout=60) as response:
        return response.read()


def rows(repeat: int) -> list[tuple[str, float]]:
    """Seconds per TSB keyAttestation request, serial and with CLIENTS concurrent clients."""
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server = subprocess.Popen([sys.executable, "-m", "hsmsim", "serve", "--state", tmp, "--port", str(port),
                                   "--token", TOKEN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            base = f"https://127.0.0.1:{port}"
            context = ssl.create_default_context(cafile=str(Path(tmp) / "tls" / "ca.pem"))
            _post(f"{base}/v1/key", context, {"label": "bench", "algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7"})
            body = {"label": "bench"}
            start = time.perf_counter()
            for _ in range(REQUESTS // 4):
                _post(f"{base}/v1/key/keyAttestation", context, body)
            serial = (time.perf_counter() - start) / (REQUESTS // 4)
            start = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(lambda _: _post(f"{base}/v1/key/keyAttestation", context, body), range(REQUESTS)))
            concurrent = (time.perf_counter() - start) / REQUESTS
        finally:
            server.terminate()
            server.wait(timeout=15)
    return [("serve: TSB keyAttestation over HTTPS (1 client, per request)", serial),
            (f"serve: TSB keyAttestation over HTTPS ({CLIENTS} clients, per request)", concurrent)]
