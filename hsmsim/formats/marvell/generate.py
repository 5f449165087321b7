"""Marvell evidence from an AttestationRequest: the signed FW 3.x blob(s) and the cloud's certificate
bundle, packaged in the cloud's envelope.

Facts are from ``shared/specs/marvell.md`` (byte-verified against the real Google samples): the blob
(:mod:`hsmsim.formats.marvell.blob`) holds one or two objects of PKCS#11 attribute TLVs in the
observed order and encodings and a 256-byte RSASSA-PKCS1-v1_5/SHA-256 signature by the partition's
RSA-2048 key over everything before it. Azure blobs hold the private (or secret) object alone, with
the public object in a second blob; Google blobs hold the pair (an imported key's the private object
alone, as the real imported sample), with Google's fixed key template
(LABEL ``app_key``; DECRYPT, UNWRAP, SIGN on the private object) as both real Google blobs show.
GUESSES and the template are switchable through :class:`hsmsim.formats.marvell.options.MarvellOptions`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric import rsa

from hsmsim.device import AttestationRequest, Device
from hsmsim.errors import ParameterError, UnsupportedKeyError
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell.envelopes import MarvellAttestation, package
from hsmsim.formats.marvell.layout import Cloud
from hsmsim.formats.marvell.options import (
    DEFAULT_OPTIONS,
    GOOGLE_LABEL,
    GOOGLE_USAGES,
    GoogleTemplate,
    KeyNames,
    MarvellOptions,
)
from hsmsim.formats.marvell.pki import OwnerPki, azure_owner_pki, google_owner_pki
from hsmsim.keystore.base import StoredKey
from hsmsim.model.evidence import Evidence
from hsmsim.pki.identity import AttestationIdentity
from hsmsim.pki.seed import drbg


def object_handles(seed: str, names: KeyNames, label: str) -> tuple[int, int]:
    """Two distinct small object handles (public, private) derived from the seed and the key."""
    rng = drbg(seed, f"marvell/handles/{names.key_uri}/{label}")
    first = rng.randint_bits(16) % 0x3FF0
    second = (first + 1 + rng.randint_bits(16) % 0x3FEF) % 0x3FF0
    return 0x10 + first, 0x10 + second


def owner_pki(cloud: Cloud, device: Device, identity: AttestationIdentity, names: KeyNames) -> OwnerPki:
    """The owner PKI :func:`assemble` uses for this cloud (for anchors and tests)."""
    if cloud is Cloud.AZURE:
        return azure_owner_pki(device.seed, identity.certificate, names.azure_pool)
    return google_owner_pki(device.seed, identity.certificate, identity.chain[1])


def assemble(cloud: Cloud, key: StoredKey, identity: AttestationIdentity, device: Device, names: KeyNames,
             options: MarvellOptions = DEFAULT_OPTIONS) -> MarvellAttestation:
    """Build and sign the blob(s) for ``key`` and the cloud's certificate bundle (the generator's core).

    The blob carries no time: the same key, identity and names give the same bytes whenever asked.
    """
    signer = identity.key
    if not isinstance(signer, rsa.RSAPrivateKey) or signer.key_size != 2048:
        raise UnsupportedKeyError("the LiquidSecurity partition key must be RSA-2048")
    secret = key.public_key is None
    private_class = mb.ObjectClass.SECRET_KEY if secret else mb.ObjectClass.PRIVATE_KEY
    public_handle, private_handle = object_handles(device.seed, names, key.label)
    partition, card = identity.certificate, identity.chain[1]
    usages = None
    if cloud is Cloud.AZURE:
        identifier, label = names.key_uri, key.label
        owner = azure_owner_pki(device.seed, partition, names.azure_pool)
        certs = [card, partition, owner.root, owner.partition]
    else:
        identifier, label = hashlib.sha512(key.attributes.id).hexdigest(), key.label
        if options.google_template is GoogleTemplate.CLOUD_HSM:
            label, usages = GOOGLE_LABEL, GOOGLE_USAGES
        owner = google_owner_pki(device.seed, partition, card)
        assert owner.card is not None
        # gcloud's get-certificate-chain (chain type all, its default) writes caviumCerts, then
        # googlePartitionCerts, then googleCardCerts: each chain leaf first.
        certs = [partition, card, owner.partition, owner.card]

    def obj(object_class: mb.ObjectClass, handle: int) -> mb.KeyObject:
        return mb.key_object(key, object_class, handle=handle, label=label, identifier=identifier,
                             token_true=options.token_true, ec_modulus_bits=options.ec_modulus_bits, usages=usages)

    private = obj(private_class, private_handle)
    public = None if secret else obj(mb.ObjectClass.PUBLIC_KEY, public_handle)
    public_blob = None
    if cloud is Cloud.AZURE:
        blob = mb.sign_body(mb.encode_body([private], header=options.azure_header,
                                           info_flags=options.azure_info_flags), signer)
        if public is not None and options.azure_public_blob:
            public_blob = mb.sign_body(mb.encode_body([public], header=options.azure_header,
                                                      info_flags=options.azure_info_flags), signer)
    else:
        pair = key.attributes.local if options.google_key_pair is None else options.google_key_pair
        objects = [public, private] if public is not None and pair else [private]
        blob = mb.sign_body(mb.encode_body(objects, header=options.google_header,
                                           info_flags=options.google_info_flags), signer)
    return MarvellAttestation(cloud, key, names, blob, public_blob, certs, identity.root, owner.root)


def generate(cloud: Cloud, request: AttestationRequest, options: MarvellOptions = DEFAULT_OPTIONS) -> Evidence:
    """The cloud's evidence for the request's key.

    Parameters: ``options`` (a :class:`MarvellOptions`, else ``options``), ``names`` (a
    :class:`KeyNames`), ``key_id`` (the key URI to attest as OBJ_ATTR_ID and JWK ``kid``, e.g. a
    server's). Raises :class:`UnsupportedKeyError` for Ed25519 and curves LiquidSecurity does not
    attest, :class:`ParameterError` for a ``key_id`` that is not a URI of at most 128 bytes.
    """
    chosen = request.parameters.get("options", options)
    if not isinstance(chosen, MarvellOptions):
        raise ParameterError.invalid("options", "a MarvellOptions", chosen)
    names = request.parameters.get("names") or KeyNames.derive(request.device, request.key.label)
    if not isinstance(names, KeyNames):
        raise ParameterError.invalid("names", "a KeyNames", names)
    key_id = request.parameters.get("key_id")
    if key_id is not None:
        if not isinstance(key_id, str) or "/keys/" not in key_id or len(key_id.encode()) > mb.FIXED_TEXT_BYTES:
            raise ParameterError.invalid("key_id", "a key URI (.../keys/...) of at most 128 bytes", key_id)
        names = replace(names, uri=key_id)
    att = assemble(cloud, request.key, request.attesting, request.device, names, chosen)
    return package(att, chosen)
