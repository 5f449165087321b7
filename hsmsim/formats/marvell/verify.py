"""The Marvell reference verifier: Evidence + anchors + time + profile -> Verdict.

Order: envelope and bounds (:mod:`hsmsim.formats.marvell.envelopes`), the response header's
framing, the manufacturer chain (partition -> v1 card -> a LiquidSecurity root among the anchors)
and the owner chain (identical SPKI; Google: Hawksbill anchor; Azure: the bundle's partition root,
pinned when an anchor names an Azure partition root), the signature with the key both partition certificates carry,
the full parse, the objects' key and check values, the JWK / public key / CSR binding, the attribute
policy, then the strict profile's layout and key rules. Checks raise :class:`Rejected` at the first failure;
:func:`verify` turns that into the Verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from hsmsim.checks import check_csr_binding, require_code_signing_key
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell.envelopes import EnvelopeContents, jwk_spki, loaded_key_spki, read_envelope
from hsmsim.formats.marvell.layout import Cloud
from hsmsim.formats.marvell.pki import AZURE_PARTITION_ROOT_CN, marvell_root_names
from hsmsim.model.evidence import Evidence, TrustAnchors
from hsmsim.pki.chain import ChainPolicy, NameKey, name_key, name_keys, require_key_usage, subject_text, validate_chain
from hsmsim.verdict import Claims, Profile, Reason, Rejected, Verdict

_MANUFACTURER_POLICY = ChainPolicy(allow_v1_ca=True)
_SERIAL_RE = re.compile(r"^HSM:([^:,]+), for FIPS mode$")
_FIPS_SUFFIX = ", for FIPS mode"
FIPS_MODE = "FIPS mode"
"""The FIPS claim Marvell evidence makes: card and partition CNs end ``, for FIPS mode`` (no level number)."""


def verify(cloud: Cloud, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    """Check ``cloud``'s evidence at ``at`` under ``profile``; never raises on bad evidence."""
    try:
        return _verify(cloud, evidence, trust, at, profile)
    except Rejected as rejection:
        return Verdict(rejection.reason, rejection.detail)


def _verify(cloud: Cloud, evidence: Evidence, trust: TrustAnchors, at: datetime, profile: Profile) -> Verdict:
    inputs = read_envelope(cloud, evidence, profile)
    if inputs.blob.startswith(b"\x1f\x8b"):
        raise Rejected(Reason.MALFORMED, "the blob is gzip'd; Azure ships it raw")
    mb.read_framing(inputs.blob)
    chains = _check_chains(cloud, inputs.certs, trust.all(), at)
    blobs = [inputs.blob] + ([inputs.public_blob] if inputs.public_blob is not None else [])
    for blob in blobs:
        # The owner partition certificate carries the very same SPKI (_owner_copy): this verification is its too.
        _check_signature(blob, chains.partition, "Marvell partition certificate's")
    parsed = mb.parse_blob(inputs.blob)
    private_obj, public_obj = _attested_objects(cloud, parsed)
    key = mb.object_key(private_obj)
    if public_obj is not None:
        _check_pair(key, public_obj, "public")
    layout = [*parsed.objects]
    findings = list(inputs.strict_findings)
    if inputs.public_blob is not None:
        public_parsed = mb.parse_blob(inputs.public_blob)
        if len(public_parsed.objects) != 1:
            raise Rejected(Reason.MALFORMED, "publicKeyAttestation holds more than one object")
        mb.check_encodings(public_parsed.objects[0])
        findings += _check_public_attestation(key, public_parsed.objects[0])
        layout += public_parsed.objects
    _check_binding(cloud, inputs, private_obj, key)
    _check_policy(private_obj, profile, inputs.declared_exportable)
    if profile is Profile.STRICT:
        for reason, detail in findings:
            raise Rejected(reason, detail)
        for obj in layout:
            mb.require_check_values(obj)
        if chains.unused:
            raise Rejected(Reason.UNEXPECTED_CONTENT, "the bundle carries certificates outside both chains: "
                           + ", ".join(subject_text(c) for c in chains.unused))
        mb.check_layout(layout)
        require_code_signing_key(key.description, key.size)
    claims = Claims(
        spki_der=key.spki, key_type=key.description, key_size=key.size,
        generated_on_device=mb.flag_value(private_obj, mb.LOCAL),
        extractable=mb.flag_value(private_obj, mb.EXTRACTABLE),
        never_extractable=mb.flag_value(private_obj, mb.NEVER_EXTRACTABLE),
        sensitive=private_obj.get(mb.SENSITIVE) == b"\x01",
        always_sensitive=private_obj.get(mb.ALWAYS_SENSITIVE) == b"\x01",
        vendor="Marvell", model="LiquidSecurity (" + ("Azure Managed HSM)" if cloud is Cloud.AZURE
                                                      else "Google Cloud HSM)"),
        serial=_hsm_serial(chains.card), fips_level=_fips_mode(chains.partition, chains.card),
        label=mb.text_value(private_obj, mb.LABEL),
    )
    return Verdict(Reason.OK, f"attested by {subject_text(chains.partition)}", claims)


# -- chains and signatures -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Chains:
    """The certificates that vouch for the blob, and the bundle's certificates outside both chains."""

    partition: x509.Certificate
    card: x509.Certificate
    owner_partition: x509.Certificate
    unused: tuple[x509.Certificate, ...]


@cache
def _root_name_keys() -> frozenset[NameKey]:
    return frozenset(name_key(root) for root in marvell_root_names())


_FACTS_LIMIT = 64
_facts_memo: dict[int, tuple[x509.Certificate, tuple[NameKey, NameKey, bool, bytes]]] = {}
""":func:`_facts` of the certificate objects most recently seen, by identity; each entry holds its object, so the id
is not reused while the entry lives. The bundle's certificates come from the envelope reader's cache of parsed PEM
(by the bytes), so a device's certificates are the same objects in every bundle it emits."""


def _facts(cert: x509.Certificate) -> tuple[NameKey, NameKey, bool, bytes]:
    """(subject, issuer, self-signed, SPKI) of a certificate: a pure function of its DER, remembered per object
    (:data:`_facts_memo`; a Certificate hashes and compares by re-reading its whole structure, which costs more than
    the look-up saves): the partition, card and owner certificates and the root copies recur in every bundle of a
    device."""
    entry = _facts_memo.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    subject, issuer = name_key(cert.subject), name_key(cert.issuer)
    self_signed = subject == issuer
    if self_signed:
        try:
            cert.verify_directly_issued_by(cert)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            self_signed = False
    facts = subject, issuer, self_signed, loaded_key_spki(cert.public_key())
    if len(_facts_memo) >= _FACTS_LIMIT:
        _facts_memo.clear()
    _facts_memo[id(cert)] = (cert, facts)
    return facts


@dataclass(frozen=True, eq=False)
class _Held:
    """One distinct certificate of the bundle: its names as keys, whether it is self-signed, its SPKI.
    Compared by identity: the bundle's certificates are deduplicated into these first."""

    cert: x509.Certificate
    subject: NameKey
    issuer: NameKey
    self_signed: bool
    spki: bytes

    @classmethod
    def of(cls, cert: x509.Certificate) -> _Held:
        return cls(cert, *_facts(cert))


def _distinct(certs: tuple[x509.Certificate, ...]) -> tuple[list[_Held], list[_Held]]:
    """The bundle's distinct certificates by DER (first copy kept) and, per certificate of ``certs``, its entry.
    Equal DER has an equal signature value: a certificate is compared whole only with those of its signature value
    (hashing a Certificate re-reads its whole structure)."""
    distinct: list[_Held] = []
    by_signature: dict[bytes, list[_Held]] = {}
    each = []
    for cert in certs:
        same = by_signature.setdefault(cert.signature, [])
        entry = next((h for h in same if h.cert is cert or h.cert == cert), None)
        if entry is None:
            entry = _Held.of(cert)
            same.append(entry)
            distinct.append(entry)
        each.append(entry)
    return distinct, each


def _owner_copy(of: _Held, held: list[_Held], what: str) -> _Held:
    """The bundle's owner certificate carrying exactly the SPKI of the manufacturer certificate ``of``."""
    same_key = [h for h in held if h is not of and not h.self_signed and h.spki == of.spki]
    if len(same_key) > 1:
        raise Rejected(Reason.MALFORMED, f"more than one owner certificate for the {what} key")
    if same_key:
        return same_key[0]
    if any(h.subject == of.subject and h is not of for h in held):
        raise Rejected(Reason.ATTESTATION_KEY_MISMATCH,
                       f"the owner {what} certificate carries a different key than the Marvell {what} certificate")
    raise Rejected(Reason.CHAIN_INCOMPLETE, f"no owner certificate re-certifies the {what} key")


def _pins_azure_owner_root(anchor: x509.Certificate, owner_partition: _Held) -> bool:
    """Whether ``anchor`` pins Azure's partition root: it is named as the owner partition certificate's issuer (an
    impostor root of that name included), or named as an Azure partition root (``CN=Azure Managed HSM Partition
    Root``, hsmsim's emulated one included: the real DN is not published), such as another pool's. Any other anchor,
    another vendor's root in a trust store shared across formats, plays no part in the owner chain."""
    if name_keys(anchor)[0] == owner_partition.issuer:
        return True
    names = anchor.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return any(isinstance(cn.value, str) and cn.value.startswith(AZURE_PARTITION_ROOT_CN) for cn in names)


def _check_chains(cloud: Cloud, certs: tuple[x509.Certificate, ...], anchors: list[x509.Certificate],
                  at: datetime) -> _Chains:
    """Manufacturer chain (partition -> v1 card -> LiquidSecurity root) and the owner chain(s)."""
    held, each = _distinct(certs)
    issuing = [h for h in held if not h.self_signed]
    partitions = [h for h in issuing if any(o is not h and o.subject == h.issuer for o in issuing)]
    if not partitions:
        raise Rejected(Reason.CHAIN_INCOMPLETE, "no partition certificate issued by a card certificate in the bundle")
    if len(partitions) > 1:
        raise Rejected(Reason.MALFORMED, f"{len(partitions)} certificates look like manufacturer partition "
                                         "certificates")
    partition = partitions[0]
    root_names = _root_name_keys()
    manufacturer_anchors = [a for a in anchors if name_keys(a)[0] in root_names]
    if not manufacturer_anchors:
        raise Rejected(Reason.CHAIN_UNTRUSTED, "no trust anchor carries a LiquidSecurity root DN (LS1 or LS2)")
    # Owner certificates reuse the card's name and key: keep them out of the manufacturer path.
    manufacturer_pool = [h for h in held if h.self_signed or h.issuer in root_names]
    if not any(h.subject == partition.issuer for h in manufacturer_pool):
        raise Rejected(Reason.CHAIN_INCOMPLETE, "the card certificate that issued the partition certificate is "
                                                "not in the bundle")
    path = validate_chain(partition.cert, [h.cert for h in manufacturer_pool], manufacturer_anchors, at,
                          _MANUFACTURER_POLICY, recurring_leaf=True)
    if len(path) != 3:
        raise Rejected(Reason.CHAIN_UNTRUSTED, f"the manufacturer chain has {len(path)} certificates, "
                                               "not partition -> card -> root")
    card = next(h for h in manufacturer_pool if h.cert is path[1] or h.cert == path[1])  # from the pool
    owner_partition = _owner_copy(partition, held, "partition")
    owner_anchors = [a for a in anchors if a is not path[2] and a != path[2]]
    if cloud is Cloud.AZURE:
        owner_anchors = [a for a in owner_anchors if _pins_azure_owner_root(a, owner_partition)]
    used = [partition, card, owner_partition]
    if cloud is Cloud.GOOGLE:
        # Google's owner root issues both owner certificates directly: an issuer that is no owner
        # anchor is the wrong root, not a missing certificate.
        if not any(name_keys(a)[0] == owner_partition.issuer for a in owner_anchors):
            raise Rejected(Reason.CHAIN_UNTRUSTED, f"no owner trust anchor is the owner partition certificate's "
                                                   f"issuer {owner_partition.cert.issuer.rfc4514_string()!r} "
                                                   "(the Hawksbill root)")
        owner_path = validate_chain(owner_partition.cert, [], owner_anchors, at, recurring_leaf=True)
        owner_card = _owner_copy(card, held, "card")
        card_path = validate_chain(owner_card.cert, [], owner_anchors, at, recurring_leaf=True)
        if card_path[-1] is not owner_path[-1] and card_path[-1] != owner_path[-1]:
            raise Rejected(Reason.CHAIN_UNTRUSTED, "owner card and owner partition certificates chain to "
                                                   "different owner roots")
        require_key_usage(owner_card.cert)
        used.append(owner_card)
    else:
        bundle_roots = [h for h in held if h.self_signed]
        if owner_anchors:
            owner_path = validate_chain(owner_partition.cert, [h.cert for h in bundle_roots], owner_anchors, at,
                                        recurring_leaf=True)
        else:
            issuers = [h.cert for h in bundle_roots if h.subject == owner_partition.issuer]
            if not issuers:
                raise Rejected(Reason.CHAIN_INCOMPLETE, "no self-signed partition root in the bundle issues the "
                                                        "owner partition certificate")
            owner_path = validate_chain(owner_partition.cert, [], issuers, at, recurring_leaf=True)
        used += [h for h in bundle_roots if h.cert is owner_path[-1] or h.cert == owner_path[-1]]
    require_key_usage(owner_partition.cert)
    seen: set[_Held] = set()
    unused = []
    for cert, entry in zip(certs, each, strict=True):
        if entry not in used or entry in seen:
            unused.append(cert)
        seen.add(entry)
    return _Chains(partition.cert, card.cert, owner_partition.cert, tuple(unused))


def _check_signature(blob: bytes, signer: x509.Certificate, what: str) -> None:
    public = signer.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or public.key_size != 2048:
        raise Rejected(Reason.SIGNATURE_INVALID, f"{what} key is not RSA-2048")
    framing = mb.read_framing(blob)
    try:
        public.verify(blob[-mb.SIGNATURE_BYTES:], blob[framing.signed], padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Rejected(Reason.SIGNATURE_INVALID,
                       f"the blob's RSASSA-PKCS1-v1_5/SHA-256 signature does not verify with the {what} key") from None


def _hsm_serial(card: x509.Certificate) -> str | None:
    for attr in card.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
        match = _SERIAL_RE.match(str(attr.value))
        if match:
            return match.group(1)
    return None


def _fips_mode(*certs: x509.Certificate) -> str | None:
    """``FIPS mode`` when every one of ``certs`` (the signing partition and its card) says so in its CN."""
    names = [str(a.value) for c in certs for a in c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    return FIPS_MODE if len(names) == len(certs) and all(n.endswith(_FIPS_SUFFIX) for n in names) else None


# -- the objects ------------------------------------------------------------------------------------------

def _attested_objects(cloud: Cloud, parsed: mb.ParsedBlob) -> tuple[mb.KeyObject, mb.KeyObject | None]:
    """(private or secret object, public object of the same blob or None)."""
    objects = parsed.objects
    if cloud is Cloud.AZURE and len(objects) != 1:
        raise Rejected(Reason.MALFORMED, "an Azure blob holds exactly one object; the Azure script misparses "
                                         "a two-object blob")
    for obj in objects:
        mb.check_encodings(obj)
    if len(objects) == 2:
        public, private = objects
        if mb.byte_value(public, mb.CLASS) != mb.ObjectClass.PUBLIC_KEY:
            raise Rejected(Reason.MALFORMED, "the first object of a key-pair blob is not the public key")
    else:
        public, private = None, objects[0]
    if mb.byte_value(private, mb.CLASS) not in (mb.ObjectClass.PRIVATE_KEY, mb.ObjectClass.SECRET_KEY):
        raise Rejected(Reason.ATTR_CONFLICT, f"the attested object has CLASS {mb.byte_value(private, mb.CLASS)}, "
                                             "not a private or secret key")
    return private, public


def _check_pair(private: mb.ObjectKey, public_obj: mb.KeyObject, what: str) -> None:
    public = mb.object_key(public_obj)
    if public.object_class != mb.ObjectClass.PUBLIC_KEY:
        raise Rejected(Reason.ATTR_CONFLICT, f"the {what} object is not a public key")
    if public.spki != private.spki:
        raise Rejected(Reason.ATTR_CONFLICT, f"the {what} object describes another key than the private object")


def _check_public_attestation(private: mb.ObjectKey, obj: mb.KeyObject) -> list[tuple[Reason, str]]:
    """publicKeyAttestation must describe the attested key. Its object should be CLASS 02 (public key), but the only
    Azure-originated bytes, the REST example, hold a CLASS 03 object there (``docs/formats/marvell.md``): a private-key
    object of the same key is a strict-profile finding (returned), anything else a rejection."""
    public = mb.object_key(obj)
    if public.spki is None or public.spki != private.spki:
        raise Rejected(Reason.ATTR_CONFLICT, "the publicKeyAttestation object describes another key than the "
                                             "private object")
    if public.object_class == mb.ObjectClass.PRIVATE_KEY:
        return [(Reason.ATTR_CONFLICT, "the publicKeyAttestation object has CLASS 03 (private key), not 02; "
                                       "the REST example shows this, the SDK docs describe a public-key object")]
    if public.object_class != mb.ObjectClass.PUBLIC_KEY:
        raise Rejected(Reason.ATTR_CONFLICT, "the publicKeyAttestation object is not a public key")
    return []


def _check_policy(obj: mb.KeyObject, profile: Profile, declared_exportable: str | None) -> None:
    """The signed attributes, and the KeyBundle's word on export (``declared_exportable``): a key the service
    declares exportable whose blob says EXTRACTABLE=0 is ATTR_CONFLICT (the two halves of the evidence disagree, so
    neither claim can stand); with EXTRACTABLE=1 it is ATTR_EXTRACTABLE as any extractable key."""
    extractable, never = mb.flag_value(obj, mb.EXTRACTABLE), mb.flag_value(obj, mb.NEVER_EXTRACTABLE)
    local = mb.flag_value(obj, mb.LOCAL)
    if extractable and never:
        raise Rejected(Reason.ATTR_CONFLICT, "EXTRACTABLE=1 contradicts NEVER_EXTRACTABLE=1")
    if declared_exportable is not None and not extractable:
        raise Rejected(Reason.ATTR_CONFLICT, f"the KeyBundle declares the key exportable ({declared_exportable}); "
                                             "the signed blob says EXTRACTABLE=0")
    if not local:
        raise Rejected(Reason.ATTR_NOT_LOCAL, "LOCAL=0: the key was not generated on the HSM")
    if extractable:
        raise Rejected(Reason.ATTR_EXTRACTABLE, "EXTRACTABLE=1")
    if not never:
        raise Rejected(Reason.ATTR_NOT_NEVER_EXTRACTABLE, "NEVER_EXTRACTABLE=0: the key was extractable once")
    if profile is Profile.STRICT:
        if not mb.flag_value(obj, mb.SENSITIVE):
            raise Rejected(Reason.ATTR_NOT_SENSITIVE, "SENSITIVE=0")
        if not mb.flag_value(obj, mb.ALWAYS_SENSITIVE):
            raise Rejected(Reason.ATTR_NOT_ALWAYS_SENSITIVE, "ALWAYS_SENSITIVE=0")


def _check_binding(cloud: Cloud, inputs: EnvelopeContents, obj: mb.KeyObject, key: mb.ObjectKey) -> None:
    identifier = mb.text_value(obj, mb.ID)
    if cloud is Cloud.AZURE and "/keys/" not in identifier:
        raise Rejected(Reason.MALFORMED, f"OBJ_ATTR_ID {identifier[:60]!r} is not a Managed HSM key URI")
    if inputs.jwk is not None:
        kid = inputs.jwk.get("kid")
        if kid is not None and kid != identifier:
            raise Rejected(Reason.KEY_MISMATCH, f"the JWK kid {kid!r} is not the attested key ID {identifier!r}")
        jwk_key = jwk_spki(inputs.jwk)
        if (jwk_key is None) != (key.spki is None) or jwk_key != key.spki:
            raise Rejected(Reason.KEY_MISMATCH, "the JWK public key differs from the attested key")
    for file_name, spki in inputs.bind_spki:
        if spki != key.spki:
            raise Rejected(Reason.KEY_MISMATCH, f"{file_name} differs from the attested key")
    if inputs.csr is not None:
        if key.spki is None:
            raise Rejected(Reason.KEY_MISMATCH, "a CSR cannot bind a secret key")
        check_csr_binding(key.spki, inputs.csr)
