"""The emulated Primus PKI has the real certificates' shapes; the path walk gives precise reasons."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID

from hsmsim.encoding import read_tlv
from hsmsim.keystore.base import KeySpec
from hsmsim.pki import builder, chain
from hsmsim.pki.builder import PRINTABLE, UTF8, CertSpec, Ext, build_certificate, key_usage, name, reissue
from hsmsim.pki.chain import ChainPolicy, name_key, validate_chain
from hsmsim.pki.seed import derive_key
from hsmsim.verdict import Reason, Rejected

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def identity(hsm):
    return hsm.attestation_identity()


def _name_shape(cert: x509.Certificate) -> list[tuple[str, int]]:
    return [(attr.oid._name, attr._type.value) for attr in cert.subject]


def test_subject_order_and_string_types(identity):
    leaf, device = identity.chain
    root = identity.root
    tail = [("countryName", 19), ("localityName", 19), ("organizationName", 19), ("stateOrProvinceName", 19)]
    assert _name_shape(root) == [("commonName", 12), *tail]  # CN is UTF8String on the root
    assert _name_shape(device) == [("commonName", 19), *tail]
    assert _name_shape(leaf) == [("commonName", 19), *tail]
    assert "EMULATED" in root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert device.issuer.public_bytes() == root.subject.public_bytes()


def test_keys_extensions_and_serials(identity):
    leaf, device = identity.chain
    root = identity.root
    assert [c.public_key().key_size for c in (root, device, leaf)] == [4096, 3072, 3072]
    for cert in (root, device, leaf):
        oids = [e.oid for e in cert.extensions]
        assert ExtensionOID.SUBJECT_KEY_IDENTIFIER not in oids and ExtensionOID.AUTHORITY_KEY_IDENTIFIER not in oids
        assert cert.serial_number.bit_length() == 128
        assert cert.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.11"
    der = {c: c.public_bytes(Encoding.DER) for c in (root, device, leaf)}
    assert bytes.fromhex("04040302 0146".replace(" ", "")) in der[root]
    assert bytes.fromhex("04040302 06c0".replace(" ", "")) in der[leaf]
    assert bytes.fromhex("30 06 01 01 ff 02 01 01".replace(" ", "")) in der[root]  # CA, pathLen 1
    assert bytes.fromhex("30 06 01 01 ff 02 01 00".replace(" ", "")) in der[device]  # CA, pathLen 0
    assert bytes.fromhex("0402 3000".replace(" ", "")) in der[leaf]  # empty BasicConstraints
    assert [e.oid for e in root.extensions] == [ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS,
                                                 ExtensionOID.CERTIFICATE_POLICIES]
    assert [e.oid for e in leaf.extensions] == [ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS]
    # UTCTime notBefore, GeneralizedTime notAfter (after 2049)
    assert b"\x17\x0d" in der[root][:300] and b"\x18\x0f2054" in der[root][:300]
    assert device.not_valid_after_utc == root.not_valid_after_utc == leaf.not_valid_after_utc


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_a_reissued_certificate_keeps_its_signature_digest(hash_name):
    key = derive_key("chain-tests", "reissue", KeySpec.parse("ec-p384"))
    other = derive_key("chain-tests", "reissue-other", KeySpec.parse("ec-p384"))
    subject = name(("CN", "reissue", PRINTABLE))
    cert = build_certificate(CertSpec(subject=subject, issuer=subject, public_key=key.public_key(), serial=5,
                                      not_before=AT, not_after=AT + timedelta(days=1), hash_name=hash_name), key)
    again = reissue(cert, other, serial=6)
    assert again.signature_hash_algorithm is not None and again.signature_hash_algorithm.name == hash_name
    assert again.serial_number == 6 and again.subject == cert.subject


def test_chain_validates(identity):
    leaf, device = identity.chain
    assert validate_chain(leaf, [device, identity.root], [identity.root], AT) == [leaf, device, identity.root]


def _ca(label: str, *, key_role: str | None = None, ca: bool = True, days: int = 3650,
        start: datetime = AT - timedelta(days=10), issuer=None, issuer_key=None,
        path_length: int | None = None, ku: tuple[str, ...] = ("key_cert_sign",)):
    key = derive_key("chain-tests", key_role or label, KeySpec.parse("ec-p256"))
    subject = name(("CN", label, PRINTABLE))
    cert = build_certificate(CertSpec(
        subject=subject, issuer=issuer.subject if issuer else subject, public_key=key.public_key(),
        serial=len(label) + 1000, not_before=start, not_after=start + timedelta(days=days),
        extensions=(Ext(key_usage(*ku), critical=True),
                    Ext(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)),
    ), issuer_key or key)
    return cert, key


def _reason(leaf, untrusted, anchors, at=AT, policy=ChainPolicy()) -> Reason:
    with pytest.raises(Rejected) as info:
        validate_chain(leaf, untrusted, anchors, at, policy)
    return info.value.reason


def test_chain_reasons():
    root, root_key = _ca("root")
    mid, mid_key = _ca("mid", issuer=root, issuer_key=root_key, path_length=0)
    leaf, _ = _ca("leaf", ca=False, issuer=mid, issuer_key=mid_key, ku=("digital_signature",))
    assert validate_chain(leaf, [mid], [root], AT)[-1] == root
    assert _reason(leaf, [], [root]) is Reason.CHAIN_INCOMPLETE
    other_root, _ = _ca("other-root")
    assert _reason(leaf, [mid, root], [other_root]) is Reason.CHAIN_UNTRUSTED
    assert _reason(leaf, [mid], [root], at=AT + timedelta(days=4000)) is Reason.CERT_EXPIRED
    assert _reason(leaf, [mid], [root], at=AT - timedelta(days=20)) is Reason.CERT_NOT_YET_VALID
    impostor, _ = _ca("mid", key_role="impostor")  # same name, another key
    assert _reason(leaf, [impostor], [root]) is Reason.CERT_SIGNATURE_INVALID
    not_ca_mid, nk = _ca("mid2", ca=False, issuer=root, issuer_key=root_key)
    leaf2, _ = _ca("leaf2", ca=False, issuer=not_ca_mid, issuer_key=nk)
    assert _reason(leaf2, [not_ca_mid], [root]) is Reason.CERT_NOT_CA
    mid3, k3 = _ca("mid3", issuer=mid, issuer_key=mid_key)
    leaf3, _ = _ca("leaf3", ca=False, issuer=mid3, issuer_key=k3)
    assert _reason(leaf3, [mid3, mid], [root]) is Reason.CERT_PATH_LENGTH


def test_an_anchors_path_length_binds_only_under_anchor_path_length():
    """RFC 5280 6.1 takes no pathLenConstraint from the trust anchor (openssl does, error 25): without
    ``anchor_path_length`` a pathlen-0 root may sit above an intermediate, whose own pathlen still binds."""
    root, root_key = _ca("tight-root", path_length=0)
    mid, mid_key = _ca("tight-mid", issuer=root, issuer_key=root_key, path_length=0)
    leaf, _ = _ca("tight-leaf", ca=False, issuer=mid, issuer_key=mid_key, ku=("digital_signature",))
    lenient = ChainPolicy(anchor_path_length=False)
    assert _reason(leaf, [mid], [root]) is Reason.CERT_PATH_LENGTH
    assert validate_chain(leaf, [mid], [root], AT, lenient) == [leaf, mid, root]
    sub, sub_key = _ca("tight-sub", issuer=mid, issuer_key=mid_key)
    leaf2, _ = _ca("tight-leaf2", ca=False, issuer=sub, issuer_key=sub_key, ku=("digital_signature",))
    assert _reason(leaf2, [sub, mid], [root], policy=lenient) is Reason.CERT_PATH_LENGTH


def _signed_by_root(root_key, issuer: x509.Name, label: str) -> x509.Certificate:
    key = derive_key("chain-tests", label, KeySpec.parse("ec-p256"))
    return build_certificate(CertSpec(
        subject=name(("CN", label, PRINTABLE)), issuer=issuer, public_key=key.public_key(), serial=7,
        not_before=AT - timedelta(days=1), not_after=AT + timedelta(days=1),
        extensions=(Ext(key_usage("digital_signature"), critical=True),),
    ), root_key)


def test_issuer_names_match_as_names_and_are_proven_byte_exact():
    """Candidates are found as ``Name.__eq__`` finds them (RFC 5280 7.1 would too: another string type is the
    same name); the signature check then requires the issuer encoded as the root's subject (5280 4.1.2.6), so
    the chain is refused with CERT_SIGNATURE_INVALID, not CHAIN_INCOMPLETE. Case is not folded."""
    root, root_key = _ca("root")  # CN is a PrintableString
    other_type = _signed_by_root(root_key, name(("CN", "root", UTF8)), "utf8-issuer")
    assert other_type.issuer == root.subject
    assert other_type.issuer.public_bytes() != root.subject.public_bytes()
    assert name_key(other_type.issuer) == name_key(root.subject)
    assert _reason(other_type, [], [root]) is Reason.CERT_SIGNATURE_INVALID
    other_case = _signed_by_root(root_key, name(("CN", "ROOT", PRINTABLE)), "upper-issuer")
    assert name_key(other_case.issuer) != name_key(root.subject)
    assert _reason(other_case, [], [root]) is Reason.CHAIN_INCOMPLETE
    same = _signed_by_root(root_key, root.subject, "same-issuer")
    assert validate_chain(same, [], [root], AT) == [same, root]


def _reencoded(cert: x509.Certificate, old: bytes, new: bytes) -> x509.Certificate:
    """``cert`` with the first ``old`` of its DER (outside the TBSCertificate, when it occurs there only once more)
    replaced by ``new`` of the same length."""
    der = cert.public_bytes(Encoding.DER)
    assert len(old) == len(new) and old in der
    at = der.rindex(old)
    return x509.load_der_x509_certificate(der[:at] + new + der[at + len(old):])


def test_ecdsa_signatures_checked_with_the_loaded_key_decide_as_cryptography_does(chain_memory_forgotten):
    """issued_by checks an ECDSA signature with the issuer's loaded key only where verify_directly_issued_by would
    check the same signature: every certificate here gets the answer cryptography gives."""
    root, root_key = _ca("root")
    sha256 = bytes.fromhex("300a06082a8648ce3d040302")
    sha384 = bytes.fromhex("300a06082a8648ce3d040303")
    good = _signed_by_root(root_key, root.subject, "ecdsa-good")
    other_type = _signed_by_root(root_key, name(("CN", "root", UTF8)), "ecdsa-utf8-issuer")
    outer_differs = _reencoded(good, sha256, sha384)  # the outer signatureAlgorithm only: inner and outer differ
    tampered = _reencoded(good, good.signature[-4:], bytes(4)) if good.signature[-4:] != bytes(4) else good
    rsa_root = build_certificate(CertSpec(
        subject=root.subject, issuer=root.subject, public_key=derive_key("chain-tests", "rsa-root",
                                                                         KeySpec.parse("rsa-2048")).public_key(),
        serial=5, not_before=AT - timedelta(days=1), not_after=AT + timedelta(days=1), extensions=()), root_key)
    for child in (good, other_type, outer_differs, tampered, root):
        for issuer in (root, rsa_root):
            try:
                child.verify_directly_issued_by(issuer)
                expected = True
            except Exception:  # noqa: BLE001 - whatever cryptography raises is a refusal
                expected = False
            assert chain.issued_by(child, issuer) is expected, (child.subject, issuer.public_key())
    assert chain.issued_by(good, root) and not chain.issued_by(outer_differs, root)
    assert chain._ecdsa_signed(good, root) is not None
    assert chain._ecdsa_signed(outer_differs, root) is None and chain._ecdsa_signed(other_type, root) is None


def test_a_validated_chain_leaves_no_reference_cycle_behind(chain_memory_forgotten):
    """The path search is a nested function that calls itself; validate_chain lets go of it when it returns, so a
    verification leaves nothing for the cycle collector to find (it left about 29 objects per bundle)."""
    root, root_key = _ca("root")
    leaf = _signed_by_root(root_key, root.subject, "no-cycles")
    validate_chain(leaf, [], [root], AT)
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            assert validate_chain(leaf, [], [root], AT) == [leaf, root]
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_name_key_is_name_equality():
    cn, org = ("CN", "a", PRINTABLE), ("O", "b", UTF8)
    assert name_key(name([cn, org])) == name_key(name([org, cn]))  # an RDN is a set
    assert name_key(name(cn, org)) != name_key(name(org, cn))  # the RDN sequence is ordered
    assert name_key(name(cn)) == name_key(name(("CN", "a", UTF8)))
    names = [name(cn), name(("CN", "a", UTF8)), name(("CN", "A", PRINTABLE)), name(cn, org), name(org, cn),
             name([cn, org]), name([org, cn]), name(("CN", "a ", PRINTABLE))]
    for first in names:
        for second in names:
            assert (name_key(first) == name_key(second)) == (first == second)


def test_only_issuers_are_remembered_by_their_bytes(issuer_checks):
    """New objects with a validated path's intermediate or anchor bytes are not parsed or signature-checked
    again; a leaf always is, also right under the anchor (the bench's repeated goldens must cost what a first
    look at a new bundle costs)."""
    root, root_key = _ca("root")
    mid, mid_key = _ca("mid", issuer=root, issuer_key=root_key)
    leaf, _ = _ca("leaf", ca=False, issuer=mid, issuer_key=mid_key, ku=("digital_signature",))
    direct, _ = _ca("direct", ca=False, issuer=root, issuer_key=root_key, ku=("digital_signature",))
    for _ in range(3):
        copies = [x509.load_der_x509_certificate(c.public_bytes(Encoding.DER)) for c in (leaf, mid, root, direct)]
        assert validate_chain(copies[0], [copies[1]], [copies[2]], AT) == copies[:3]
        assert validate_chain(copies[3], [], [copies[2]], AT) == [copies[3], copies[2]]
    checked = [child.subject.rfc4514_string() for child in issuer_checks]
    assert checked.count("CN=leaf") == checked.count("CN=direct") == 3
    assert checked.count("CN=mid") == 2  # the first look, and once both are remembered
    assert chain._remembered(x509.load_der_x509_certificate(mid.public_bytes(Encoding.DER))) is not None
    assert chain._remembered(x509.load_der_x509_certificate(leaf.public_bytes(Encoding.DER))) is None


def _copies(*certs: x509.Certificate) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(c.public_bytes(Encoding.DER)) for c in certs]


def test_a_leaf_with_the_bytes_of_a_pool_certificate_is_that_certificate(chain_memory_forgotten):
    """A leaf that is an anchor is its own path; a leaf that is an untrusted certificate is not its own
    issuer, on the first look and once its bytes are remembered."""
    root, root_key = _ca("root")
    mid, _ = _ca("mid", issuer=root, issuer_key=root_key)
    for _ in range(3):
        copies = _copies(root, mid, mid, root)
        assert validate_chain(copies[0], [], copies[3:], AT) == [copies[0]]
        assert validate_chain(copies[1], copies[2:3], copies[3:], AT) == [copies[1], copies[3]]


def test_certificates_are_told_apart_by_their_bytes_not_their_signature_value():
    """Two certificates sharing a signature value (one altered after signing) are two certificates; copies of
    either are that one."""
    root, _ = _ca("root")
    der = bytearray(root.public_bytes(Encoding.DER))
    _tag, tbs_start, _end = read_tlv(bytes(der), read_tlv(bytes(der))[1])
    serial_end = read_tlv(bytes(der), read_tlv(bytes(der), tbs_start)[2])[2]  # after [0] version, the serial
    der[serial_end - 1] ^= 1
    altered = x509.load_der_x509_certificate(bytes(der))
    assert altered.signature == root.signature and altered != root
    certs = [*_copies(altered, root), *_copies(root, altered)]
    assert chain._der_classes(certs) == [0, 1, 1, 0]
    assert chain._der_classes([root, *certs]) == [0, 1, 0, 0, 1]


def test_name_keys_of_a_remembered_issuer_are_its_names_keys(chain_memory_forgotten):
    root, root_key = _ca("root")
    mid, _ = _ca("mid", issuer=root, issuer_key=root_key)
    expected = [(name_key(c.subject), name_key(c.issuer)) for c in (root, mid)]
    assert [chain.name_keys(c) for c in _copies(root, mid)] == expected
    validate_chain(_copies(mid)[0], [], _copies(root), AT)  # remembers the root
    assert chain._remembered(_copies(root)[0]) is not None
    assert [chain.name_keys(c) for c in _copies(root, mid)] == expected


@pytest.mark.parametrize(("position", "named"), [(0, "the leaf certificate"), (1, "chain certificate [1]"),
                                                 (2, "a trust anchor")])
def test_a_malformed_certificate_is_named_by_its_place(position, named):
    root, root_key = _ca("root")
    mid, mid_key = _ca("mid", issuer=root, issuer_key=root_key)
    leaf, _ = _ca("leaf", ca=False, issuer=mid, issuer_key=mid_key, ku=("digital_signature",))
    certs = [leaf, mid, root]
    signer = [mid_key, root_key, root_key][position]
    tbs = builder.map_extensions(certs[position].tbs_certificate_bytes, lambda exts: [exts[0], *exts])
    certs[position] = builder.resign_tbs(certs[position], tbs, signer)
    with pytest.raises(Rejected) as info:
        validate_chain(certs[0], certs[1:2], certs[2:], AT)
    assert info.value.reason is Reason.MALFORMED
    assert info.value.detail.startswith(f"{named} carries extension ")


# -- path building: several certificates of one name and key, the verdict independent of their order -------------

def _orders(certs: list[x509.Certificate]) -> list[list[x509.Certificate]]:
    return [certs, certs[::-1]]


def test_any_candidate_issuer_whose_path_validates_is_taken_in_any_order():
    """A CA certificate and an expired issue of it (same name and key) both sign the leaf: the path through the
    valid one is taken whichever comes first (the first that signed was taken: CERT_EXPIRED by order)."""
    root, root_key = _ca("root")
    mid, mid_key = _ca("mid", issuer=root, issuer_key=root_key)
    old_mid = reissue(mid, root_key, serial=77, not_before=AT - timedelta(days=900), not_after=AT - timedelta(days=400))
    leaf, _ = _ca("leaf", ca=False, issuer=mid, issuer_key=mid_key, ku=("digital_signature",))
    for bundle in _orders([old_mid, mid]):
        assert validate_chain(leaf, bundle, [root], AT) == [leaf, mid, root]
    # the same for two anchors of one name and key, and a dead end above one candidate (its issuer is not there)
    old_root = reissue(root, root_key, serial=78, not_before=AT - timedelta(days=900),
                       not_after=AT - timedelta(days=400))
    for anchors in _orders([old_root, root]):
        assert validate_chain(leaf, [mid], anchors, AT) == [leaf, mid, root]
    stray, stray_key = _ca("stray")
    orphan_mid = reissue(mid, stray_key, serial=79, issuer=stray.subject)
    for bundle in _orders([orphan_mid, mid]):
        assert validate_chain(leaf, bundle, [root], AT) == [leaf, mid, root]


def test_when_no_candidate_validates_the_reason_is_the_first_by_der():
    """Two issues of the CA, one expired and one not yet valid: whatever their order, the rejection is that of
    the path through the one whose DER sorts first."""
    root, root_key = _ca("root")
    mid, mid_key = _ca("mid", issuer=root, issuer_key=root_key)
    expired = reissue(mid, root_key, serial=80, not_before=AT - timedelta(days=900), not_after=AT - timedelta(days=400))
    future = reissue(mid, root_key, serial=81, not_before=AT + timedelta(days=400), not_after=AT + timedelta(days=900))
    leaf, _ = _ca("leaf", ca=False, issuer=mid, issuer_key=mid_key, ku=("digital_signature",))
    first = min((expired, future), key=lambda c: c.public_bytes(Encoding.DER))
    expected = Reason.CERT_EXPIRED if first is expired else Reason.CERT_NOT_YET_VALID
    for bundle in _orders([expired, future]):
        assert _reason(leaf, bundle, [root]) is expected


def test_path_building_is_bounded():
    """Three issues of each of five CAs, the top one's all expired: 3**5 paths, of which the search tries
    only as many as MAX_ISSUER_TRIES signatures reach (LIMIT_EXCEEDED), in any order."""
    root, root_key = _ca("root")
    levels, issuer, issuer_key = [], root, root_key
    for level in range(5):
        ca, key = _ca(f"level{level}", issuer=issuer, issuer_key=issuer_key)
        days = 1 if level == 0 else 3650
        levels += [reissue(ca, issuer_key, serial=900 + 10 * level + copy, not_before=AT - timedelta(days=3 + copy),
                           not_after=AT - timedelta(days=3 + copy) + timedelta(days=days)) for copy in range(3)]
        issuer, issuer_key = ca, key
    leaf, _ = _ca("leaf", ca=False, issuer=issuer, issuer_key=issuer_key, ku=("digital_signature",))
    for bundle in _orders(levels):
        assert _reason(leaf, bundle, [root]) is Reason.LIMIT_EXCEEDED
    assert chain.MAX_ISSUER_TRIES < 3 ** 5

def test_a_recurring_leaf_is_remembered_by_its_bytes(issuer_checks):
    """A leaf the caller says recurs (a device's certificate in every bundle of the device) is signature-checked
    once its path validated, as the issuers are; its validity period is still checked on every call."""
    root, root_key = _ca("root")
    mid, mid_key = _ca("mid", issuer=root, issuer_key=root_key)
    leaf, _ = _ca("leaf", ca=False, issuer=mid, issuer_key=mid_key, ku=("digital_signature",))
    for _ in range(3):
        copies = _copies(leaf, mid, root)
        assert validate_chain(copies[0], [copies[1]], [copies[2]], AT, recurring_leaf=True) == copies
    checked = [child.subject.rfc4514_string() for child in issuer_checks]
    assert checked.count("CN=leaf") == 2  # the first look, and once the leaf is remembered too
    assert chain._remembered(_copies(leaf)[0]) is not None
    with pytest.raises(Rejected) as info:
        validate_chain(_copies(leaf)[0], _copies(mid), _copies(root), leaf.not_valid_after_utc + timedelta(days=1),
                       recurring_leaf=True)
    assert info.value.reason is Reason.CERT_EXPIRED
