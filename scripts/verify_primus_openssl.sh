#!/usr/bin/env bash
# The vendor-documented OpenSSL verification of a Securosys Primus key attestation,
# unchanged in substance (Securosys TSB docs, "Verify Key Attestation"): chain, signature
# with the loose public key, CSR/XML key comparison. Like the documentation, it checks
# no key attributes; hsmsim's reference verifier does (see the README's comparison).
#
# usage: verify_primus_openssl.sh BUNDLE_ZIP CSR ROOT [UNIX_TIME]
# UNIX_TIME, when given, is passed to `openssl verify -attime` (the validation time); the
# documented command uses the current time.
# Prints each step; the last line is "ACCEPT" or "REJECT <step>"; exit 0 / 1 (2 on usage).
set -u
if [ $# -lt 3 ] || [ $# -gt 4 ]; then echo "usage: $0 BUNDLE_ZIP CSR ROOT [UNIX_TIME]" >&2; exit 2; fi
zip=$(readlink -f "$1"); csr=$(readlink -f "$2"); root=$(readlink -f "$3")
attime=(); [ $# -eq 4 ] && attime=(-attime "$4")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
reject() { echo "REJECT $1"; exit 1; }

python3 - "$zip" <<'PY' || reject unzip
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for m in z.infolist():
        if "/" in m.filename or m.filename.startswith(".") or m.file_size > 16 << 20:
            sys.exit(1)
        z.extract(m, ".")
PY
xml=$(ls ./*.xml 2>/dev/null | head -n 1); [ -n "$xml" ] || reject no-xml
label=$(basename "$xml" .xml)
cp "$root" hsm_rsa_root.crt; cp "$csr" "$label.csr"

# 1. chain
openssl verify "${attime[@]}" -CAfile hsm_rsa_root.crt -untrusted PrimusHSM_Attestation.crt PrimusHSM_Attestation.crt || reject chain
# 2. signature (documented with the loose public key)
openssl dgst -verify PrimusHSM_Attestation_PublicKey.pem -sha256 -signature "$label.sig" "$label.xml" || reject signature
# 3. CSR public key == XML public key
openssl req -in "$label.csr" -noout -pubkey -out SigningKeyCsrPubKey.pem || reject csr
openssl asn1parse -noout -in SigningKeyCsrPubKey.pem -out SigningKeyCsrPubKey.der || reject csr
grep public_key "$label.xml" | sed -e 's,[^>]*>,,' -e's,<.*,,' | base64 -d > SigningKeyAttestationFilePubKey.der || reject binding
cmp SigningKeyCsrPubKey.der SigningKeyAttestationFilePubKey.der && echo Verified OK || reject binding
echo ACCEPT
