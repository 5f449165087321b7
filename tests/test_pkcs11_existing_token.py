"""The pkcs11 backend on a token the user made: `--token-label`, `--pkcs11-module`, `$HSMSIM_PKCS11_PIN`, `--pin-file`.

Each test makes a SoftHSM2 token as a CA engineer would (`softhsm2-util --init-token --free` under a
`SOFTHSM2_CONF` of its own), then drives the real CLI in subprocesses: key create, key list, attest, verify, and
every refusal (one line, exit 2, no traceback). The token's objects are read back with python-pkcs11 in a
subprocess of their own, so this process never loads SoftHSM with the user's configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")

from hsmsim.keystore.pkcs11 import find_softhsm_module
from tests.cli_process import run_hsmsim

if find_softhsm_module() is None or shutil.which("softhsm2-util") is None:
    pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2, or make setup)", allow_module_level=True)

pytestmark = pytest.mark.softhsm

PIN = "98765-user"
SO_PIN = "11223344"
MODULE = find_softhsm_module()


def make_token(directory: Path, label: str = "mytoken", pin: str = PIN) -> dict[str, str]:
    """A SoftHSM2 configuration in ``directory`` holding one token made by softhsm2-util; the environment a user
    of it runs hsmsim in (no PIN in it)."""
    (directory / "tokens").mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HSMSIM_PKCS11_PIN", "HSMSIM_PKCS11_MODULE")}
    env["SOFTHSM2_CONF"] = str(conf)
    made = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
                           "--so-pin", SO_PIN], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return env


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    return make_token(tmp_path / "user-softhsm")


def hsmsim(env: dict[str, str], *args: str, pin: str | None = None) -> subprocess.CompletedProcess[str]:
    run_env = dict(env) if pin is None else {**env, "HSMSIM_PKCS11_PIN": pin}
    return run_hsmsim(list(args), env=run_env)


def one_line_exit_2(result: subprocess.CompletedProcess[str], *messages: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr)
    assert lines[0].startswith("hsmsim: error: ") and "Traceback" not in result.stderr, result.stderr
    for message in messages:
        assert message in lines[0], lines[0]
    return lines[0]


_READ_TOKEN = r"""
import json, sys
import pkcs11
from pkcs11 import Attribute, ObjectClass
token_label, pin = sys.argv[1], sys.argv[2]
lib = pkcs11.lib(sys.argv[3])
names = ["TOKEN", "PRIVATE", "SENSITIVE", "ALWAYS_SENSITIVE", "EXTRACTABLE", "NEVER_EXTRACTABLE", "LOCAL", "SIGN",
         "DECRYPT", "UNWRAP", "DERIVE", "MODIFIABLE", "COPYABLE", "DESTROYABLE"]
found = {}
with lib.get_token(token_label=token_label).open(user_pin=pin) as session:
    for obj in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
        attrs = {name: bool(obj[Attribute[name]]) for name in names}
        attrs["KEY_TYPE"] = int(obj[Attribute.KEY_TYPE])
        attrs["KEY_GEN_MECHANISM"] = str(obj[Attribute.KEY_GEN_MECHANISM])  # generated keys only: no N/A
        found[obj[Attribute.LABEL]] = attrs
print(json.dumps(found))
"""


def token_keys(env: dict[str, str], token_label: str = "mytoken", pin: str = PIN) -> dict[str, dict[str, object]]:
    """The private keys on the token, by label, with their attributes, read by python-pkcs11 (not hsmsim)."""
    done = subprocess.run([sys.executable, "-c", _READ_TOKEN, token_label, pin, str(MODULE)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    keys = json.loads(done.stdout)
    assert isinstance(keys, dict)
    return keys


_FOREIGN = r"""
import sys
import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism
lib = pkcs11.lib(sys.argv[3])
with lib.get_token(token_label=sys.argv[1]).open(rw=True, user_pin=sys.argv[2]) as session:
    session.generate_keypair(KeyType.RSA, 1024, label="weak", id=b"weak", store=True)
    params = session.create_domain_parameters(KeyType.EC, {Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")},
                                              local=True)
    params.generate_keypair(label="theirs", id=b"theirs", store=True, mechanism=Mechanism.EC_KEY_PAIR_GEN)
"""


def test_create_list_attest_verify_on_the_users_token_across_processes(tmp_path, user_env):
    state = tmp_path / "state"
    created = hsmsim(user_env, "key", "create", "--label", "qsig", "--spec", "rsa-3072", "--backend", "pkcs11",
                     "--token-label", "mytoken", "--pkcs11-module", str(MODULE), "--state", str(state), pin=PIN)
    assert created.returncode == 0, created.stderr
    assert "qsig: rsa-3072 on pkcs11" in created.stdout
    assert "local=true extractable=false never_extractable=true sensitive=true" in created.stdout
    # the key is on the user's token, where python-pkcs11 finds it with the user's PIN
    assert set(token_keys(user_env)) == {"qsig"}
    # the state records the module and label (and serial), never the PIN
    record = json.loads((state / "token" / "pkcs11-token.json").read_text())
    assert record["module"] == os.path.abspath(str(MODULE)) and record["token_label"] == "mytoken"
    assert record["token_serial"]
    for path in state.rglob("*"):
        if path.is_file():
            assert PIN.encode() not in path.read_bytes(), path
    assert not (state / "token" / "softhsm2.conf").exists() and not (state / "token" / "tokens").exists()
    # later processes reopen the token without repeating the options; the PIN comes from a file this time
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN + "\n")
    listed = hsmsim(user_env, "key", "list", "--state", str(state), "--pin-file", str(pin_file))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("qsig\trsa-3072\tpkcs11\tlocal=true\t")
    out = tmp_path / "bundle" / "qsig_attestation.zip"
    attested = hsmsim(user_env, "attest", "--format", "primus", "--key", "qsig", "--out", str(out),
                      "--state", str(state), pin=PIN)
    assert attested.returncode == 0, attested.stderr
    verified = hsmsim(user_env, "verify", str(out), "--root", str(out.parent / "hsm_rsa_root.crt"),
                      "--profile", "strict")
    assert (verified.returncode, verified.stdout.strip()) == (0, "ACCEPT"), verified.stdout + verified.stderr
    # repeating the same options (the module by another path to the same file is the same module) is fine
    again = hsmsim(user_env, "key", "list", "--state", str(state), "--token-label", "mytoken",
                   "--pkcs11-module", os.path.realpath(str(MODULE)), pin=PIN)
    assert again.returncode == 0 and again.stdout == listed.stdout, again.stderr


def test_marvell_azure_evidence_of_a_key_on_the_users_token_verifies(tmp_path, user_env):
    state = tmp_path / "azure"
    created = hsmsim(user_env, "key", "create", "--label", "kek", "--spec", "ec-p256", "--backend", "pkcs11",
                     "--format", "marvell-azure", "--token-label", "mytoken", "--state", str(state), pin=PIN)
    assert created.returncode == 0, created.stderr
    out = tmp_path / "out"
    attested = hsmsim(user_env, "attest", "--format", "marvell-azure", "--key", "kek", "--out", f"{out}/",
                      "--state", str(state), pin=PIN)
    assert attested.returncode == 0, attested.stderr
    exported = hsmsim(user_env, "pki", "export", str(tmp_path / "pki"), "--state", str(state))
    assert exported.returncode == 0, exported.stderr
    verified = hsmsim(user_env, "verify", str(out), "--root", str(tmp_path / "pki" / "root.crt"), "--profile",
                      "strict", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    document = json.loads(verified.stdout)
    assert document["verdict"] == "ACCEPT" and document["format"] == "marvell-azure"
    assert document["claims"]["generated_on_device"] is True and document["claims"]["label"] == "kek"


def test_keys_made_on_the_users_token_carry_the_attributes_of_hsmsims_own_token(tmp_path, user_env):
    own = tmp_path / "own"
    mine = tmp_path / "mine"
    for spec in ("rsa-2048", "ec-p384", "ed25519"):
        assert hsmsim(user_env, "key", "create", "--label", spec, "--spec", spec, "--backend", "pkcs11",
                      "--state", str(own)).returncode == 0
        made = hsmsim(user_env, "key", "create", "--label", spec, "--spec", spec, "--backend", "pkcs11",
                      "--token-label", "mytoken", "--state", str(mine), pin=PIN)
        assert made.returncode == 0, made.stderr
    own_env = {**user_env, "SOFTHSM2_CONF": str(own / "token" / "softhsm2.conf")}
    expected = token_keys(own_env, "hsmsim", "1234")
    assert set(expected) == {"rsa-2048", "ec-p384", "ed25519"}
    assert token_keys(user_env) == expected


def test_foreign_keys_on_the_users_token_keep_their_handling(tmp_path, user_env):
    state = tmp_path / "state"
    assert hsmsim(user_env, "key", "create", "--label", "mine", "--spec", "ec-p256", "--backend", "pkcs11",
                  "--token-label", "mytoken", "--state", str(state), pin=PIN).returncode == 0
    made = subprocess.run([sys.executable, "-c", _FOREIGN, "mytoken", PIN, str(MODULE)], env=user_env,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    listed = hsmsim(user_env, "key", "list", "--state", str(state), pin=PIN)
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [
        ["mine", "ec-p256", "pkcs11"], ["theirs", "ec-p256", "pkcs11"]]  # RSA-1024 "weak" is left out
    refused = hsmsim(user_env, "attest", "--key", "weak", "--out", str(tmp_path / "w.zip"), "--state", str(state),
                     pin=PIN)
    one_line_exit_2(refused, "'weak' is RSA-1024, not one of hsmsim's key specs")
    theirs = hsmsim(user_env, "attest", "--key", "theirs", "--out", str(tmp_path / "t" / "theirs.zip"),
                    "--state", str(state), pin=PIN)
    assert theirs.returncode == 0, theirs.stderr


def test_a_missing_token_is_refused_and_never_initialised(tmp_path, user_env):
    tokens = Path(user_env["SOFTHSM2_CONF"]).parent / "tokens"
    before = sorted(p.name for p in tokens.iterdir())
    state = tmp_path / "state"
    result = hsmsim(user_env, "key", "create", "--label", "k", "--backend", "pkcs11", "--token-label", "nosuch",
                    "--state", str(state), pin=PIN)
    one_line_exit_2(result, "no token labelled 'nosuch' in ", "never initialises a token it did not set up",
                    f"SOFTHSM2_CONF={user_env['SOFTHSM2_CONF']}")
    assert sorted(p.name for p in tokens.iterdir()) == before
    assert not state.exists()  # a failed first creation leaves no state


def test_a_wrong_pin_is_named_plainly_and_leaves_no_state(tmp_path, user_env):
    state = tmp_path / "state"
    args = ("key", "create", "--label", "k", "--backend", "pkcs11", "--token-label", "mytoken", "--state", str(state))
    one_line_exit_2(hsmsim(user_env, *args, pin="00000000"), "wrong user PIN for token 'mytoken'",
                    "CKR_PIN_INCORRECT")
    assert not state.exists()
    pin_file = tmp_path / "pin"
    pin_file.write_text("1234\n")
    one_line_exit_2(hsmsim(user_env, *args, "--pin-file", str(pin_file), pin=PIN), "CKR_PIN_INCORRECT")  # file wins
    assert hsmsim(user_env, *args, pin=PIN).returncode == 0
    one_line_exit_2(hsmsim(user_env, "key", "list", "--state", str(state), pin="00000000"), "CKR_PIN_INCORRECT")


def test_no_pin_is_one_line_naming_where_it_comes_from(tmp_path, user_env):
    state = tmp_path / "state"
    args = ("key", "create", "--label", "k", "--backend", "pkcs11", "--token-label", "mytoken", "--state", str(state))
    one_line_exit_2(hsmsim(user_env, *args), "user PIN of the PKCS#11 token 'mytoken'", "HSMSIM_PKCS11_PIN",
                    "--pin-file")
    one_line_exit_2(hsmsim(user_env, *args, pin=""), "HSMSIM_PKCS11_PIN is set but empty")
    assert not state.exists()
    assert hsmsim(user_env, *args, pin=PIN).returncode == 0
    one_line_exit_2(hsmsim(user_env, "attest", "--key", "k", "--out", str(tmp_path / "k.zip"), "--state", str(state)),
                    "user PIN of the PKCS#11 token 'mytoken'")
    # there is no option taking the PIN itself: it would show in ps
    assert hsmsim(user_env, *args, "--pin", PIN).returncode == 2


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "dangling", "not-a-library", "no-pkcs11"])
def test_a_module_that_cannot_be_one_is_refused_in_one_line(tmp_path, user_env, kind):
    module = tmp_path / "libmodule.so"
    message = {"missing": "does not exist", "directory": "is a directory, not a shared library",
               "fifo": "is not a regular file", "dangling": "is a dangling symbolic link",
               "not-a-library": "cannot load PKCS#11 module", "no-pkcs11": "C_GetFunctionList"}[kind]
    if kind == "directory":
        module.mkdir()
    elif kind == "fifo":
        os.mkfifo(module)  # dlopen would block on it: refused before
    elif kind == "dangling":
        module.symlink_to(tmp_path / "gone.so")
    elif kind == "not-a-library":
        module.write_text("not a shared library\n")
    elif kind == "no-pkcs11":
        module = Path(next(p for p in ("/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1",
                                       "/lib/aarch64-linux-gnu/libz.so.1") if os.path.exists(p)))
    state = tmp_path / "state"
    result = hsmsim(user_env, "key", "create", "--label", "k", "--backend", "pkcs11", "--token-label", "mytoken",
                    "--pkcs11-module", str(module), "--state", str(state), pin=PIN)
    line = one_line_exit_2(result, str(module), message)
    assert "softhsm2" not in line.lower() or kind in ("not-a-library", "no-pkcs11")
    assert not state.exists()


def test_a_relative_module_path_is_made_absolute_and_never_searched(tmp_path, user_env):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(str(MODULE), work / "libsofthsm2.so")
    state = tmp_path / "state"
    made = subprocess.run([sys.executable, "-m", "hsmsim", "key", "create", "--label", "k", "--spec", "ec-p256",
                           "--backend", "pkcs11", "--token-label", "mytoken", "--pkcs11-module", "libsofthsm2.so",
                           "--state", str(state)], cwd=work, capture_output=True, text=True, timeout=120,
                          env={**user_env, "HSMSIM_PKCS11_PIN": PIN, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert made.returncode == 0, made.stderr
    record = json.loads((state / "token" / "pkcs11-token.json").read_text())
    assert record["module"] == str(work / "libsofthsm2.so")
    # from elsewhere, a bare name is a path in the current directory, not a library-path search
    elsewhere = hsmsim(user_env, "key", "create", "--label", "k2", "--backend", "pkcs11", "--token-label",
                       "mytoken", "--pkcs11-module", "libsofthsm2.so", "--state", str(tmp_path / "other"), pin=PIN)
    one_line_exit_2(elsewhere, "libsofthsm2.so does not exist")


def test_another_token_for_the_same_state_is_refused(tmp_path, user_env):
    state = tmp_path / "state"
    assert hsmsim(user_env, "key", "create", "--label", "k", "--spec", "ec-p256", "--backend", "pkcs11",
                  "--token-label", "mytoken", "--state", str(state), pin=PIN).returncode == 0
    other_label = hsmsim(user_env, "key", "list", "--token-label", "other", "--state", str(state), pin=PIN)
    one_line_exit_2(other_label, "uses the PKCS#11 token 'mytoken' of ", "not token 'other' of ", "one token")
    copy = tmp_path / "copy" / "libsofthsm2.so"
    copy.parent.mkdir()
    shutil.copy(str(MODULE), copy)
    other_module = hsmsim(user_env, "attest", "--key", "k", "--out", str(tmp_path / "k.zip"), "--token-label",
                          "mytoken", "--pkcs11-module", str(copy), "--state", str(state), pin=PIN)
    one_line_exit_2(other_module, f"not token 'mytoken' of {copy}")
    # a token of the same label in another SoftHSM2 configuration is another token: its serial number says so
    elsewhere = make_token(tmp_path / "second-softhsm")
    moved = hsmsim(elsewhere, "key", "list", "--state", str(state), pin=PIN)
    one_line_exit_2(moved, "has serial number", "another token has this label")
    # hsmsim's own token, once used by a state, is its pkcs11 token too
    own = tmp_path / "own"
    assert hsmsim(user_env, "key", "create", "--label", "k", "--spec", "ec-p256", "--backend", "pkcs11",
                  "--state", str(own)).returncode == 0
    one_line_exit_2(hsmsim(user_env, "key", "list", "--token-label", "mytoken", "--state", str(own), pin=PIN),
                    "keeps its pkcs11 keys in hsmsim's own SoftHSM2 token, not in token 'mytoken'")
    assert not (own / "token" / "pkcs11-token.json").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("--backend", "pkcs11", "--pkcs11-module", "MODULE"), "--pkcs11-module needs --token-label"),
    (("--token-label", "mytoken"), "--token-label names the pkcs11 backend's token: add --backend pkcs11"),
    (("--backend", "pkcs11", "--token-label", ""), "--token-label must not be empty"),
    (("--backend", "pkcs11", "--token-label", "x" * 33), "at most 32 bytes in UTF-8, not 33"),
    (("--backend", "pkcs11", "--token-label", "mytoken "), "must not end with a blank"),
    (("--backend", "pkcs11", "--token-label", "my\ntoken"), "must not hold control characters"),
])
def test_misused_token_options_are_one_line(tmp_path, user_env, args, message):
    state = tmp_path / "state"
    args = tuple(str(MODULE) if a == "MODULE" else a for a in args)
    one_line_exit_2(hsmsim(user_env, "key", "create", "--label", "k", *args, "--state", str(state), pin=PIN),
                    message)
    assert not state.exists()


@pytest.mark.parametrize(("kind", "message"), [
    ("missing", "No such file or directory"),
    ("fifo", "is not a regular file"),
    ("directory", "is not a regular file"),
    ("large", "is larger than 1024 bytes"),
    ("empty", "is empty"),
    ("two-lines", "holds more than one line"),
    ("binary", "is not UTF-8"),
])
def test_a_bad_pin_file_is_one_line(tmp_path, user_env, kind, message):
    pin_file = tmp_path / "pin"
    if kind == "fifo":
        os.mkfifo(pin_file)  # never opened for reading: no writer would ever come
    elif kind == "directory":
        pin_file.mkdir()
    elif kind != "missing":
        pin_file.write_bytes({"large": b"1" * 1025, "empty": b"\n", "two-lines": PIN.encode() + b"\nmore\n",
                              "binary": b"\xff\xfe"}[kind])
    result = hsmsim(user_env, "key", "create", "--label", "k", "--backend", "pkcs11", "--token-label", "mytoken",
                    "--pin-file", str(pin_file), "--state", str(tmp_path / "state"), pin=PIN)
    one_line_exit_2(result, "--pin-file", message)


def test_python_api_uses_the_users_token(tmp_path, user_env, monkeypatch):
    import hsmsim as api
    from hsmsim.errors import HsmsimError

    monkeypatch.setenv("SOFTHSM2_CONF", user_env["SOFTHSM2_CONF"])
    state = tmp_path / "state"
    stored = api.create_key("pykey", spec="ec-p256", backend="pkcs11", state=state, token_label="mytoken",
                            user_pin=PIN)
    assert stored.attributes.local and stored.attributes.never_extractable
    monkeypatch.setenv("HSMSIM_PKCS11_PIN", PIN)  # a command's way, which the API does not take: it says its own
    with pytest.raises(HsmsimError, match="user PIN of the PKCS#11 token 'mytoken'") as missing:
        api.attest("pykey", state=state)
    assert "pass user_pin=" in str(missing.value) and "--pin-file" not in str(missing.value)
    with pytest.raises(HsmsimError, match="CKR_PIN_INCORRECT"):
        api.attest("pykey", state=state, user_pin="0000")
    evidence = api.attest("pykey", state=state, user_pin=PIN)
    assert evidence.format == "primus"
    with pytest.raises(HsmsimError, match="token_label names the pkcs11 backend's token"):
        api.create_key("soft", backend="soft", state=state, token_label="mytoken", user_pin=PIN)
    assert "pykey" in token_keys(user_env)


@pytest.mark.parametrize(("record", "message"), [
    ("fifo", "is not a regular file"),
    ('{"module": "relative.so", "token_label": "mytoken", "token_serial": "1"}', "module is not an absolute path"),
    ('{"module": "/x.so", "token_label": "' + "x" * 40 + '", "token_serial": "1"}', "token_label is not a token label"),
    ('{"module": "/x.so", "token_label": "mytoken"}', "token_serial is not a token's serial number"),
    ("[]", "is not a JSON object"),
])
def test_a_corrupt_token_record_is_one_line(tmp_path, user_env, record, message):
    state = tmp_path / "state"
    assert hsmsim(user_env, "key", "create", "--label", "k", "--spec", "ec-p256", "--backend", "pkcs11",
                  "--token-label", "mytoken", "--state", str(state), pin=PIN).returncode == 0
    path = state / "token" / "pkcs11-token.json"
    path.unlink()
    if record == "fifo":
        os.mkfifo(path)
    else:
        path.write_text(record)
    one_line_exit_2(hsmsim(user_env, "key", "list", "--state", str(state), pin=PIN), "corrupt PKCS#11 token record",
                    message)
