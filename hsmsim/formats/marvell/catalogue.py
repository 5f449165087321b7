"""The Marvell vector sets (``marvell-azure``, ``marvell-google``): goldens and one-defect mutations.

Each :class:`Mutation` names one defect (a flag with its note), the operator and the path it
touches, whether the genuine partition key re-signs the blob afterwards (``Resigned``) or not
(``Stale``), and the reason each profile must return. The operators edit a golden attestation on
the :class:`~hsmsim.formats.marvell.workbench.Workbench`; everything derives from the seed.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hsmsim import mutate
from hsmsim.encoding import spki_pem
from hsmsim.formats.marvell import blob as mb
from hsmsim.formats.marvell.envelopes import (
    MarvellAttestation,
    b64_decode,
    gzip_deterministic,
    gzip_member,
    jwk_uint,
)
from hsmsim.formats.marvell.generate import assemble
from hsmsim.formats.marvell.layout import Cloud
from hsmsim.formats.marvell.options import AzureEnvelope, GoogleEnvelope
from hsmsim.formats.marvell.pki import build_v1_certificate, marvell_pki, reissue_v1
from hsmsim.formats.marvell.workbench import GOLDEN_SPECS, RSA_2048, MarvellKit, Operator, Workbench
from hsmsim.model.catalogue import Mutation, flag_notes, invalid, strict_only, valid
from hsmsim.model.vectors import FlagNote, Provenance, Severity, Signing, VectorCase
from hsmsim.pki.builder import UTF8, CertSpec, name, reissue
from hsmsim.pki.seed import derive_key, derive_serial
from hsmsim.verdict import Profile, Reason

VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = "shared/specs/marvell.md"
CSBR = "CA/B Forum Code Signing BR 6.2.7.4"


# -- operators ------------------------------------------------------------------------------------

def _attestation(document: dict[str, object]) -> dict[str, object]:
    node = document.get("attributes", document)
    assert isinstance(node, dict)
    found = node.get("attestation", node)
    assert isinstance(found, dict)
    return found


def edit_private(fn: Callable[[mb.KeyObject], mb.KeyObject]) -> Operator:
    """Change the private (or secret) object; the blob is re-encoded (re-sign afterwards)."""
    def apply(bench: Workbench) -> None:
        objects = bench.objects()
        objects[-1] = fn(objects[-1])
        bench.set_objects(objects)
    return apply


def _set(**values: bytes) -> Callable[[mb.KeyObject], mb.KeyObject]:
    types = {"extractable": mb.EXTRACTABLE, "never_extractable": mb.NEVER_EXTRACTABLE, "local": mb.LOCAL,
             "sensitive": mb.SENSITIVE, "always_sensitive": mb.ALWAYS_SENSITIVE, "cls": mb.CLASS,
             "key_type": mb.KEY_TYPE, "kcv": mb.KCV, "ekcv": mb.EKCV, "id": mb.ID, "modulus_bits": mb.MODULUS_BITS}

    def fn(obj: mb.KeyObject) -> mb.KeyObject:
        for attr, value in values.items():
            obj = obj.replace(types[attr], value)
        return obj
    return fn


def _insert_after(anchor: int, attribute: mb.Attribute) -> Callable[[mb.KeyObject], mb.KeyObject]:
    def fn(obj: mb.KeyObject) -> mb.KeyObject:
        attrs = list(obj.attributes)
        index = obj.types.index(anchor) + 1
        return mb.KeyObject(obj.handle, (*attrs[:index], attribute, *attrs[index:]))
    return fn


def _swap(first: int, second: int) -> Callable[[mb.KeyObject], mb.KeyObject]:
    def fn(obj: mb.KeyObject) -> mb.KeyObject:
        attrs = list(obj.attributes)
        i, j = obj.types.index(first), obj.types.index(second)
        attrs[i], attrs[j] = attrs[j], attrs[i]
        return mb.KeyObject(obj.handle, tuple(attrs))
    return fn


def _object_offsets(blob: bytes) -> list[int]:
    """Offsets of each object's 12-byte header in a well-formed blob."""
    parsed = mb.parse_blob(blob)
    start = parsed.framing.header_size + 8
    offsets = [start]
    if len(parsed.objects) > 1:
        offsets.append(parsed.framing.header_size + parsed.offset_second)
    return offsets


def _tlv_offset(blob: bytes, attr_type: int, object_index: int = -1) -> int:
    """Offset of the type field of the first ``attr_type`` TLV in one object of a well-formed blob."""
    position = _object_offsets(blob)[object_index]
    _, count, _ = struct.unpack_from(">III", blob, position)
    position += 12
    for _ in range(count):
        found, length = struct.unpack_from(">II", blob, position)
        if found == attr_type:
            return position
        position += 8 + length
    raise mutate.MutationError(f"no attribute {attr_type:#x}")


def patch_u32(offset: Callable[[bytes], int], value: Callable[[int], int]) -> Operator:
    """Overwrite one big-endian u32 of the blob (located by ``offset``) with ``value(old)``."""
    def apply(bench: Workbench) -> None:
        blob = bench.att.blob
        at = offset(blob)
        old = struct.unpack_from(">I", blob, at)[0]
        bench.att.blob = blob[:at] + struct.pack(">I", value(old)) + blob[at + 4:]
    return apply


def patch_u16(offset: int, value: Callable[[int], int]) -> Operator:
    """Overwrite one big-endian u16 at ``offset`` from the start of the attest data."""
    def apply(bench: Workbench) -> None:
        blob = bench.att.blob
        at = mb.read_framing(blob).header_size + offset
        old = struct.unpack_from(">H", blob, at)[0]
        bench.att.blob = blob[:at] + struct.pack(">H", value(old)) + blob[at + 2:]
    return apply


def _sign_raw(sign: Callable[[rsa.RSAPrivateKey, bytes], bytes], key: Callable[[Workbench], object]) -> Operator:
    def apply(bench: Workbench) -> None:
        signer = key(bench)
        assert isinstance(signer, rsa.RSAPrivateKey)
        bench.att.blob = bench.att.blob[:-mb.SIGNATURE_BYTES] + sign(signer, bench.att.blob[:-mb.SIGNATURE_BYTES])
    return apply


def _pkcs1(hash_algorithm: hashes.HashAlgorithm) -> Callable[[rsa.RSAPrivateKey, bytes], bytes]:
    return lambda key, data: key.sign(data, padding.PKCS1v15(), hash_algorithm)


def _pss(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    # An empty salt keeps PSS deterministic, so the vector regenerates byte for byte.
    return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 0), hashes.SHA256())


def _other_attestation(bench: Workbench, spec: str) -> MarvellAttestation:
    """The genuine attestation of another golden key, under this bench's names and options."""
    return assemble(bench.cloud, bench.kit.keys[spec], bench.pki.identity(), bench.kit.devices[bench.cloud],
                    bench.att.names, bench.options)


def _attest_other_key(bench: Workbench) -> None:
    """The modulus (and KCV, EKCV) of another key in every object, consistent within the blob."""
    other = _other_attestation(bench, "rsa-4096")
    bench.att.blob, bench.att.public_blob = other.blob, other.public_blob


def _public_blob_of_other_key(bench: Workbench) -> None:
    bench.att.public_blob = _other_attestation(bench, "rsa-4096").public_blob


def _public_object_other_key(bench: Workbench) -> None:
    """The pair's public object replaced by the P-384 key's (same handle), the private object kept."""
    public, private = bench.objects()
    foreign = mb.parse_blob(_other_attestation(bench, "ec-p384").blob).objects[0]
    bench.set_objects([mb.KeyObject(public.handle, foreign.attributes), private])


def _public_blob_holds_private_object(bench: Workbench) -> None:
    bench.att.public_blob = bench.att.blob


def _two_objects_in_azure_blob(bench: Workbench) -> None:
    assert bench.att.public_blob is not None
    public = mb.parse_blob(bench.att.public_blob).objects[0]
    bench.set_objects([public, *bench.objects()], header=mb.HeaderStyle.HANDLES)


def _objects_swapped(bench: Workbench) -> None:
    public, private = bench.objects()
    bench.set_objects([private, public])


def _card_expired(bench: Workbench) -> None:
    # Only notAfter moves: the golden card's notBefore stays, inside the manufacturer root's validity.
    card = reissue_v1(bench.pki.card, bench.pki.root_key, not_after=datetime(2025, 6, 30, tzinfo=UTC))
    bench.swap_cert("card", card)


def _partition_forged(bench: Workbench) -> None:
    impostor = derive_key(bench.kit.seed, "marvell/impostor-card", RSA_2048)
    bench.swap_cert("partition", reissue(bench.pki.partition, impostor))


def _owner_with_other_key(role: str) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.swap_cert(role, reissue(bench.cert(role), bench.owner.root_key,
                                      public_key=bench.kit.foreign_key.public_key()))
    return apply


def _wrong_root_dn(bench: Workbench) -> None:
    """A manufacturer root named like a generic vendor CA (not the LS1/LS2 DN), trusted as an anchor."""
    key = derive_key(bench.kit.seed, "marvell/wrong-dn-root", RSA_2048)
    subject = name(("CN", "Marvell HSM Root CA EMULATED", UTF8), ("O", "Marvell Technology", UTF8))
    root = build_v1_certificate(CertSpec(
        subject=subject, issuer=subject, public_key=key.public_key(),
        serial=derive_serial(bench.kit.seed, "marvell/wrong-dn-root"),
        not_before=datetime(2015, 11, 19, tzinfo=UTC), not_after=datetime(2035, 11, 16, tzinfo=UTC)), key)
    bench.swap_cert("card", reissue_v1(bench.pki.card, key, issuer=subject))
    bench.anchors = (root, bench.owner.root)


def _unknown_manufacturer_root(bench: Workbench) -> None:
    """A complete LiquidSecurity-shaped chain under another emulated root (copy in the bundle) signs the blob."""
    device = bench.kit.devices[bench.cloud]
    other = marvell_pki(f"{bench.kit.seed}/unknown-root", device.serial, "default",
                        initialised=device.initialised, created=device.attestation_created)
    bench.swap_cert("card", other.card)
    bench.swap_cert("partition", other.partition)
    bench.att.certs.append(other.root)
    key = other.partition_key
    assert isinstance(key, rsa.RSAPrivateKey)
    bench.att.blob = mb.resign(bench.att.blob, key)


def _azure_owner_root_replaced(bench: Workbench) -> None:
    """Another self-signed partition root with the same DN issues the owner partition certificate."""
    impostor = derive_key(bench.kit.seed, "azure/impostor-partition-root", RSA_2048)
    root = reissue(bench.owner.root, impostor, public_key=impostor.public_key())
    bench.swap_cert("owner-partition", reissue(bench.owner.partition, impostor))
    bench.swap_cert("owner-root", root)


def _append_root_copy(bench: Workbench) -> None:
    bench.att.certs.append(bench.pki.root if bench.cloud is Cloud.AZURE else bench.owner.root)


def _shuffle_chain(bench: Workbench) -> None:
    bench.att.certs.reverse()


def _with_options(**changes: object) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.options = replace(bench.options, **changes)  # type: ignore[arg-type]
        pki = bench.pki
        fresh = assemble(bench.cloud, bench.kit.keys[bench.spec], pki.identity(), bench.kit.devices[bench.cloud],
                         bench.att.names, bench.options)
        bench.att.blob, bench.att.public_blob = fresh.blob, fresh.public_blob
    return apply


def _json(fn: Callable[[dict[str, object]], None]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.json_edits.append(fn)
    return apply


def _attestation_edit(fn: Callable[[dict[str, object]], None]) -> Operator:
    return _json(lambda document: fn(_attestation(document)))


def _standard_base64(attestation: dict[str, object]) -> None:
    for key in ("certificatePemFile", "privateKeyAttestation", "publicKeyAttestation"):
        value, _ = b64_decode(attestation[key], key, 1 << 20)
        attestation[key] = base64.b64encode(value).decode()


def _jwk_other_modulus(bench: Workbench) -> None:
    other = bench.kit.keys["rsa-4096"].public_key
    assert isinstance(other, rsa.RSAPublicKey)
    n = other.public_numbers().n

    def edit(document: dict[str, object]) -> None:
        jwk = document["key"]
        assert isinstance(jwk, dict)
        jwk["n"] = jwk_uint(n)
    bench.json_edits.append(edit)


def _jwk_other_kid(document: dict[str, object]) -> None:
    jwk = document["key"]
    assert isinstance(jwk, dict)
    jwk["kid"] = str(jwk["kid"]).rsplit("/", 1)[0] + "/" + "0" * 32


RELEASE_POLICY = {"contentType": "application/json; charset=utf-8", "immutable": False,
                  "data": "eyJ2ZXJzaW9uIjoiMS4wLjAiLCJhbnlPZiI6W119"}
"""A Secure Key Release policy as a KeyBundle carries it (``data``: base64url of ``{"version":"1.0.0","anyOf":[]}``)."""


def _declared_exportable(document: dict[str, object]) -> None:
    attributes = document["attributes"]
    assert isinstance(attributes, dict)
    attributes["exportable"] = True
    document["release_policy"] = RELEASE_POLICY


def _exportable_both_ways(bench: Workbench) -> None:
    edit_private(_set(extractable=b"\x01", never_extractable=b"\x00"))(bench)
    _json(_declared_exportable)(bench)


def _duplicate_json_key(data: bytes) -> bytes:
    return mutate.replace_once(data, b'"version": "MRVL-1"', b'"version": "MRVL-1",\n      "version": "MRVL-2"')


def _pub_pem_of_other_key(bench: Workbench) -> None:
    other = bench.kit.keys["ec-p384" if bench.spec.startswith("ec") else "rsa-4096"].public_key
    assert other is not None
    bench.file_changes[f"{bench.att.stem}.pub.pem"] = spki_pem(other)


def blob_op(fn: Callable[[bytes], bytes]) -> Operator:
    """Replace the blob under test by ``fn(blob)``."""
    def apply(bench: Workbench) -> None:
        bench.att.blob = fn(bench.att.blob)
    return apply


def compressed_op(fn: Callable[[bytes], bytes]) -> Operator:
    """Replace Google's gzip'd attestation file by ``fn(gzip bytes)``."""
    def apply(bench: Workbench) -> None:
        bench.compressed_edit = fn
    return apply


def _text_op(fn: Callable[[bytes], bytes]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.text_edit = fn
    return apply


def _put(key: str, value: object) -> Callable[[dict[str, object]], None]:
    def fn(node: dict[str, object]) -> None:
        node[key] = value
    return fn


def _remove(key: str) -> Callable[[dict[str, object]], None]:
    def fn(node: dict[str, object]) -> None:
        del node[key]
    return fn


def _id_not_utf8(obj: mb.KeyObject) -> mb.KeyObject:
    identifier = obj.get(mb.ID)
    assert identifier is not None
    return obj.replace(mb.ID, b"\xff" + identifier[1:])


GZIP_BOMB = gzip_member(bytes.fromhex("edc1010100000082a0feaf7648c0") + bytes(4064) + bytes.fromhex("ce05"),
                        0x1147406A, 4 << 20)
"""gzip of 4 MiB of zeros as zlib 1.2 deflates them at level 6, memLevel 9, with the run-length strategy: one
dynamic Huffman block, a literal zero, then (length 258, distance 1) pairs coded in two zero bits each, four to a
byte, before the last pair and the end of the block. Written out, as deflating the 4 MiB would take 9 ms of every
marvell-google catalogue."""


def _raw_blob(bench: Workbench) -> None:
    bench.compressed_edit = lambda _data: bench.att.blob


def _gzip_azure_blob(bench: Workbench) -> None:
    bench.att.blob = gzip_deterministic(bench.att.blob)


def _drop_file(suffix: str) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.file_changes[f"{bench.att.stem}{suffix}"] = None
    return apply


# -- the catalogue --------------------------------------------------------------------------------

def _note(bug_type: str, severity: Severity, description: str, effect: str, *refs: str) -> FlagNote:
    return FlagNote(bug_type, severity, description, effect, refs or (SPEC,))


def mutations(cloud: Cloud) -> list[Mutation]:
    """Every defect of ``cloud``'s catalogue, in order (common ones first, then the envelope's own)."""
    m: list[Mutation] = []
    prefix = cloud.format_name
    azure = cloud is Cloud.AZURE
    default_golden = "rsa-3072" if azure else "ec-p256"

    def add(id_: str, flag: str, note: FlagNote, comment: str, operator: str, path: str, apply: Operator,
            expected: dict[Profile, Reason], *, resign: bool, golden: str | None = None) -> None:
        m.append(Mutation(f"{prefix}::{id_}", flag, note, comment, operator, path, apply, expected, resign,
                          golden or default_golden))

    crit, high, med, low, info = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO
    forged = "a verifier would accept attributes the HSM never signed"
    blob_path = "privateKeyAttestation" if azure else "attestation.dat"
    obj_path = blob_path + ("/object[0]" if azure else "/object[1]")

    # signature
    add("signature::blob-bit-flip", "BlobBitFlip",
        _note("SIGNATURE", crit, "one bit of the signed attest data flipped after signing", forged, SPEC + " 2"),
        "a bit inside OBJ_ATTR_LABEL flipped after signing", "bytes.flip_bit", obj_path + "/LABEL",
        blob_op(lambda blob: mutate.flip_bit(blob, (_tlv_offset(blob, mb.LABEL) + 8) * 8 + 1)),
        invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::signed-by-card-key", "SignedByCardKey",
        _note("SIGNATURE", crit, "blob signed by the card key instead of the partition key",
              "the partition certificate is what binds the attestation to the owner's partition", SPEC + " 2"),
        "PKCS#1 v1.5/SHA-256 by the card's RSA-2048 key", "sig.sign", blob_path + "/signature",
        _sign_raw(_pkcs1(hashes.SHA256()), lambda b: b.pki.card_key), invalid(Reason.SIGNATURE_INVALID),
        resign=False)
    add("signature::signed-by-owner-root", "SignedByOwnerRoot",
        _note("SIGNATURE", crit, "blob signed by the owner root key", "the cloud operator could mint attestations",
              SPEC + " 2"),
        "PKCS#1 v1.5/SHA-256 by the owner root's key", "sig.sign", blob_path + "/signature",
        _sign_raw(_pkcs1(hashes.SHA256()), lambda b: b.owner.root_key), invalid(Reason.SIGNATURE_INVALID),
        resign=False)
    add("signature::pss", "SignaturePss",
        _note("WRONG_PRIMITIVE", high, "RSASSA-PSS instead of RSASSA-PKCS1-v1_5 by the genuine partition key",
              "FW 3.x signs PKCS#1 v1.5; accepting any padding widens the signature surface", SPEC + " 2"),
        "genuine partition key, PSS (SHA-256, MGF1-SHA-256, empty salt)", "sig.sign", blob_path + "/signature",
        _sign_raw(_pss, lambda b: b.signer), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::sha1", "SignatureSha1",
        _note("WRONG_PRIMITIVE", high, "PKCS#1 v1.5 with SHA-1 by the genuine partition key",
              "SHA-1 collisions make the signed bytes ambiguous", SPEC + " 2"),
        "genuine partition key, PKCS#1 v1.5/SHA-1", "sig.sign", blob_path + "/signature",
        _sign_raw(_pkcs1(hashes.SHA1()), lambda b: b.signer), invalid(Reason.SIGNATURE_INVALID), resign=False)
    add("signature::truncated", "SignatureTruncated",
        _note("ENCODING", high, "the blob's last byte (of the signature) cut off",
              "totalSize no longer matches; a verifier using the real length reads a 255-byte signature"),
        "blob truncated by one byte", "bytes.truncate", blob_path, blob_op(lambda blob: blob[:-1]),
        invalid(Reason.MALFORMED), resign=False)
    add("signature::trailing-bytes", "SignatureTrailingBytes",
        _note("ENCODING", med, "16 bytes after the signature",
              "verifiers taking the last 256 bytes and those using totalSize read different signatures"),
        "16 zero bytes appended to the blob", "bytes.extend", blob_path,
        blob_op(lambda blob: blob + b"\x00" * 16), invalid(Reason.MALFORMED), resign=False)

    # framing and TLVs (re-signed, so the parser is what catches them)
    add("framing::total-size-mismatch", "TotalSizeMismatch",
        _note("ENCODING", high, "totalSize larger than the blob", "the Azure script reads garbage offsets",
              SPEC + " 1.1, 7.3"),
        "totalSize + 4, re-signed", "u32.set", blob_path + "/header/totalSize",
        patch_u32(lambda _b: 8, lambda v: v + 4), invalid(Reason.MALFORMED), resign=True)
    add("tlv::length-overflow", "TlvLengthOverflow",
        _note("ROBUSTNESS", high, "an attribute length runs past objectSize",
              "an unbounded parser reads beyond the object (or the buffer)", "CWE-125"),
        "OBJ_ATTR_LABEL length 0x00010000, re-signed", "u32.set", obj_path + "/LABEL/length",
        patch_u32(lambda blob: _tlv_offset(blob, mb.LABEL) + 4, lambda _v: 0x10000), invalid(Reason.MALFORMED),
        resign=True)
    add("tlv::length-short", "TlvLengthShort",
        _note("ROBUSTNESS", med, "an attribute length one byte short", "the next TLV is read from inside a value",
              "CWE-130"),
        "OBJ_ATTR_LABEL length 127, re-signed", "u32.set", obj_path + "/LABEL/length",
        patch_u32(lambda blob: _tlv_offset(blob, mb.LABEL) + 4, lambda v: v - 1), invalid(Reason.MALFORMED),
        resign=True)
    add("tlv::count-underflow", "TlvCountUnderflow",
        _note("ENCODING", med, "attrCount one lower than the TLVs present",
              "the last attribute (NEVER_EXTRACTABLE) is silently ignored by count-driven parsers"),
        "attrCount - 1, re-signed", "u32.set", obj_path + "/attrCount",
        patch_u32(lambda blob: _object_offsets(blob)[-1] + 4, lambda v: v - 1), invalid(Reason.MALFORMED),
        resign=True)
    add("tlv::count-huge", "TlvCountHuge",
        _note("ROBUSTNESS", high, "attrCount 0xFFFFFFFF", "preallocating parsers exhaust memory", "CWE-789"),
        "attrCount 0xFFFFFFFF, re-signed", "u32.set", obj_path + "/attrCount",
        patch_u32(lambda blob: _object_offsets(blob)[-1] + 4, lambda _v: 0xFFFFFFFF),
        invalid(Reason.LIMIT_EXCEEDED), resign=True)
    add("framing::object-version-2", "ObjectVersionUnknown",
        _note("ENCODING", low, "info header objectVersion 2", "a layout the verifier does not know is guessed at"),
        "objectVersion 2, re-signed", "u16.set", blob_path + "/info/objectVersion",
        patch_u16(0, lambda _v: 2), invalid(Reason.UNSUPPORTED), resign=True)
    add("framing::exclude-header-flag", "ExcludeHeaderFlag",
        _note("SIGNATURE", high, "requestFlags with EXCLUDE_HEADER (0x4)",
              "the response header would not be signed, so sizes and handles are unauthenticated", SPEC + " 1.2"),
        "requestFlags 7, re-signed", "u32.set", blob_path + "/header/requestFlags",
        patch_u32(lambda _b: 4, lambda _v: 7), invalid(Reason.UNSUPPORTED), resign=True)

    # attributes (re-signed: the policy checks must catch them)
    def attr(slug: str, flag: str, severity: Severity, description: str, effect: str, path: str,
             fn: Callable[[mb.KeyObject], mb.KeyObject], expected: dict[Profile, Reason], *refs: str,
             golden: str | None = None) -> None:
        add(f"attr::{slug}", flag, _note("ATTRIBUTE_POLICY", severity, description, effect, *(refs or (CSBR, SPEC))),
            f"{description}, re-signed by the genuine partition key", "object.edit", obj_path + "/" + path,
            edit_private(fn), expected, resign=True, golden=golden)

    exportable = "a CA would certify a key that can leave the HSM"
    attr("extractable-true", "AttrExtractableTrue", crit, "EXTRACTABLE=1, NEVER_EXTRACTABLE=0", exportable,
         "EXTRACTABLE", _set(extractable=b"\x01", never_extractable=b"\x00"), invalid(Reason.ATTR_EXTRACTABLE))
    attr("extractable-conflict", "AttrExtractableConflict", crit, "EXTRACTABLE=1 with NEVER_EXTRACTABLE=1",
         "verifiers reading different flags decide differently", "EXTRACTABLE", _set(extractable=b"\x01"),
         invalid(Reason.ATTR_CONFLICT))
    attr("local-false", "AttrLocalFalse", crit, "LOCAL=0", "the key was made outside the HSM and imported",
         "LOCAL", _set(local=b"\x00"), invalid(Reason.ATTR_NOT_LOCAL))
    attr("never-extractable-false", "AttrNeverExtractableFalse", crit, "NEVER_EXTRACTABLE=0",
         "the key was exportable once and may exist outside the HSM", "NEVER_EXTRACTABLE",
         _set(never_extractable=b"\x00"), invalid(Reason.ATTR_NOT_NEVER_EXTRACTABLE))
    attr("sensitive-false", "AttrSensitiveFalse", high, "SENSITIVE=0, ALWAYS_SENSITIVE=0",
         "the key value can be read with C_GetAttributeValue", "SENSITIVE",
         _set(sensitive=b"\x00", always_sensitive=b"\x00"), strict_only(Reason.ATTR_NOT_SENSITIVE))
    attr("always-sensitive-false", "AttrAlwaysSensitiveFalse", med, "ALWAYS_SENSITIVE=0",
         "the key was readable at some time", "ALWAYS_SENSITIVE", _set(always_sensitive=b"\x00"),
         strict_only(Reason.ATTR_NOT_ALWAYS_SENSITIVE))
    attr("extractable-removed", "AttrExtractableRemoved", high, "OBJ_ATTR_EXTRACTABLE removed",
         "a verifier defaulting a missing flag to 0 accepts an unknown key", "EXTRACTABLE",
         lambda o: o.without(mb.EXTRACTABLE), invalid(Reason.ATTR_MISSING))
    attr("extractable-duplicated", "AttrExtractableDuplicated", crit,
         "OBJ_ATTR_EXTRACTABLE twice: 00 then 01", "first-wins and last-wins parsers disagree on exportability",
         "EXTRACTABLE", _insert_after(mb.EXTRACTABLE, mb.Attribute(mb.EXTRACTABLE, b"\x01")),
         invalid(Reason.ATTR_CONFLICT))
    attr("reordered", "AttrReordered", info, "LOCAL and SENSITIVE swapped (order differs from FW 3.x)",
         "no published parser depends on the order; a strict verifier flags non-firmware layouts",
         "LOCAL", _swap(mb.LOCAL, mb.SENSITIVE), strict_only(Reason.UNEXPECTED_CONTENT), SPEC + " 1.5")
    attr("trusted-removed", "AttrOptionalRemoved", info, "OBJ_ATTR_TRUSTED removed (no policy depends on it)",
         "structural verifiers do not need it; a strict verifier flags non-firmware layouts", "TRUSTED",
         lambda o: o.without(mb.TRUSTED), strict_only(Reason.UNEXPECTED_CONTENT), SPEC + " 1.5")
    attr("unknown-attribute", "AttrUnknownAdded", info, "an attribute 0x80001000 the table does not define",
         "structural verifiers skip it; a strict verifier rejects unknown content", "0x80001000",
         _insert_after(mb.EXT_ATTR1, mb.Attribute(0x80001000, b"\x00\x00\x00\x01")),
         strict_only(Reason.UNEXPECTED_CONTENT), SPEC + " 1.5")
    attr("class-as-ulong", "AttrClassUlong", med, "OBJ_ATTR_CLASS as a 4-byte CK_ULONG",
         "the Azure script prints 'Unknown Class Type'; lenient parsers read 00000003 as 0", "CLASS",
         _set(cls=b"\x00\x00\x00\x03"), invalid(Reason.MALFORMED), SPEC + " 7.5")
    attr("boolean-not-canonical", "AttrBooleanNotCanonical", med, "OBJ_ATTR_EXTRACTABLE = 02",
         "truthiness-based parsers read it as extractable, byte-equality parsers as not", "EXTRACTABLE",
         _set(extractable=b"\x02"), invalid(Reason.MALFORMED), SPEC + " 7.5")
    attr("ekcv-removed", "AttrEkcvRemoved", low, "OBJ_ATTR_EKCV removed from the private object (KCV kept)",
         "check values are defined 'if emitted': structural verifiers check what is there; a strict verifier "
         "wants both, as every real blob carries them", "EKCV", lambda o: o.without(mb.EKCV),
         strict_only(Reason.ATTR_MISSING), SPEC + " 7.12")
    attr("kcv-mismatch", "AttrKcvMismatch", high, "KCV is not SHA-1(SPKI)[:3] of the attested key",
         "the check value vouches for another key", "KCV", _set(kcv=b"\x00\x00\x00"),
         invalid(Reason.ATTR_CONFLICT), SPEC + " 1.5")
    attr("ekcv-mismatch", "AttrEkcvMismatch", high, "EKCV is not SHA-256(SPKI) of the attested key",
         "the check value vouches for another key", "EKCV", _set(ekcv=hashlib.sha256(b"another key").digest()),
         invalid(Reason.ATTR_CONFLICT), SPEC + " 1.5")
    attr("key-type-mismatch", "AttrKeyTypeMismatch", high, "KEY_TYPE says EC on an RSA modulus",
         "verifiers trusting KEY_TYPE build the wrong public key", "KEY_TYPE", _set(key_type=b"\x03"),
         invalid(Reason.ATTR_CONFLICT), SPEC + " 1.5", golden="rsa-3072")
    attr("modulus-bits-mismatch", "AttrModulusBitsMismatch", med, "MODULUS_BITS 2048 on a 3072-bit modulus",
         "size-based policies read the wrong key size", "MODULUS_BITS", _set(modulus_bits=(2048).to_bytes(4, "big")),
         invalid(Reason.ATTR_CONFLICT), SPEC + " 1.5", golden="rsa-3072")
    attr("modulus-bits-oversize", "AttrModulusBitsOversize", low, "MODULUS_BITS 1,800 bytes long (not a 4-byte "
         "CK_ULONG)", "a value of the wrong width breaks the format (MALFORMED, as class-as-ulong); read as a number "
         "it has more than 4,300 decimal digits: printing it raised ValueError in hsmsim's own verifier",
         "MODULUS_BITS", _set(modulus_bits=b"\x7f" * 1800), invalid(Reason.MALFORMED), SPEC + " 1.5",
         golden="rsa-3072")
    attr("id-not-utf8", "AttrIdNotUtf8", low, "OBJ_ATTR_ID with a byte that is not UTF-8",
         "the Azure script crashes decoding it", "ID", _id_not_utf8,
         invalid(Reason.MALFORMED), SPEC + " 7.4")

    # binding to the key the relying party knows
    add("binding::other-key-attested", "AttestsOtherKey",
        _note("KEY_BINDING", crit, "a genuine, consistent blob for another key (modulus, KCV, EKCV)",
              "the attested key is not the one the relying party will certify", SPEC + " 7.12"),
        "blob of the RSA-4096 golden key beside this key's " + ("JWK" if azure else "public key file"),
        "blob.replace", blob_path, _attest_other_key, invalid(Reason.KEY_MISMATCH), resign=True)

    # chains
    add("chain::card-expired", "CardExpired",
        _note("CHAIN", high, "manufacturer card certificate expired before the validation time",
              "a retired card could still vouch for partitions", SPEC + " 3"),
        "card notAfter 2025-06-30 (v1, re-issued by the root)", "cert.reissue", "card/validity", _card_expired,
        invalid(Reason.CERT_EXPIRED), resign=False)
    add("chain::card-missing", "CardMissing",
        _note("CHAIN", high, "the Marvell card certificate is missing from the bundle",
              "the partition key cannot be tied to the manufacturer root", SPEC + " 3"),
        "card certificate removed", "cert.remove", "card", lambda b: b.swap_cert("card", None),
        invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::partition-forged-signature", "PartitionForgedSignature",
        _note("CHAIN", crit, "partition certificate names the card as issuer but another key signed it",
              "a verifier matching names only accepts a forged partition"),
        "partition certificate re-signed by an impostor key", "cert.reissue", "partition/signature",
        _partition_forged, invalid(Reason.CERT_SIGNATURE_INVALID), resign=False)
    add("chain::wrong-root-dn", "WrongRootDn",
        _note("CHAIN", high, "the trusted manufacturer root does not carry the LiquidSecurity DN",
              "Google's script pins the LS1 subject; a verifier trusting any anchor accepts any CA",
              SPEC + " 5.2, 7.7"),
        "card re-issued by 'CN=Marvell HSM Root CA EMULATED, O=Marvell Technology', given as the anchor",
        "cert.reissue", "card/issuer", _wrong_root_dn, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::unknown-manufacturer-root", "UnknownManufacturerRoot",
        _note("CHAIN", crit, "a complete LiquidSecurity-shaped chain under another emulated root",
              "anyone can make such a chain; only the pinned root proves a Marvell HSM"),
        "card, partition and root copy from another seed; its partition key signs", "chain.replace", "card,partition",
        _unknown_manufacturer_root, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("chain::owner-partition-other-key", "OwnerPartitionSpkiDiffers",
        _note("CHAIN", crit, "owner partition certificate carries another key than the Marvell partition certificate",
              "the owner vouches for a partition that did not sign", SPEC + " 7.9"),
        "owner partition certificate re-issued over a foreign RSA-2048 key", "cert.reissue",
        "owner-partition/subjectPublicKeyInfo", _owner_with_other_key("owner-partition"),
        invalid(Reason.ATTESTATION_KEY_MISMATCH), resign=False)
    add("chain::owner-partition-missing", "OwnerPartitionMissing",
        _note("CHAIN", high, "the owner partition certificate is missing",
              "nothing shows the cloud operator owns the partition", SPEC + " 5"),
        "owner partition certificate removed", "cert.remove", "owner-partition",
        lambda b: b.swap_cert("owner-partition", None), invalid(Reason.CHAIN_INCOMPLETE), resign=False)
    add("chain::extra-root-copy", "ExtraCertificate",
        _note("EXTENSIBILITY", info, "a root copy beside the chain certificates",
              "Google's script rejects any extra certificate, Azure's becomes order-dependent; "
              "structural verifiers ignore it, strict ones reject it", SPEC + " 7.6"),
        ("Marvell root" if azure else "Hawksbill root") + " copy appended to the bundle", "cert.add", "bundle[4]",
        _append_root_copy, strict_only(Reason.UNEXPECTED_CONTENT), resign=False)

    if azure:
        _azure_mutations(add)
    else:
        _google_mutations(add)
    return m


Adder = Callable[..., None]


def _azure_mutations(add: Adder) -> None:
    crit, high, med, low, info = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO
    add("chain::owner-root-not-pinned", "OwnerRootReplaced",
        _note("CHAIN", crit, "a different self-signed partition root (same DN) issues the owner partition certificate",
              "the Azure script accepts any self-signed root in the bundle; a pinned owner anchor does not",
              SPEC + " 5.1"),
        "owner root and owner partition certificate re-made under an impostor key", "cert.replace", "owner-root",
        _azure_owner_root_replaced, invalid(Reason.CHAIN_UNTRUSTED), resign=False)
    add("framing::two-objects", "AzureTwoObjects",
        _note("ENCODING", high, "public and private object in one Azure blob (Google's key-pair shape)",
              "the Azure script misdetects it as FW 2.x and crashes after printing 'valid'", SPEC + " 7.1"),
        "privateKeyAttestation holds the public and the private object (32-byte header), re-signed", "blob.rebuild",
        "privateKeyAttestation", _two_objects_in_azure_blob, invalid(Reason.MALFORMED), resign=True)
    add("framing::header-extra-word", "HeaderExtraWordMismatch",
        _note("ENCODING", med, "the 20-byte header's extra word differs from bufferSize",
              "verifiers taking it as the buffer size read past the attest data", SPEC + " 1.2"),
        "extra u32 = bufferSize + 1, re-signed", "u32.set", "privateKeyAttestation/header[16]",
        patch_u32(lambda _b: 16, lambda v: v + 1), invalid(Reason.MALFORMED), resign=True)
    add("attr::class-public-in-private-blob", "ClassPublicInPrivateBlob",
        _note("ATTRIBUTE_POLICY", crit, "privateKeyAttestation holds CLASS=public (2)",
              "the attestation says nothing about the private key"),
        "OBJ_ATTR_CLASS 02 in the private blob, re-signed", "object.edit", "privateKeyAttestation/object[0]/CLASS",
        edit_private(_set(cls=b"\x02")), invalid(Reason.ATTR_CONFLICT), resign=True)
    add("attr::id-not-key-uri", "IdNotKeyUri",
        _note("ENCODING", low, "OBJ_ATTR_ID is Google's hex form, not the key URI",
              "the Azure script splits the ID on '/' and crashes", SPEC + " 7.4"),
        "OBJ_ATTR_ID = 128 hex characters, re-signed", "object.edit", "privateKeyAttestation/object[0]/ID",
        edit_private(_set(id=mb.fixed_text(hashlib.sha512(b"azure").hexdigest()))), invalid(Reason.MALFORMED),
        resign=True)
    add("binding::public-blob-other-key", "PublicBlobOtherKey",
        _note("KEY_BINDING", high, "publicKeyAttestation attests another key than privateKeyAttestation",
              "a verifier reading the public blob for the key certifies the wrong key"),
        "the RSA-4096 key's genuine public blob", "blob.replace", "publicKeyAttestation",
        _public_blob_of_other_key, invalid(Reason.ATTR_CONFLICT), resign=True)
    add("binding::jwk-other-modulus", "JwkModulusDiffers",
        _note("KEY_BINDING", crit, "the KeyBundle's JWK modulus is not the attested modulus",
              "no public script compares them; a relying party using the JWK trusts an unattested key",
              SPEC + " 7.12"),
        "key.n of the RSA-4096 golden key", "json.set", "key/n", _jwk_other_modulus,
        invalid(Reason.KEY_MISMATCH), resign=False)
    add("binding::kid-differs", "KidDiffers",
        _note("KEY_BINDING", high, "the JWK kid is not the attested OBJ_ATTR_ID",
              "the attestation may describe another key version"),
        "key.kid with another version", "json.set", "key/kid", _json(_jwk_other_kid),
        invalid(Reason.KEY_MISMATCH), resign=False)
    add("attr::keybundle-exportable", "KeyBundleExportable",
        _note("ATTRIBUTE_POLICY", crit, "the KeyBundle says attributes.exportable true and carries a release_policy "
              "(Secure Key Release); the signed blob says EXTRACTABLE=0, NEVER_EXTRACTABLE=1",
              "a verifier reading only the blob certifies as never-extractable a key the service declares releasable",
              "Azure Key Vault REST KeyAttributes.exportable, KeyBundle.release_policy"),
        "attributes.exportable = true, release_policy added", "json.set", "attributes/exportable",
        _json(_declared_exportable), invalid(Reason.ATTR_CONFLICT), resign=False)
    add("attr::keybundle-exportable-extractable", "KeyBundleExportableExtractable",
        _note("ATTRIBUTE_POLICY", crit, "the KeyBundle says exportable with a release_policy, and the signed blob "
              "says EXTRACTABLE=1, NEVER_EXTRACTABLE=0: both halves agree the key can leave the HSM",
              "a CA would certify a key that can leave the HSM", CSBR,
              "Azure Key Vault REST KeyAttributes.exportable, KeyBundle.release_policy"),
        "EXTRACTABLE=1, NEVER_EXTRACTABLE=0, re-signed; attributes.exportable = true, release_policy added",
        "object.edit", "privateKeyAttestation/object[0]/EXTRACTABLE", _exportable_both_ways,
        invalid(Reason.ATTR_EXTRACTABLE), resign=True)
    add("signature::gzip-blob", "AzureBlobGzipped",
        _note("ENCODING", med, "privateKeyAttestation is gzip'd (Google's transport)",
              "Azure ships raw blobs; the signature is over the raw bytes", SPEC + " 7.10"),
        "gzip of the genuine blob", "bytes.gzip", "privateKeyAttestation", _gzip_azure_blob,
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::public-attestation-null", "PublicAttestationNull",
        _note("ENCODING", low, '"publicKeyAttestation": null in the REST KeyBundle (base64url)',
              "acceptable: the SDKs and the az CLI read null as absent (the az CLI file writes it for every key "
              "without a public blob), so structural verifiers accept; the REST service omits an absent member, "
              "so a strict verifier flags the shape; the Azure script crashes on null (a script limitation, not "
              "malformed evidence)", SPEC + " 4.1, 7.11", "azure-cli keyvault custom.py get_key_attestation"),
        "publicKeyAttestation set to null", "json.set", "attributes/attestation/publicKeyAttestation",
        _attestation_edit(_put("publicKeyAttestation", None)), strict_only(Reason.UNEXPECTED_CONTENT),
        resign=False)
    add("variant::public-blob-class-private", "PublicBlobClassPrivate",
        _note("ATTRIBUTE_POLICY", low, "publicKeyAttestation holds a CLASS 03 (private-key) object of the attested "
              "key, as the REST example's public blob does",
              "acceptable until a real Managed HSM response is seen: the key is the attested one, so structural "
              "verifiers accept; a strict verifier rejects a public blob whose object is not a public key",
              SPEC + " 4.1", "shared/interop/azure-mhsm/GetKeyAttestation-example"),
        "publicKeyAttestation = a blob of the private object (CLASS 03, the private layout), re-signed",
        "blob.replace", "publicKeyAttestation", _public_blob_holds_private_object,
        strict_only(Reason.ATTR_CONFLICT), resign=True, golden="ec-p256")
    add("encoding::version-mrvl-2", "VersionNotMrvl1",
        _note("ENCODING", med, 'version "MRVL-2"', "the Azure script raises; verifiers ignoring it guess the layout",
              SPEC + " 5.1"),
        'version set to "MRVL-2"', "json.set", "attributes/attestation/version",
        _attestation_edit(_put("version", "MRVL-2")), invalid(Reason.UNSUPPORTED), resign=False)
    add("encoding::private-attestation-missing", "PrivateAttestationMissing",
        _note("ENCODING", high, "no privateKeyAttestation", "nothing attests the private key", SPEC + " 5.1"),
        "privateKeyAttestation removed", "json.remove", "attributes/attestation/privateKeyAttestation",
        _attestation_edit(_remove("privateKeyAttestation")), invalid(Reason.MISSING_INPUT), resign=False)
    add("encoding::duplicate-json-key", "JsonDuplicateKey",
        _note("ENCODING", med, '"version" twice in the attestation object',
              "first-wins and last-wins JSON parsers read different versions"),
        'a second "version": "MRVL-2" after the first', "text.insert", "attributes/attestation/version",
        _text_op(_duplicate_json_key), invalid(Reason.ATTR_CONFLICT), resign=False)
    add("encoding::standard-base64", "StandardBase64InKeyBundle",
        _note("ENCODING", low, "standard padded base64 inside the REST KeyBundle (base64url expected)",
              "the Azure script accepts both alphabets; a strict verifier wants the REST encoding", SPEC + " 4.1"),
        "certificatePemFile and both blobs re-encoded with + / and padding", "json.reencode",
        "attributes/attestation", _attestation_edit(_standard_base64), strict_only(Reason.MALFORMED),
        resign=False)
    add("encoding::unknown-field", "AttestationUnknownField",
        _note("EXTENSIBILITY", info, "an attestation field the API does not define (the preview's 'certificates')",
              "structural verifiers ignore it; strict ones reject unknown content"),
        '"certificates" copy of certificatePemFile added', "json.add", "attributes/attestation/certificates",
        _attestation_edit(lambda a: a.update(certificates=a["certificatePemFile"])),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=False)
    add("encoding::nul-in-unknown-member", "JsonNulInUnknownMember",
        _note("ENCODING", low, 'a KeyBundle "tags" member whose value holds a NUL (\\u0000)',
              "C-string consumers truncate it; structural verifiers ignore tags, strict ones reject it",
              "RFC 7493 2.1"),
        '"tags": {"owner": "a\\u0000b"} added at the top', "text.insert", "tags/owner",
        _text_op(lambda d: d.replace(b"{", b'{"tags": {"owner": "a\\u0000b"}, ', 1)),
        strict_only(Reason.UNEXPECTED_CONTENT), resign=False)
    add("encoding::number-overflows-double", "JsonNumberOverflow",
        _note("ENCODING", low, "a top-level member holds the number 1e99999999999",
              "parsers disagree (infinity, an error, a big decimal); I-JSON forbids numbers beyond a double",
              "RFC 7493 2.2"),
        '"x": 1e99999999999 added at the top', "text.insert", "x",
        _text_op(lambda d: d.replace(b"{", b'{"x": 1e99999999999, ', 1)), invalid(Reason.MALFORMED),
        resign=False)
    for slug, flag, what, change in (
        ("attestation-object", "EnvelopeAttestationObject", "the bare attestation object (api shape 'attestation')",
         {"azure_envelope": AzureEnvelope.ATTESTATION}),
        ("az-cli-file", "EnvelopeAzCli", "the az keyvault key get-attestation file (standard base64)",
         {"azure_envelope": AzureEnvelope.AZ_CLI}),
        ("header-16", "Header16", "a 16-byte response header (no extra word)", {"azure_header": mb.HeaderStyle.BARE}),
        ("header-24", "Header24", "a 24-byte response header with the object handle (Google's shape)",
         {"azure_header": mb.HeaderStyle.HANDLES}),
        ("no-public-blob", "NoPublicBlob", "publicKeyAttestation omitted (the README's reading)",
         {"azure_public_blob": False}),
    ):
        add(f"variant::{slug}", flag,
            _note("BASIC", info, what, "none: a correct verifier accepts it", SPEC + " 4.1, 7.1"),
            f"{what}, signed by the genuine partition key", "options.set", "envelope", _with_options(**change),
            valid(), resign=True)
    add("variant::az-cli-file-public-null", "EnvelopeAzCliPublicNull",
        _note("BASIC", info, 'the az CLI file of a key without a public blob: "publicKeyAttestation": null, as '
              "json.dump(todict(...)) writes the SDK's None (every AES key; every asymmetric key if the Azure "
              "README's reading holds)",
              "none: a correct verifier reads null as absent, as the SDK does; the Azure script crashes on it",
              SPEC + " 4.1, 7.11", "azure-cli keyvault custom.py get_key_attestation"),
        "az keyvault key get-attestation --file with no public blob (azure_public_blob=False), signed by the "
        "genuine partition key", "options.set", "envelope",
        _with_options(azure_envelope=AzureEnvelope.AZ_CLI, azure_public_blob=False), valid(), resign=True)


def _google_mutations(add: Adder) -> None:
    crit, high, med, low, info = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO
    add("chain::owner-card-other-key", "OwnerCardSpkiDiffers",
        _note("CHAIN", high, "owner card certificate carries another key than the Marvell card certificate",
              "Google's script requires identical card SPKIs", SPEC + " 5.2"),
        "owner card certificate re-issued over a foreign RSA-2048 key", "cert.reissue",
        "owner-card/subjectPublicKeyInfo", _owner_with_other_key("owner-card"),
        invalid(Reason.ATTESTATION_KEY_MISMATCH), resign=False)
    add("framing::buffer-size-mismatch", "BufferSizeMismatch",
        _note("ENCODING", high, "bufferSize 4 larger than the attest data",
              "parsers locating the attest data by totalSize - bufferSize - 256 read the header as data",
              SPEC + " 1.1"),
        "bufferSize + 4, re-signed", "u32.set", "attestation.dat/header/bufferSize",
        patch_u32(lambda _b: 12, lambda v: v + 4), invalid(Reason.MALFORMED), resign=True)
    add("framing::offset-second-key", "OffsetSecondKeyWrong",
        _note("ENCODING", high, "offsetSecondKey 4 past the second object",
              "the private object is read from the middle of its TLVs", SPEC + " 1.3"),
        "offsetSecondKey + 4, re-signed", "u16.set", "attestation.dat/info/offsetSecondKey",
        patch_u16(6, lambda v: v + 4), invalid(Reason.MALFORMED), resign=True)
    add("framing::handle-mismatch", "HeaderHandleMismatch",
        _note("ENCODING", med, "the response header's first handle is not the public object's",
              "handle-driven parsers pick the wrong object", SPEC + " 1.2"),
        "first u64 handle + 1, re-signed", "u32.set", "attestation.dat/header/handle[0]",
        patch_u32(lambda _b: 20, lambda v: v + 1), invalid(Reason.MALFORMED), resign=True)
    add("framing::objects-swapped", "ObjectsSwapped",
        _note("ENCODING", med, "the private object first, the public second",
              "parsers taking the first object as the public key misread the pair", SPEC + " 1.4"),
        "objects in the order private, public, re-signed", "blob.rebuild", "attestation.dat/objects",
        _objects_swapped, invalid(Reason.MALFORMED), resign=True)
    add("attr::public-object-other-key", "PublicObjectOtherKey",
        _note("KEY_BINDING", high, "the public object describes another key than the private object",
              "PV's parser derives the key from the first (public) object"),
        "public object of the P-384 golden key beside this private object, re-signed", "blob.rebuild",
        "attestation.dat/object[0]", _public_object_other_key, invalid(Reason.ATTR_CONFLICT), resign=True)
    add("binding::pub-pem-other-key", "PublicKeyFileDiffers",
        _note("KEY_BINDING", crit, "the downloaded public key is not the attested key",
              "a relying party using get-public-key trusts an unattested key"),
        "<key>.pub.pem of the P-384 golden key", "file.replace", "<key>.pub.pem", _pub_pem_of_other_key,
        invalid(Reason.KEY_MISMATCH), resign=False)
    add("encoding::gzip-trailing-garbage", "GzipTrailingGarbage",
        _note("ENCODING", low, "16 bytes after the gzip member", "gzip tools disagree on trailing data"),
        "16 zero bytes appended to attestation.dat", "bytes.extend", "attestation.dat",
        compressed_op(lambda data: data + b"\x00" * 16), invalid(Reason.MALFORMED), resign=False)
    add("encoding::gzip-bomb", "GzipBomb",
        _note("ROBUSTNESS", high, "attestation.dat inflates to 4 MiB of zeros",
              "unbounded decompression exhausts memory", "CWE-409"),
        "gzip of 4 MiB of zeros", "bytes.replace", "attestation.dat",
        compressed_op(lambda _data: GZIP_BOMB), invalid(Reason.LIMIT_EXCEEDED), resign=False)
    add("encoding::gzip-truncated", "GzipTruncated",
        _note("ENCODING", low, "attestation.dat cut before the gzip trailer", "a partial blob is parsed"),
        "last 9 bytes of attestation.dat removed", "bytes.truncate", "attestation.dat",
        compressed_op(lambda data: data[:-9]), invalid(Reason.MALFORMED), resign=False)
    add("encoding::not-gzip", "NotGzip",
        _note("ENCODING", low, "attestation.dat holds the raw blob", "Google's script requires gzip", SPEC + " 5.2"),
        "attestation.dat = the uncompressed blob", "bytes.replace", "attestation.dat", _raw_blob,
        invalid(Reason.MALFORMED), resign=False)
    add("encoding::chain-file-missing", "ChainFileMissing",
        _note("ENCODING", high, "no certificate chain file", "nothing ties the blob to a partition"),
        "<key>.certs.pem removed", "file.remove", "<key>.certs.pem", _drop_file(".certs.pem"),
        invalid(Reason.MISSING_INPUT), resign=False)
    add("encoding::format-cavium-v1", "FormatCaviumV1",
        _note("ENCODING", med, 'KeyOperationAttestation format "CAVIUM_V1_COMPRESSED" (FW 2.x layout)',
              "a FW 3.x parser misreads the legacy layout", SPEC + " 1.6, 4.2"),
        "JSON envelope with format CAVIUM_V1_COMPRESSED", "json.set", "attestation/format",
        _google_json(_put("format", "CAVIUM_V1_COMPRESSED")), invalid(Reason.UNSUPPORTED),
        resign=False)
    add("variant::json-envelope", "EnvelopeCryptoKeyVersionJson",
        _note("BASIC", info, "the CryptoKeyVersion JSON with its KeyOperationAttestation",
              "none: a correct verifier accepts it", SPEC + " 4.2"),
        "gcloud kms keys versions describe --format=json", "options.set", "envelope",
        _with_options(google_envelope=GoogleEnvelope.JSON), valid(), resign=True)
    add("variant::private-object-only", "PrivateObjectOnly",
        _note("BASIC", info, "a single private-key object (24-byte header), as the RSA sample",
              "none: a correct verifier accepts it", SPEC + " 1.4"),
        "google_key_pair=False", "options.set", "attestation.dat/objects", _with_options(google_key_pair=False),
        valid(), resign=True)
    add("variant::chain-order-reversed", "ChainOrderReversed",
        _note("BASIC", info, "the four chain certificates in reverse order",
              "none: chains are built by issuer and key, not position"),
        "certs.pem reversed", "cert.reorder", "certs.pem", _shuffle_chain, valid(), resign=False)


def _google_json(fn: Callable[[dict[str, object]], None]) -> Operator:
    def apply(bench: Workbench) -> None:
        bench.options = replace(bench.options, google_envelope=GoogleEnvelope.JSON)
        bench.json_edits.append(lambda document: fn(document["attestation"]))  # type: ignore[arg-type]
    return apply


COMMON_NOTES = {
    "Golden": FlagNote("BASIC", Severity.INFO, "unmutated evidence from the emulated HSM",
                       "a verifier that rejects it is broken for this key type", (SPEC,)),
    "Resigned": FlagNote("PROVENANCE", Severity.INFO, "the genuine partition key re-signed the blob after the mutation",
                         "the defect reaches the checks behind the signature", ()),
    "Stale": FlagNote("PROVENANCE", Severity.INFO,
                      "the final bytes are not re-signed by the genuine partition key after the mutation",
                      "the signature, chain, envelope or binding check should catch it", ()),
    "StrictKeyPolicy": FlagNote("PROFILE", Severity.LOW, "key type or size outside the CA/B Forum code-signing rules",
                                "valid evidence; the strict profile rejects it with KEY_POLICY", (CSBR,)),
}


def notes(cloud: Cloud) -> dict[str, FlagNote]:
    """Every flag ``cloud``'s vectors use, with its definition."""
    return flag_notes(COMMON_NOTES, mutations(cloud))


def vector_cases(cloud: Cloud, seed: str) -> list[VectorCase]:
    """``cloud``'s vectors for ``seed``: goldens first, then every mutation of the catalogue."""
    kit = MarvellKit.build(seed)
    prefix = cloud.format_name
    cases = []
    for spec in GOLDEN_SPECS:
        bench = Workbench.open(kit, cloud, spec)
        weak = spec in ("rsa-2048", "aes-256")
        cases.append(VectorCase(
            id=f"{prefix}::golden::{spec}", comment=f"unmutated attestation of a generated {spec} key",
            flags=("Golden", *(("StrictKeyPolicy",) if weak else ())),
            expected=strict_only(Reason.KEY_POLICY) if weak else valid(),
            evidence=bench.evidence(), anchors=bench.anchors, validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=Signing.GENUINE),
        ))
    for mutation in mutations(cloud):
        bench = Workbench.open(kit, cloud, mutation.golden)
        mutation.apply(bench)
        if mutation.resign:
            bench.resign()
        signing = Signing.RESIGNED if mutation.resign else Signing.STALE
        cases.append(VectorCase(
            id=mutation.id, comment=mutation.comment, flags=(mutation.flag, signing.value),
            expected=mutation.expected, evidence=bench.evidence(), anchors=bench.anchors,
            validation_time=VALIDATION_TIME,
            provenance=Provenance(seed=seed, signing=signing, golden=f"{prefix}::golden::{mutation.golden}",
                                  operator=mutation.operator, path=mutation.path),
        ))
    return cases
