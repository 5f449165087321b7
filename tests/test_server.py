"""``hsmsim serve`` over real HTTPS on loopback: the TSB subset, the Azure SDK, security, crash safety."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from hsmsim.formats import get_format, names
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.state import HsmState

TOKEN = "test-token-7f3a"


@dataclass
class Server:
    url: str
    ca: Path
    state: Path
    process: subprocess.Popen[bytes]
    port: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(state: Path, port: int | None = None) -> Server:
    port = port or _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hsmsim", "serve", "--state", str(state), "--port", str(port), "--token", TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Server(f"https://127.0.0.1:{port}", state / "tls" / "ca.pem", state, process, port)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "server died") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path / "state")
    yield running
    running.process.terminate()
    running.process.wait(timeout=10)


def call(server: Server, path: str, body: object = None, *, token: str | None = TOKEN,
         raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.url + path, data=data, method="POST" if data is not None else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(server.ca))
    try:
        with urllib.request.urlopen(request, context=context, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def chars(text: str) -> list[str]:
    return list(text)


# -- Securosys TSB ---------------------------------------------------------------------------

def test_tsb_create_attest_and_verify_end_to_end(server: Server):
    status, _, body = call(server, "/v1/key", {
        "label": "qes-key", "password": chars("s3cret"), "algorithm": "RSA", "keySize": 3072,
        "attributes": {"sign": True, "decrypt": False, "extractable": False, "sensitive": True}})
    assert status == 200, body
    created = json.loads(body)
    assert created["attestationKeyName"] == "attestation-key"
    assert created["json"]["attributes"]["neverExtractable"] is True and created["json"]["keySize"] == 3072
    assert created["xml"].startswith('<?xml version="1.0" encoding="UTF-8"?>\n<private_key creation="generated">')
    assert call(server, "/v1/key", {"label": "qes-key", "algorithm": "RSA", "keySize": 2048})[0] == 409

    status, headers, zipped = call(server, "/v1/key/keyAttestation", {"label": "qes-key", "password": chars("s3cret")})
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == 'attachment; filename="qes-key_attestation.zip"'
    status, _, csr = call(server, "/v1/certificate/synchronous/request/download",
                          {"signKeyName": "qes-key", "keyPassword": chars("s3cret")})
    assert status == 200 and csr.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    assert x509.load_pem_x509_csr(csr).extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature

    primus_state = HsmState.open(server.state / "primus", format="primus")
    root = get_format("primus").provision(primus_state.device, "default").root
    evidence = Evidence("primus", {"qes-key_attestation.zip": zipped, "qes-key.csr": csr}, "qes-key_attestation.zip")
    verdict = get_format("primus").verify(evidence, TrustAnchors({"root": (root,)}), profile="strict")
    assert verdict.accepted, verdict.summary()

    status, _, body = call(server, "/v1/key/attributes", {"label": "qes-key", "password": chars("s3cret")})
    attributes = json.loads(body)
    assert status == 200 and attributes["json"]["keyUsageCount"] == 0
    with zipfile.ZipFile(BytesIO(zipped)) as archive:
        chain = archive.read("PrimusHSM_Attestation.crt")
    leaf = x509.load_pem_x509_certificates(chain)[0]
    leaf.public_key().verify(base64.b64decode(attributes["xmlSignature"]), attributes["xml"].encode(),
                             padding.PKCS1v15(), hashes.SHA256())


def test_tsb_security(server: Server):
    assert call(server, "/v1/key", {"label": "k"}, token=None)[0] == 401
    assert call(server, "/v1/key", {"label": "k"}, token="wrong")[0] == 401
    assert call(server, "/v1/key", {"label": "k", "password": chars("pw"), "algorithm": "EC",
                                    "curveOid": "1.2.840.10045.3.1.7"})[0] == 200
    for password in (None, chars("nope")):
        status, _, body = call(server, "/v1/key/keyAttestation", {"label": "k", "password": password})
        assert status == 403 and json.loads(body)["reason"] == "res.error.key.password.wrong"
    assert call(server, "/v1/key/attributes", {"label": "missing"})[0] == 404
    status, _, body = call(server, "/v1/key", raw=b"{not json")
    assert status == 400 and b"Traceback" not in body
    assert call(server, "/v1/key", {"label": "x", "algorithm": "RSA", "keySize": 1024})[0] == 400
    assert call(server, "/v1/key", {"label": "x", "password": "not-an-array"})[0] == 400
    connection = http.client.HTTPSConnection("127.0.0.1", server.port,
                                             context=ssl.create_default_context(cafile=str(server.ca)))
    connection.putrequest("POST", "/v1/key")
    connection.putheader("Authorization", f"Bearer {TOKEN}")
    connection.putheader("Content-Length", str(2 * 1024 * 1024))
    connection.endheaders()
    assert connection.getresponse().status == 413  # refused from the header, before the body is read
    connection.close()
    status, _, body = call(server, "/v1/key/attributes", {"label": "k", "password": chars("pw")})
    assert status == 200 and b"PRIVATE" not in body


def test_restart_keeps_keys(tmp_path: Path):
    state = tmp_path / "state"
    first = start_server(state)
    try:
        created = json.loads(call(first, "/v1/key", {"label": "keep", "algorithm": "ED"})[2])
    finally:
        first.process.terminate()
        first.process.wait(timeout=10)
    second = start_server(state)
    try:
        status, _, body = call(second, "/v1/key/attributes", {"label": "keep"})
        assert status == 200 and json.loads(body)["json"]["publicKey"] == created["json"]["publicKey"]
    finally:
        second.process.terminate()
        second.process.wait(timeout=10)


def test_kill_9_during_creation_loses_no_acknowledged_key(tmp_path: Path):
    state = tmp_path / "state"
    server = start_server(state)
    acknowledged: list[str] = []
    stop = threading.Event()

    def create(worker: int) -> None:
        for index in range(200):
            if stop.is_set():
                return
            label = f"w{worker}-{index}"
            try:
                status, _, _ = call(server, "/v1/key", {"label": label, "algorithm": "EC",
                                                        "curveOid": "1.3.132.0.34"})
            except OSError:
                return
            if status == 200:
                acknowledged.append(label)

    threads = [threading.Thread(target=create, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.process.pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    server.process.wait(timeout=10)
    assert len(acknowledged) >= 12
    restarted = start_server(state)
    try:
        for label in acknowledged:
            status, _, body = call(restarted, "/v1/key/keyAttestation", {"label": label})
            assert status == 200, (label, body[:200])
    finally:
        restarted.process.terminate()
        restarted.process.wait(timeout=10)


# -- Azure Managed HSM through the official SDK ------------------------------------------------

def _client(server: Server):
    azure_keys = pytest.importorskip("azure.keyvault.keys", reason="azure-keyvault-keys is in the test extra")
    from azure.core.credentials import AccessToken, AccessTokenInfo

    class FixedCredential:
        def get_token(self, *scopes, **kwargs):
            return AccessToken(TOKEN, int(time.time()) + 3600)

        def get_token_info(self, *scopes, **kwargs):
            return AccessTokenInfo(TOKEN, int(time.time()) + 3600)

    return azure_keys.KeyClient(server.url, FixedCredential(), connection_verify=str(server.ca),
                                verify_challenge_resource=False, retry_total=0)


def test_azure_sdk_create_and_get(server: Server):
    from azure.core.exceptions import ResourceNotFoundError

    client = _client(server)
    rsa_key = client.create_rsa_key("signing-rsa", size=3072, hardware_protected=True)
    assert rsa_key.id.startswith(f"{server.url}/keys/signing-rsa/") and len(rsa_key.key.n) == 384
    ec_key = client.create_ec_key("signing-ec", curve="P-384", hardware_protected=True)
    assert ec_key.key.crv == "P-384" and len(ec_key.key.x) == 48
    assert client.get_key("signing-rsa").id == rsa_key.id
    assert client.get_key("signing-ec", ec_key.properties.version).key.y == ec_key.key.y
    second = client.create_rsa_key("signing-rsa", size=2048, hardware_protected=True)
    assert client.get_key("signing-rsa").id == second.id != rsa_key.id
    assert isinstance(rsa_key.properties.created_on, datetime)
    with pytest.raises(ResourceNotFoundError):
        client.get_key("absent")


@pytest.mark.skipif("marvell-azure" not in names(), reason="the marvell-azure format is not installed")
def test_azure_sdk_attestation_verifies(server: Server):
    client = _client(server)
    created = client.create_rsa_key("attested", size=2048, hardware_protected=True)
    attestation = client.get_key_attestation("attested").properties.attestation
    assert attestation.version == "MRVL-1"
    assert isinstance(attestation.private_key_attestation, bytes) and attestation.certificate_pem_file
    status, _, body = call(server, f"/keys/attested/{created.properties.version}/attestation?api-version=7.6")
    assert status == 200
    fmt = get_format("marvell-azure")
    state = HsmState.open(server.state / "azure", format="marvell-azure")
    identity = fmt.provision(state.device, "default")
    evidence = Evidence("marvell-azure", {"key-bundle.json": body}, "key-bundle.json")
    verdict = fmt.verify(evidence, TrustAnchors({"root": (identity.root,)}), at=datetime.now(UTC))
    assert verdict.accepted, verdict.summary()
