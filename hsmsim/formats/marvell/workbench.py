"""The seeded world the Marvell vectors and the fuzzer are made of, and the workbench on which one golden
attestation is opened up, edited and packaged again.

Everything derives from the seed: keys, serials, handles, Faker names (organisation, Azure pool,
Google project), fixed times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from hsmsim.device import DEVICE_EPOCH, Device
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell.envelopes import MarvellAttestation, dump_document, package
from hsmsim.formats.marvell.generate import assemble, owner_pki
from hsmsim.formats.marvell.layout import Cloud
from hsmsim.formats.marvell.options import DEFAULT_OPTIONS, KeyNames, MarvellOptions
from hsmsim.formats.marvell.pki import MarvellPki, OwnerPki, marvell_pki
from hsmsim.keystore.base import KeySpec, StoredKey
from hsmsim.keystore.soft import SoftKeyStore
from hsmsim.model.catalogue import seeded_faker
from hsmsim.model.evidence import Evidence
from hsmsim.pki.seed import derive_key

GOLDEN_SPECS = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384", "aes-256")
KEYS_CREATED = DEVICE_EPOCH + timedelta(days=90)
RSA_2048 = KeySpec.parse("rsa-2048")


# -- the seeded world ------------------------------------------------------------------------

@dataclass(frozen=True)
class MarvellKit:
    """Everything the vectors are made of, derived from one seed: one device per cloud, one key per spec."""

    seed: str
    devices: dict[Cloud, Device]
    pkis: dict[Cloud, MarvellPki]
    owners: dict[Cloud, OwnerPki]
    keys: dict[str, StoredKey]
    names: dict[tuple[Cloud, str], KeyNames]
    foreign_key: rsa.RSAPrivateKey
    organisation: str
    goldens: dict[tuple[Cloud, str, MarvellOptions], MarvellAttestation] = field(default_factory=dict, compare=False)
    """Each golden attestation assembled (and signed) once: every mutation starts from a copy."""

    @classmethod
    def build(cls, seed: str) -> MarvellKit:
        """Seed -> Faker names, devices, manufacturer and owner PKIs, and one key per golden spec."""
        return _kit(seed)


@lru_cache(maxsize=4)
def _kit(seed: str) -> MarvellKit:
    fake = seeded_faker(seed, ["en_US"], "marvell")
    organisation = fake.company()
    slug = re.sub(r"[^a-z0-9]+", "-", organisation.lower()).strip("-")[:16].strip("-")
    store = SoftKeyStore(seed=seed)
    keys = {}
    for index, spec in enumerate(GOLDEN_SPECS):
        purpose = fake.random_element(("signing", "codesign", "release", "tsa", "payments"))
        keys[spec] = store.generate(KeySpec.parse(spec), f"{slug}-{purpose}-{spec}",
                                    created=KEYS_CREATED + timedelta(hours=index, minutes=fake.random_int(0, 59)))
    pool = f"{slug}-mhsm"[:24]
    project = f"{slug}-kms"[:30]
    location = fake.random_element(("us-east1", "europe-west6", "asia-northeast1", "us-central1"))
    devices, pkis, owners, names = {}, {}, {}, {}
    for cloud in Cloud:
        device = Device(format=cloud.format_name, serial=fake.numerify("17######"), seed=seed,
                        initialised=DEVICE_EPOCH + timedelta(minutes=fake.random_int(0, 60 * 24 * 20)))
        pki = marvell_pki(seed, device.serial, "default", initialised=device.initialised,
                          created=device.attestation_created)
        devices[cloud], pkis[cloud] = device, pki
        for spec, key in keys.items():
            names[cloud, spec] = KeyNames.derive(device, key.label, pool=pool, project=project, location=location,
                                                 key_ring="hsm-ring")
        owners[cloud] = owner_pki(cloud, device, pki.identity(), names[cloud, GOLDEN_SPECS[0]])
    foreign = derive_key(seed, "marvell/foreign/partition", RSA_2048)
    assert isinstance(foreign, rsa.RSAPrivateKey)
    return MarvellKit(seed, devices, pkis, owners, keys, names, foreign, organisation)


# -- the evidence under construction -----------------------------------------------------------

# The goldens' blobs recur in every fuzz case and catalogue vector opened on them (the public blob is re-signed
# unchanged beside an edited private one): both are pure functions of the bytes (PKCS#1 v1.5 is deterministic),
# remembered for the generator only. The verifier parses and checks every blob afresh.
_parsed = lru_cache(maxsize=64)(mb.parse_blob)
_signed = lru_cache(maxsize=128)(mb.sign_body)


@dataclass
class Workbench:
    """A golden attestation opened up for one mutation: the blobs, the bundle, envelope edits, anchors."""

    kit: MarvellKit
    cloud: Cloud
    spec: str
    att: MarvellAttestation
    options: MarvellOptions
    anchors: tuple[x509.Certificate, ...]
    json_edits: list[Callable[[dict[str, object]], None]] = field(default_factory=list)
    text_edit: Callable[[bytes], bytes] | None = None
    compressed_edit: Callable[[bytes], bytes] | None = None
    file_changes: dict[str, bytes | None] = field(default_factory=dict)

    @classmethod
    def open(cls, kit: MarvellKit, cloud: Cloud, spec: str, options: MarvellOptions = DEFAULT_OPTIONS) -> Workbench:
        """The golden attestation of ``spec`` in ``cloud``'s envelope."""
        pki = kit.pkis[cloud]
        golden = kit.goldens.get((cloud, spec, options))
        if golden is None:
            golden = kit.goldens[cloud, spec, options] = assemble(
                cloud, kit.keys[spec], pki.identity(), kit.devices[cloud], kit.names[cloud, spec], options)
        att = replace(golden, certs=list(golden.certs))
        return cls(kit, cloud, spec, att, options, (pki.root, kit.owners[cloud].root))

    @property
    def pki(self) -> MarvellPki:
        return self.kit.pkis[self.cloud]

    @property
    def owner(self) -> OwnerPki:
        return self.kit.owners[self.cloud]

    @property
    def signer(self) -> rsa.RSAPrivateKey:
        key = self.pki.partition_key
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def objects(self) -> list[mb.KeyObject]:
        """The objects of the (well-formed) blob under test."""
        return list(_parsed(self.att.blob).objects)

    def set_objects(self, objects: list[mb.KeyObject], header: mb.HeaderStyle | None = None) -> None:
        """Re-encode the blob with ``objects`` (same header style and flags); the signature must be redone."""
        parsed = _parsed(self.att.blob)
        body = mb.encode_body(objects, header=header or parsed.header_style, info_flags=parsed.info_flags)
        self.att.blob = body + b"\x00" * mb.SIGNATURE_BYTES

    def resign(self) -> None:
        """Sign the current blob(s) with the genuine partition key."""
        self.att.blob = _signed(self.att.blob[:-mb.SIGNATURE_BYTES], self.signer)
        if self.att.public_blob is not None:
            self.att.public_blob = _signed(self.att.public_blob[:-mb.SIGNATURE_BYTES], self.signer)

    def cert(self, role: str) -> x509.Certificate:
        """The bundle's ``card``, ``partition``, ``owner-partition``, ``owner-card`` or ``owner-root`` certificate."""
        wanted = {"card": self.pki.card, "partition": self.pki.partition, "owner-partition": self.owner.partition,
                  "owner-card": self.owner.card, "owner-root": self.owner.root}[role]
        assert wanted is not None
        return wanted

    def swap_cert(self, role: str, new: x509.Certificate | None) -> None:
        """Replace (or with None drop) one bundle certificate, keeping the order."""
        old = self.cert(role)
        index = self.att.certs.index(old)
        if new is None:
            del self.att.certs[index]
        else:
            self.att.certs[index] = new

    def evidence(self) -> Evidence:
        """Package the current pieces and apply the envelope edits."""
        packaged = package(self.att, self.options)
        files = dict(packaged.files)
        primary = packaged.primary
        if self.json_edits:
            document = json.loads(files[primary])
            for edit in self.json_edits:
                edit(document)
            files[primary] = dump_document(document, self.att.cloud, self.options)
        if self.text_edit is not None:
            files[primary] = self.text_edit(files[primary])
        if self.compressed_edit is not None:
            files[primary] = self.compressed_edit(files[primary])
        for file_name, data in self.file_changes.items():
            if data is None:
                files.pop(file_name, None)
            else:
                files[file_name] = data
        return Evidence(packaged.format, files, primary)


Operator = Callable[[Workbench], None]

