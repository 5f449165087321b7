"""Build the vector corpus: per-format JSON files, native files, the id registry, manifest, changelog.

The output is a pure function of (master seed, id registry, hsmsim version): regenerating
gives identical bytes. The id registry (``ids.json``) is the only state carried between
runs: it keeps every id's ``tcId`` stable and records retired ids so none is reused.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import shutil
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pydantic import ValidationError

from hsmsim import __version__
from hsmsim._atomic import create_file, relative_parts
from hsmsim.errors import BundleError, HsmsimError
from hsmsim.formats import get_format, names
from hsmsim.harness.vectors import (
    CORPUS_BYTES_LIMIT,
    VECTOR_FILE_LIMIT,
    CorpusLoadError,
    check_inputs,
    read_manifest,
    validation_summary,
    version_key,
)
from hsmsim.model.corpus_schema import (
    PROMOTED_DRAFTS,
    SCHEMA_NAME,
    GeneratorRecord,
    NoteRecord,
    VectorDraft,
    VectorFile,
    VectorRecord,
    corpus_json,
    vector_schema,
)
from hsmsim.model.vectors import PROVENANCE_NOTES, Expected, FlagNote, Severity, VectorCase
from hsmsim.safeio import load_json_object, read_local_file
from hsmsim.verdict import escaped

SUITE_VERSION = "1.1.0"
SUITE_CHANGES: dict[str, tuple[str, ...]] = {
    "1.1.0": (
        "android-key goldens follow the real chains: the RKP attestation certificate under the legacy root names "
        "CN then O (O first stays under the 2026 root); RKP chains under the legacy root end with the 2019 issue "
        "of the root (15 years, same name and key as the pinned 2022 issue; factory chains keep the 2022 issue); "
        "StrongBox descriptions say attestation and KeyMint version 300 without moduleHash; StrongBox provisioning "
        "info says 32 certificates issued; the software-keymaster1 leaf runs to 2106-02-07 (GeneralizedTime). "
        "Every android-key and android-acme vector built on an RKP or software golden, and the webauthn android-key "
        "and purebred Android vectors, changed bytes. `android-key::variant::older-root-reissue` changed meaning: "
        "it now mutates `tee-factory-ec-p256` (a factory chain ending with the 2019 issue), as the RKP goldens send "
        "that issue themselves.",
        "marvell-google's `<key>.certs.pem` lists the chains as gcloud's get-certificate-chain writes them: Cavium "
        "partition, Cavium card, Google partition, Google card (was Google card before Google partition), so every "
        "marvell-google vector's chain file changed.",
        "Goldens follow the real devices more closely, so their bytes changed: YubiKey 5.4+ f9 certificates carry "
        "basicConstraints, FIPS devices their marker value and form-factor bit, the 2024 PIV intermediates are "
        "the published ones; Apple credential certificates have the real key usage, serials and App Attest "
        "extensions; Android's Droid CA3/CA2 profiles, PKIX Evidence AKIs, the Windows AIK certificate profile, "
        "TcgAttestCertify qualified names, ms-kast's obfuscated TPMS_ATTEST counters, the az CLI file's bytes and "
        "YubiHSM 2 device serials are as real ones.",
        "Expectation changed: `marvell-azure::encoding::public-attestation-null` is acceptable (was invalid "
        "MALFORMED): the az CLI writes `null` for an absent blob.",
        "New flag `VeraisonIncompatible` on the parsec-tpm tokens Veraison's verifier refuses (RSA keys or AKs).",
        "One defect per vector in apple-acme, apple-appattest and pkix-evidence (expectations unchanged): "
        "`apple-appattest::nonce::auth-data-edited` sends counter 0 under a nonce over counter 7; "
        "`apple-acme::key::csr-bad-signature` stays PEM; `apple-acme::identifier::serial-der-utf8string` keeps "
        "the UDID; `apple-acme::chain::root-name-collision` and `apple-appattest::key::p384` keep the leaf's "
        "subject or serial; `pkix-evidence::validate::boolean-not-der` writes a TRUE claim 01; "
        "`pkix-evidence::validate::claim-without-value` empties the vendor, not the nonce; "
        "`pkix-evidence::validate::empty-reported-entities` is re-signed; `pkix-evidence::signature::foreign-spki-"
        "signer` and `chain::root-impostor` name their signer in ak-spki. `Resigned`/`Stale` now follow who signed: "
        "leaves and Evidence signed by another key or by none are Stale, re-signed `cred-cert-expired` and "
        "`apple-acme::chain::intermediate-not-ca` Resigned.",
        "Vectors that changed more than their named defect now change only it (bytes changed): "
        "`primus::chain::device-not-ca` keeps the device's certificatePolicies; `primus::chain::leaf-expired`, "
        "`primus::chain::device-expired` and `marvell-{azure,google}::chain::card-expired` keep the golden's "
        "notBefore; `fortanix::chain::authority-duplicate-extension` starts from the golden's DSM-encoded "
        "authority; `android-key::encoding::application-id-garbage` keeps the tag order; "
        "`fortanix::variant::decrypt-only-key`'s files are named for its key.",
        "Expectations changed, from the Reason definitions: `fortanix::chain::authority-duplicate-extension` is "
        "MALFORMED (was ATTR_CONFLICT; a repeated extension in a chain certificate, as "
        "`primus::chain::leaf-duplicate-extension`); `marvell-{azure,google}::attr::modulus-bits-oversize` is "
        "MALFORMED (was ATTR_CONFLICT; a wrong attribute width, as `attr::class-as-ulong`); "
        "`luna-pkc::variant::ecc-unpadded-s` is acceptable, strict MALFORMED (was valid; the ECDSA s is not DER); "
        "`luna-pkc::chain::leaf-issued-by-hoc` is CERT_EKU (was CHAIN_INCOMPLETE; every named issuer is present).",
        "Expectations changed: `yubico-piv::chain::wrong-root` is CHAIN_UNTRUSTED (was CHAIN_INCOMPLETE: the bundle "
        "carries the named root); `yubico-piv::variant::f9-without-basic-constraints` is acceptable, strict "
        "CERT_NOT_CA (was valid: RFC 5280 6.1.4(k)); `yubihsm2::chain::sub-ca-missing` is CHAIN_INCOMPLETE (was "
        "CHAIN_UNTRUSTED: the carried root copy stays unreached).",
        "Yubico-family impostor keys have the genuine signer's key type, so forged signatures keep the algorithm "
        "(yubico-piv and yubihsm2 other-key, lookalike-root, user-loaded-f9, custom-attestation-key; "
        "purebred `inner::yubikey-slot-not-by-f9`); `purebred::inner::yubikey-foreign-root` re-issues only the f9 "
        "and re-signs the golden slot certificate; `yubihsm2::attr::exportable-key` is an RSA-3072 key like its "
        "golden; the purebred fuzz findings name their golden `purebred::golden::yubikey::ec-p384` and are Stale.",
        "android-acme bundles now carry the order's identifier (`<label>.identifier`) and the finalize CSR "
        "(`<label>.csr`), and the goldens attest the device's serial (attestationIdSerial), so every android-acme "
        "vector changed bytes; the verifier binds the attested serial to the identifier and the CSR to the "
        "attested key, as tpm-acme and apple-acme do.",
        "One defect per vector (TPM and WebAuthn statements): `<fmt>_root_ca.pem` is always the relying party's "
        "anchor, also in the foreign-root vectors (their root copy is in the evidence); AK certificate re-issues "
        "keep the other extensions byte for byte (the Windows AIK notice stays a BMPString); packed subject "
        "defects edit only the named RDN; `packed::cert-not-yet-valid` moves only notBefore; "
        "`tpm-acme::chain::unknown-root` has the ACME AK profile; `parsec-tpm::activate::ek-certificate-foreign-root` "
        "certifies the TPM's own EK and activates; `ms-kast::aik::expired` keeps serial and notBefore; "
        "`ms-kast::id-binding::creation-data-edited` edits the locality and still parses, and the id-binding "
        "defects name `variant::id-binding` as their base; `pubarea::trailing-bytes` certifies the Name of the "
        "bytes sent.",
        "android-key software attestations follow AOSP's software Keymaster, which picks its chain by the key's "
        "algorithm: `android-key::golden::software-keymaster1-ec-p256` and the three vectors built on it "
        "(`level::software-root-claims-tee`, `level::software-root-keymint-below-attestation`, "
        "`variant::software-both-levels`) are signed under an emulated EC P-256 software chain (named, dated and "
        "extended as AOSP's `Android Keystore Software Attestation Intermediate` and `Root`) instead of the RSA one, "
        "and are made and validated on 2018-07-24, the Pixel1 sample's date, as AOSP's EC intermediate expired on "
        "2026-01-08; software vectors pin both emulated software roots, and the emulated RSA software root has a "
        "64-bit serial as Google's (same key).",
        "purebred's Windows goldens attest their own RSA-3072 key, which signs and decrypts (TPMA_OBJECT "
        "0x00060072) as the TPM keys of the three real Surface requests (it was the Android golden's sign-only key): "
        "every purebred Windows vector's request, target and evidence bytes changed.",
        "webauthn fido-u2f registrations are shaped as a real U2F key's: authData flags 0x41 (UP|AT, no UV) and a "
        "64-byte key handle as credential id (were 0x45 and 32 bytes): every `webauthn::fido-u2f::` vector and "
        "`webauthn::golden::fido-u2f` changed bytes. WebAuthn `apple` registrations name Apple's AAGUID "
        "f24a8e70-d0d3-f82c-2937-32523cc4de5a, as the real 2021 passkey (was zero): every `webauthn::apple::` "
        "vector and `webauthn::golden::apple-ec-p256` changed bytes. The emulated Apple WebAuthn and App Attestation "
        "roots and CAs end as Apple's, at midnight on 2045-03-15 and 2030-03-13, and have 16-octet serials as theirs: "
        "every apple-appattest and WebAuthn `apple` vector changed bytes. The emulated Yubico U2F root is named and "
        "numbered as the real one (`Yubico U2F Root CA Serial 457200631`, a PrintableString, serial 457200631; was "
        "457200 in a UTF8String): every WebAuthn packed and fido-u2f vector changed bytes.",
        "Expectation changed: `webauthn::packed::cert-no-aaguid-extension` is acceptable, strict CERT_PROFILE "
        "(was valid): §8.2.1 requires the extension when the root serves several models.",
        "Expectation changed: `marvell-azure::encoding::duplicate-json-key` is ATTR_CONFLICT (was MALFORMED), as "
        "every other member named twice in JSON or CBOR (`fortanix::json::duplicate-statement-member`, "
        "`webauthn::cbor::duplicate-fmt`).",
        "Flags changed: `ms-kast::certify::signature-bit-flip`, `ms-kast::certify::signed-by-other-aik` and "
        "`ms-kast::id-binding::signed-by-other-key` are Stale (were Resigned).",
        "Flags changed, a leaf or statement signed by a foreign key being Stale: "
        "`webauthn::apple::chain-foreign-root`, `webauthn::apple::chain-app-attest-pki`, "
        "`webauthn::packed::chain-foreign-root`, `webauthn::fido-u2f::chain-foreign-root`, "
        "`android-key::chain::wrong-root`, `csr-attestation::pkix-evidence::key-not-in-chain`, "
        "`csr-attestation::tcg::signature-foreign-key` and `csr-attestation::tcg::root-impostor` are Stale (were "
        "Resigned).",
        "apple-appattest receipts are shaped as the real one fido2-net-lib publishes: `attStmt.receipt` is a BER "
        "CMS SignedData whose content is Apple's receipt attributes (App ID, credCert, clientDataHash, token, "
        "`ATTEST`, `sandbox` in development, creation and expiration times), signed by `Application Attestation "
        "Fraud Receipt Signing EMULATED` under `Apple Root CA - G3 EMULATED` (was 183 seeded bytes), so every "
        "apple-appattest vector changed bytes. The verifier requires a receipt that parses to attest credCert's "
        "key and the App ID (new `apple-appattest::receipt::other-key`, `receipt::other-app`); strict rejects one "
        "that does not parse (`receipt::not-cms`).",
        "parsec-tpm records carry Parsec's platform attestation token `pat` beside the `kat` (a TPM2_Quote by the "
        "same AK of the SHA-256 PCRs 0-7 of an emulated measured boot, extraData the nonce, kid the kat's), as "
        "Parsec's CertifyAndQuote writes it and Veraison requires: every parsec-tpm vector's record changed bytes, "
        "and the new `parsec-tpm::pat::` vectors take it away (rejected, MISSING_INPUT), sign it with another key, "
        "change its kid, type, nonce, PCR bank or length, or add a member (strict only).",
        "android-key factory chains come from a KeyMint 3 device, as the real 2022 factory chain whose dates they "
        "copy: the factory goldens and the two vectors built on them say attestation and KeyMint version 300 (was "
        "Keymaster 4's 3 and 4), carry no attestation ids (brand, device, product, manufacturer, model), and their "
        "leaf is KeyMint's (critical keyUsage, PrintableString CN, no authority key identifier).",
        "The webauthn TPM statement's AK is Windows Hello's, as in every published sample: an RSA-2048 AIK in the "
        "storage hierarchy (signing RS256; Windows' own RS1 is `variant::windows-hello-rs1`, now by that AIK), so "
        "certInfo's resetCount, restartCount and firmwareVersion are obfuscated, which changed the bytes of every "
        "`webauthn::` TPM vector and of the csr-attestation golden carrying a webauthn statement; "
        "`signature::alg-mismatch` now says ES256 over the RS256 signature, `signature::other-key` signs with an "
        "RSA-2048 key, and `variant::rsa-ak` is retired for `variant::ecc-ak` (an EC P-256 AK: legal, but not what "
        "Windows sends); and its credential key's pubArea is Windows Hello's: the authPolicy 9dffcbf3… of the real "
        "samples, and RSA keys noDA and sign+decrypt (objectAttributes 0x00060472, ECC keys still 0x00040072), which "
        "changed the pubArea of those vectors again (no expected verdict changed).",
        "Windows-shaped AK certificates (the default `rsa` TPM PKI: webauthn TPM, ms-kast, parsec-tpm, purebred "
        "windows, and the csr-attestation golden carrying a webauthn statement) no longer carry the FIDO AAGUID "
        "extension, as no published Windows AIK certificate does; `webauthn::akcert::aaguid-mismatch` now puts "
        "Windows Hello's AAGUID into that extension (it set authData's aaguid to zero) and "
        "`webauthn::variant::ak-aaguid-extension` keeps a matching one (no expected verdict changed).",
        "webauthn packed and fido-u2f registrations are shaped as real YubiKey ones (py_webauthn's samples): packed "
        "authData has a 64-byte credential id (128 for Ed25519; was 32) and a small non-zero signCount (the "
        "YubiKey's global counter; was 0), and both formats' records say transports `[\"nfc\", \"usb\"]` and "
        "`cross-platform` (were `[\"internal\"]` and `platform`): every `webauthn::packed::` and "
        "`webauthn::fido-u2f::` vector and the packed and fido-u2f goldens changed bytes, and "
        "`webauthn::packed::auth-data-edited-after-signing` signs the counter plus one (was 1 over 0).",
        "New format `smartcard-hsm` (CardContact SmartCard-HSM / Nitrokey HSM): a key's authenticated CV request "
        "with EF.C_DevAut under an emulated SRCA, whose trust anchor is an X.509 carrier of the SRCA CV "
        "certificate (`docs/formats/cardcontact.md`); its 34 vectors are new, no existing vector changed.",
        "The emulated Apple Enterprise Attestation PKI is shaped as Apple's real root and Sub CA 1: 20-octet serials, "
        "the root ending at midnight on 2047-02-20 and the Sub CA on 2032-02-18, and the Managed Device Attestation "
        "leaf named `CN=<hash>, OU=AAA Certification, O=Apple Inc.` (was `CN=<hash>, O=Apple Inc., C=US`): every "
        "apple-acme vector changed bytes (no expected verdict changed).",
        "The default `rsa` TPM PKI's attestation CA is shaped as the Windows AIK CAs Microsoft has issued since 2019 "
        "(py_webauthn's Windows Hello samples): an RSA-4096 key (was RSA-2048) and a critical keyUsage "
        "digitalSignature+keyCertSign (was cRLSign too, not critical), and a Windows AIK certificate ends when its "
        "CA does (was ten years after its creation); every AK certificate, in either TPM PKI profile, has a "
        "16-octet serial (was 17): every webauthn TPM, ms-kast, parsec-tpm, tpm-acme and purebred Windows vector, "
        "and the csr-attestation vectors carrying a TPM statement, changed bytes (no expected verdict changed).",
        "The 2024 YubiKey PIV PKI's f9 certificate is named `CN=YubiKey PIV Attestation`, as a real YubiKey 5.7.4's "
        "(was `Yubico PIV Attestation`, the legacy PKI's name), so every 2024-PKI yubico-piv vector changed bytes, "
        "and `yubico-piv::ext::subject-not-a-slot` names the slot certificate after the f9 it has.",
        "New format `crypto4a`: the Crypto4A QASM attestation message (DER claims signed by an ECDSA P-384 and an "
        "HSS/LMS assertion authority under an emulated C4A_RCA), with goldens for EC P-256, RSA-3072 and EC P-384 "
        "keys and the `crypto4a::` defects.",
        "parsec-tpm: the ActivateCredential record is the record's assertion, which no offline verifier can confirm "
        "(only the EK's holder opens the credential): the notes of `ActivateWrongEk`, `ActivateOtherTpmEk` and "
        "`ActivateMissing` say the defect is caught because the record itself reports the failure, and an accepted "
        "token's claim `ak_residency` is `record-asserted` (or `none`); no expected verdict changed.",
        "An ambiguous bundle, two different files for one role a format reads once (two CSRs, two request files, "
        "two files of one base name in different folders), is MALFORMED in every format, never resolved by file "
        "order (two CSRs were ATTR_CONFLICT in crypto4a and smartcard-hsm, MISSING_INPUT in fortanix, yubico-piv, "
        "yubihsm2, apple-acme and tpm-acme; a copy of one file is no longer refused): new "
        "`{fortanix,yubico-piv,yubihsm2,crypto4a}::binding::second-csr`, `smartcard-hsm::csr::second-csr`, "
        "`apple-acme::key::second-csr` and `{yubico-piv,yubihsm2}::request::second-request`. fortanix takes, of "
        "several authority certificates that signed the statement, the one whose path validates, in any order (new "
        "`fortanix::variant::renewed-authority-listed-first`, `variant::expired-authority-listed-first`). An ACME "
        "challenge token that decodes to fewer than 16 bytes is CHALLENGE_MISMATCH (RFC 8555 8.3: 128 bits of "
        "entropy; new `apple-acme::freshness::token-empty`, `freshness::token-15-bytes`, "
        "`tpm-acme::binding::token-15-bytes`, `android-acme::challenge::token-15-bytes`). No existing vector's "
        "expectation changed.",
        "csr-attestation: a wrapped WebAuthn statement's challenge is the CSR attestation nonce's bytes and a wrapped "
        "tpm-acme statement's ACME token base64url(nonce), which the verifier requires (CHALLENGE_MISMATCH), so "
        "the webauthn and tpm-acme goldens changed bytes; the golden `primus-and-tcg-attest-certify-and-pkix-evidence`"
        " (one non-extractable key claimed by a TPM and a Primus HSM at once) is replaced by "
        "`primus-and-pkix-evidence` (a Primus statement and PKIX Evidence from the same HSM), on which "
        "`binding::second-statement-other-key` (now statement 1) and `primus::signed-by-tpm-ak` (whose roots file "
        "adds the TcgAttestCertify root a relying party keeps) are now built; no expected verdict changed.",
        "csr-attestation::bundle::other-cert-choice encoded its `other` entry as if EXPLICIT ([3] {SEQUENCE {OID, "
        "OCTET STRING}}); it is now `[3] IMPLICIT OtherCertificateFormat` ([3] {OID, OCTET STRING}), as CMS has "
        "it, and valid (was UNSUPPORTED): LimitedCertChoices allows `other`, and an entry no statement needs is "
        "ignored. The old encoding is `bundle::other-cert-choice-explicit` (MALFORMED).",
        "CMS certificate sets are in DER SET OF order (X.690 11.6), as in every real Purebred bag and Windows CMC "
        "request (was chain order): every purebred Android, YubiKey and Windows vector and every ms-kast CMC "
        "vector changed bytes (no expected verdict changed); new legal variants `purebred::inner::android-bag-"
        "chain-order` and `ms-kast::variant::cmc-chain-order` keep chain order.",
        "The Luna ECC PKC's subject key identifier is SHA-256 of the DER OCTET STRING holding the EC point (the "
        "key's PKCS#11 CKA_EC_POINT), as the real leaf's (was SHA-256 of the bare point): the two luna-pkc EC "
        "goldens, `eku::ecc-hoc-rsa-eku`, `ext::ecc-hoc-cn-mismatch` and `variant::ecc-unpadded-s` changed bytes "
        "(no expected verdict changed).",
        "android-key leaves of the RKP chains under the legacy root write the KeyDescription before keyUsage, as "
        "caiman's (sdk36), whose chain they follow (was keyUsage first, akita's order; 2026-root and factory leaves "
        "keep keyUsage first, as tegu's and the 2022 factory leaf): every android-key, android-acme, purebred "
        "Android and webauthn `android-key` vector on such a chain changed bytes (no expected verdict changed). "
        "`android-key::variant::key-description-first` is retired for `android-key::variant::key-usage-first` "
        "(akita's order, now the variant).",
        "The YubiHSM 2 key's CSR requests a non-critical keyUsage digitalSignature in an extensionRequest, as the "
        "published `csr.pem` (was no attribute): every yubihsm2 vector's `.csr` changed bytes (no expected verdict "
        "changed).",
        "purebred target certificates are shaped as the real ones: a pre-enrollment target is self-signed with a "
        "subject key identifier, named `O=<model>, OU=<device serial>, CN=<UUID>` (Android) or `CN=<UUID>, C=US` "
        "(Windows); a request's target is issued by the emulated `DOD PB ID SW CA-46 EMULATED` with the real "
        "SCEP target's extensions (was one self-signed `CN=<label>` certificate without extensions for both): every "
        "purebred vector's `_target.der` changed bytes (no expected verdict changed).",
        "`pkix-evidence::validate::fips-level-without-fips-boot` is valid (was ATTR_CONFLICT), flag "
        "`FipsLevelWithoutBoot`: the draft (5.1.4) gives fipslevel no meaning when fipsboot is false or absent, so "
        "it is no conflict and the verifier reports no FIPS level (new `validate::fips-level-fips-boot-absent`).",
    ),
}
"""What changed in each suite version beyond the ids added and retired (``CHANGELOG.md`` shows both): byte changes
to existing vectors and changed expectations, which a user comparing results across versions must know."""
DEFAULT_SEED = "hsmsim-corpus-v1"
REGISTRY_FILE = "ids.json"
MANIFEST_FILE = "manifest.json"
CHANGELOG_FILE = "CHANGELOG.md"
SCHEMA_DIR = "schema"
PROMOTED_DIR = "promoted"
REGISTRY_LIMIT = 16 * 1024 * 1024
"""The largest ``ids.json`` read, as the manifest's: an id takes about 110 bytes, so room for 150,000 ids (1,071 in
2026)."""
PROMOTED_LIMIT = VECTOR_FILE_LIMIT
"""The largest ``promoted/<format>.json`` read: its drafts, evidence in base64, become vectors of that format's vector
file, which is read within the same limit."""
_SEVERITY_ORDER = list(Severity)
_PROVENANCE_FLAGS = {"Resigned", "Stale", "Golden"}


class CorpusError(HsmsimError):
    """The corpus cannot be built as asked (e.g. a retired id would be reused)."""


def _is_version(value: object) -> bool:
    """Whether ``value`` is a suite version (dotted numbers, :func:`~hsmsim.harness.vectors.version_key`)."""
    if not isinstance(value, str):
        return False
    try:
        version_key(value)
    except CorpusLoadError:
        return False
    return True


@dataclass
class IdRegistry:
    """Every id ever published: its tcId, the suite version that added it, and when it retired."""

    entries: dict[str, dict[str, object]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> IdRegistry:
        """The registry at ``path`` (a regular file of at most :data:`REGISTRY_LIMIT` bytes), or an empty one when
        nothing is there. Raises :class:`CorpusError` (one line) when it cannot be read, or is not an object whose
        ``ids`` maps each id to its ``tcId`` (an integer), ``added`` (a version) and ``retired`` (a version or null)."""
        if not os.path.lexists(path):
            return cls()
        try:
            data = load_json_object(path, REGISTRY_LIMIT)
        except BundleError as exc:
            raise CorpusError(f"corrupt id registry: {exc}") from None
        ids = data.get("ids")
        if not isinstance(ids, dict):
            raise CorpusError(f"corrupt id registry {escaped(str(path))}: 'ids' is not an object")
        holders: dict[int, str] = {}
        for vector_id, entry in ids.items():
            if not (isinstance(entry, dict) and type(entry.get("tcId")) is int and entry["tcId"] >= 1
                    and _is_version(entry.get("added"))
                    and (entry.get("retired") is None or _is_version(entry.get("retired")))):
                raise CorpusError(f"corrupt id registry {escaped(str(path))}: the entry of {escaped(vector_id)!r} "
                                  "is not {tcId: integer from 1, added: version, retired: version or null}")
            other = holders.setdefault(entry["tcId"], vector_id)
            if other != vector_id:
                raise CorpusError(f"corrupt id registry {escaped(str(path))}: {escaped(other)!r} and "
                                  f"{escaped(vector_id)!r} have the same tcId {entry['tcId']}")
        return cls(ids)

    def assign(self, ids: Iterable[str], version: str) -> dict[str, int]:
        """tcIds for ``ids``: existing ones kept, new ones appended; ids now absent are retired."""
        current = list(ids)
        for vector_id in current:
            entry = self.entries.get(vector_id)
            if entry is not None and entry.get("retired"):
                raise CorpusError(f"id {vector_id} was retired in {entry['retired']} and must not be reused")
        next_tc = max((int(e["tcId"]) for e in self.entries.values()), default=0) + 1  # type: ignore[call-overload]
        for vector_id in current:
            if vector_id not in self.entries:
                self.entries[vector_id] = {"tcId": next_tc, "added": version, "retired": None}
                next_tc += 1
        present = set(current)
        for vector_id, entry in self.entries.items():
            if vector_id not in present and not entry.get("retired"):
                entry["retired"] = version
        return {vector_id: int(self.entries[vector_id]["tcId"]) for vector_id in current}  # type: ignore[call-overload]

    def to_json(self) -> dict[str, object]:
        """Entries in tcId order."""
        ordered = sorted(self.entries.items(), key=lambda item: int(item[1]["tcId"]))  # type: ignore[call-overload]
        return {"ids": dict(ordered)}

    def changelog(self) -> str:
        """CHANGELOG.md: by suite version, what changed in existing vectors (:data:`SUITE_CHANGES`), then the ids
        added and retired."""
        versions = sorted({str(e["added"]) for e in self.entries.values()}
                          | {str(e["retired"]) for e in self.entries.values() if e.get("retired")},
                          key=version_key, reverse=True)
        lines = ["# Vector changelog", "", "Generated from `ids.json` and the suite's notes. Ids are never reused; a "
                 "retired id stays retired.", ""]
        for version in versions:
            lines += [f"## {version}", ""]
            if version in SUITE_CHANGES:
                lines += ["Changed:", ""] + [f"- {change}" for change in SUITE_CHANGES[version]] + [""]
            added = [i for i, e in self.entries.items() if e["added"] == version]
            retired = [i for i, e in self.entries.items() if e.get("retired") == version]
            if added:
                lines += [f"Added ({len(added)}):", ""] + [f"- `{i}`" for i in added] + [""]
            if retired:
                lines += [f"Retired ({len(retired)}):", ""] + [f"- `{i}`" for i in retired] + [""]
        return "\n".join(lines)


@dataclass
class _OutputTree:
    """Files written below ``root``, an existing empty directory: each directory made once, each file opened
    once (created exclusively, never through a symlink), its SHA-256 kept for the manifest."""

    root: str
    digests: dict[str, str] = field(default_factory=dict)
    made: set[str] = field(default_factory=set)

    def write(self, rel: str, data: bytes, sha256: str | None = None) -> None:
        """Create ``root/rel`` holding ``data`` (whose SHA-256 hex is ``sha256`` when the caller has it), making
        its missing parent directories; raises :class:`CorpusError` before opening anything when ``rel`` could
        name anything but a new file below root."""
        try:
            parts = relative_parts(rel)
        except ValueError as exc:
            raise CorpusError(f"not writing {rel!r}: {exc}") from None
        if rel in self.digests:
            raise CorpusError(f"{rel} would be written twice")
        try:
            if rel.rpartition("/")[0] not in self.made:  # its parent was made, and so every directory above
                for depth in range(1, len(parts)):
                    directory = "/".join(parts[:depth])
                    if directory not in self.made:
                        os.mkdir(f"{self.root}/{directory}")
                        self.made.add(directory)
            create_file(f"{self.root}/{rel}", data)
        except OSError as exc:  # e.g. one vector's file is another's directory
            raise CorpusError(f"cannot write {escaped(rel)!r} into the corpus: {exc.strerror or exc}") from None
        self.digests[rel] = sha256 or hashlib.sha256(data).hexdigest()

    def sorted_digests(self) -> dict[str, str]:
        """Every written file's digest, in path order (component by component, as pathlib sorts paths)."""
        return {rel: self.digests[rel] for rel in sorted(self.digests, key=lambda rel: rel.split("/"))}


@functools.cache
def _schema_bytes() -> bytes:
    """``schema/hsmsim_vector_v1.json``: generated from the models once per process, as they cannot change."""
    return corpus_json(vector_schema())


def read_promoted(path: Path) -> tuple[VectorDraft, ...]:
    """The drafts promoted into one format (``promoted/<format>.json``); none when the file does not exist.

    Raises :class:`CorpusError` (one line) when the file is unreadable (not a regular file, larger than
    :data:`PROMOTED_LIMIT` bytes) or not a list of vector drafts of that format, each with distinct id, native files
    a vector file could hold (:func:`check_draft`) and PEM trust anchors.
    """
    if not os.path.lexists(path):
        return ()
    try:
        drafts = PROMOTED_DRAFTS.validate_json(read_local_file(path, PROMOTED_LIMIT))
    except BundleError as exc:
        raise CorpusError(f"corrupt promoted vectors: {exc}") from None
    except ValidationError as exc:
        raise CorpusError(f"corrupt promoted vectors {escaped(str(path))}: {validation_summary(exc)}") from None
    seen: set[str] = set()
    for draft in drafts:
        if draft.id.split("::")[0] != path.stem:
            raise CorpusError(f"corrupt promoted vectors {escaped(str(path))}: {escaped(draft.id)!r} is not a "
                              f"{escaped(path.stem)} vector")
        if draft.id in seen:
            raise CorpusError(f"corrupt promoted vectors {escaped(str(path))}: {escaped(draft.id)!r} twice")
        seen.add(draft.id)
        check_draft(draft, f"{escaped(str(path))}: vector {escaped(draft.id)!r}")
    return drafts


def check_draft(draft: VectorDraft, where: str) -> None:
    """Raise :class:`CorpusError` (one line, starting with ``where``) unless ``draft``'s format is registered and its
    native files and trust anchors are what a vector file may hold (:func:`~hsmsim.harness.vectors.check_inputs`)."""
    format_name = draft.id.split("::")[0]
    if format_name not in names():
        raise CorpusError(f"{where}: no format {escaped(format_name)!r} is registered")
    try:
        check_inputs(where, draft.inputs, draft.trust)
    except CorpusLoadError as exc:
        raise CorpusError(str(exc)) from None


def promoted_json(drafts: tuple[VectorDraft, ...]) -> bytes:
    """The bytes of a ``promoted/<format>.json`` file holding ``drafts``."""
    return corpus_json(PROMOTED_DRAFTS.dump_python(drafts, mode="json"))


def promoted_drafts(corpus: Path) -> dict[str, tuple[VectorDraft, ...]]:
    """The fuzz findings promoted into the corpus at ``corpus``, by format (kept across regenerations).

    Raises :class:`CorpusError` (one line) when ``promoted/`` holds anything but ``<format>.json`` files of
    registered formats, when they hold more than :data:`~hsmsim.harness.vectors.CORPUS_BYTES_LIMIT` bytes together
    (the bound on a whole corpus), or as :func:`read_promoted` does.
    """
    directory = corpus / PROMOTED_DIR
    if not os.path.lexists(directory):
        return {}
    known = set(names())
    found: list[Path] = []
    total = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if not (entry.name.endswith(".json") and entry.name.removesuffix(".json") in known):
                    raise CorpusError(f"{escaped(str(directory))} holds {escaped(entry.name)!r}, not a "
                                      "<format>.json of a registered format")
                total += entry.stat(follow_symlinks=False).st_size
                if total > CORPUS_BYTES_LIMIT:
                    raise CorpusError(f"the promoted vectors in {escaped(str(directory))} hold more than "
                                      f"{CORPUS_BYTES_LIMIT} bytes")
                found.append(Path(entry.path))
    except OSError as exc:
        raise CorpusError(f"cannot read {escaped(str(directory))}: {exc.strerror or exc}") from None
    return {path.stem: read_promoted(path) for path in sorted(found)}


def _severity(case: VectorCase, notes: dict[str, FlagNote]) -> Severity:
    levels = [notes[f].severity for f in case.flags if f not in _PROVENANCE_FLAGS and f in notes]
    return min(levels, key=_SEVERITY_ORDER.index) if levels else Severity.INFO


def _record(case: VectorCase, tc_id: int, notes: dict[str, FlagNote]) -> VectorRecord:
    for flag in case.flags:
        if flag not in notes:
            raise CorpusError(f"{case.id}: flag {flag} has no note")
    if case.result is Expected.ACCEPTABLE and not set(case.flags) - _PROVENANCE_FLAGS:
        raise CorpusError(f"{case.id}: an acceptable vector needs a flag saying why")
    try:
        return VectorRecord.from_case(case, tc_id=tc_id, severity=_severity(case, notes))
    except ValidationError as exc:
        raise CorpusError(f"{case.id} does not fit the vector schema: {exc}") from exc


@dataclass(frozen=True)
class BuildReport:
    """What a build wrote."""

    out: Path
    vectors: int
    files: int


def _anchor_entry(anchor: x509.Certificate, format_name: str) -> dict[str, str]:
    """The manifest's description of a trust anchor, named with the (last) format that uses it."""
    fingerprint = anchor.fingerprint(hashes.SHA256()).hex()
    return {"format": format_name, "subject": anchor.subject.rfc4514_string(), "sha256": fingerprint}


def _corpus_directory(out: Path) -> bool:
    """Whether ``out`` holds a corpus (a regular ``manifest.json``); raises :class:`CorpusError` when ``out`` is not
    a directory that can be looked at, or its manifest is something else (a FIFO would block the reading of it)."""
    try:
        if not stat.S_ISDIR(os.stat(out).st_mode):
            raise CorpusError(f"{escaped(str(out))} exists and is not a directory")
        manifest = os.lstat(out / MANIFEST_FILE).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise CorpusError(f"cannot use {escaped(str(out))} for the corpus: {exc.strerror or exc}") from None
    if not stat.S_ISREG(manifest):
        raise CorpusError(f"{out / MANIFEST_FILE} is not a regular file")
    return True


def committed_seed(out: Path) -> str | None:
    """The master seed of the corpus in ``out`` (its manifest's ``masterSeed``), None when ``out`` holds no corpus;
    raises :class:`CorpusError` as :func:`build_corpus` does on an unusable ``out``, or on a manifest that is
    unreadable or not hsmsim's (generator ``hsmsim``, a ``masterSeed`` string)."""
    if not _corpus_directory(out):
        return None
    try:
        manifest = read_manifest(out / MANIFEST_FILE)
    except CorpusLoadError as exc:
        raise CorpusError(str(exc)) from None
    generator, seed = manifest.get("generator"), manifest.get("masterSeed")
    if not (isinstance(generator, dict) and generator.get("name") == "hsmsim"):
        raise CorpusError(f"{escaped(str(out / MANIFEST_FILE))} is not an hsmsim corpus manifest")
    if not isinstance(seed, str):
        raise CorpusError(f"{escaped(str(out / MANIFEST_FILE))} has no masterSeed string")
    return seed


def build_corpus(
    out: Path, *, seed: str = DEFAULT_SEED, registry: IdRegistry | None = None,
    promoted: dict[str, tuple[VectorDraft, ...]] | None = None, formats: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Generate every format's vectors into ``out``, replacing a previous corpus there.

    ``registry`` defaults to ``out/ids.json``, ``promoted`` to the findings promoted into ``out``. The corpus is
    written beside ``out`` and renamed into place when complete, so an error leaves a previous corpus as it was.
    Raises :class:`CorpusError` on an invalid catalogue, registry or promoted finding, or when ``out`` is a
    non-empty directory that does not hold an hsmsim corpus (:func:`committed_seed`).
    """
    if committed_seed(out) is None and out.exists() and any(out.iterdir()):
        raise CorpusError(f"{escaped(str(out))} is not empty and holds no {MANIFEST_FILE}; refusing to overwrite it")
    registry = registry if registry is not None else IdRegistry.load(out / REGISTRY_FILE)
    promoted = promoted if promoted is not None else promoted_drafts(out)
    per_format: dict[str, tuple[list[VectorCase], dict[str, FlagNote]]] = {}
    for format_name in formats or names():
        fmt = get_format(format_name)
        if progress:
            progress(format_name)
        cases = fmt.vector_cases(seed) + [draft.to_case(seed) for draft in promoted.get(format_name, ())]
        per_format[format_name] = (cases, {**PROVENANCE_NOTES, **fmt.vector_notes()})
    all_ids = [c.id for cases, _ in per_format.values() for c in cases]
    duplicates = [i for i, n in Counter(all_ids).items() if n > 1]
    if duplicates:
        raise CorpusError(f"duplicate vector ids: {duplicates}")
    tc_ids = registry.assign(all_ids, SUITE_VERSION)

    target = Path(os.path.realpath(out))  # a symlinked corpus directory is replaced where it lies
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_siblings(target)
    staging = _new_sibling(target, "new")
    try:
        files = _write_corpus(staging, seed, registry, promoted, per_format, tc_ids, len(all_ids))
        _replace_directory(target, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(out, len(all_ids), files)


def _write_corpus(root: Path, seed: str, registry: IdRegistry, promoted: dict[str, tuple[VectorDraft, ...]],
                  per_format: dict[str, tuple[list[VectorCase], dict[str, FlagNote]]], tc_ids: dict[str, int],
                  count: int) -> int:
    """Write the corpus into the empty directory ``root``; returns how many files it wrote."""
    tree = _OutputTree(os.fspath(root))
    tree.write(f"{SCHEMA_DIR}/{SCHEMA_NAME}", _schema_bytes())
    for format_name, drafts in promoted.items():
        tree.write(f"{PROMOTED_DIR}/{format_name}.json", promoted_json(drafts))
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("format", "result", "flag", "severity")}
    anchor_formats: dict[x509.Certificate, str] = {}  # by certificate (equal when the DER is): roots recur
    for format_name, (cases, notes) in per_format.items():
        tests = tuple(_record(c, tc_ids[c.id], notes) for c in cases)
        used = sorted({f for c in cases for f in c.flags})
        document = VectorFile(
            schema_name=SCHEMA_NAME, format=format_name, operation="verify", suite_version=SUITE_VERSION,
            generator=GeneratorRecord(name="hsmsim", version=__version__), master_seed=seed,
            header=(f"{get_format(format_name).title} attestation vectors generated by hsmsim.",
                    "Inputs are the native files a verifier receives; trust.anchors are TEST-ONLY emulated roots.",
                    "profiles gives the verdict and reason each policy profile must return."),
            notes={flag: NoteRecord.of(notes[flag]) for flag in used}, number_of_tests=len(tests), tests=tests,
        )
        tree.write(f"{format_name}_verify.json", corpus_json(document))
        for case, test in zip(cases, tests, strict=True):
            for native, data in zip(test.inputs.files, case.evidence.files.values(), strict=True):
                tree.write(f"{test.inputs.dir}/{native.path}", data, native.sha256)
            counts["format"][format_name] += 1
            counts["result"][test.result.value] += 1
            counts["severity"][test.severity.value] += 1
            for flag in case.flags:
                counts["flag"][flag] += 1
            for anchor in case.anchors:
                anchor_formats[anchor] = format_name
    tree.write(REGISTRY_FILE, corpus_json(registry.to_json()))
    tree.write(CHANGELOG_FILE, registry.changelog().encode())
    files = tree.sorted_digests()
    manifest = {
        "suiteVersion": SUITE_VERSION,
        "generator": {"name": "hsmsim", "version": __version__},
        "masterSeed": seed,
        "schemas": [SCHEMA_NAME],
        "numberOfTests": count,
        "counts": {k: dict(sorted(v.items())) for k, v in counts.items()},
        "trustAnchors": sorted((_anchor_entry(a, f) for a, f in anchor_formats.items()), key=lambda a: a["sha256"]),
        "files": files,
    }
    tree.write(MANIFEST_FILE, corpus_json(manifest))
    return len(files) + 1


ABANDONED_AFTER_SECONDS = 3600
"""A staging directory beside the corpus untouched this long was left by a build that was killed (SIGKILL, a
power cut): a build writes its files within seconds and removes its directories even on Ctrl-C or SIGTERM."""
_SIBLING = re.compile(r"\.(?P<name>.+)\.(new|old)-[0-9a-f]{8}")


def _remove_abandoned_siblings(target: Path) -> None:
    """Remove the ``.<name>.new-*`` / ``.<name>.old-*`` directories beside ``target`` that builds killed mid-way left
    and that have not changed for :data:`ABANDONED_AFTER_SECONDS`. Only while ``target`` holds a corpus: a build
    killed between its two renames leaves none there, and its directories then hold the only copies (the caller
    has refused a manifest that is not an hsmsim corpus's)."""
    if not (target / MANIFEST_FILE).is_file():
        return
    cutoff = time.time() - ABANDONED_AFTER_SECONDS
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        match = _SIBLING.fullmatch(entry.name)
        if match is None or match["name"] != target.name:
            continue
        try:
            if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


def _new_sibling(target: Path, role: str) -> Path:
    """A new empty directory ``.<name>.<role>-<random>`` beside ``target``, with the permissions any directory made
    there gets (``mkdir``'s, unlike ``mkdtemp``'s owner-only ones: it becomes the corpus)."""
    while True:
        candidate = target.parent / f".{target.name}.{role}-{secrets.token_hex(4)}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate


def _replace_directory(target: Path, new: Path) -> None:
    """Put the directory ``new`` at ``target`` (same parent), replacing what is there (removed afterwards, keeping
    its permissions)."""
    if not os.path.lexists(target):
        os.rename(new, target)
        return
    os.chmod(new, stat.S_IMODE(os.stat(target).st_mode))
    old = _new_sibling(target, "old")
    os.rename(target, old)  # onto the empty directory just made
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
