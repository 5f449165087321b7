"""``hsmsim serve``'s Cloud KMS subset, driven by the official ``google-cloud-kms`` client over REST and TLS."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_process import run_hsmsim
from tests.test_server import (  # noqa: F401 - _servers_by_test and case_server: fixtures, found by their names
    TOKEN,
    Server,
    _asgi,
    _servers_by_test,
    call,
    case_server,
    kill_during_creations,
    start_server,
)

kms_v1 = pytest.importorskip("google.cloud.kms_v1", reason="google-cloud-kms is in the test extra")
exceptions = pytest.importorskip("google.api_core.exceptions")

LOCATION = "projects/my-project/locations/us-east1"
Algorithm = kms_v1.CryptoKeyVersion.CryptoKeyVersionAlgorithm
Purpose = kms_v1.CryptoKey.CryptoKeyPurpose


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path / "state")
    yield running
    running.process.terminate()
    running.process.wait(timeout=10)


def kms_client(server: Server, monkeypatch: pytest.MonkeyPatch, *, token: str | None = TOKEN):
    """The official client as a user points it at hsmsim: REST transport, the server's address as api_endpoint,
    its CA through REQUESTS_CA_BUNDLE, and the bearer token as static OAuth credentials."""
    from google.auth.credentials import AnonymousCredentials
    from google.oauth2.credentials import Credentials

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca))
    credentials = Credentials(token=token) if token else AnonymousCredentials()
    return kms_v1.KeyManagementServiceClient(
        transport="rest", credentials=credentials, client_options={"api_endpoint": f"127.0.0.1:{server.port}"})


def _hsmsim(*args: str) -> subprocess.CompletedProcess[str]:
    return run_hsmsim(list(args), timeout=120)


def _create_key(client, ring: str, key_id: str, algorithm, protection=kms_v1.ProtectionLevel.HSM,
                purpose=Purpose.ASYMMETRIC_SIGN, **request: object):
    return client.create_crypto_key(request={
        "parent": ring, "crypto_key_id": key_id, **request,
        "crypto_key": {"purpose": purpose,
                       "version_template": {"algorithm": algorithm, "protection_level": protection}}})


def _write_as_gcloud(version, directory: Path) -> Path:
    """What ``gcloud kms keys versions describe --attestation-file`` and ``get-certificate-chain --output-file``
    write: the attestation's content (the gzip bytes) and every chain's PEMs, Cavium, Google partition, Google card."""
    directory.mkdir()
    chains = version.attestation.cert_chains
    (directory / "attestation.dat").write_bytes(version.attestation.content)
    (directory / "certs.pem").write_text(
        "".join([*chains.cavium_certs, *chains.google_partition_certs, *chains.google_card_certs]))
    return directory / "attestation.dat"


def test_an_hsm_key_from_the_client_has_an_attestation_the_reference_verifier_accepts(
        server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    client = kms_client(server, monkeypatch)
    ring = client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "ring-1", "key_ring": {}})
    assert ring.name == f"{LOCATION}/keyRings/ring-1" and ring.create_time.year >= 2024
    key = _create_key(client, ring.name, "signer", Algorithm.EC_SIGN_P256_SHA256)
    assert key.purpose == Purpose.ASYMMETRIC_SIGN
    assert key.version_template.protection_level == kms_v1.ProtectionLevel.HSM
    assert client.get_crypto_key(name=key.name).version_template.algorithm == Algorithm.EC_SIGN_P256_SHA256

    version = client.get_crypto_key_version(name=f"{key.name}/cryptoKeyVersions/1")
    assert version.state == kms_v1.CryptoKeyVersion.CryptoKeyVersionState.ENABLED
    assert version.algorithm == Algorithm.EC_SIGN_P256_SHA256 and version.protection_level == kms_v1.ProtectionLevel.HSM
    assert version.create_time == version.generate_time and version.create_time.tzinfo is not None
    attestation = version.attestation
    assert attestation.format == kms_v1.KeyOperationAttestation.AttestationFormat.CAVIUM_V2_COMPRESSED
    blob = gzip.decompress(attestation.content)
    assert int.from_bytes(blob[8:12], "big") == len(blob)  # Marvell's totalSize: a whole FW 3.x response
    chains = attestation.cert_chains
    assert [len(chains.cavium_certs), len(chains.google_card_certs), len(chains.google_partition_certs)] == [2, 1, 1]

    # What a relying party does with gcloud's two files: verify them against the emulated roots of the server's state.
    evidence = _write_as_gcloud(version, tmp_path / "gcloud")
    exported = _hsmsim("pki", "export", str(tmp_path / "roots"), "--state", str(server.state / "gcp"))
    assert exported.returncode == 0, exported.stderr
    roots = ["--root", str(tmp_path / "roots" / "root.crt"), "--root", str(tmp_path / "roots" / "owner-root.crt")]
    verdict = _hsmsim("verify", str(evidence), *roots, "--profile", "strict")
    assert verdict.returncode == 0 and verdict.stdout.startswith("ACCEPT"), verdict.stdout + verdict.stderr
    # ... and it is exactly what `hsmsim attest` makes of the key, which is labelled with the version's name.
    made = _hsmsim("attest", "--format", "marvell-google", "--key", version.name, "--out", str(tmp_path / "cli"),
                   "--state", str(server.state / "gcp"))
    assert made.returncode == 0, made.stderr
    assert next((tmp_path / "cli").glob("*.attestation.dat")).read_bytes() == attestation.content
    assert next((tmp_path / "cli").glob("*.certs.pem")).read_text() == (tmp_path / "gcloud" / "certs.pem").read_text()

    public = client.get_public_key(name=version.name)
    assert public.pem == next((tmp_path / "cli").glob("*.pub.pem")).read_text()
    assert public.pem_crc32c == _crc32c_bitwise(public.pem.encode())
    assert public.algorithm == Algorithm.EC_SIGN_P256_SHA256 and public.name == version.name
    assert public.protection_level == kms_v1.ProtectionLevel.HSM


def test_an_attestation_is_rejected_against_another_states_roots(server: Server, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path):
    """The verification above depends on the server's own roots: another device's root, whose name is the same
    (the emulated LS1 DN) but whose key is not, does not sign the card certificate."""
    client = kms_client(server, monkeypatch)
    client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "r", "key_ring": {}})
    key = _create_key(client, f"{LOCATION}/keyRings/r", "k", Algorithm.RSA_SIGN_PKCS1_3072_SHA256)
    evidence = _write_as_gcloud(client.get_crypto_key_version(name=f"{key.name}/cryptoKeyVersions/1"),
                                tmp_path / "gcloud")
    other = tmp_path / "other"
    assert _hsmsim("key", "create", "--format", "marvell-google", "--seed", "another", "--label", "x",
                   "--spec", "ec-p256", "--state", str(other)).returncode == 0
    assert _hsmsim("pki", "export", str(tmp_path / "roots"), "--state", str(other)).returncode == 0
    verdict = _hsmsim("verify", str(evidence), "--root", str(tmp_path / "roots" / "root.crt"),
                      "--root", str(tmp_path / "roots" / "owner-root.crt"))
    assert verdict.returncode == 1 and verdict.stdout.startswith("REJECT CERT_SIGNATURE_INVALID"), verdict.stdout


def test_software_keys_have_no_attestation_and_symmetric_keys_no_public_key(server: Server,
                                                                           monkeypatch: pytest.MonkeyPatch):
    client = kms_client(server, monkeypatch)
    ring = client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "r2", "key_ring": {}}).name
    soft = _create_key(client, ring, "soft", Algorithm.RSA_DECRYPT_OAEP_2048_SHA256, kms_v1.ProtectionLevel.SOFTWARE,
                       Purpose.ASYMMETRIC_DECRYPT)
    version = client.get_crypto_key_version(name=f"{soft.name}/cryptoKeyVersions/1")
    assert version.protection_level == kms_v1.ProtectionLevel.SOFTWARE and "attestation" not in version
    assert "RSA" not in client.get_public_key(name=version.name).pem  # SPKI PEM, not PKCS#1
    symmetric = client.create_crypto_key(request={"parent": ring, "crypto_key_id": "aes", "crypto_key": {
        "purpose": Purpose.ENCRYPT_DECRYPT, "version_template": {"protection_level": kms_v1.ProtectionLevel.HSM}}})
    assert symmetric.primary.name == f"{symmetric.name}/cryptoKeyVersions/1"
    assert symmetric.primary.algorithm == Algorithm.GOOGLE_SYMMETRIC_ENCRYPTION
    assert gzip.decompress(symmetric.primary.attestation.content)
    with pytest.raises(exceptions.BadRequest) as refused:
        client.get_public_key(name=symmetric.primary.name)
    assert "ENCRYPT_DECRYPT" in refused.value.message
    status, _, body = call(server, f"/v1/{symmetric.primary.name}/publicKey")
    assert status == 400 and json.loads(body)["error"]["status"] == "FAILED_PRECONDITION"


def test_versions_can_be_created_listed_and_listed_in_full(server: Server, monkeypatch: pytest.MonkeyPatch):
    client = kms_client(server, monkeypatch)
    ring = client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "r3", "key_ring": {}}).name
    key = _create_key(client, ring, "empty", Algorithm.EC_SIGN_P384_SHA384, skip_initial_version_creation=True)
    with pytest.raises(exceptions.NotFound):
        client.get_crypto_key_version(name=f"{key.name}/cryptoKeyVersions/1")
    first = client.create_crypto_key_version(request={"parent": key.name, "crypto_key_version": {}})
    second = client.create_crypto_key_version(request={"parent": key.name, "crypto_key_version": {}})
    assert [first.name[-1], second.name[-1]] == ["1", "2"] and first.attestation.content != second.attestation.content
    listed = client.list_crypto_key_versions(request={"parent": key.name})
    assert [v.name for v in listed] == [first.name, second.name] and all("attestation" not in v for v in listed)
    full = list(client.list_crypto_key_versions(request={
        "parent": key.name, "view": kms_v1.CryptoKeyVersion.CryptoKeyVersionView.FULL, "page_size": 1}))
    assert [v.attestation.content for v in full] == [first.attestation.content, second.attestation.content]


def test_client_errors_are_googles(server: Server, monkeypatch: pytest.MonkeyPatch):
    client = kms_client(server, monkeypatch)
    # Only on a 401 does the client's session try to refresh its credentials, which neither kind can.
    from google.auth.exceptions import InvalidOperation, RefreshError

    for token, raised in ((None, InvalidOperation), ("wrong", RefreshError)):
        with pytest.raises(raised):
            kms_client(server, monkeypatch, token=token).get_key_ring(name=f"{LOCATION}/keyRings/r")
    with pytest.raises(exceptions.NotFound):
        client.get_key_ring(name=f"{LOCATION}/keyRings/absent")
    with pytest.raises(exceptions.NotFound):
        _create_key(client, f"{LOCATION}/keyRings/absent", "k", Algorithm.EC_SIGN_P256_SHA256)
    ring = client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "r", "key_ring": {}}).name
    with pytest.raises(exceptions.Conflict):
        client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "r", "key_ring": {}})
    _create_key(client, ring, "k", Algorithm.EC_SIGN_P256_SHA256)
    with pytest.raises(exceptions.Conflict):
        _create_key(client, ring, "k", Algorithm.RSA_SIGN_PSS_2048_SHA256)
    with pytest.raises(exceptions.NotFound):
        client.get_crypto_key(name=f"{ring}/cryptoKeys/absent")
    with pytest.raises(exceptions.NotFound):
        client.get_crypto_key_version(name=f"{ring}/cryptoKeys/k/cryptoKeyVersions/2")
    for algorithm, purpose in [(Algorithm.EC_SIGN_P256_SHA256, Purpose.ASYMMETRIC_DECRYPT),
                               (Algorithm.HMAC_SHA256, Purpose.MAC),
                               (Algorithm.EC_SIGN_ED25519, Purpose.ASYMMETRIC_SIGN),
                               (Algorithm.CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED, Purpose.ASYMMETRIC_SIGN)]:
        with pytest.raises(exceptions.BadRequest):
            _create_key(client, ring, "bad", algorithm, purpose=purpose)
    with pytest.raises(exceptions.BadRequest):
        _create_key(client, ring, "bad", Algorithm.EC_SIGN_P256_SHA256, kms_v1.ProtectionLevel.EXTERNAL)
    with pytest.raises(exceptions.BadRequest):
        client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "no spaces", "key_ring": {}})
    with pytest.raises(exceptions.NotFound):
        client.get_crypto_key(name=f"{ring}/cryptoKeys/bad")  # nothing refused was stored


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), [
    ("GET", f"/v1/{LOCATION}/keyRings/r", None, 401, "UNAUTHENTICATED"),
    ("GET", f"/v1/{LOCATION}/keyRings/absent", None, 404, "NOT_FOUND"),
    ("POST", f"/v1/{LOCATION}/keyRings?keyRingId=r", {}, 409, "ALREADY_EXISTS"),
    ("POST", f"/v1/{LOCATION}/keyRings", {}, 400, "INVALID_ARGUMENT"),
    ("POST", f"/v1/{LOCATION}/keyRings/r/cryptoKeys?cryptoKeyId=k", {"purpose": "NOPE"}, 400, "INVALID_ARGUMENT"),
    ("POST", f"/v1/{LOCATION}/keyRings/r/cryptoKeys?cryptoKeyId=k", {"purpose": "ASYMMETRIC_SIGN", "colour": 1}, 400,
     "INVALID_ARGUMENT"),
    ("POST", f"/v1/{LOCATION}/keyRings/r/cryptoKeys?cryptoKeyId=k&skipInitialVersionCreation=maybe",
     {"purpose": "ENCRYPT_DECRYPT"}, 400, "INVALID_ARGUMENT"),
    ("POST", f"/v1/{LOCATION}/keyRings/r/cryptoKeys?cryptoKeyId=k", {"purpose": "ENCRYPT_DECRYPT", "labels": [1]},
     400, "INVALID_ARGUMENT"),
    ("POST", f"/v1/{LOCATION}/keyRings/r/cryptoKeys?cryptoKeyId=k",
     {"purpose": "ENCRYPT_DECRYPT", "rotationPeriod": "86400s"}, 400, "INVALID_ARGUMENT"),
    ("POST", f"/v1/{LOCATION}/keyRings/r/cryptoKeys?cryptoKeyId=k", [], 400, "INVALID_ARGUMENT"),
    ("GET", f"/v1/{LOCATION}/keyRings/r/cryptoKeys/k0/cryptoKeyVersions?filter=state%3DENABLED", None, 400,
     "INVALID_ARGUMENT"),
    ("GET", f"/v1/{LOCATION}/keyRings/r/cryptoKeys/k0/cryptoKeyVersions?pageSize={'9' * 5000}", None, 400,
     "INVALID_ARGUMENT"),  # more digits than int() takes: a 400, never a 500
    ("GET", f"/v1/{LOCATION}/keyRings/r/cryptoKeys/k0/cryptoKeyVersions?pageToken=%D9%A3", None, 400,
     "INVALID_ARGUMENT"),
    ("GET", f"/v1/{LOCATION}/keyRings/r/cryptoKeys/k0/cryptoKeyVersions?view={'1' * 5000}", None, 400,
     "INVALID_ARGUMENT"),
    ("DELETE", f"/v1/{LOCATION}/keyRings/r", None, 404, "NOT_FOUND"),
    ("GET", "/v1/projects/p", None, 404, "NOT_FOUND"),
])
def test_refusals_have_googles_error_shape(case_server: Server, method: str,  # noqa: F811 - the fixture
                                           path: str, body: object, status: int, code: str):
    server = case_server  # shared by the cases: each refusal stores nothing, as its last line checks
    if call(server, f"/v1/{LOCATION}/keyRings/r")[0] == 404:  # the first case on this server
        assert call(server, f"/v1/{LOCATION}/keyRings?keyRingId=r", {})[0] == 200
        status_k0 = call(server, f"/v1/{LOCATION}/keyRings/r/cryptoKeys?cryptoKeyId=k0",
                         {"purpose": "ENCRYPT_DECRYPT"})[0]
        assert status_k0 == 200
    assert call(server, f"/v1/{LOCATION}/keyRings/r/cryptoKeys/k0")[0] == 200
    request_token = None if status == 401 else TOKEN
    if method == "DELETE":
        import urllib.error
        import urllib.request

        from tests.test_server import client_context

        request = urllib.request.Request(server.url + path, method="DELETE",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, context=client_context(server), timeout=30)
        got_status, headers, answer = error.value.code, dict(error.value.headers), error.value.read()
    else:
        got_status, headers, answer = call(server, path, body, token=request_token)
    error_body = json.loads(answer)
    assert got_status == status and set(error_body) == {"error"}, answer
    assert error_body["error"]["code"] == status and error_body["error"]["status"] == code
    assert isinstance(error_body["error"]["message"], str) and b"Traceback" not in answer
    if status == 401:
        assert headers["www-authenticate"].startswith("Bearer")
    assert call(server, f"/v1/{LOCATION}/keyRings/r/cryptoKeys/k")[0] == 404  # nothing refused was stored


def test_enums_are_names_unless_the_client_asks_for_numbers(server: Server):
    ring = f"/v1/{LOCATION}/keyRings/r"
    assert call(server, f"/v1/{LOCATION}/keyRings?keyRingId=r", {})[0] == 200
    status, _, body = call(server, f"{ring}/cryptoKeys?cryptoKeyId=k", {
        "purpose": "ASYMMETRIC_SIGN", "version_template": {"algorithm": 12, "protection_level": "HSM"}})
    assert status == 200, body
    named = json.loads(body)
    assert named["purpose"] == "ASYMMETRIC_SIGN" and named["destroyScheduledDuration"] == "2592000s"
    assert named["versionTemplate"] == {"protectionLevel": "HSM", "algorithm": "EC_SIGN_P256_SHA256"}
    version = json.loads(call(server, f"{ring}/cryptoKeys/k/cryptoKeyVersions/1")[2])
    assert version["state"] == "ENABLED" and version["attestation"]["format"] == "CAVIUM_V2_COMPRESSED"
    numbered = json.loads(call(server, f"{ring}/cryptoKeys/k/cryptoKeyVersions/1?%24alt=json%3Benum-encoding%3Dint")[2])
    assert [numbered["state"], numbered["protectionLevel"], numbered["algorithm"], numbered["attestation"]["format"]] \
        == [1, 2, 12, 4]
    assert numbered["attestation"]["content"] == version["attestation"]["content"]


def test_enum_numbers_are_the_clients():
    from hsmsim.server import gcp

    for table, enum in [(gcp.PURPOSES, Purpose), (gcp.PROTECTION_LEVELS, kms_v1.ProtectionLevel),
                        (gcp.ALGORITHMS, Algorithm), (gcp.STATES, kms_v1.CryptoKeyVersion.CryptoKeyVersionState),
                        (gcp.ATTESTATION_FORMATS, kms_v1.KeyOperationAttestation.AttestationFormat),
                        (gcp.VERSION_VIEWS, kms_v1.CryptoKeyVersion.CryptoKeyVersionView)]:
        assert {name: enum[name].value for name in table} == table


def _crc32c_bitwise(data: bytes) -> int:
    value = 0xFFFFFFFF
    for byte in data:
        value ^= byte
        for _ in range(8):
            value = (value >> 1) ^ (0x82F63B78 * (value & 1))
    return value ^ 0xFFFFFFFF


def test_crc32c_is_castagnolis():
    from hsmsim.server.gcp import crc32c

    # The check value of CRC-32C and RFC 3720 B.4's test vectors.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA and crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E


def test_keys_survive_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    state = tmp_path / "state"
    first = start_server(state)
    try:
        client = kms_client(first, monkeypatch)
        ring = client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "keep", "key_ring": {}}).name
        key = _create_key(client, ring, "k", Algorithm.RSA_SIGN_PKCS1_2048_SHA256)
        before = client.get_crypto_key_version(name=f"{key.name}/cryptoKeyVersions/1")
        pem = client.get_public_key(name=before.name).pem
    finally:
        first.process.terminate()
        first.process.wait(timeout=10)
    second = start_server(state)
    try:
        client = kms_client(second, monkeypatch)
        after = client.get_crypto_key_version(name=before.name)
        assert after.attestation.content == before.attestation.content and after.create_time == before.create_time
        assert client.get_public_key(name=before.name).pem == pem
        assert client.get_key_ring(name=ring).create_time == client.get_key_ring(name=ring).create_time
        with pytest.raises(exceptions.Conflict):
            _create_key(client, ring, "k", Algorithm.RSA_SIGN_PKCS1_2048_SHA256)
    finally:
        second.process.terminate()
        second.process.wait(timeout=10)


@pytest.fixture
def app(tmp_path: Path):
    from hsmsim.server.app import HsmsimApp
    from hsmsim.server.store import ServerStore

    return HsmsimApp(ServerStore(tmp_path / "state", "hsmsim-tests"), TOKEN)


_RING = f"/v1/{LOCATION}/keyRings/r"
_EC_KEY = json.dumps({"purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": "EC_SIGN_P256_SHA256",
                                                                        "protectionLevel": "HSM"}}).encode()


def test_a_key_left_by_a_crash_before_its_record_is_replaced(app):
    """A crash between generating a version's key and writing the record that lists it leaves a key no record
    lists; creating the crypto key again replaces it (it is never served, and never a 500)."""
    from hsmsim.keystore.base import KeySpec

    assert _asgi(app, "POST", f"/v1/{LOCATION}/keyRings?keyRingId=r", b"{}")[0] == 200
    state = app.store.device("gcp", "marvell-google")
    orphan = state.store("soft").generate(KeySpec.parse("ec-p256"), f"{_RING[4:]}/cryptoKeys/k/cryptoKeyVersions/1")
    status, answer = _asgi(app, "POST", f"{_RING}/cryptoKeys?cryptoKeyId=k", _EC_KEY)
    assert status == 200, answer
    status, public = _asgi(app, "GET", f"{_RING}/cryptoKeys/k/cryptoKeyVersions/1/publicKey")
    assert status == 200 and public["pem"] != _pem(orphan)


def _pem(key) -> str:
    from hsmsim.encoding import pem, spki_der

    return pem(spki_der(key.public_key), "PUBLIC KEY").decode()


def test_a_full_state_is_a_507_in_googles_shape_and_keeps_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from hsmsim.server import store as store_module
    from hsmsim.server.app import HsmsimApp
    from hsmsim.server.store import ServerStore

    monkeypatch.setattr(store_module, "_MAX_METADATA_BYTES", 1500)
    app = HsmsimApp(ServerStore(tmp_path / "state", "hsmsim-tests"), TOKEN)
    assert _asgi(app, "POST", f"/v1/{LOCATION}/keyRings?keyRingId=r", b"{}")[0] == 200
    statuses = [_asgi(app, "POST", f"{_RING}/cryptoKeys?cryptoKeyId=k{i}", _EC_KEY)[0] for i in range(8)]
    assert 200 in statuses and statuses[-1] == 507 and statuses == sorted(statuses)
    status, answer = _asgi(app, "POST", f"{_RING}/cryptoKeys?cryptoKeyId=last", _EC_KEY)
    assert status == 507 and answer["error"]["status"] == "RESOURCE_EXHAUSTED" and "new --state" in \
        answer["error"]["message"]
    assert len(list((tmp_path / "state" / "gcp" / "soft").glob("*.json"))) == statuses.count(200)
    ServerStore(tmp_path / "state", "hsmsim-tests").read_existing()  # a restart reads it back


def test_a_refusal_before_routing_has_googles_shape(app):
    status, answer = _asgi(app, "POST", f"/v1/{LOCATION}/keyRings?keyRingId=r", declared=2 * 1024 * 1024)
    assert status == 413 and answer["error"]["code"] == 413 and "status" in answer["error"]
    status, answer = _asgi(app, "GET", f"{_RING}", host=b"x y")
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT" and "Host header" in \
        answer["error"]["message"]
    status, answer = _asgi(app, "POST", "/v1/key", declared=2 * 1024 * 1024)  # the TSB's other /v1 paths keep theirs
    assert status == 413 and answer["reason"] == "res.error.request.too.large"


def test_kill_9_during_creations_loses_no_acknowledged_key(tmp_path: Path):
    """Concurrent crypto key creations, SIGKILL, restart: every key the server acknowledged is there, with the
    attestation its creation answered, and a name it never acknowledged can be created again."""
    state = tmp_path / "state"
    server = start_server(state)
    assert call(server, f"/v1/{LOCATION}/keyRings?keyRingId=r", {})[0] == 200

    def create(key_id: str) -> str | None:
        status, _, body = call(server, f"{_RING}/cryptoKeys?cryptoKeyId={key_id}", raw=_EC_KEY)
        return json.loads(body)["createTime"] if status == 200 else None

    acknowledged, tried = kill_during_creations(server, create, enough=8, seconds=30)
    restarted = start_server(state)
    try:
        for key_id, created in acknowledged.items():
            status, _, body = call(restarted, f"{_RING}/cryptoKeys/{key_id}/cryptoKeyVersions/1")
            assert status == 200 and json.loads(body)["createTime"] == created, (key_id, body[:200])
            assert gzip.decompress(base64.b64decode(json.loads(body)["attestation"]["content"]))
        for key_id in set(tried) - set(acknowledged):
            status, _, body = call(restarted, f"{_RING}/cryptoKeys?cryptoKeyId={key_id}", raw=_EC_KEY)
            assert status in (200, 409), body  # 409: created, its answer lost with the process
    finally:
        restarted.process.terminate()
        restarted.process.wait(timeout=10)
