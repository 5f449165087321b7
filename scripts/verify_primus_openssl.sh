#!/usr/bin/env bash
# The vendor-documented OpenSSL verification of a Securosys Primus key attestation, verbatim
# (Securosys TSB docs, "Verify Key Attestation"): the QTSP unzips the attestation zip with plain
# `unzip`, puts the CSR and the root beside it and runs the five documented commands: chain,
# signature with the loose public key, CSR/XML key comparison. Like the documentation it checks
# no key attributes and no archive: hsmsim's reference verifier does (README, "What the vendor's
# openssl walk misses"); scripts/verify_primus_openssl_careful.sh refuses hostile archives first.
#
# usage: verify_primus_openssl.sh BUNDLE_ZIP CSR ROOT [UNIX_TIME]
# UNIX_TIME, when given, is passed to `openssl verify -attime` (the validation time); the
# documented command uses the current time. The only other departures from the documentation:
# the files are named after the zip's .xml (the documentation's example key is CsrRSAKey), and
# everything happens in a fresh temporary directory (plain unzip strips "../" and leading "/",
# so nothing is written outside it).
# Prints each step; the last line is "ACCEPT" or "REJECT <step>"; exit 0 / 1 (2 on usage).
set -u
if [ $# -lt 3 ] || [ $# -gt 4 ]; then echo "usage: $0 BUNDLE_ZIP CSR ROOT [UNIX_TIME]" >&2; exit 2; fi
zip=$(readlink -f "$1"); csr=$(readlink -f "$2"); root=$(readlink -f "$3")
attime=(); [ $# -eq 4 ] && attime=(-attime "$4")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
reject() { echo "REJECT $1"; exit 1; }

# unzip's exit status 1 is a warning (e.g. 'skipped "../" path component(s)') after which the files
# are there: a person at a terminal carries on. No terminal here: answer its prompts with EOF.
unzip "$zip" </dev/null; [ $? -le 1 ] || reject unzip
xml=$(ls ./*.xml 2>/dev/null | head -n 1); [ -n "$xml" ] || reject no-xml
label=$(basename "$xml" .xml)
cp "$root" hsm_rsa_root.crt; cp "$csr" "$label.csr"

openssl verify "${attime[@]}" -CAfile hsm_rsa_root.crt -untrusted PrimusHSM_Attestation.crt PrimusHSM_Attestation.crt || reject chain
openssl dgst -verify PrimusHSM_Attestation_PublicKey.pem -sha256 -signature "$label.sig" "$label.xml" || reject signature
openssl req -in "$label.csr" -noout -pubkey -out SigningKeyCsrPubKey.pem || reject csr
openssl asn1parse -noout -in SigningKeyCsrPubKey.pem -out SigningKeyCsrPubKey.der || reject csr
grep public_key "$label.xml" | sed -e 's,[^>]*>,,' -e's,<.*,,' | base64 -d > SigningKeyAttestationFilePubKey.der
cmp SigningKeyCsrPubKey.der SigningKeyAttestationFilePubKey.der && echo Verified OK || reject binding
echo ACCEPT
