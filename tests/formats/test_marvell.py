"""The Marvell formats: exact bytes, the real Google sample, the catalogue's verdicts, hostile input,
determinism, a SoftHSM key and the CLI path."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from hsmsim.corpus.build import DEFAULT_SEED
from hsmsim.device import Device
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats import detect, get_format
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell import envelopes
from hsmsim.formats.marvell.catalogue import GZIP_BOMB, mutations, vector_cases
from hsmsim.formats.marvell.envelopes import package
from hsmsim.formats.marvell.generate import assemble, owner_pki
from hsmsim.formats.marvell.layout import Cloud
from hsmsim.formats.marvell.options import (
    AzureEnvelope,
    GoogleEnvelope,
    GoogleTemplate,
    KeyNames,
    MarvellOptions,
)
from hsmsim.hsm import Hsm
from hsmsim.keystore.base import KeyPolicy, KeySpec
from hsmsim.keystore.soft import SoftKeyStore, new_key_material, spki_der
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.verdict import Profile, Reason
from tests.cli_process import run_hsmsim
from tests.conftest import ATTEST_TIME, KEY_CREATED, SEED, VALIDATION_TIME

SPECS = ("rsa-2048", "rsa-3072", "ec-p256", "ec-p384", "aes-256")
REAL_TIME = datetime(2024, 8, 20, tzinfo=UTC)


class World:
    """One soft key store (the conftest seed's keys) behind an Azure and a Google device."""

    def __init__(self, seed: str = SEED) -> None:
        self.store = SoftKeyStore(seed=seed)
        azure = Device.from_seed("marvell-azure", seed)
        self.hsms = {Cloud.AZURE: Hsm(azure, self.store),
                     Cloud.GOOGLE: Hsm(replace(azure, format="marvell-google"), self.store)}
        for spec in SPECS:
            self.store.generate(KeySpec.parse(spec), f"key-{spec}", created=KEY_CREATED)

    def attest(self, cloud: Cloud, spec: str, **params: object) -> Evidence:
        return self.hsms[cloud].attest(f"key-{spec}", f"marvell-{cloud.value}", {"attest_time": ATTEST_TIME, **params})

    def trust(self, cloud: Cloud) -> TrustAnchors:
        hsm = self.hsms[cloud]
        identity = hsm.attestation_identity()
        names = KeyNames.derive(hsm.device, "key-rsa-3072")
        return TrustAnchors({"root": (identity.root, owner_pki(cloud, hsm.device, identity, names).root)})


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def azure_doc(evidence: Evidence) -> dict:
    return json.loads(evidence.files[evidence.primary])


def azure_blobs(evidence: Evidence) -> tuple[bytes, bytes | None]:
    attestation = azure_doc(evidence)["attributes"]["attestation"]
    public = attestation.get("publicKeyAttestation")
    return (envelopes.b64_decode(attestation["privateKeyAttestation"], "blob", 1 << 16)[0],
            envelopes.b64_decode(public, "blob", 1 << 16)[0] if public else None)


def with_azure_blob(evidence: Evidence, blob: bytes) -> Evidence:
    document = azure_doc(evidence)
    document["attributes"]["attestation"]["privateKeyAttestation"] = envelopes.b64url(blob)
    return Evidence(evidence.format, {**evidence.files, evidence.primary: json.dumps(document).encode()},
                    evidence.primary)


def spki(public_key: object) -> bytes:
    return spki_der(public_key)


# -- exact bytes ----------------------------------------------------------------------------

def test_azure_rsa_blob_layout(world):
    evidence = world.attest(Cloud.AZURE, "rsa-3072")
    key = world.store.get("key-rsa-3072")
    blob, public_blob = azure_blobs(evidence)
    code, flags, total, buffer, extra = struct.unpack_from(">IIIII", blob)
    assert (code, flags, total, extra) == (0, 3, len(blob), buffer)  # the REST example's 20-byte header
    assert total - buffer - 256 == 20
    assert struct.unpack_from(">HHHH", blob, 20) == (1, 0, 8, 0)
    handle, count, size = struct.unpack_from(">III", blob, 28)
    assert buffer == 8 + 12 + size and count == 37
    parsed = mb.parse_blob(blob)
    (obj,) = parsed.objects
    assert obj.handle == handle and obj.types == mb.RSA_ORDER
    der = spki(key.public_key)
    assert obj.get(mb.CLASS) == b"\x03" and obj.get(mb.KEY_TYPE) == b"\x00" and obj.get(mb.TOKEN) == b"\x02"
    assert obj.get(mb.KCV) == hashlib.sha1(der).digest()[:3] and obj.get(mb.EKCV) == hashlib.sha256(der).digest()
    assert obj.get(mb.MODULUS) == key.public_key.public_numbers().n.to_bytes(384, "big")
    assert obj.get(mb.PUBLIC_EXPONENT) == b"\x01\x00\x01" and obj.get(mb.MODULUS_BITS) == (3072).to_bytes(4, "big")
    uri = azure_doc(evidence)["key"]["kid"]
    assert uri.startswith("https://") and "/keys/key-rsa-3072/" in uri
    assert obj.get(mb.ID) == uri.encode().ljust(128, b"\x00") and obj.get(mb.LABEL) == b"key-rsa-3072".ljust(128, b"\0")
    values = {t: obj.get(t) for t in (mb.LOCAL, mb.SENSITIVE, mb.EXTRACTABLE, mb.NEVER_EXTRACTABLE,
                                      mb.ALWAYS_SENSITIVE)}
    assert values == {mb.LOCAL: b"\x01", mb.SENSITIVE: b"\x01", mb.EXTRACTABLE: b"\x00",
                      mb.NEVER_EXTRACTABLE: b"\x01", mb.ALWAYS_SENSITIVE: b"\x01"}
    assert all(obj.get(t) == b"\x00" * 31 + b"\xff" for t in mb.MECHANISM_BITMAPS)
    partition = world.hsms[Cloud.AZURE].attestation_identity().certificate
    partition.public_key().verify(blob[-256:], blob[:-256], padding.PKCS1v15(), hashes.SHA256())
    (public,) = mb.parse_blob(public_blob).objects
    assert public.get(mb.CLASS) == b"\x02" and public.get(mb.MODULUS) == obj.get(mb.MODULUS)
    assert public.get(mb.EXTRACTABLE) == b"\x01" and public.get(mb.SENSITIVE) == b"\x00"
    assert public.get(mb.VERIFY) == b"\x01" and public.get(mb.SIGN) == b"\x00"


def test_azure_json_and_bundle(world):
    evidence = world.attest(Cloud.AZURE, "ec-p256")
    document = azure_doc(evidence)
    assert list(document) == ["key", "attributes"]
    attestation = document["attributes"]["attestation"]
    assert list(attestation) == ["certificatePemFile", "privateKeyAttestation", "publicKeyAttestation", "version"]
    assert attestation["version"] == "MRVL-1"
    assert all("=" not in v and "+" not in v and "/" not in v for k, v in attestation.items() if k != "version")
    jwk = document["key"]
    assert jwk["kty"] == "EC-HSM" and jwk["crv"] == "P-256" and jwk["key_ops"] == ["sign", "verify"]
    certs = x509.load_pem_x509_certificates(envelopes.b64_decode(attestation["certificatePemFile"], "pem", 1 << 16)[0])
    card, partition, owner_root, owner_partition = certs
    assert card.version is x509.Version.v1 and card.serial_number == 1
    assert partition.version is x509.Version.v3 and len(partition.extensions) == 0
    assert owner_root.issuer == owner_root.subject and "EMULATED" in owner_root.subject.rfc4514_string()
    assert spki(owner_partition.public_key()) == spki(partition.public_key())
    assert owner_partition.issuer == owner_root.subject
    multi = card.subject.rdns[0]
    assert len(multi) == 5 and card.subject.rdns[1].rfc4514_string().endswith(", for FIPS mode")
    root = x509.load_pem_x509_certificate(evidence.files["liquid_security_certificate.crt"])
    assert [a.oid._name for rdn in root.subject.rdns for a in rdn] == [
        "countryName", "stateOrProvinceName", "localityName", "organizationName", "organizationalUnitName",
        "commonName"]
    assert root.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value.endswith("EMULATED")
    aes = azure_doc(world.attest(Cloud.AZURE, "aes-256"))
    assert "publicKeyAttestation" not in aes["attributes"]["attestation"] and aes["key"]["kty"] == "oct-HSM"


def test_google_pair_layout_and_envelope(world):
    evidence = world.attest(Cloud.GOOGLE, "ec-p256")
    key = world.store.get("key-ec-p256")
    assert evidence.primary == "key-ec-p256.attestation.dat"
    compressed = evidence.files[evidence.primary]
    assert compressed[:10] == bytes.fromhex("1f8b0800000000000000")
    blob = gzip.decompress(compressed)
    parsed = mb.parse_blob(blob)
    public, private = parsed.objects
    assert parsed.framing.header_size == 32 and parsed.header_style is mb.HeaderStyle.HANDLES
    assert struct.unpack_from(">QQ", blob, 16) == (public.handle, private.handle)
    first_size = struct.unpack_from(">I", blob, 32 + 8 + 8)[0]
    assert struct.unpack_from(">HHHH", blob, 32) == (1, 3, 8, 8 + 12 + first_size)
    assert public.types == private.types == mb.EC_ORDER and len(public.types) == 35
    point = key.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert public.get(mb.MODULUS) == private.get(mb.MODULUS) == point
    assert public.get(mb.VALUE_LEN) == (65).to_bytes(4, "big") and private.get(mb.VALUE_LEN) == (138).to_bytes(4, "big")
    assert private.get(mb.MODULUS_BITS) == (0x19F).to_bytes(4, "big")
    assert private.get(mb.ID) == hashlib.sha512(key.attributes.id).hexdigest().encode()
    assert mb.private_value_len(KeySpec.parse("rsa-4096")) == 2376  # as the real RSA-4096 sample
    chain = x509.load_pem_x509_certificates(evidence.files["key-ec-p256.certs.pem"])
    assert len(chain) == 4
    partition, card, owner_partition, owner_card = chain  # gcloud's order: see the chain-order test below
    assert owner_partition.subject == partition.subject and owner_card.subject == card.subject
    assert spki(owner_card.public_key()) == spki(card.public_key())
    assert spki(owner_partition.public_key()) == spki(partition.public_key())
    assert owner_card.issuer == owner_partition.issuer
    assert owner_partition.extensions.get_extension_for_class(x509.KeyUsage).critical


def test_google_json_envelope_and_aes(world):
    options = MarvellOptions(google_envelope=GoogleEnvelope.JSON)
    evidence = world.attest(Cloud.GOOGLE, "rsa-3072", options=options)
    document = json.loads(evidence.files[evidence.primary])
    attestation = document["attestation"]
    assert attestation["format"] == "CAVIUM_V2_COMPRESSED" and document["protectionLevel"] == "HSM"
    assert list(attestation["certChains"]) == ["caviumCerts", "googleCardCerts", "googlePartitionCerts"]
    assert [len(v) for v in attestation["certChains"].values()] == [2, 1, 1]
    blob = gzip.decompress(base64.b64decode(attestation["content"], validate=True))
    assert len(mb.parse_blob(blob).objects) == 2
    fmt = get_format("marvell-google")
    assert fmt.verify(evidence, world.trust(Cloud.GOOGLE), at=VALIDATION_TIME).accepted
    aes = gzip.decompress(world.attest(Cloud.GOOGLE, "aes-256").files["key-aes-256.attestation.dat"])
    (secret,) = mb.parse_blob(aes).objects
    assert secret.types == mb.SECRET_ORDER and secret.get(mb.CLASS) == b"\x04" and secret.get(mb.KEY_TYPE) == b"\x1f"
    assert secret.get(mb.KCV) == world.store.get("key-aes-256").check_value
    assert secret.get(mb.VALUE_LEN) == (32).to_bytes(4, "big")


def test_encoder_reproduces_the_real_blobs(shared_dir):
    for name in ("gcp-ec-p256", "gcp-rsa-4096"):
        data = (shared_dir / "interop" / "marvell-gcp" / f"{name}.attestation.dat").read_bytes()
        parsed = mb.parse_blob(data)
        body = mb.encode_body(list(parsed.objects), header=parsed.header_style, info_flags=parsed.info_flags)
        assert body == data[:-256]
        for obj in parsed.objects:
            assert obj.types == mb.expected_order(obj.get(mb.CLASS)[0], obj.get(mb.KEY_TYPE)[0])


def _roles(chain: list[x509.Certificate]) -> list[str]:
    """Each certificate's role, read from the chain itself: the Cavium partition certificate is the first, the
    Cavium card certificate issued it, and Google's certificates re-certify the same two subjects."""
    partition, card = chain[0].subject, chain[1].subject
    assert chain[0].issuer == card
    return ["partition" if c.subject == partition else "card" if c.subject == card else "?" for c in chain]


def test_the_chain_file_lists_the_chains_in_gclouds_order(shared_dir, world):
    """gcloud's get-certificate-chain joins caviumCerts, googlePartitionCerts and googleCardCerts (chain type all,
    the default), each leaf first: the published sample and the emulated file alike."""
    real = x509.load_pem_x509_certificates((shared_dir / "interop" / "marvell-gcp" / "certchain.pem").read_bytes())
    evidence = world.attest(Cloud.GOOGLE, "ec-p256")
    ours = x509.load_pem_x509_certificates(evidence.files["key-ec-p256.certs.pem"])
    assert _roles(real) == _roles(ours) == ["partition", "card", "partition", "card"]
    assert [c.issuer == real[1].subject for c in real] == [True, False, False, False]
    assert ours[2].issuer == ours[3].issuer != ours[1].issuer


def test_gzip_writer_reproduces_the_real_compressed_blobs(shared_dir):
    """Google's files are gzip with zlib level 6, memLevel 9: the writer gives the real bytes back."""
    base = shared_dir / "interop" / "marvell-gcp"
    for name in ("gcp-ec-p256", "gcp-rsa-4096"):
        real = (base / f"{name}.attestation.dat.gz").read_bytes()
        raw = gzip.decompress(real)
        assert raw == (base / f"{name}.attestation.dat").read_bytes()
        ours = envelopes.gzip_deterministic(raw)
        magic, method, flags, mtime, extra_flags, os_byte = struct.unpack("<HBBIBB", real[:10])
        assert (magic, method, flags, mtime, extra_flags, os_byte) == (0x8B1F, 8, 0, 0, 0, 0)
        assert ours[:10] == real[:10] and ours[-8:] == real[-8:]
        assert ours == real, name
    raw = gzip.decompress((base / "gcp-rsa-4096.attestation.dat.gz").read_bytes())
    default_mem_level = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS, 8)
    assert default_mem_level.compress(raw) + default_mem_level.flush() != envelopes.gzip_deterministic(raw)[10:-8]



def test_gzip_bomb_is_zlibs_run_length_deflate_of_4_mib_of_zeros():
    """The catalogue's written-out bomb is what zlib gives for 4 MiB of zeros (level 6, memLevel 9, Z_RLE)."""
    zeros = bytes(4 << 20)
    compressor = zlib.compressobj(envelopes.GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, envelopes.GZIP_MEM_LEVEL,
                                  zlib.Z_RLE)
    deflated = compressor.compress(zeros) + compressor.flush()
    assert envelopes.gzip_member(deflated, zlib.crc32(zeros), len(zeros)) == GZIP_BOMB
    assert gzip.decompress(GZIP_BOMB) == zeros

def _differing(ours: mb.KeyObject, real: mb.KeyObject) -> set[int]:
    assert ours.types == real.types
    return {a.type for a, b in zip(ours.attributes, real.attributes, strict=True) if a.value != b.value}


KEY_BOUND = {mb.ID, mb.MODULUS, mb.KCV, mb.EKCV}
"""Attributes whose value depends on the key itself (and its ID), not on the template."""


def test_google_template_matches_the_real_samples_field_by_field(world, shared_dir):
    base = shared_dir / "interop" / "marvell-gcp"
    hsm = world.hsms[Cloud.GOOGLE]
    real_pair = mb.parse_blob((base / "gcp-ec-p256.attestation.dat").read_bytes())
    ours_pair = mb.parse_blob(gzip.decompress(world.attest(Cloud.GOOGLE, "ec-p256").files[
        f"{KeyNames.derive(hsm.device, 'key-ec-p256').gcp_key}.attestation.dat"]))
    assert (ours_pair.header_style, ours_pair.info_flags, len(ours_pair.objects)) == \
        (real_pair.header_style, real_pair.info_flags, 2)
    for ours, real in zip(ours_pair.objects, real_pair.objects, strict=True):
        assert _differing(ours, real) == KEY_BOUND
        assert ours.get(mb.LABEL).rstrip(b"\0") == b"app_key"
    _, private = ours_pair.objects
    assert [private.get(a) for a in (mb.DECRYPT, mb.UNWRAP, mb.SIGN, mb.ENCRYPT, mb.WRAP, mb.VERIFY)] == \
        [b"\x01"] * 3 + [b"\x00"] * 3  # an EC signing key, as Google writes it

    # The real RSA-4096 key was imported (LOCAL 0): an imported key gives the same object.
    store = SoftKeyStore(seed=SEED)
    store.import_key(new_key_material(KeySpec.parse("rsa-4096")), "imported-rsa", created=KEY_CREATED)
    key = store.get("imported-rsa")
    names = KeyNames.derive(hsm.device, key.label)
    single = assemble(Cloud.GOOGLE, key, hsm.attestation_identity(), hsm.device, names,
                      MarvellOptions(google_key_pair=False))
    (ours,) = mb.parse_blob(single.blob).objects
    (real,) = mb.parse_blob((base / "gcp-rsa-4096.attestation.dat").read_bytes()).objects
    assert _differing(ours, real) == KEY_BOUND

    own = assemble(Cloud.GOOGLE, world.store.get("key-ec-p256"), hsm.attestation_identity(), hsm.device,
                   KeyNames.derive(hsm.device, "key-ec-p256"),
                   MarvellOptions(google_template=GoogleTemplate.KEY_ATTRIBUTES))
    _, private = mb.parse_blob(own.blob).objects
    assert private.get(mb.LABEL).rstrip(b"\0") == b"key-ec-p256"
    assert [private.get(a) for a in (mb.DECRYPT, mb.UNWRAP, mb.SIGN)] == [b"\x00", b"\x00", b"\x01"]


# -- the reference verifier: accept ------------------------------------------------------------

@pytest.mark.parametrize("cloud", list(Cloud))
@pytest.mark.parametrize(("spec", "strict"), [("rsa-2048", Reason.KEY_POLICY), ("rsa-3072", Reason.OK),
                                              ("ec-p256", Reason.OK), ("ec-p384", Reason.OK),
                                              ("aes-256", Reason.KEY_POLICY)])
def test_goldens_verify_under_both_profiles(world, cloud, spec, strict):
    fmt = get_format(f"marvell-{cloud.value}")
    evidence = world.attest(cloud, spec)
    verdict = fmt.verify(evidence, world.trust(cloud), at=VALIDATION_TIME)
    assert verdict.accepted, verdict.summary()
    assert verdict.claims.generated_on_device and verdict.claims.never_extractable and not verdict.claims.extractable
    assert verdict.claims.serial.startswith("5.3G") and verdict.claims.vendor == "Marvell"
    assert verdict.claims.fips_level == "FIPS mode"
    assert fmt.verify(evidence, world.trust(cloud), at=VALIDATION_TIME, profile=Profile.STRICT).reason is strict


def test_real_google_sample_is_accepted(shared_dir):
    manifest = json.loads((shared_dir / "interop" / "manifest.json").read_text())
    sample = next(s for s in manifest["samples"] if s["id"] == "marvell-gcp-ec-p256")
    base = shared_dir / "interop"
    at = datetime.fromisoformat(sample["validation_time"].replace("Z", "+00:00"))
    roots = sample["trust_root"]
    trust = TrustAnchors.from_pem_files([base / roots["manufacturer"], base / roots["owner"]])
    files = {Path(sample["files"][role]).name: (base / sample["files"][role]).read_bytes()
             for role in ("attestation_gz", "cert_chain")}
    evidence = Evidence("marvell-google", files, Path(sample["files"]["attestation_gz"]).name)
    fmt = get_format("marvell-google")
    for profile in Profile:
        verdict = fmt.verify(evidence, trust, at=at, profile=profile)
        assert verdict.accepted, verdict.summary()
    assert verdict.claims.serial == "5.3G1953-ICM001225" and verdict.claims.key_type == "EC-secp256r1"
    assert verdict.claims.label == "app_key" and verdict.claims.always_sensitive
    assert fmt.verify(evidence, trust, at=datetime(2026, 1, 1, tzinfo=UTC)).reason is Reason.CERT_EXPIRED
    loaded = fmt.load(base / sample["files"]["attestation_gz"])
    assert fmt.verify(loaded, trust, at=at).accepted and detect(base / sample["files"]["attestation_gz"]) is fmt
    raw = gzip.decompress(files[evidence.primary])
    tampered = raw[:300] + bytes([raw[300] ^ 1]) + raw[301:]
    broken = Evidence("marvell-google", {**files, evidence.primary: gzip.compress(tampered, mtime=0)}, evidence.primary)
    assert fmt.verify(broken, trust, at=at).reason is Reason.SIGNATURE_INVALID
    only_google = TrustAnchors.from_pem_files([base / roots["owner"]])
    assert fmt.verify(evidence, only_google, at=at).reason is Reason.CHAIN_UNTRUSTED
    assert verdict.claims.fips_level == "FIPS mode"


def test_a_wrong_root_is_untrusted_on_the_real_bundle(shared_dir, world):
    """The real bundle carries no root: a wrong manufacturer or owner anchor gives CHAIN_UNTRUSTED, as
    the corpus's chains that end at an untrusted root copy do; a missing card is CHAIN_INCOMPLETE."""
    base = shared_dir / "interop" / "marvell-gcp"
    files = {"a.attestation.dat.gz": (base / "gcp-ec-p256.attestation.dat.gz").read_bytes(),
             "certchain.pem": (base / "certchain.pem").read_bytes()}
    evidence = Evidence("marvell-google", files, "a.attestation.dat.gz")
    marvell, hawksbill = (x509.load_pem_x509_certificate((base / n).read_bytes()) for n in
                          ("marvell_liquidsecurity_ls1_root.pem", "google_hawksbill_root_v1_prod.pem"))
    emulated_marvell, emulated_owner = world.trust(Cloud.GOOGLE).all()
    fmt = get_format("marvell-google")
    for anchors in ((emulated_marvell, hawksbill), (marvell, emulated_owner), (emulated_marvell, emulated_owner)):
        verdict = fmt.verify(evidence, TrustAnchors({"root": anchors}), at=REAL_TIME)
        assert verdict.reason is Reason.CHAIN_UNTRUSTED, verdict.summary()
    certs = x509.load_pem_x509_certificates(files["certchain.pem"])
    no_card = b"".join(c.public_bytes(serialization.Encoding.PEM) for i, c in enumerate(certs) if i != 1)
    verdict = fmt.verify(Evidence("marvell-google", {**files, "certchain.pem": no_card}, "a.attestation.dat.gz"),
                         TrustAnchors({"root": (marvell, hawksbill)}), at=REAL_TIME)
    assert verdict.reason is Reason.CHAIN_INCOMPLETE, verdict.summary()


@pytest.mark.parametrize("cloud", list(Cloud))
def test_another_vendors_root_in_the_trust_store_changes_nothing(world, cloud):
    """A relying party keeps every vendor's root in one store: a root that is neither Marvell's nor an owner root of
    the cloud plays no part, where Azure took any such anchor as its pinned partition root (CHAIN_UNTRUSTED)."""
    fmt = get_format(f"marvell-{cloud.value}")
    evidence = world.attest(cloud, "ec-p256")
    primus_root = Hsm(Device.from_seed("primus", SEED), world.store).attestation_identity().root
    other_cloud_owner = world.trust(Cloud.GOOGLE if cloud is Cloud.AZURE else Cloud.AZURE).all()[1]
    for extra in (primus_root, other_cloud_owner):
        trust = TrustAnchors({"root": (*world.trust(cloud).all(), extra)})
        verdict = fmt.verify(evidence, trust, at=VALIDATION_TIME)
        assert verdict.accepted, verdict.summary()
    if cloud is Cloud.AZURE:  # the Azure script's model: without a pinned owner root, the bundle's own
        manufacturer = world.trust(cloud).all()[0]
        assert fmt.verify(evidence, TrustAnchors({"root": (manufacturer, primus_root)}), at=VALIDATION_TIME).accepted


def test_azure_pins_an_azure_partition_root_of_another_pool(world):
    """An anchor named as an Azure partition root that did not issue the owner partition certificate (another
    HSM pool's) is a wrong pin: CHAIN_UNTRUSTED."""
    evidence = world.attest(Cloud.AZURE, "ec-p256")
    manufacturer = world.trust(Cloud.AZURE).all()[0]
    other_pool = World("another seed").trust(Cloud.AZURE).all()[1]
    assert "Azure Managed HSM Partition Root" in other_pool.subject.rfc4514_string()
    verdict = get_format("marvell-azure").verify(evidence, TrustAnchors({"root": (manufacturer, other_pool)}),
                                                 at=VALIDATION_TIME)
    assert verdict.reason is Reason.CHAIN_UNTRUSTED, verdict.summary()


def test_real_rsa_4096_sample_parses_only(shared_dir):
    base = shared_dir / "interop" / "marvell-gcp"
    blob = envelopes.gunzip_bounded((base / "gcp-rsa-4096.attestation.dat.gz").read_bytes())
    parsed = mb.parse_blob(blob)
    (obj,) = parsed.objects
    assert parsed.framing.header_size == 24 and len(obj.attributes) == 37
    key = mb.object_key(obj)
    assert key.description == "RSA" and key.size == 4096
    assert obj.get(mb.LOCAL) == b"\x00" and obj.get(mb.VALUE_LEN) == (2376).to_bytes(4, "big")  # imported key
    trust = TrustAnchors.from_pem_files([base / "marvell_liquidsecurity_ls1_root.pem",
                                         base / "google_hawksbill_root_v1_prod.pem"])
    evidence = Evidence("marvell-google", {"x.attestation.dat.gz": (base / "gcp-rsa-4096.attestation.dat.gz")
                                           .read_bytes(), "certchain.pem": (base / "certchain.pem").read_bytes()}, "x")
    assert get_format("marvell-google").verify(evidence, trust, at=REAL_TIME).reason is Reason.SIGNATURE_INVALID


# -- the catalogue ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalogue():
    return {cloud: vector_cases(cloud, DEFAULT_SEED) for cloud in Cloud}


@pytest.mark.parametrize("cloud", list(Cloud))
def test_catalogue_verdicts_as_declared(catalogue, cloud):
    fmt = get_format(f"marvell-{cloud.value}")
    for case in catalogue[cloud]:
        trust = TrustAnchors({"root": case.anchors})
        for profile, expected in case.expected.items():
            verdict = fmt.verify(case.evidence, trust, at=case.validation_time, profile=profile)
            assert verdict.reason is expected, f"{case.id} {profile}: {verdict.summary()}"
    defects = {m.flag for c in Cloud for m in mutations(c) if m.expected[Profile.STRICT] is not Reason.OK}
    assert len(defects) >= 30
    goldens = {c.id.rsplit("::", 1)[1] for c in catalogue[cloud] if "::golden::" in c.id}
    assert goldens == {"rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "aes-256"}


def test_catalogue_is_deterministic(catalogue):
    again = vector_cases(Cloud.GOOGLE, DEFAULT_SEED)
    assert [c.evidence.files for c in again] == [c.evidence.files for c in catalogue[Cloud.GOOGLE]]


def test_google_script_walk_accepts_goldens_and_misses_attributes(catalogue):
    """The reproduced vendor walk checks chains and signature only: attribute defects pass it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from verify_marvell_google import verify

    cases = {c.id: c for c in catalogue[Cloud.GOOGLE]}

    def walk(vector_id: str) -> bool:
        case = cases[vector_id]
        files = case.evidence.files
        pem = next(v for k, v in files.items() if k.endswith("certs.pem"))
        return verify(pem, files[case.evidence.primary], *case.anchors)

    assert walk("marvell-google::golden::ec-p256")
    corpus = json.loads((Path(__file__).resolve().parents[2] / "vectors" / "marvell-google_verify.json").read_text())
    valid_goldens = [t["id"] for t in corpus["tests"] if t["result"] == "valid" and "Golden" in t["flags"]]
    assert len(valid_goldens) == 4 and all(walk(vector_id) for vector_id in valid_goldens)
    assert walk("marvell-google::attr::extractable-true")  # missed: the reference verifier says ATTR_EXTRACTABLE
    assert not walk("marvell-google::signature::pss")
    assert not walk("marvell-google::chain::extra-root-copy")


# -- the reference verifier: reject with the right reason --------------------------------------------

def resigned(world: World, cloud: Cloud, blob: bytes) -> bytes:
    key = world.hsms[cloud].attestation_identity().key
    return mb.resign(blob, key)


@pytest.mark.parametrize(("attr", "value", "reason"), [
    (mb.EXTRACTABLE, b"\x01", Reason.ATTR_CONFLICT),
    (mb.LOCAL, b"\x00", Reason.ATTR_NOT_LOCAL),
    (mb.NEVER_EXTRACTABLE, b"\x00", Reason.ATTR_NOT_NEVER_EXTRACTABLE),
    (mb.KCV, b"\x01\x02\x03", Reason.ATTR_CONFLICT),
    (mb.CLASS, b"\x02", Reason.ATTR_CONFLICT),
    (mb.ID, b"\xfe" * 128, Reason.MALFORMED),
])
def test_resigned_attribute_defects(world, attr, value, reason):
    evidence = world.attest(Cloud.AZURE, "rsa-3072")
    blob, _ = azure_blobs(evidence)
    parsed = mb.parse_blob(blob)
    changed = mb.encode_body([parsed.objects[0].replace(attr, value)], header=parsed.header_style,
                             info_flags=parsed.info_flags) + b"\x00" * 256
    bad = with_azure_blob(evidence, resigned(world, Cloud.AZURE, changed))
    assert get_format("marvell-azure").verify(bad, world.trust(Cloud.AZURE), at=VALIDATION_TIME).reason is reason


def test_imported_and_extractable_keys_are_rejected(world):
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(world.hsms[Cloud.GOOGLE].device, store)
    store.generate(KeySpec.parse("ec-p256"), "exportable", policy=KeyPolicy(extractable=True), created=KEY_CREATED)
    store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported", created=KEY_CREATED)
    fmt = get_format("marvell-google")
    for label, reason in (("exportable", Reason.ATTR_EXTRACTABLE), ("imported", Reason.ATTR_NOT_LOCAL)):
        evidence = hsm.attest(label, "marvell-google", {"attest_time": ATTEST_TIME})
        assert fmt.verify(evidence, world.trust(Cloud.GOOGLE), at=VALIDATION_TIME).reason is reason


POLICY = {"contentType": "application/json; charset=utf-8", "immutable": False,
          "data": "eyJ2ZXJzaW9uIjoiMS4wLjAiLCJhbnlPZiI6W119"}


@pytest.mark.parametrize(("edit", "reason"), [
    ({"exportable": True}, Reason.ATTR_CONFLICT),
    ({"release_policy": POLICY}, Reason.ATTR_CONFLICT),
    ({"exportable": True, "release_policy": POLICY}, Reason.ATTR_CONFLICT),
    ({"exportable": "true"}, Reason.MALFORMED),
    ({"exportable": 1}, Reason.MALFORMED),
    ({"exportable": False}, Reason.OK),
    ({"exportable": None, "release_policy": None}, Reason.OK),
])
def test_a_keybundle_declaring_export_contradicts_a_never_extractable_blob(world, edit, reason):
    """KeyAttributes.exportable "indicates if the private key can be exported" and a release_policy holds "the policy
    rules under which the key can be exported": beside a blob saying EXTRACTABLE=0, NEVER_EXTRACTABLE=1 the evidence
    contradicts itself, and no verdict may claim never_extractable (red-team: it was accepted with that claim)."""
    fmt, trust = get_format("marvell-azure"), world.trust(Cloud.AZURE)
    evidence = world.attest(Cloud.AZURE, "ec-p256")
    document = azure_doc(evidence)
    for name, value in edit.items():
        (document["attributes"] if name == "exportable" else document)[name] = value
    edited = Evidence(evidence.format, {**evidence.files, evidence.primary: json.dumps(document).encode()},
                      evidence.primary)
    for profile in (Profile.STRUCTURAL, Profile.STRICT):
        verdict = fmt.verify(edited, trust, at=VALIDATION_TIME, profile=profile)
        assert verdict.reason is reason, verdict.summary()
        assert (verdict.claims is None) is (reason is not Reason.OK)


def test_a_keybundle_and_a_blob_both_saying_exportable_is_extractable(world):
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(world.hsms[Cloud.AZURE].device, store)
    store.generate(KeySpec.parse("ec-p256"), "exportable", policy=KeyPolicy(extractable=True), created=KEY_CREATED)
    evidence = hsm.attest("exportable", "marvell-azure", {"attest_time": ATTEST_TIME})
    document = azure_doc(evidence)
    document["attributes"]["exportable"], document["release_policy"] = True, POLICY
    edited = Evidence(evidence.format, {**evidence.files, evidence.primary: json.dumps(document).encode()},
                      evidence.primary)
    for candidate in (evidence, edited):
        verdict = get_format("marvell-azure").verify(candidate, world.trust(Cloud.AZURE), at=VALIDATION_TIME)
        assert verdict.reason is Reason.ATTR_EXTRACTABLE, verdict.summary()


def test_ed25519_is_not_attested():
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(Device.from_seed("marvell-azure", SEED), store)
    store.generate(KeySpec.parse("ed25519"), "ed", created=KEY_CREATED)
    with pytest.raises(UnsupportedKeyError, match="RSA, EC P-256/P-384 and AES"):
        hsm.attest("ed", "marvell-azure")


# -- hostile input: a reason, never an exception ----------------------------------------------------

@pytest.mark.parametrize(("blob", "reason"), [
    (b"", Reason.MALFORMED),
    (b"\x00" * 100, Reason.MALFORMED),
    (b"\xff" * 400, Reason.MALFORMED),
    (b"\x00" * (70 * 1024), Reason.LIMIT_EXCEEDED),
    (gzip.compress(b"\x00" * 100, mtime=0), Reason.MALFORMED),
])
def test_hostile_azure_blobs(world, blob, reason):
    evidence = with_azure_blob(world.attest(Cloud.AZURE, "ec-p256"), blob)
    assert get_format("marvell-azure").verify(evidence, world.trust(Cloud.AZURE), at=VALIDATION_TIME).reason is reason


@pytest.mark.parametrize(("payload", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, Reason.MALFORMED),
    (b"{\"a\": 1" + b" " * (2 << 20) + b"}", Reason.LIMIT_EXCEEDED),
    (b"\xff\xfe{}", Reason.MALFORMED),
    (b"{\"privateKeyAttestation\": 5, \"certificatePemFile\": \"\", \"version\": \"MRVL-1\"}", Reason.MALFORMED),
    (b"{\"privateKeyAttestation\": \"A\", \"certificatePemFile\": \"\", \"version\": \"MRVL-1\"}", Reason.MALFORMED),
    (b"{}", Reason.MISSING_INPUT),
])
def test_hostile_azure_json(world, payload, reason):
    evidence = Evidence("marvell-azure", {"x.json": payload}, "x.json")
    assert get_format("marvell-azure").verify(evidence, world.trust(Cloud.AZURE), at=VALIDATION_TIME).reason is reason


def test_hostile_google_files(world):
    fmt, trust = get_format("marvell-google"), world.trust(Cloud.GOOGLE)
    evidence = world.attest(Cloud.GOOGLE, "ec-p256")

    def verdict(data: bytes, **extra: bytes) -> Reason:
        files = {**evidence.files, evidence.primary: data, **extra}
        return fmt.verify(Evidence(evidence.format, files, evidence.primary), trust, at=VALIDATION_TIME).reason

    bomb = gzip.compress(b"\x00" * (16 << 20), mtime=0)
    assert verdict(bomb) is Reason.LIMIT_EXCEEDED
    assert verdict(evidence.files[evidence.primary][:40]) is Reason.MALFORMED
    assert verdict(b"\x1f\x8b\x08\x00garbage") is Reason.MALFORMED
    assert verdict(evidence.files[evidence.primary], **{"key-ec-p256.certs.pem": b"-----BEGIN CERTIFICATE-----\n"
                                                        b"AAAA\n-----END CERTIFICATE-----\n"}) is Reason.MALFORMED
    many = b"".join([evidence.files["key-ec-p256.certs.pem"]] * 3)
    assert verdict(evidence.files[evidence.primary], **{"key-ec-p256.certs.pem": many}) is Reason.LIMIT_EXCEEDED


@pytest.mark.parametrize("cloud", list(Cloud))
def test_the_primary_is_verified_and_a_duplicated_piece_is_malformed(world, cloud):
    """Evidence whose primary is garbage is rejected even when another file of the same base name (in another
    folder, so the Evidence holds both) is a genuine attestation of another key: which one is meant is
    ambiguous (red-team: the first file of a base name was verified, the primary never read)."""
    fmt, trust = get_format(f"marvell-{cloud.value}"), world.trust(cloud)
    other = world.attest(cloud, "ec-p384")
    genuine = {f"genuine/{name}": data for name, data in other.files.items()}
    assert fmt.verify(Evidence(other.format, genuine, f"genuine/{other.primary}"), trust,
                      at=VALIDATION_TIME).accepted
    evidence = Evidence(other.format, {**genuine, other.primary: b"{}"}, other.primary)
    for profile in Profile:
        verdict = fmt.verify(evidence, trust, at=VALIDATION_TIME, profile=profile)
        assert verdict.reason is Reason.MALFORMED and "ambiguous" in verdict.detail, verdict.summary()


def test_google_verifies_the_primary_gcloud_file_beside_a_json(world):
    """A garbage gcloud ``.dat`` primary beside a genuine CryptoKeyVersion JSON (of another key) is rejected:
    the primary is the evidence, the JSON was verified in its place."""
    fmt, trust = get_format("marvell-google"), world.trust(Cloud.GOOGLE)
    pair = world.attest(Cloud.GOOGLE, "ec-p256")
    described = world.attest(Cloud.GOOGLE, "ec-p384", options=MarvellOptions(google_envelope=GoogleEnvelope.JSON))
    files = {name: data for name, data in pair.files.items() if not name.endswith(".pub.pem")}
    files |= {pair.primary: b"garbage", described.primary: described.files[described.primary]}
    assert fmt.verify(Evidence(pair.format, files, pair.primary), trust, at=VALIDATION_TIME).reason is Reason.MALFORMED
    assert fmt.verify(Evidence(pair.format, files, described.primary), trust, at=VALIDATION_TIME).accepted


def test_random_resigned_corruption_never_raises(world):
    """Bytes of the signed blob changed at random and re-signed: the parser answers, it never crashes."""
    fmt, trust = get_format("marvell-google"), world.trust(Cloud.GOOGLE)
    evidence = world.attest(Cloud.GOOGLE, "rsa-3072")
    blob = gzip.decompress(evidence.files[evidence.primary])
    rng = random.Random(4)
    seen = set()
    for _ in range(150):
        data = bytearray(blob)
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(16, len(blob) - 256)
            data[position] = rng.randrange(256)
        bad = resigned(world, Cloud.GOOGLE, bytes(data))
        files = {**evidence.files, evidence.primary: envelopes.gzip_deterministic(bad)}
        seen.add(fmt.verify(Evidence(evidence.format, files, evidence.primary), trust, at=VALIDATION_TIME).reason)
    assert Reason.MALFORMED in seen and seen <= set(Reason)


# -- determinism ----------------------------------------------------------------------------------

def test_same_seed_gives_the_same_bytes(world):
    other = World()
    for cloud in Cloud:
        assert other.attest(cloud, "rsa-3072").files == world.attest(cloud, "rsa-3072").files
    code = (
        "import hashlib, sys\n"
        "sys.path.insert(0, '.')\n"
        "from tests.formats.test_marvell import World\n"
        "from hsmsim.formats.marvell.layout import Cloud\n"
        "ev = World().attest(Cloud.GOOGLE, 'ec-p256')\n"
        "print(''.join(hashlib.sha256(ev.files[k]).hexdigest() for k in sorted(ev.files)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONHASHSEED": "7"})
    ours = world.attest(Cloud.GOOGLE, "ec-p256")
    assert out.stdout.strip() == "".join(hashlib.sha256(ours.files[k]).hexdigest() for k in sorted(ours.files))


@pytest.mark.parametrize("cloud", list(Cloud))
def test_long_labels_sharing_a_start_get_distinct_cloud_and_file_names(cloud):
    # what hsmsim serve's Cloud KMS keys are labelled with: full resource names, longer than a key id may be
    ring = "projects/my-project/locations/us-east1/keyRings/ring1/cryptoKeys"
    labels = [f"{ring}/sig/cryptoKeyVersions/1", f"{ring}/sig2/cryptoKeyVersions/1", "k" * 200, "k" * 201]
    world = World()
    for label in labels:
        world.store.generate(KeySpec.parse("ec-p256"), label, created=KEY_CREATED)
    evidence = [world.hsms[cloud].attest(label, f"marvell-{cloud.value}", {"attest_time": ATTEST_TIME})
                for label in labels]
    assert len({e.primary for e in evidence}) == len(labels)  # they can be written into one directory
    fmt = get_format(f"marvell-{cloud.value}")
    for item in evidence:
        assert fmt.verify(item, world.trust(cloud), at=VALIDATION_TIME, profile=Profile.STRICT).accepted
    names = [KeyNames.derive(world.hsms[cloud].device, label) for label in labels]
    assert all(len(n.key_uri) <= 128 and len(n.gcp_key) <= 63 for n in names)
    # a label that is a CryptoKeyVersion name is that key's Google name
    assert [n.gcp_version_name for n in names[:2]] == labels[:2]


def test_envelope_options(world):
    hsm = world.hsms[Cloud.AZURE]
    key = world.store.get("key-ec-p384")
    names = KeyNames.derive(hsm.device, key.label)
    att = assemble(Cloud.AZURE, key, hsm.attestation_identity(), hsm.device, names)
    cli = json.loads(package(att, MarvellOptions(azure_envelope=AzureEnvelope.AZ_CLI)).files[f"{names.azure_key}"
                                                                                          ".attestation.json"])
    assert list(cli) == ["certificatePemFile", "privateKeyAttestation", "publicKeyAttestation", "version"]
    assert base64.b64decode(cli["privateKeyAttestation"], validate=True) == att.blob
    fmt = get_format("marvell-azure")
    evidence = package(att, MarvellOptions(azure_envelope=AzureEnvelope.AZ_CLI))
    assert fmt.verify(evidence, world.trust(Cloud.AZURE), at=VALIDATION_TIME, profile=Profile.STRICT).accepted
    without_owner_anchor = TrustAnchors({"root": (hsm.attestation_identity().root,)})
    assert fmt.verify(evidence, without_owner_anchor, at=VALIDATION_TIME).accepted  # the Azure script's model
    assert len(names.key_uri) <= 128
    uri = "https://127.0.0.1:8443/keys/served/0123456789abcdef0123456789abcdef"
    served = world.attest(Cloud.AZURE, "rsa-3072", key_id=uri)
    assert azure_doc(served)["key"]["kid"] == uri
    assert mb.parse_blob(azure_blobs(served)[0]).objects[0].get(mb.ID).rstrip(b"\0") == uri.encode()
    assert fmt.verify(served, world.trust(Cloud.AZURE), at=VALIDATION_TIME).accepted
    with pytest.raises(ParameterError, match="parameter key_id"):
        world.attest(Cloud.AZURE, "rsa-3072", key_id="x" * 200)


def test_az_cli_file_is_what_json_dump_writes(world):
    """azure-cli writes ``json.dump(todict(_encode_hex(attestation)), outfile)``: json.dump's default separators, no
    indent, no final newline, and the SDK's None kept as null (knack ``todict`` drops only callables and _names)."""
    hsm = world.hsms[Cloud.AZURE]
    key = world.store.get("key-aes-256")
    names = KeyNames.derive(hsm.device, key.label)
    att = assemble(Cloud.AZURE, key, hsm.attestation_identity(), hsm.device, names)
    cli = package(att, MarvellOptions(azure_envelope=AzureEnvelope.AZ_CLI))
    data = cli.files[f"{names.azure_key}.attestation.json"]
    document = json.loads(data)
    assert data == json.dumps(document).encode() and not data.endswith(b"\n")
    assert list(document) == ["certificatePemFile", "privateKeyAttestation", "publicKeyAttestation", "version"]
    assert document["publicKeyAttestation"] is None and b'"publicKeyAttestation": null, "version": "MRVL-1"}' in data
    for profile in Profile:  # an AES key: strict adds its key policy, nothing about the null
        verdict = get_format("marvell-azure").verify(cli, world.trust(Cloud.AZURE), at=VALIDATION_TIME, profile=profile)
        assert verdict.reason is (Reason.OK if profile is Profile.STRUCTURAL else Reason.KEY_POLICY)
    omitted = json.loads(package(att, MarvellOptions(azure_envelope=AzureEnvelope.AZ_CLI, az_cli_public_null=False))
                         .files[f"{names.azure_key}.attestation.json"])
    assert "publicKeyAttestation" not in omitted
    rest = azure_doc(package(att))["attributes"]["attestation"]
    assert "publicKeyAttestation" not in rest  # the REST shapes omit an absent blob


def test_null_public_attestation_reads_as_absent(world):
    """null is absent (as the SDK reads it); in a REST-shaped (base64url) attestation, which the service writes
    without nulls, the strict profile flags it."""
    fmt, trust = get_format("marvell-azure"), world.trust(Cloud.AZURE)
    evidence = world.attest(Cloud.AZURE, "rsa-3072")
    document = azure_doc(evidence)
    document["attributes"]["attestation"]["publicKeyAttestation"] = None
    nulled = Evidence(evidence.format, {**evidence.files, evidence.primary: json.dumps(document).encode()},
                      evidence.primary)
    assert fmt.verify(nulled, trust, at=VALIDATION_TIME).reason is Reason.OK
    assert fmt.verify(nulled, trust, at=VALIDATION_TIME, profile=Profile.STRICT).reason is Reason.UNEXPECTED_CONTENT


def test_pem_bundle_base64_is_either_style():
    """base64 of PEM text never holds + or /, so a bundle whose length is a multiple of 3 is canonical in both
    alphabets: it must not make a standard-base64 (az CLI) file look mixed."""
    text = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    text += "x" * (-len(text) % 3)
    encoded = base64.b64encode(text.encode()).decode()
    assert "+" not in encoded and "/" not in encoded and "=" not in encoded
    assert envelopes.b64_decode(encoded, "pem", 1 << 10)[1] is envelopes.Base64Style.EITHER
    assert envelopes.b64_decode(encoded + "==", "pem", 1 << 10)[1] is envelopes.Base64Style.OTHER


def test_public_blob_of_the_private_object_is_acceptable(world):
    """The REST example's publicKeyAttestation holds a CLASS 03 object: the same key, so structural accepts; strict
    wants a public-key object. A public blob describing another key stays a rejection in both."""
    fmt, trust = get_format("marvell-azure"), world.trust(Cloud.AZURE)
    evidence = world.attest(Cloud.AZURE, "ec-p256")
    document = azure_doc(evidence)
    attestation = document["attributes"]["attestation"]
    attestation["publicKeyAttestation"] = attestation["privateKeyAttestation"]
    copied = Evidence(evidence.format, {**evidence.files, evidence.primary: json.dumps(document).encode()},
                      evidence.primary)
    assert mb.byte_value(mb.parse_blob(azure_blobs(copied)[1]).objects[0], mb.CLASS) == mb.ObjectClass.PRIVATE_KEY
    assert fmt.verify(copied, trust, at=VALIDATION_TIME).reason is Reason.OK
    assert fmt.verify(copied, trust, at=VALIDATION_TIME, profile=Profile.STRICT).reason is Reason.ATTR_CONFLICT
    attestation["publicKeyAttestation"] = azure_doc(world.attest(Cloud.AZURE, "ec-p384"))["attributes"][
        "attestation"]["privateKeyAttestation"]
    other = Evidence(evidence.format, {**evidence.files, evidence.primary: json.dumps(document).encode()},
                     evidence.primary)
    assert fmt.verify(other, trust, at=VALIDATION_TIME).reason is Reason.ATTR_CONFLICT


@pytest.mark.parametrize("removed", [mb.KCV, mb.EKCV])
def test_check_values_are_checked_when_present_and_required_in_strict(world, removed):
    """marvell.md 7.12: KCV/EKCV "if emitted"; structural checks what is there, strict wants both."""
    evidence = world.attest(Cloud.AZURE, "rsa-3072")
    blob, _ = azure_blobs(evidence)
    parsed = mb.parse_blob(blob)
    changed = mb.encode_body([parsed.objects[0].without(removed)], header=parsed.header_style,
                             info_flags=parsed.info_flags) + b"\x00" * 256
    bad = with_azure_blob(evidence, resigned(world, Cloud.AZURE, changed))
    fmt, trust = get_format("marvell-azure"), world.trust(Cloud.AZURE)
    assert fmt.verify(bad, trust, at=VALIDATION_TIME).reason is Reason.OK
    assert fmt.verify(bad, trust, at=VALIDATION_TIME, profile=Profile.STRICT).reason is Reason.ATTR_MISSING


def test_imported_google_keys_are_a_single_private_object(world):
    """The real imported sample (gcp-rsa-4096, LOCAL 0) is one private object; generated keys get the pair
    (the real generated EC sample); google_key_pair forces either shape."""
    store = SoftKeyStore(seed=SEED)
    hsm = Hsm(world.hsms[Cloud.GOOGLE].device, store)
    store.import_key(new_key_material(KeySpec.parse("ec-p256")), "imported", created=KEY_CREATED)
    store.generate(KeySpec.parse("ec-p256"), "generated", created=KEY_CREATED)

    def classes(label: str, **params: object) -> list[int | None]:
        evidence = hsm.attest(label, "marvell-google", {"attest_time": ATTEST_TIME, **params})
        blob = envelopes.gunzip_bounded(evidence.files[evidence.primary])
        return [mb.byte_value(obj, mb.CLASS) for obj in mb.parse_blob(blob).objects]

    assert classes("imported") == [mb.ObjectClass.PRIVATE_KEY]
    assert classes("generated") == [mb.ObjectClass.PUBLIC_KEY, mb.ObjectClass.PRIVATE_KEY]
    assert len(classes("imported", options=MarvellOptions(google_key_pair=True))) == 2
    assert len(classes("generated", options=MarvellOptions(google_key_pair=False))) == 1


# -- a key inside SoftHSM2 ----------------------------------------------------------------------------

@pytest.mark.softhsm
def test_pkcs11_key_attests_and_verifies(tmp_path):
    pkcs11 = pytest.importorskip("hsmsim.keystore.pkcs11")
    if pkcs11.find_softhsm_module() is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2, or make setup)")
    with pkcs11.Pkcs11KeyStore(token_dir=tmp_path / "token") as store:
        device = Device.from_seed("marvell-google", SEED)
        hsm = Hsm(device, store)
        store.generate(KeySpec.parse("ec-p256"), "token-key", created=KEY_CREATED)
        store.generate(KeySpec.parse("aes-256"), "token-aes", created=KEY_CREATED)
        evidence = hsm.attest("token-key", "marvell-google", {"attest_time": ATTEST_TIME})
        identity = hsm.attestation_identity()
        trust = TrustAnchors({"root": (identity.root, owner_pki(Cloud.GOOGLE, device, identity,
                                                                 KeyNames.derive(device, "x")).root)})
        verdict = get_format("marvell-google").verify(evidence, trust, at=VALIDATION_TIME, profile=Profile.STRICT)
        assert verdict.accepted, verdict.summary()
        assert verdict.claims.spki_der == spki(store.get("token-key").public_key)
        secret = hsm.attest("token-aes", "marvell-google", {"attest_time": ATTEST_TIME})
        (obj,) = mb.parse_blob(gzip.decompress(secret.files[secret.primary])).objects
        assert obj.get(mb.KCV) == store.get("token-aes").check_value
        assert get_format("marvell-google").verify(secret, trust, at=VALIDATION_TIME).accepted


# -- the CLI --------------------------------------------------------------------------------------------

def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_hsmsim(list(args), timeout=120)


def test_cli_attest_and_verify(tmp_path):
    state = str(tmp_path / "state")
    created = run("key", "create", "--state", state, "--vendor", "marvell-azure", "--label", "L", "--spec", "ec-p256",
                  "--created", "2025-05-01T00:00:00Z")
    assert created.returncode == 0, created.stderr
    out = tmp_path / "out" / "x.json"
    attest = run("attest", "--format", "marvell-azure", "--key", "L", "--out", str(out), "--state", state,
                 "--at", "2025-06-01T00:00:00Z")
    assert attest.returncode == 0, attest.stderr
    root = str(out.parent / "liquid_security_certificate.crt")
    verdict = run("verify", str(out), "--root", root, "--json", "--profile", "strict")
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert json.loads(verdict.stdout)["claims"]["vendor"] == "Marvell"
    document = json.loads(out.read_text())
    document["attributes"]["attestation"]["version"] = "MRVL-2"
    out.write_text(json.dumps(document))
    rejected = run("verify", str(out), "--root", root)
    assert rejected.returncode == 1 and rejected.stdout.startswith("REJECT UNSUPPORTED")


# -- catalogue vectors: one defect each, the reason from its definition -------------------------------------

def _case(catalogue, cloud: Cloud, slug: str):
    return next(c for c in catalogue[cloud] if c.id == f"marvell-{cloud.value}::{slug}")


@pytest.mark.parametrize("cloud", list(Cloud))
def test_card_expired_moves_not_after_only(catalogue, cloud):
    """Expiry (CERT_EXPIRED) is notAfter before the validation time: the re-issued card keeps the golden's
    notBefore, inside its issuer's validity."""
    case = _case(catalogue, cloud, "chain::card-expired")
    golden = next(c for c in catalogue[cloud] if c.id == case.provenance.golden)
    old = envelopes.read_envelope(cloud, golden.evidence, Profile.STRUCTURAL).certs
    new = envelopes.read_envelope(cloud, case.evidence, Profile.STRUCTURAL).certs
    (card,) = [c for c in new if c not in old]
    (was,) = [c for c in old if (c.subject, c.issuer) == (card.subject, card.issuer)]
    issuer = next(c for c in (*old, *golden.anchors) if c.subject == card.issuer)
    assert card.not_valid_before_utc == was.not_valid_before_utc >= issuer.not_valid_before_utc
    assert card.not_valid_before_utc < card.not_valid_after_utc < case.validation_time < was.not_valid_after_utc
    assert case.expected[Profile.STRICT] is Reason.CERT_EXPIRED


@pytest.mark.parametrize("cloud", list(Cloud))
def test_attribute_width_defects_are_malformed(catalogue, cloud):
    """A CK_ULONG MODULUS_BITS of 1,800 bytes and a one-byte CLASS written as 4 bytes are the same defect, an
    attribute of the wrong width: the structure breaks the format (MALFORMED), whatever the value would mean."""
    fmt = get_format(f"marvell-{cloud.value}")
    for slug in ("attr::modulus-bits-oversize", "attr::class-as-ulong"):
        case = _case(catalogue, cloud, slug)
        assert set(case.expected.values()) == {Reason.MALFORMED}, slug
        verdict = fmt.verify(case.evidence, TrustAnchors({"root": case.anchors}), at=case.validation_time)
        assert verdict.reason is Reason.MALFORMED and "bytes" in verdict.detail, verdict.summary()
    assert ", re-signed, re-signed" not in _case(catalogue, cloud, "attr::modulus-bits-oversize").comment
