#!/usr/bin/env bash
# The OpenSSL verification of a Fortanix DSM key attestation statement, as the vendor
# documents it in substance: decode the response JSON, verify the authority chain to the
# root under the key attestation policy (`openssl verify -policy 1.3.6.1.4.1.49690.6.1.2
# -explicit_policy`), check the claims are present and that the statement's public key
# equals the CSR's.
#
# Two departures from the documented command: the cluster authority is not a CA, so
# `openssl verify` refuses the statement as a leaf ("invalid CA certificate"). The walk
# verifies the authority as the leaf and the statement's signature over its TBSCertificate
# with `openssl dgst`, as the vendor's Java example does by hand. And the chain is verified
# at UNIX_TIME (`-attime`), or now, as the vendor's verifier does at its clock: DSM returns a
# stored statement with the current authority certificate, so the statement's own notBefore
# (the published one's included) may precede the authority's.
#
# usage: verify_fortanix_openssl.sh RESPONSE_JSON CSR ROOT [UNIX_TIME]
# Prints each step; the last line is "ACCEPT" or "REJECT <step>"; exit 0 / 1 (2 on usage).
set -u
if [ $# -lt 3 ] || [ $# -gt 4 ]; then echo "usage: $0 RESPONSE_JSON CSR ROOT [UNIX_TIME]" >&2; exit 2; fi
response=$(readlink -f "$1"); csr=$(readlink -f "$2"); root=$(readlink -f "$3")
attime=(); [ $# -eq 4 ] && attime=(-attime "$4")
policy=1.3.6.1.4.1.49690.6.1.2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
reject() { echo "REJECT $1"; exit 1; }

# 1. decode the JSON: statement.der and chain-N.der (standard base64 only, bounded size)
python3 - "$response" <<'PY' || reject json
import base64, binascii, json, sys
with open(sys.argv[1], "rb") as fh:
    data = fh.read(1 << 20)
doc = json.loads(data)
statement = doc["attestation_statement"]
if statement["format"] != "x509_certificate":
    sys.exit(1)
try:
    with open("statement.der", "wb") as out:
        out.write(base64.b64decode(statement["statement"], validate=True))
    for index, entry in enumerate(doc["authority_chain"][:16]):
        with open(f"chain-{index}.der", "wb") as out:
            out.write(base64.b64decode(entry, validate=True))
except binascii.Error:
    sys.exit(1)
PY
openssl x509 -inform DER -in statement.der -out statement.pem || reject decode
issuer=$(openssl x509 -in statement.pem -noout -issuer -nameopt RFC2253) || reject decode
: > untrusted.pem
authority=
for der in chain-*.der; do
    [ -e "$der" ] || reject no-chain
    openssl x509 -inform DER -in "$der" -out "${der%.der}.pem" || reject decode
    subject=$(openssl x509 -in "${der%.der}.pem" -noout -subject -nameopt RFC2253)
    if [ -z "$authority" ] && [ "subject=${subject#subject=}" = "subject=${issuer#issuer=}" ]; then
        authority="${der%.der}.pem"
    else
        cat "${der%.der}.pem" >> untrusted.pem
    fi
done
[ -n "$authority" ] || reject authority
# the statement is valid at UNIX_TIME or now (as the vendor's verifier checks it)
now=${4:-$(date -u +%s)}
not_before=$(date -u -d "$(openssl x509 -in statement.pem -noout -startdate | cut -d= -f2)" +%s) || reject decode
not_after=$(date -u -d "$(openssl x509 -in statement.pem -noout -enddate | cut -d= -f2)" +%s) || reject decode
[ "$not_before" -le "$now" ] && [ "$now" -le "$not_after" ] || reject statement-time

# 2. the authority chain to the root, under the key attestation policy, at UNIX_TIME or now
openssl verify "${attime[@]}" -CAfile "$root" -untrusted untrusted.pem \
    -policy "$policy" -explicit_policy "$authority" || reject chain
# 3. the statement's signature by the authority (sha256WithRSAEncryption)
openssl x509 -in statement.pem -noout -text | grep -q "Signature Algorithm: sha256WithRSAEncryption" || reject signature
read -r tbs_off tbs_hl tbs_len < <(openssl asn1parse -inform DER -in statement.der |
    sed -n 's/^ *\([0-9]*\):d=1 *hl=\([0-9]*\) l= *\([0-9]*\) cons.*/\1 \2 \3/p' | head -n 1)
read -r sig_off sig_hl sig_len < <(openssl asn1parse -inform DER -in statement.der |
    sed -n 's/^ *\([0-9]*\):d=1 *hl=\([0-9]*\) l= *\([0-9]*\) prim: *BIT STRING.*/\1 \2 \3/p' | tail -n 1)
[ -n "${tbs_off:-}" ] && [ -n "${sig_off:-}" ] || reject signature
tail -c +$((tbs_off + 1)) statement.der | head -c $((tbs_hl + tbs_len)) > tbs.der
tail -c +$((sig_off + sig_hl + 2)) statement.der | head -c $((sig_len - 1)) > signature.bin
openssl x509 -in "$authority" -noout -pubkey > authority_pub.pem || reject signature
openssl dgst -sha256 -verify authority_pub.pem -signature signature.bin tbs.der || reject signature
# 4. both claims are present
openssl asn1parse -in statement.pem > statement.asn1 || reject claims
grep -q ':1.3.6.1.4.1.49690.2.4.1.1$' statement.asn1 || reject claims
grep -q ':1.3.6.1.4.1.49690.2.4.1.2$' statement.asn1 || reject claims
echo "claims present"
# 5. statement SPKI == CSR SPKI
openssl req -in "$csr" -noout -pubkey -out csr_pub.pem || reject csr
openssl x509 -in statement.pem -noout -pubkey -out statement_pub.pem || reject binding
cmp csr_pub.pem statement_pub.pem && echo "Verified OK" || reject binding
echo ACCEPT
