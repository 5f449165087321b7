"""``hsmsim serve`` over real HTTPS on loopback: the TSB subset, the Azure SDK, security, crash safety."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import select
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from urllib.parse import unquote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from hsmsim.formats import get_format, names
from hsmsim.keystore.base import KeySpec
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.state import DEFAULT_SEED, HsmState
from tests.hostile_files import DEEP_JSON, make_hostile

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


@pytest.fixture(scope="module")
def _servers_by_test() -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    yield started
    for running in started.values():
        running.process.terminate()
        running.process.wait(timeout=10)


@pytest.fixture
def case_server(request: pytest.FixtureRequest, _servers_by_test: dict[str, Server],
                tmp_path_factory: pytest.TempPathFactory) -> Server:
    """One server for all the cases of one parametrised test (each start of ``hsmsim serve`` is a new interpreter,
    about a second of CPU): for cases that each leave the state as they found it, or touch only their own label."""
    name = request.node.originalname
    if name not in _servers_by_test:
        _servers_by_test[name] = start_server(tmp_path_factory.mktemp(name) / "state")
    return _servers_by_test[name]


def client_context(server: Server) -> ssl.SSLContext:
    """A client's context trusting the server's CA, verifying as strictly as Python 3.13's default context does
    (which, among other things, refuses a server certificate without an authority key identifier)."""
    context = ssl.create_default_context(cafile=str(server.ca))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def call(server: Server, path: str, body: object = None, *, token: str | None = TOKEN,
         raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.url + path, data=data, method="POST" if data is not None else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = client_context(server)
    try:
        with urllib.request.urlopen(request, context=context, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def chars(text: str) -> list[str]:
    return list(text)


# -- Securosys TSB ---------------------------------------------------------------------------

def test_tsb_answers_400_for_a_key_recorded_as_created_after_the_servers_now(tmp_path: Path):
    """The TSB attests at the server's clock: a key whose record says it was made later (a clock that stepped back
    since) is refused in the TSB error shape, never evidence dated before the key, nor a 500."""
    state = tmp_path / "state"
    device = HsmState.open(state / "primus", format="primus", seed=DEFAULT_SEED)
    created = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    device.store("soft").generate(KeySpec.parse("ec-p256"), "ahead", created=created)  # below the CLI's check
    device.close()
    running = start_server(state)
    try:
        for path in ("/v1/key/attributes", "/v1/key/keyAttestation", "/v1/certificate/request"):
            status, _, body = call(running, path, {"label": "ahead", "signKeyName": "ahead"})
            assert status == 400, (path, status, body)
            error = json.loads(body)
            assert error["errorCode"] == 400 and error["reason"] == "res.error.bad.request", error
            assert f"before the attested key 'ahead' was created ({created.isoformat()})" in error["message"], error
    finally:
        running.process.terminate()
        running.process.wait(timeout=10)


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
                                             context=client_context(server))
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


def kill_during_creations(server: Server, create: Callable[[str], str | None], *, enough: int,
                          seconds: float) -> tuple[dict[str, str], list[str]]:
    """Four threads create keys named ``w<thread>-<n>`` with ``create`` (the server's acknowledgement, or None when
    it refuses one) until ``enough`` are acknowledged or ``seconds`` pass, then SIGKILL ends the server mid-way.
    Returns the acknowledged names with their acknowledgements, and every name tried."""
    acknowledged: dict[str, str] = {}
    tried: list[str] = []
    stop = threading.Event()

    def run(worker: int) -> None:
        for index in range(200):
            if stop.is_set():
                return
            name = f"w{worker}-{index}"
            tried.append(name)
            try:
                answer = create(name)
            except OSError:  # the server died under it
                return
            if answer is not None:
                acknowledged[name] = answer

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + seconds
    while len(acknowledged) < enough and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.process.pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    server.process.wait(timeout=10)
    assert len(acknowledged) >= enough
    return acknowledged, tried


def test_kill_9_during_creation_loses_no_acknowledged_key(tmp_path: Path):
    state = tmp_path / "state"
    server = start_server(state)

    def create(label: str) -> str | None:
        status, _, _ = call(server, "/v1/key", {"label": label, "algorithm": "EC", "curveOid": "1.3.132.0.34"})
        return label if status == 200 else None

    acknowledged, _ = kill_during_creations(server, create, enough=12, seconds=20)
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


@pytest.mark.skipif("marvell-azure" not in names(), reason="the marvell-azure format is not installed")
def test_azure_attestation_of_a_key_whose_uri_outgrows_the_blob_is_a_400(server: Server):
    """Azure allows 127-character names; Marvell's OBJ_ATTR_ID holds 128 bytes of key URI, which a long name
    outgrows: the emulator says so (400), it does not fail (500)."""
    name = "k" * 127
    status, _, body = call(server, f"/keys/{name}/create?api-version=7.6", {"kty": "EC", "crv": "P-256"})
    assert status == 200, body
    version = json.loads(body)["key"]["kid"].rsplit("/", 1)[1]
    status, _, body = call(server, f"/keys/{name}/{version}/attestation?api-version=7.6")
    assert status == 400, body
    error = json.loads(body)["error"]
    assert error["code"] == "BadParameter" and "128-byte OBJ_ATTR_ID" in error["message"]


@pytest.mark.skipif("marvell-azure" not in names(), reason="the marvell-azure format is not installed")
def test_azure_attestation_refused_for_another_reason_says_that_reason(tmp_path: Path):
    """Only a URI past the 128 bytes of OBJ_ATTR_ID is reported as too long; another refusal by the format (here a
    short kid that is no key URI) carries the format's own message, on one line."""
    from hsmsim.keystore.base import KeySpec
    from hsmsim.server.app import ApiError
    from hsmsim.server.azure import attestation_object

    state = HsmState.open(tmp_path / "state", format="marvell-azure")
    key = state.store("soft").generate(KeySpec.parse("ec-p256"), "k")
    with pytest.raises(ApiError) as caught:
        attestation_object(state, key, "urn:no-key-uri\nsecond line")
    error = caught.value.body["error"]
    assert caught.value.status == 400 and isinstance(error, dict)
    message = str(error["message"])
    assert message.startswith("hsmsim cannot attest this key: parameter key_id must be a key URI"), message
    assert "OBJ_ATTR_ID" not in message and "\n" not in message
    with pytest.raises(ApiError) as caught:
        attestation_object(state, key, "https://p.managedhsm.azure.net/keys/" + "k" * 127 + "/0")
    assert "is 165 bytes" in str(caught.value.body["error"]["message"])  # type: ignore[index]
    state.close()


# -- hostile input, faults and concurrency -------------------------------------------------------

class _Crash(BaseException):
    """The process dies here (what kill -9 does between two writes)."""


def _tsb(app, path: str, body: dict[str, object]) -> int:
    from hsmsim.server import tsb
    from hsmsim.server.app import ApiError, Call

    call_ = Call("POST", path.strip("/").split("/"), {}, {"authorization": f"Bearer {TOKEN}"},
                 json.dumps(body).encode(), "https://127.0.0.1")
    try:
        return tsb.dispatch(app, call_).status_code
    except ApiError as error:
        return error.status


@pytest.mark.parametrize("crash_at", [1, 2])
def test_a_crash_between_writes_never_shows_a_key_without_its_password(tmp_path: Path, monkeypatch, crash_at):
    from hsmsim.server.app import HsmsimApp
    from hsmsim.server.store import ServerStore

    state = tmp_path / "state"
    app = HsmsimApp(ServerStore(state, "hsmsim-tests"), TOKEN)
    app.store.device("primus", "primus")
    writes = []
    real_replace = os.replace

    def replace(source, destination):
        if Path(destination).is_relative_to(state):
            writes.append(destination)
            if len(writes) == crash_at:
                raise _Crash
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(_Crash):
        _tsb(app, "/v1/key", {"label": "secret", "password": chars("pw"), "algorithm": "EC",
                              "curveOid": "1.2.840.10045.3.1.7"})
    monkeypatch.setattr(os, "replace", real_replace)
    restarted = HsmsimApp(ServerStore(state, "hsmsim-tests"), TOKEN)
    assert _tsb(restarted, "/v1/key/keyAttestation", {"label": "secret"}) in (403, 404)
    # The label is usable afterwards: the interrupted creation either finished or can be redone.
    status = _tsb(restarted, "/v1/key", {"label": "secret", "password": chars("pw"), "algorithm": "EC",
                                         "curveOid": "1.2.840.10045.3.1.7"})
    assert status in (200, 409)
    assert _tsb(restarted, "/v1/key/keyAttestation", {"label": "secret", "password": chars("pw")}) == 200


@pytest.mark.parametrize("label", ["a" * 65, "a" * 256, "x\ud800y", "a\r\nX-Injected: 1", "tab\there", "\x85"])
def test_tsb_labels_are_validated_before_the_key_is_stored(case_server: Server, label: str):
    body = json.dumps({"label": label, "algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7"}).encode()
    status, _, answer = call(case_server, "/v1/key", raw=body)
    assert status == 400, answer
    assert call(case_server, "/v1/key", raw=body)[0] == 400  # not 409: nothing was stored
    assert not list((case_server.state / "primus" / "soft").glob("*.json"))


@pytest.mark.parametrize("label", ['a"; filename="evil.sh', "../../etc/passwd", "caf\u00e9 \u4e2d", "a;b=c"])
def test_download_names_are_rfc_6266(case_server: Server, label: str):
    created = call(case_server, "/v1/key", {"label": label, "algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7"})
    assert created[0] == 200
    for path, body, suffix in (("/v1/certificate/request", {"signKeyName": label, "commonName": "cn"}, ".csr"),
                               ("/v1/key/keyAttestation", {"label": label}, "_attestation.zip")):
        status, headers, _ = call(case_server, path, body)
        assert status == 200
        parts = re.fullmatch(r"""attachment; filename="([A-Za-z0-9._-]+)"(?:; filename\*=UTF-8''([^\s;"]+))?""",
                             headers["content-disposition"])
        assert parts is not None, headers["content-disposition"]
        fallback, exact = parts.groups()
        assert ".." not in fallback and fallback.endswith(suffix)
        name = unquote(exact or fallback)
        assert "/" not in name and name.endswith(suffix)
        if suffix == ".csr":  # the zip's name is the one the Primus format gives its evidence
            assert name == label.replace("/", "_") + suffix


def test_slow_clients_are_disconnected(server: Server):
    """Each slow client is cut off at its deadline, and an idle pooled keep-alive connection (a client that does
    not read its socket, so never answers the server's close_notify) is closed down to TCP soon after."""
    from hsmsim.server.transport import (
        BODY_TIMEOUT,
        HANDSHAKE_TIMEOUT,
        HEADER_TIMEOUT,
        KEEP_ALIVE_TIMEOUT,
        TLS_CLOSE_TIMEOUT,
    )

    context = client_context(server)
    pooled = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=30)
    pooled.request("GET", "/v1/key", headers={"Authorization": f"Bearer {TOKEN}"})
    pooled.getresponse().read()
    assert pooled.sock is not None
    pooled_at = time.monotonic()
    slow_headers = context.wrap_socket(socket.create_connection(("127.0.0.1", server.port)),
                                       server_hostname="127.0.0.1")
    slow_headers.sendall(b"POST /v1/key HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    slow_handshake = socket.create_connection(("127.0.0.1", server.port))
    slow_handshake.sendall(b"\x16\x03\x01")
    slow_body = context.wrap_socket(socket.create_connection(("127.0.0.1", server.port)),
                                    server_hostname="127.0.0.1")
    slow_body.sendall(f"POST /v1/key HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                      "Content-Length: 100\r\n\r\n{".encode())
    started = time.monotonic()
    for sock in (slow_headers, slow_handshake, slow_body):
        sock.settimeout(max(HEADER_TIMEOUT, HANDSHAKE_TIMEOUT, BODY_TIMEOUT) * 3)
        try:
            while sock.recv(4096):  # the body timeout may answer 408 before closing
                pass
        except (ConnectionResetError, ssl.SSLError):
            pass
        sock.close()
    assert time.monotonic() - started < max(HEADER_TIMEOUT, HANDSHAKE_TIMEOUT, BODY_TIMEOUT) + 3
    # Beneath TLS: the server's close_notify, then its TCP close, which asyncio alone held back 30 s.
    with socket.socket(fileno=os.dup(pooled.sock.fileno())) as raw:
        raw.settimeout(max(0.1, pooled_at + KEEP_ALIVE_TIMEOUT + TLS_CLOSE_TIMEOUT + 5 - time.monotonic()))
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:  # an abortive close is a close too
            pass
        except TimeoutError:
            pytest.fail("the server still holds an idle keep-alive connection it closed at the TLS layer")
    pooled.close()
    assert call(server, "/v1/key", {"label": "after", "algorithm": "ED"})[0] == 200


def _answer(sock: ssl.SSLSocket, trickle: bytes = b"") -> bytes:
    """What the server sends before it closes ``sock`` (within 10 s), sending ``trickle`` after each read."""
    sock.settimeout(10)
    received = b""
    try:
        while data := sock.recv(65536):
            received += data
            if trickle:
                sock.sendall(trickle)
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
        pass
    sock.close()
    return received


def test_a_request_head_over_the_header_limit_is_refused(server: Server):
    """A head (target and header fields) of MAX_HEADER_BYTES is served, one byte more is a 400 that closes the
    connection however it is split, and an unfinished header line cannot grow without bound."""
    from hsmsim.server.transport import MAX_HEADER_BYTES

    context = client_context(server)
    target = b"/v1/key/attributes"
    fixed = len(target) + sum(len(name) + len(value) + 4 for name, value in (
        (b"Host", b"127.0.0.1"), (b"Content-Length", b"0"), (b"Connection", b"close"), (b"X-Pad", b"")))

    def head(size: int) -> bytes:
        return (b"POST " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n"
                b"X-Pad: " + b"a" * (size - fixed) + b"\r\n\r\n")

    def send(data: bytes, piece: int) -> bytes:
        sock = context.wrap_socket(socket.create_connection(("127.0.0.1", server.port)), server_hostname="127.0.0.1")
        for start in range(0, len(data), piece):
            sock.sendall(data[start:start + piece])
        return _answer(sock)

    for piece in (1 << 20, 1000):  # one write (TLS splits it into 16 KiB records), or many small ones
        assert send(head(MAX_HEADER_BYTES), piece).startswith(b"HTTP/1.1 401")  # reached the TSB: no token
        refused = send(head(MAX_HEADER_BYTES + 1), piece)
        assert refused.startswith(b"HTTP/1.1 400") and b"connection: close" in refused.lower(), refused[:200]
    endless = context.wrap_socket(socket.create_connection(("127.0.0.1", server.port)), server_hostname="127.0.0.1")
    endless.sendall(b"POST /v1/key HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ")
    endless.settimeout(0.3)
    with pytest.raises(TimeoutError):  # reads the TLS 1.3 session tickets, so that select waits for the answer
        endless.recv(1)
    sent = 0
    while sent < 64 * MAX_HEADER_BYTES and not select.select([endless], [], [], 0.02)[0]:  # until it answers
        endless.sendall(b"a" * 4096)
        sent += 4096
    answer = _answer(endless)  # the 400, unless the reset for the bytes still in flight discarded it
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert MAX_HEADER_BYTES < sent < 4 * MAX_HEADER_BYTES


def test_connections_beyond_the_limit_are_answered_503():
    """uvicorn's connection limit holds with the protocol and loop hsmsim serves with (here lowered to 3)."""
    import uvicorn

    from hsmsim.server.transport import HsmsimServer, uvicorn_options

    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})

    options = uvicorn_options() | {"limit_concurrency": 3}
    listening: list[int] = []
    server = HsmsimServer(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off",
                                         **options))  # type: ignore[arg-type]
    server.on_listening = listening.append
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not listening and time.monotonic() < deadline:
            time.sleep(0.05)
        port = listening[0]

        def status(connection: http.client.HTTPConnection) -> int:
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            return response.status

        held = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(2)]
        assert [status(connection) for connection in held] == [200, 200]
        third = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert status(third) == 503
        for connection in (*held, third):
            connection.close()
        time.sleep(0.3)
        assert status(http.client.HTTPConnection("127.0.0.1", port, timeout=10)) == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_tls_keys_are_random_per_state_and_the_ca_is_loopback_only(tmp_path: Path):
    from hsmsim.server.tls import ensure_tls_files

    first = ensure_tls_files(tmp_path / "one", None, ["127.0.0.1"])
    again = ensure_tls_files(tmp_path / "one", None, ["127.0.0.1"])
    other = ensure_tls_files(tmp_path / "two", None, ["127.0.0.1"])
    seeded = ensure_tls_files(tmp_path / "three", "hsmsim-default", ["127.0.0.1"])
    seeded_again = ensure_tls_files(tmp_path / "four", "hsmsim-default", ["127.0.0.1"])
    ca = {files: x509.load_pem_x509_certificate(files.ca.read_bytes()) for files in (first, again, other, seeded,
                                                                                       seeded_again)}
    assert ca[first] == ca[again] and first.key.read_bytes() == again.key.read_bytes()
    assert ca[first].public_key() != ca[other].public_key()
    assert ca[seeded].public_key() == ca[seeded_again].public_key()
    assert ca[first].public_key() != ca[seeded].public_key()
    constraints = ca[first].extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = constraints.value.permitted_subtrees
    assert x509.DNSName("localhost") in permitted
    assert {str(n.value) for n in permitted if isinstance(n, x509.IPAddress)} == {"127.0.0.0/8", "::1/128"}
    assert (first.key.stat().st_mode & 0o777) == 0o600


def test_concurrent_creates_keep_every_password_and_one_owner_per_label(server: Server):
    from concurrent.futures import ThreadPoolExecutor

    def create(index: int) -> int:
        return call(server, "/v1/key", {"label": f"k{index % 8}", "password": chars(f"pw{index % 8}"),
                                        "algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7"})[0]

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(create, range(32)))
    assert sorted(statuses) == [200] * 8 + [409] * 24
    for index in range(8):
        assert call(server, "/v1/key/keyAttestation", {"label": f"k{index}"})[0] == 403
        assert call(server, "/v1/key/keyAttestation", {"label": f"k{index}", "password": chars(f"pw{index}")})[0] == 200


def _asgi(app, method: str, path: str, body: bytes = b"", *, declared: int | None = None,
          host: bytes = b"127.0.0.1") -> tuple[int, dict]:
    """One request through the whole ASGI app in-process: the status and the JSON body."""
    import asyncio

    return asyncio.run(_asgi_call(app, method, path, body, declared=declared, host=host))


async def _asgi_call(app, method: str, path: str, body: bytes = b"", *, declared: int | None = None,
                     host: bytes = b"127.0.0.1") -> tuple[int, dict]:
    """:func:`_asgi` in a running event loop."""
    target, _, query = path.partition("?")
    scope = {"type": "http", "method": method, "path": unquote(target), "raw_path": target.encode(),
             "query_string": query.encode(), "scheme": "https", "server": ("127.0.0.1", 443),
             "headers": [(b"authorization", f"Bearer {TOKEN}".encode()), (b"host", host),
                         (b"content-length", str(len(body) if declared is None else declared).encode())]}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload) if payload.startswith(b"{") else {}


@pytest.fixture
def app(tmp_path: Path):
    from hsmsim.server.app import HsmsimApp
    from hsmsim.server.store import ServerStore

    return HsmsimApp(ServerStore(tmp_path / "state", "hsmsim-tests"), TOKEN)


def _nothing_stored(app) -> bool:
    directory = app.store.directory
    passwords = directory / "primus" / "passwords.json"
    return (not list(directory.glob("*/soft/*.json"))
            and (not passwords.exists() or json.loads(passwords.read_text()) == {})
            and not (directory / "azure" / "versions.json").exists())


_P256 = {"algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7"}


@pytest.mark.parametrize("body", [
    {"label": "bad\uffff"}, {"label": "bad\ufffe"}, {"label": "\U0001F600" * 17}, {"label": "\U0001F600" * 64},
    {"label": "x\ud800"}, {"label": " "}, {"label": "k", "password": ["\ud800"]},
], ids=["U+FFFF", "U+FFFE", "17-emoji-68-bytes", "64-emoji", "lone-surrogate", "space", "password-surrogate"])
def test_a_tsb_create_the_device_cannot_carry_is_a_400_and_stores_nothing(app, body: dict[str, object]):
    raw = json.dumps({**body, **_P256}).encode()
    for _ in range(2):  # the same answer again: nothing half-made is left to say 409 or 500
        status, answer = _asgi(app, "POST", "/v1/key", raw)
        assert status == 400 and answer["reason"] == "res.error.bad.request" and answer["errorCode"] == 400, answer
    assert _nothing_stored(app)


def test_a_burst_of_slow_creations_does_not_hold_up_other_calls(app, monkeypatch):
    """Key creations take a thread pool of their own: 50 creations stuck in key generation (an RSA-4096 one takes
    seconds) leave threads for an attributes call, which answers at once."""
    import asyncio

    from hsmsim.keystore.soft import SoftKeyStore

    assert _asgi(app, "POST", "/v1/key", json.dumps({"label": "k", **_P256}).encode())[0] == 200
    release = threading.Event()
    generate = SoftKeyStore.generate

    def stuck(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(60)
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(SoftKeyStore, "generate", stuck)

    async def burst() -> tuple[int, list[int]]:
        creations = [asyncio.create_task(_asgi_call(app, "POST", "/v1/key",
                                                    json.dumps({"label": f"new{n}", **_P256}).encode()))
                     for n in range(50)]
        try:
            await asyncio.sleep(0.5)  # every creation has reached its pool by now
            status, _ = await asyncio.wait_for(
                _asgi_call(app, "POST", "/v1/key/attributes", json.dumps({"label": "k"}).encode()), 10)
        finally:
            release.set()
        return status, [answer[0] for answer in await asyncio.gather(*creations)]

    status, created = asyncio.run(burst())
    assert status == 200 and created == [200] * 50


def test_a_label_lock_lives_only_while_a_call_holds_or_waits_for_it(app):
    """Creations, repeats answered 409 and refused labels leave no per-label lock behind (a client trying a
    million labels must not grow the server's memory), while two calls on one label still exclude each other."""
    for label in ("a", "b", "a", "bad\uffff"):
        _asgi(app, "POST", "/v1/key", json.dumps({"label": label, **_P256}).encode())
    store = app.store
    assert len(store._key_locks) == 0
    inside, order = threading.Event(), []

    def hold() -> None:
        with store.key_lock("primus", "c"):
            inside.set()
            time.sleep(0.2)
            order.append("first")

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    with store.key_lock("primus", "c"):
        order.append("second")
    holder.join()
    assert order == ["first", "second"] and len(store._key_locks) == 0


def test_a_label_of_64_utf8_bytes_is_served_everywhere(app):
    label = "\U0001F600" * 16  # 16 characters, 64 bytes: X.509's commonName limit, as cryptography counts it
    assert _asgi(app, "POST", "/v1/key", json.dumps({"label": label, **_P256}).encode())[0] == 200
    for path in ("/v1/key/attributes", "/v1/certificate/request"):
        assert _asgi(app, "POST", path, json.dumps({"label": label}).encode())[0] == 200


@pytest.mark.parametrize("common_name", ["a\ud800", "a\uffff", "\U0001F600" * 17, "", "a\nb"])
def test_a_csr_common_name_the_device_cannot_carry_is_a_400(app, common_name: str):
    assert _asgi(app, "POST", "/v1/key", json.dumps({"label": "k1", **_P256}).encode())[0] == 200
    status, answer = _asgi(app, "POST", "/v1/certificate/request",
                           json.dumps({"label": "k1", "commonName": common_name}).encode())
    assert status == 400 and answer["reason"] == "res.error.bad.request", answer


def test_an_azure_tag_with_a_lone_surrogate_is_a_400_and_stores_nothing(app):
    path = "/keys/az8/create?api-version=7.6"
    status, answer = _asgi(app, "POST", path, b'{"kty": "EC", "tags": {"a": "\\ud800"}}')
    assert status == 400 and answer["error"]["code"] == "BadParameter", answer
    assert _nothing_stored(app)
    assert _asgi(app, "GET", "/keys/az8/?api-version=7.6")[0] == 404


@pytest.mark.parametrize("tags", ['{"a": NaN}', '{"a": 1e400}', '{"a": 1}', '{"a": null}', '{"a": ["x"]}',
                                  '{"a": ' + "[" * 984 + "]" * 984 + "}", '["a"]'])
def test_an_azure_tag_that_is_not_a_string_is_a_400_and_stores_nothing(app, tags: str):
    """Azure's tags map names to strings; anything else (a value the JSON response cannot carry, a nesting that
    would outgrow the state file) is refused before the key is stored, never a version every GET fails on."""
    status, answer = _asgi(app, "POST", "/keys/az9/create?api-version=7.6", b'{"kty": "EC", "tags": ' +
                           tags.encode() + b"}")
    assert status == 400 and answer["error"]["code"] == "BadParameter", answer
    assert _nothing_stored(app)
    assert _asgi(app, "GET", "/keys/az9/?api-version=7.6")[0] == 404


@pytest.mark.parametrize("exportable", ['"false"', '"true"', "0", "1", '["x"]', "{}"])
def test_an_azure_exportable_that_is_not_a_boolean_is_a_400_and_stores_nothing(app, exportable: str):
    """attributes.exportable is a JSON boolean: the string "false" (or 0) never creates an exportable key, nor any."""
    status, answer = _asgi(app, "POST", "/keys/az11/create?api-version=7.6",
                           b'{"kty": "EC", "attributes": {"exportable": ' + exportable.encode() + b"}}")
    assert status == 400 and answer["error"]["code"] == "BadParameter", answer
    assert "exportable" in answer["error"]["message"]
    assert _nothing_stored(app)
    assert _asgi(app, "GET", "/keys/az11/?api-version=7.6")[0] == 404


@pytest.mark.parametrize(("exportable", "created"), [("false", False), ("true", True), ("null", False)])
def test_an_azure_exportable_boolean_is_what_the_key_gets(app, exportable: str, created: bool):
    status, answer = _asgi(app, "POST", "/keys/az12/create?api-version=7.6",
                           b'{"kty": "EC", "attributes": {"exportable": ' + exportable.encode() + b"}}")
    assert status == 200 and answer["attributes"]["exportable"] is created, answer


@pytest.mark.parametrize("host", [b"", b"x y", b"h\x01", b"a" * 300, b"evil.example:port", b"[zz]"])
def test_a_host_header_that_is_no_host_name_is_a_400(app, host: bytes):
    """Azure's key URIs are built from the Host header: one that is no host name never reaches a kid."""
    status, answer = _asgi(app, "POST", "/keys/az10/create?api-version=7.6", b'{"kty": "EC"}', host=host)
    assert status == 400 and answer["error"]["code"] == "BadParameter" and "Host header" in answer["error"]["message"]
    status, answer = _asgi(app, "POST", "/v1/key", json.dumps({"label": "k", **_P256}).encode(), host=host)
    assert status == 400 and answer["reason"] == "res.error.bad.request"
    assert _nothing_stored(app)
    status, answer = _asgi(app, "POST", "/keys/az10/create?api-version=7.6", b'{"kty": "EC"}', host=b"[::1]:8443")
    assert status == 200 and answer["key"]["kid"].startswith("https://[::1]:8443/keys/az10/")


def test_the_server_refuses_a_change_its_restart_could_not_read_back(tmp_path: Path, monkeypatch):
    """A metadata file never outgrows what a restart reads: the change is a 507 and the state stays readable."""
    from hsmsim.server import store as store_module
    from hsmsim.server.app import HsmsimApp
    from hsmsim.server.store import ServerStore

    monkeypatch.setattr(store_module, "_MAX_METADATA_BYTES", 2000)
    app = HsmsimApp(ServerStore(tmp_path / "state", "hsmsim-tests"), TOKEN)
    statuses = [_asgi(app, "POST", f"/keys/full{i}/create?api-version=7.6",
                      b'{"kty": "EC", "tags": {"t": "' + b"x" * 200 + b'"}}')[0] for i in range(8)]
    assert 200 in statuses and statuses[-1] == 507 and statuses == sorted(statuses)
    answer = _asgi(app, "POST", "/keys/full9/create?api-version=7.6", b'{"kty": "EC"}')[1]
    assert answer["error"]["code"] == "InsufficientStorage" and "new --state" in answer["error"]["message"]
    # a refused version leaves no key behind: only the listed ones are on disk
    assert len(list((tmp_path / "state" / "azure" / "soft").glob("*.json"))) == statuses.count(200)
    assert (tmp_path / "state" / "azure" / "versions.json").stat().st_size <= 2000
    ServerStore(tmp_path / "state", "hsmsim-tests").read_existing()  # a restart reads it back
    assert _asgi(app, "GET", "/keys/full0/?api-version=7.6")[0] == 200


def test_a_refused_body_closes_its_connection(server: Server):
    """A 413 (declared or streamed) closes the connection, so its sender cannot keep a connection slot busy by
    trickling the body it was refused."""
    context = client_context(server)
    for framing in (b"Content-Length: 2000000\r\n", b"Transfer-Encoding: chunked\r\n"):
        sock = context.wrap_socket(socket.create_connection(("127.0.0.1", server.port)), server_hostname="127.0.0.1")
        sock.sendall(b"POST /v1/key HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing + b"\r\n")
        if b"chunked" in framing:
            chunk = b"x" * 65536
            for _ in range(18):  # past 1 MiB
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        sock.settimeout(5)
        received = b""
        started = time.monotonic()
        try:
            while data := sock.recv(4096):
                received += data
                sock.sendall(b"x")  # keep trickling: the server must close anyway
                time.sleep(0.05)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            pass
        sock.close()
        assert received.startswith(b"HTTP/1.1 413") and b"connection: close" in received.lower(), received[:200]
        assert time.monotonic() - started < 4


def test_a_body_too_large_is_refused_in_the_shape_of_the_api_it_was_sent_to(app):
    status, answer = _asgi(app, "POST", "/v1/key", declared=2 * 1024 * 1024)
    assert status == 413 and answer["errorCode"] == 413 and answer["reason"] == "res.error.request.too.large"
    status, answer = _asgi(app, "POST", "/keys/k/create?api-version=7.6", declared=2 * 1024 * 1024)
    assert status == 413 and answer["error"]["code"] == "RequestTooLarge"


def _serve(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hsmsim", "serve", "--state", str(state), "--port", "0", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("file", "content", "message"), [
    ("token", "fifo", "corrupt server state: {path} is not a regular file"),
    ("token", "/dev/zero", "corrupt server state: {path} is not a regular file"),
    ("tls/ca.key", "garbage", "corrupt server state {path}: not an unencrypted PEM private key"),
    ("tls/ca.key", "fifo", "corrupt server state: {path} is not a regular file"),
    ("azure/versions.json", DEEP_JSON,
     "corrupt server state: {path} nests too deeply to be read as JSON"),
    ("primus/passwords.json", "[]", "corrupt server state: {path} is not a JSON object"),
    ("gcp/resources.json", "[]", "corrupt server state: {path} is not a JSON object"),
    ("primus/hsm.json", '{"format": "nope"}', "corrupt HSM state {path}: serial is not a string"),
])
def test_corrupt_server_state_is_one_line_and_exit_2_at_start(tmp_path: Path, file: str, content: str, message: str):
    """Server state files are read bounded (a FIFO never blocks, a device is never read) and checked at start."""
    path = tmp_path / "state" / file
    make_hostile(path, content)
    runs = [_serve(tmp_path / "state")]
    if file == "tls/ca.key":
        runs.append(_serve(tmp_path / "state", "--print-ca"))
    for result in runs:
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [f"hsmsim: error: {message.format(path=path)}"]
