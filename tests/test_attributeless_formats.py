"""Evidence that carries no key attributes (a YubiKey slot certificate, Apple's, a security key's and KeyMint's
attestation) states of every key it attests that the device generated it and it can never leave: hsmsim refuses to
make such evidence for a key that was imported or is (or was) extractable, rather than attest it as never
extractable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hsmsim.device import Device
from hsmsim.errors import UnsupportedKeyError
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material
from tests.conftest import SEED

# (device format, mechanism, parameters): each makes evidence whose verifier claims never_extractable=True
ATTRIBUTELESS = [
    ("yubico-piv", "yubico-piv", {}),
    ("purebred", "purebred", {"kind": "yubikey"}),
    ("apple-acme", "apple-acme", {}),
    ("apple-appattest", "apple-appattest", {}),
    ("webauthn", "webauthn", {"fmt": "packed"}),
    ("webauthn", "webauthn", {"fmt": "fido-u2f"}),
    ("webauthn", "webauthn", {"fmt": "apple"}),
]


@pytest.mark.parametrize(("device", "mechanism", "params"), ATTRIBUTELESS, ids=lambda v: str(v))
def test_an_extractable_or_imported_key_is_refused(device: str, mechanism: str, params: dict[str, object]) -> None:
    store = SoftKeyStore(seed="attributeless")
    hsm = Hsm(Device.from_seed(device, SEED), store)
    store.generate(KeySpec.parse("ec-p256"), "generated")
    store.generate(KeySpec.parse("ec-p256"), "exportable", policy=KeyPolicy(extractable=True))
    store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported")
    assert hsm.attest("generated", mechanism, params).files
    for label in ("exportable", "imported"):
        with pytest.raises(UnsupportedKeyError, match=f"^{label} (was imported|is \\(or was\\) extractable)"):
            hsm.attest(label, mechanism, params)


def test_packed_self_attestation_still_takes_any_key() -> None:
    """A credential's own signature vouches for nothing about it: no refusal there."""
    store = SoftKeyStore(seed="attributeless")
    hsm = Hsm(Device.from_seed("webauthn", SEED), store)
    store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported")
    assert hsm.attest("imported", "webauthn", {"fmt": "packed", "attestation": "self"}).files


# A key generated extractable on a PKCS#11 token and made non-extractable afterwards (by another tool): LOCAL=true,
# EXTRACTABLE=false, but NEVER_EXTRACTABLE=false. Only a token can hold one; every attributeless format refuses it.
_ONCE_EXTRACTABLE = """
import os, sys
import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism
os.environ["SOFTHSM2_CONF"] = sys.argv[1]
with pkcs11.lib(sys.argv[2]).get_token(token_label="hsmsim").open(rw=True, user_pin="1234") as session:
    _, private = session.generate_keypair(
        KeyType.EC, None, mechanism=Mechanism.EC_KEY_PAIR_GEN, store=True, label="once-extractable", id=b"\\x01",
        public_template={Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")},
        private_template={Attribute.EXTRACTABLE: True, Attribute.MODIFIABLE: True})
    private[Attribute.EXTRACTABLE] = False
"""


@pytest.mark.softhsm
@pytest.mark.parametrize(("device", "mechanism", "params"),
                         [*ATTRIBUTELESS, ("android-key", "android-key", {}), ("android-acme", "android-acme", {})],
                         ids=lambda v: str(v))
def test_a_key_that_was_extractable_is_refused(tmp_path: Path, device: str, mechanism: str,
                                               params: dict[str, object]) -> None:
    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")
    from hsmsim.keystore.pkcs11 import Pkcs11KeyStore, find_softhsm_module

    module = find_softhsm_module()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2, or make setup)")
    token_dir = tmp_path / "token"
    Pkcs11KeyStore(token_dir=token_dir).close()
    subprocess.run([sys.executable, "-c", _ONCE_EXTRACTABLE, str(token_dir / "softhsm2.conf"), module],
                   check=True, timeout=120, capture_output=True, env={**os.environ})
    with Pkcs11KeyStore(token_dir=token_dir) as store:
        attributes = store.get("once-extractable").attributes
        assert (attributes.local, attributes.extractable, attributes.never_extractable) == (True, False, False)
        with pytest.raises(UnsupportedKeyError, match="extractable"):
            Hsm(Device.from_seed(device, SEED), store).attest("once-extractable", mechanism, params)
