#!/usr/bin/env bash
# The OpenSSL walk a careful user runs on a Thales Luna Public Key Confirmation (PKC):
#   1. openssl pkcs7 -inform DER -print_certs       (split the bag, leaf first)
#   2. openssl verify -CAfile ROOT -untrusted <intermediates> leaf
#      OpenSSL 3 rejects the real RSA root (no basicConstraints/keyUsage: error 79), so when the
#      plain verify fails the walk verifies up to the topmost intermediate with -partial_chain and
#      checks that intermediate's signature by the root separately (openssl dgst over its TBS).
#   3. the in-bag root, when present, has the trusted root's subject and key
#   4. openssl req -verify, and cmp of `openssl req -pubkey` with `openssl x509 -pubkey` of the leaf
# Like the vendor's validator it checks no EKU and no serial extension; hsmsim's reference verifier does.
#
# usage: verify_luna_openssl.sh PKC_P7B CSR ROOT [UNIX_TIME]
# UNIX_TIME, when given, is passed to `openssl verify -attime`.
# Prints each step; the last line is "ACCEPT" or "REJECT <step>"; exit 0 / 1 (2 on usage).
set -u
if [ $# -lt 3 ] || [ $# -gt 4 ]; then echo "usage: $0 PKC_P7B CSR ROOT [UNIX_TIME]" >&2; exit 2; fi
pkc=$(readlink -f "$1"); csr=$(readlink -f "$2"); root=$(readlink -f "$3")
attime=(); [ $# -eq 4 ] && attime=(-attime "$4")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
reject() { echo "REJECT $1"; exit 1; }

# 1. the certificates, leaf first
openssl pkcs7 -inform DER -in "$pkc" -print_certs -out bag.pem || reject pkcs7
awk '/-----BEGIN CERTIFICATE-----/{n++} n{print > ("c" (n-1) ".pem")}' bag.pem
n=$(ls c[0-9]*.pem 2>/dev/null | wc -l)
[ "$n" -ge 2 ] || reject chain
echo "$n certificates"
last=$((n - 1))
subject() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
issuer() { openssl x509 -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'; }
if [ "$(subject c$last.pem)" = "$(issuer c$last.pem)" ]; then top=$((last - 1)); in_bag_root=c$last.pem
else top=$last; in_bag_root=""; fi
[ "$top" -ge 1 ] || reject chain
: > untrusted.pem
for i in $(seq 1 "$top"); do cat "c$i.pem" >> untrusted.pem; done

# 2. chain
if openssl verify "${attime[@]}" -CAfile "$root" -untrusted untrusted.pem c0.pem; then
  echo "plain verify OK"
else
  echo "plain verify failed; verifying up to certificate $top with -partial_chain"
  openssl verify "${attime[@]}" -partial_chain -trusted "c$top.pem" -untrusted untrusted.pem c0.pem || reject chain
  # the top intermediate's signature by the root, without X.509 profile checks
  openssl asn1parse -in "c$top.pem" > top.txt || reject root-link
  tbs=$(awk 'NR==2 {split($0, a, ":"); o=a[1]+0; match($0, /hl= *[0-9]+/); h=substr($0, RSTART+3)+0;
                    match($0, / l= *[0-9]+/); l=substr($0, RSTART+3)+0; print o, h + l}' top.txt)
  sig=$(awk '/BIT STRING/ {line=$0} END {split(line, a, ":"); o=a[1]+0; match(line, /hl= *[0-9]+/);
                    h=substr(line, RSTART+3)+0; match(line, / l= *[0-9]+/); l=substr(line, RSTART+3)+0;
                    print o + h + 1, l - 1}' top.txt)
  openssl x509 -in "c$top.pem" -outform DER -out top.der || reject root-link
  read -r tbs_off tbs_len <<< "$tbs"; read -r sig_off sig_len <<< "$sig"
  dd if=top.der of=tbs.der bs=1 skip="$tbs_off" count="$tbs_len" status=none || reject root-link
  dd if=top.der of=sig.bin bs=1 skip="$sig_off" count="$sig_len" status=none || reject root-link
  case "$(openssl x509 -in "c$top.pem" -noout -text | grep -m1 'Signature Algorithm')" in
    *SHA512*|*sha512*) digest=-sha512 ;; *SHA384*|*sha384*) digest=-sha384 ;;
    *SHA256*|*sha256*) digest=-sha256 ;; *) reject root-link ;;
  esac
  openssl x509 -in "$root" -noout -pubkey > root_pub.pem || reject root-link
  openssl dgst "$digest" -verify root_pub.pem -signature sig.bin tbs.der || reject root-link
  [ "$(issuer "c$top.pem")" = "$(subject "$root")" ] || reject root-link
fi

# 3. the in-bag root is the trusted root (subject and key)
if [ -n "$in_bag_root" ]; then
  [ "$(subject "$in_bag_root")" = "$(subject "$root")" ] || reject root
  cmp <(openssl x509 -in "$in_bag_root" -noout -pubkey) <(openssl x509 -in "$root" -noout -pubkey) || reject root
  echo "in-bag root matches the trusted root"
fi

# 4. CSR: self-signature, and its key is the leaf's
# (OpenSSL 3.0's `req -verify` exits 0 on a bad signature: read what it says)
openssl req -in "$csr" -noout -verify > req.txt 2>&1; cat req.txt
grep -q "self-signature verify OK" req.txt || reject csr
openssl req -in "$csr" -noout -pubkey > csr_pub.pem || reject csr
openssl x509 -in c0.pem -noout -pubkey > leaf_pub.pem || reject binding
cmp csr_pub.pem leaf_pub.pem && echo "CSR key == PKC leaf key" || reject binding
echo ACCEPT
