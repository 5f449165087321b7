"""The emulated SmartCard-HSM PKI: a Scheme Root CA (SRCA), a Device Issuer CA (DICA) and the device's
Device Authentication certificate, as CV certificates shaped like the real ones, and their X.509 carriers.

Real shapes (``docs/formats/cardcontact.md``): the SRCA ``DESRCACC100001`` is self-signed on brainpoolP256r1
with its domain parameters, role C0, 2012-11-09 to 2032-11-08; the DICA ``DEDINK0400001`` (role 80) and the
device certificate ``DENK040414400000`` (role 00, CHR = serial + ``00000``) carry the point only and inherit the
SRCA's curve; the DICA body ends with an empty extensions element ``65 00``. The emulated ones use the country
code ``ZZ`` (ISO 3166 user-assigned), so no emulated CHR is a real one.

The framework's trust anchors are X.509 certificates, so every CV certificate here also has an X.509 *carrier*:
subject ``CN=<CHR>``, issuer ``CN=<CAR>``, the CV certificate's key and days, and the CV certificate itself in
the extension :data:`CVC_CARRIER_OID`. The verifier trusts the CV certificate inside a root carrier after checking
its self-signature; it never relies on the carrier's own X.509 signature.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsmsim.formats.cardcontact import cvc
from hsmsim.pki.builder import UTF8, CertSpec, Ext, build_certificate, name
from hsmsim.pki.identity import AttestationIdentity, PkiExport
from hsmsim.pki.seed import derive_secret, derive_serial

CVC_CARRIER_OID = x509.ObjectIdentifier("2.25.167821746512285573303508306682992555966")
"""hsmsim's extension holding a CV certificate in its X.509 carrier (a UUID OID, RFC 9562 / X.667)."""
CARRIER_ORG = "SmartCard-HSM PKI"
EMULATED_ORG = "SmartCard-HSM PKI EMULATED"

SRCA_CHR = "ZZSRCACC100001"
"""The emulated SRCA: the real ``DESRCACC100001`` with country ``ZZ``."""
DICA_CHR = "ZZDIEM0100001"
"""The emulated DICA, shaped like the real ``DEDINK0400001`` (country, ``DI`` + issuer mnemonic, sequence)."""
INNER_CAR = "UTCA00001"
"""The CA a key's request is addressed to: OpenSC's ``sc-hsm`` key generation writes this constant."""
SRCA_DAYS = (date(2012, 11, 9), date(2032, 11, 8))
DICA_DAYS = (date(2024, 10, 30), date(2032, 10, 29))
DEVICE_YEARS = 5
"""The real device certificate runs five years less a day from its effective date (a GUESS from one sample)."""


def device_serial(serial: str) -> str:
    """The card's serial as its CHR starts: ``ZZEM`` and seven digits of the emulated device serial."""
    digits = "".join(c for c in serial if c.isdigit())[-7:].rjust(7, "0")
    return f"ZZEM{digits}"


def device_chr(serial: str) -> str:
    """The device certificate's CHR: the card serial then ``00000``."""
    return device_serial(serial) + "00000"


def key_chr(serial: str) -> str:
    """The CHR of a key's request: the card serial then ``00001``, as OpenSC's key generation writes it."""
    return device_serial(serial) + "00001"


def brainpool_key(seed: str, role: str) -> ec.EllipticCurvePrivateKey:
    """A brainpoolP256r1 key derived from ``seed`` and ``role``."""
    n = cvc.BRAINPOOL_P256.n
    scalar = int.from_bytes(derive_secret(seed, f"cardcontact/{role}", 48), "big") % (n - 1) + 1
    return ec.derive_private_key(scalar, ec.BrainpoolP256R1())


def cv_certificate(*, car: str, chr_: str, public_key: ec.EllipticCurvePublicKey, domain: bool, role: int,
                   days: tuple[date, date], signer: ec.EllipticCurvePrivateKey,
                   extensions: bytes | None = None) -> bytes:
    """A 7F21 CV certificate: CPI 00, CAR, key, CHR, CHAT (the SmartCard-HSM role OID and ``role``), dates,
    optional extensions, signed by ``signer`` over the body TLV."""
    chat = cvc.encode(cvc.T_CHAT, cvc.encode(cvc.T_OID, cvc.oid_content(cvc.SC_HSM_ROLE_OID))
                      + cvc.encode(cvc.T_DISCRETIONARY, bytes([role])))
    body = cvc.encode(cvc.T_BODY, b"".join((
        cvc.encode(cvc.T_CPI, b"\x00"), cvc.encode(cvc.T_CAR, car.encode()),
        cvc.encode_public_key(public_key, domain=domain), cvc.encode(cvc.T_CHR, chr_.encode()), chat,
        cvc.encode(cvc.T_EFFECTIVE, cvc.encode_date(days[0])), cvc.encode(cvc.T_EXPIRY, cvc.encode_date(days[1])),
        *((cvc.encode(cvc.T_EXTENSIONS, extensions),) if extensions is not None else ()))))
    return cvc.encode(cvc.T_CVC, body + cvc.encode(cvc.T_SIGNATURE, cvc.sign(signer, body)))


def carrier(cv: bytes, signer: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, org: str, role: str) -> x509.Certificate:
    """The X.509 carrier of the CV certificate ``cv`` (see the module doc), signed by ``signer``."""
    parsed = cvc.parse_certificate(cvc.parse_all(cv)[0], request=False)
    assert parsed.effective is not None and parsed.expiry is not None and parsed.car is not None
    public = parsed.public_key.ec_key(cvc.BRAINPOOL_P256)
    return build_certificate(CertSpec(
        subject=name(("O", org, UTF8), ("CN", parsed.chr, UTF8)),
        issuer=name(("O", org, UTF8), ("CN", parsed.car, UTF8)),
        public_key=public, serial=derive_serial(cv.hex(), f"cardcontact/carrier/{role}"),
        not_before=datetime.combine(parsed.effective, time(0, 0), UTC),
        not_after=datetime.combine(parsed.expiry, time(23, 59, 59), UTC),
        extensions=(Ext(x509.UnrecognizedExtension(CVC_CARRIER_OID, cv)),)), signer)


def carried_cvc(cert: x509.Certificate) -> bytes | None:
    """The CV certificate an X.509 carrier holds, or None when ``cert`` is no carrier."""
    try:
        value = cert.extensions.get_extension_for_oid(CVC_CARRIER_OID).value
    except x509.ExtensionNotFound:
        return None
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


@dataclass(frozen=True)
class CardContactPki:
    """The emulated SRCA, DICA and device: keys, CV certificates and carriers."""

    srca_key: ec.EllipticCurvePrivateKey
    dica_key: ec.EllipticCurvePrivateKey
    device_key: ec.EllipticCurvePrivateKey
    srca: bytes
    dica: bytes
    device: bytes
    device_chr: str

    @property
    def c_devaut(self) -> bytes:
        """EF.C_DevAut (file 2F02) as the card holds it: the device certificate, then the DICA certificate."""
        return self.device + self.dica

    @functools.cached_property
    def carriers(self) -> tuple[x509.Certificate, x509.Certificate, x509.Certificate]:
        """The X.509 carriers of the SRCA, the DICA and the device certificate, each signed by its issuer."""
        return (carrier(self.srca, self.srca_key, EMULATED_ORG, "srca"),
                carrier(self.dica, self.srca_key, EMULATED_ORG, "dica"),
                carrier(self.device, self.dica_key, EMULATED_ORG, "device"))

    def identity(self) -> AttestationIdentity:
        """The Device Authentication key as an attestation identity: its carrier, the chain and the root carrier."""
        root, dica, device = self.carriers
        return AttestationIdentity(key=self.device_key, certificate=device, chain=(device, dica), root=root)

    def export(self) -> PkiExport:
        """The PKI ``hsmsim pki export`` writes: the SRCA carrier as ``root.crt``."""
        return PkiExport.of(self.identity())


def device_days(initialised: datetime) -> tuple[date, date]:
    """The device certificate's days: from the day the card was initialised, five years less a day."""
    start = initialised.astimezone(UTC).date()
    end = date(start.year + DEVICE_YEARS, start.month, min(start.day, 28)) - timedelta(days=1)
    return start, end


@functools.lru_cache(maxsize=16)
def cardcontact_pki(seed: str, serial: str, initialised: datetime) -> CardContactPki:
    """The emulated PKI of the card with ``serial`` initialised at ``initialised``, derived from ``seed``."""
    srca_key, dica_key = brainpool_key(seed, "srca"), brainpool_key(seed, "dica")
    device_key = brainpool_key(seed, f"device/{serial}")
    srca = cv_certificate(car=SRCA_CHR, chr_=SRCA_CHR, public_key=srca_key.public_key(), domain=True,
                          role=cvc.ROLE_ROOT, days=SRCA_DAYS, signer=srca_key)
    dica = cv_certificate(car=SRCA_CHR, chr_=DICA_CHR, public_key=dica_key.public_key(), domain=False,
                          role=cvc.ROLE_ISSUER, days=DICA_DAYS, signer=srca_key, extensions=b"")
    chr_ = device_chr(serial)
    device = cv_certificate(car=DICA_CHR, chr_=chr_, public_key=device_key.public_key(), domain=False,
                            role=cvc.ROLE_DEVICE, days=device_days(initialised), signer=dica_key)
    return CardContactPki(srca_key, dica_key, device_key, srca, dica, device, chr_)
