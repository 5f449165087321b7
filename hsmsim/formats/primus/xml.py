"""The Primus key-attributes XML: the exact bytes an HSM writes, and a bounded reader.

Layout facts are from ``shared/specs/primus.md`` 1.3 (EXACT where a real capture shows them):
``<?xml version="1.0" encoding="UTF-8"?>`` + LF, one TAB per level, one element per line,
lowercase booleans, UTC ``YYYY-MM-DDTHH:MM:SSZ``, ``&apos;`` for apostrophes, ``public_key`` =
one unwrapped line of base64(DER SPKI), two trailing LFs. The choices the vendor does not
publish are :class:`~hsmsim.formats.primus.options.PrimusOptions`.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from hsmsim.encoding import spki_der
from hsmsim.formats.primus.options import PrimusOptions
from hsmsim.keystore.base import KeyType, StoredKey
from hsmsim.safeio import XmlElement, XmlLimits, parse_xml
from hsmsim.verdict import Reason, Rejected

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_XML_BYTES = 1024 * 1024

SPKI_ALGORITHM_OIDS = {"RSA": "1.2.840.113549.1.1.1", "EC": "1.2.840.10045.2.1", "Ed25519": "1.3.101.112"}
"""``<algorithm_oid>`` of an asymmetric key: the algorithm OID of its SubjectPublicKeyInfo (``primus.md`` 1.3)."""
CURVE_OIDS = {"secp256r1": "1.2.840.10045.3.1.7", "secp384r1": "1.3.132.0.34"}
ATTRIBUTE_ORDER = (
    "decrypt", "sign", "unwrap", "derive", "sensitive", "always_sensitive", "extractable",
    "never_extractable", "modifiable", "copyable", "destroyable", "unique",
)
TOP_LEVEL_ORDER = (
    "label", "uuid", "create_time", "attest_time", "key_use_count", "algorithm",
    "algorithm_oid", "key_size", "curve_oid", "public_key", "derivation_value", "attributes",
    "policy",
)
_ROOT_ATTRIBUTES = ("creation", "storage")
"""The XML attributes a Primus HSM writes: on the root element only (``storage="external"`` for keys in
an external store)."""
_ELEMENT_ATTRIBUTES: dict[str, tuple[str, ...]] = {"derivation_value": ("type",)}
"""The XML attributes ``primus.md`` 1.3 documents on top-level elements."""
_POLICY_ATTRIBUTES: dict[str, tuple[str, ...]] = {"token": ("name",), "group": ("name",), "approval": ("type", "name")}
"""The XML attributes of an SKA key's ``<policy>`` block (``token[@name]``, ``group[@name]``,
``approval[@type="public_key"][@name]``, ``primus.md`` 1.3)."""
_REQUIRED_TOP_LEVEL = ("label", "create_time", "attest_time", "algorithm", "algorithm_oid",
                       "attributes")


# -- writing ----------------------------------------------------------------------------

def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def algorithm_of(key_type: KeyType, options: PrimusOptions = PrimusOptions()) -> tuple[str, str]:
    """``<algorithm>`` and ``<algorithm_oid>`` as a Primus HSM writes them for a ``key_type`` key."""
    return {
        KeyType.RSA: ("RSA", SPKI_ALGORITHM_OIDS["RSA"]),
        KeyType.EC: (options.ec_algorithm_name, SPKI_ALGORITHM_OIDS["EC"]),
        KeyType.EC_EDWARDS: ("ED", SPKI_ALGORITHM_OIDS["Ed25519"]),
        KeyType.AES: ("AES", options.secret_algorithm_oid),
    }[key_type]


def render_xml(key: StoredKey, attest_time: datetime, options: PrimusOptions = PrimusOptions()) -> bytes:
    """The key-attributes XML exactly as a Primus HSM writes it for ``key``."""
    attrs = key.attributes
    algorithm, algorithm_oid = algorithm_of(key.spec.key_type, options)
    root = "private_key" if key.public_key is not None else options.secret_key_root
    lines = [XML_DECLARATION.rstrip("\n"),
             f'<{root} creation="{"generated" if attrs.local else "imported"}">']

    def element(tag: str, value: str, depth: int = 1) -> None:
        lines.append("\t" * depth + f"<{tag}>{value}</{tag}>")

    element("label", _escape(attrs.label))
    element("create_time", _ts(key.created))
    element("attest_time", _ts(attest_time))
    if options.key_use_count:
        element("key_use_count", str(options.key_use_count))
    element("algorithm", algorithm)
    element("algorithm_oid", algorithm_oid)
    if key.spec.key_type in (KeyType.RSA, KeyType.AES) or (
            key.spec.key_type is KeyType.EC and options.ec_key_size):
        element("key_size", str(key.spec.bits))
    if key.spec.key_type is KeyType.EC and options.curve_oid:
        element("curve_oid", CURVE_OIDS[key.spec.curve or ""])
    if key.public_key is not None:
        element("public_key", base64.b64encode(spki_der(key.public_key)).decode())
    lines.append("\t<attributes>")
    values = {
        "decrypt": attrs.decrypt, "sign": attrs.sign, "unwrap": attrs.unwrap,
        "derive": attrs.derive, "sensitive": attrs.sensitive,
        "always_sensitive": attrs.always_sensitive, "extractable": attrs.extractable,
        "never_extractable": attrs.never_extractable, "modifiable": attrs.modifiable,
        "copyable": attrs.copyable, "destroyable": attrs.destroyable, "unique": True,
    }
    for tag in ATTRIBUTE_ORDER:
        element(tag, _bool(values[tag]), depth=2)
    lines.append("\t</attributes>")
    lines.append(f"</{root}>")
    return ("\n".join(lines) + "\n\n").encode()


# -- reading ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Document:
    """The key-attributes XML as read: root element, ``creation``, element texts and flags.

    ``values`` and ``attributes`` keep document order; ``unknown`` names the elements and XML
    attributes the format does not define (``attributes/<tag>`` for an unknown flag, ``<tag>/@<name>``
    for an XML attribute other than the root's ``creation`` and ``storage``, ``derivation_value``'s
    ``type`` and the names and types inside an SKA ``<policy>``).
    """

    root: str
    creation: str
    values: dict[str, str]
    attributes: dict[str, bool]
    unknown: tuple[str, ...]

    def out_of_order(self) -> str | None:
        """The first element that breaks the documented element order, if any (dicts keep document order)."""
        for seen, canonical in ((list(self.values), TOP_LEVEL_ORDER), (list(self.attributes), ATTRIBUTE_ORDER)):
            known = [tag for tag in seen if tag in canonical]
            for before, after in itertools.pairwise(known):
                if canonical.index(before) > canonical.index(after):
                    return f"<{after}> comes after <{before}>"
        return None


class _Element(Protocol):
    """What the reader asks of a parsed element. lxml names its element class only privately
    (``etree._Element``; the public ``etree.ElementBase`` is a subclass parsers do not return)."""

    @property
    def tag(self) -> str: ...

    @property
    def text(self) -> str | None: ...

    def __len__(self) -> int: ...


def _leaf_text(node: _Element) -> str:
    if len(node):
        raise Rejected(Reason.MALFORMED, f"<{node.tag}> has child elements")
    return node.text or ""


def _check_names(node: XmlElement, documented: tuple[str, ...], unknown: list[str]) -> None:
    """Reject a namespaced element or attribute; add each attribute not in ``documented`` to ``unknown``."""
    tag = node.tag  # parse_xml refused comments and processing instructions: every tag is a string
    if tag.startswith("{") or node.prefix:
        raise Rejected(Reason.MALFORMED, f"namespaced element {tag!r}")
    for attr_name in map(str, node.keys()):  # lxml-stubs type a name as str | bytes; lxml gives str
        if attr_name.startswith("{"):
            raise Rejected(Reason.MALFORMED, f"namespaced attribute {attr_name!r}")
        if attr_name not in documented:
            unknown.append(f"{tag}/@{attr_name}")


def read_document(xml: bytes, options: PrimusOptions = PrimusOptions()) -> Document:
    """Parse the key-attributes XML with hard bounds; raises :class:`Rejected` on anything the format forbids.

    Rejects a namespaced element or attribute, a root other than ``private_key`` or the secret-key
    root, a missing ``creation``, a repeated element or flag, a flag other than ``true``/``false``,
    or a missing required element. Unknown elements and XML attributes are recorded, not rejected.
    """
    root = parse_xml(xml, XmlLimits(max_bytes=MAX_XML_BYTES, max_depth=8))
    unknown: list[str] = []
    _check_names(root, _ROOT_ATTRIBUTES, unknown)
    for child in root:
        _check_names(child, _ELEMENT_ATTRIBUTES.get(child.tag, ()), unknown)
        inside = _POLICY_ATTRIBUTES if child.tag == "policy" else {}
        for node in child.iterdescendants():
            _check_names(node, inside.get(node.tag, ()), unknown)
    if root.tag not in ("private_key", options.secret_key_root):
        raise Rejected(Reason.MALFORMED, f"root element is <{root.tag}>, not <private_key>")
    creation = root.get("creation")
    if creation is None:
        raise Rejected(Reason.ATTR_MISSING, "root element has no creation attribute")
    values: dict[str, str] = {}
    attributes: dict[str, bool] = {}
    for child in root:
        tag = child.tag
        if tag == "attributes":
            if "attributes" in values:
                raise Rejected(Reason.ATTR_CONFLICT, "<attributes> appears twice")
            values["attributes"] = ""
            for flag in child:
                if flag.tag in attributes:
                    raise Rejected(Reason.ATTR_CONFLICT, f"attribute <{flag.tag}> appears twice")
                text = _leaf_text(flag)
                if text not in ("true", "false"):
                    raise Rejected(Reason.MALFORMED, f"<{flag.tag}> is {text!r}, not true/false")
                if flag.tag not in ATTRIBUTE_ORDER:
                    unknown.append(f"attributes/{flag.tag}")
                attributes[flag.tag] = text == "true"
            continue
        if tag in values:
            raise Rejected(Reason.ATTR_CONFLICT, f"<{tag}> appears twice")
        if tag == "policy":
            values[tag] = ""
            continue
        values[tag] = _leaf_text(child)
        if tag not in TOP_LEVEL_ORDER:
            unknown.append(tag)
    for tag in _REQUIRED_TOP_LEVEL:
        if tag not in values:
            raise Rejected(Reason.ATTR_MISSING, f"<{tag}> is missing")
    return Document(root.tag, creation, values, attributes, tuple(unknown))
