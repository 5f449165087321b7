"""What the Marvell generator takes besides the key and its cloud (:class:`~hsmsim.formats.marvell.layout.Cloud`):
the envelope shapes, the GUESS switches (``docs/formats/marvell.md`` lists them) and the cloud's names for a key."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass

from hsmsim.device import Device
from hsmsim.formats.marvell import blob as mb
from hsmsim.pki.seed import drbg


class AzureEnvelope(enum.StrEnum):
    """The shapes Azure evidence comes in (the Azure script accepts all three)."""

    KEY_BUNDLE = "key-bundle"
    """``GET /keys/<name>/<version>/attestation``: key, attributes.attestation (base64url)."""
    ATTESTATION = "attestation"
    """Just the ``attestation`` object (base64url)."""
    AZ_CLI = "az-cli"
    """``az keyvault key get-attestation --file``: the attestation object, standard padded base64, written by
    ``json.dump`` (compact, no final newline), ``null`` for an absent blob."""


class GoogleEnvelope(enum.StrEnum):
    """The shapes Google evidence comes in."""

    GCLOUD = "gcloud"
    """``--attestation-file`` (the gzip bytes) + ``get-certificate-chain --output-file`` (PEM)."""
    JSON = "json"
    """The CryptoKeyVersion resource with its KeyOperationAttestation."""


class GoogleTemplate(enum.StrEnum):
    """Which attributes a Google blob states for the key's label and usages."""

    CLOUD_HSM = "cloud-hsm"
    """Every real Google sample: LABEL ``app_key`` and, on the private object, DECRYPT, UNWRAP and SIGN
    set (ENCRYPT, WRAP, VERIFY, DERIVE clear) whatever the key's algorithm or purpose (so Cloud KMS
    presumably enforces the purpose above the HSM). A GUESS for AES keys, of which there is no sample."""
    KEY_ATTRIBUTES = "key-attributes"
    """The key store's own CKA_LABEL and usage flags (hsmsim's behaviour before the template was known)."""


GOOGLE_LABEL = "app_key"
GOOGLE_USAGES = mb.Usages(decrypt=True, unwrap=True, sign=True, derive=False)
"""The private object's usages in both real Google samples (an EC P-256 and an RSA-4096 key)."""


@dataclass(frozen=True)
class MarvellOptions:
    """Choices where the vendors publish nothing or the spec marks a GUESS (see docs/formats/marvell.md)."""

    azure_envelope: AzureEnvelope = AzureEnvelope.KEY_BUNDLE
    google_envelope: GoogleEnvelope = GoogleEnvelope.GCLOUD
    azure_header: mb.HeaderStyle = mb.HeaderStyle.BUFFER_SIZE
    """The REST example's 20-byte header; Google's samples use handles."""
    google_header: mb.HeaderStyle = mb.HeaderStyle.HANDLES
    azure_info_flags: int = 0
    google_info_flags: int = mb.RESPONSE_FLAGS
    azure_public_blob: bool = True
    """Asymmetric keys get a publicKeyAttestation (REST example, SDK docs; the README says otherwise)."""
    google_key_pair: bool | None = None
    """Whether asymmetric Google blobs carry the public and the private object: None (default) gives generated
    keys the pair (as the generated EC sample) and imported keys the private object alone (as the imported RSA
    sample, LOCAL 0); True or False forces one shape for every key."""
    token_true: int = 2
    """The observed OBJ_ATTR_TOKEN byte of token objects."""
    ec_modulus_bits: int = 0x19F
    """OBJ_ATTR_MODULUS_BITS of EC objects: the P-256 sample's value, used for every curve."""
    google_template: GoogleTemplate = GoogleTemplate.CLOUD_HSM
    """The label and usages of Google objects: the real template by default, or the key's own."""
    az_cli_public_null: bool = True
    """The az CLI file writes an absent publicKeyAttestation as ``null`` (azure-cli ``json.dump(todict(...))``
    keeps the SDK's None; ``marvell.md`` 4.1 says so from the source, not from a run); False omits it, the only
    shape the Azure script reads (it crashes on null)."""
    jwk_hsm_kty: bool = True
    """JWK ``kty`` ``RSA-HSM``/``EC-HSM``/``oct-HSM`` (Managed HSM) rather than ``RSA``/``EC``/``oct``."""
    legacy_root: bool = False
    """Sign card certificates with the 2015 v1 LS1 root shape (expired 2025-11-16) instead of the 2024
    reissue; read by :meth:`MarvellFormat.provision`, so set it on the format instance."""


DEFAULT_OPTIONS = MarvellOptions()


_GCP_VERSION_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)/keyRings/([a-zA-Z0-9_-]{1,63})"
                               r"/cryptoKeys/([a-zA-Z0-9_-]{1,63})/cryptoKeyVersions/([1-9][0-9]{0,9})")
"""A Cloud KMS CryptoKeyVersion resource name (what ``hsmsim serve`` labels its Cloud KMS keys with)."""


def _name_within(text: str, allowed: str, room: int) -> str:
    """``text`` with every character outside ``allowed`` (a regex class) as ``-``, at most ``room`` characters: a
    longer one keeps its start and ends in ``-`` and 8 hex digits of its SHA-256, so two labels that share a long
    start keep distinct names (and distinct file names)."""
    name = re.sub(f"[^{allowed}]", "-", text) or "key"
    if len(name) <= room:
        return name
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{name[:max(room - 9, 1)]}-{digest}"


@dataclass(frozen=True)
class KeyNames:
    """How the cloud names one key: the Azure key URI and the Google CryptoKeyVersion resource."""

    azure_pool: str
    azure_key: str
    azure_version: str
    gcp_project: str
    gcp_location: str
    gcp_key_ring: str
    gcp_key: str
    uri: str | None = None
    """The key URI a server exposes, when it is not the derived Managed HSM URI."""
    gcp_version: str = "1"

    @property
    def key_uri(self) -> str:
        """``https://<pool>.managedhsm.azure.net/keys/<name>/<version>`` or ``uri`` (the OBJ_ATTR_ID on Azure)."""
        return self.uri or f"https://{self.azure_pool}.managedhsm.azure.net/keys/{self.azure_key}/{self.azure_version}"

    @property
    def gcp_version_name(self) -> str:
        """``projects/…/cryptoKeys/<key>/cryptoKeyVersions/<version>``."""
        return (f"projects/{self.gcp_project}/locations/{self.gcp_location}/keyRings/{self.gcp_key_ring}"
                f"/cryptoKeys/{self.gcp_key}/cryptoKeyVersions/{self.gcp_version}")

    @classmethod
    def derive(cls, device: Device, label: str, *, pool: str | None = None, project: str | None = None,
               location: str = "us-east1", key_ring: str = "hsmsim") -> KeyNames:
        """Names from the device and the key label (valid Azure and Google identifiers, URI ≤ 128 bytes; a label
        too long for them ends in a hash of itself, so two long labels sharing a start keep distinct names). A label
        that is a CryptoKeyVersion resource name is that key's Google name."""
        pool = pool or f"hsmsim-{device.serial}"
        version = drbg(device.seed, f"azure/{pool}/key/{label}/version").read(16).hex()
        room = mb.FIXED_TEXT_BYTES - len(f"https://{pool}.managedhsm.azure.net/keys//{version}")
        azure_key = _name_within(label, "0-9A-Za-z-", max(room, 1))
        resource = _GCP_VERSION_NAME.fullmatch(label)
        if resource is not None:
            project, location, key_ring, key, number = resource.groups()
            return cls(pool, azure_key, version, project, location, key_ring, key, gcp_version=number)
        gcp_key = _name_within(label, "0-9A-Za-z_-", 63)
        return cls(pool, azure_key, version, project or f"hsmsim-{device.serial}", location, key_ring, gcp_key)
