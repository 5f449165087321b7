#!/usr/bin/env bash
# The OpenSSL walk Yubico documents for YubiKey PIV attestation (yubico-piv-tool Attestation.html,
# docs.yubico.com PIV Tool Attestation), over the evidence directory of a yubico-piv bundle:
#   1. the certificates: <stem>.attestation.pem + <stem>.f9.pem (+ yubico-intermediate.pem under the 2024
#      PKI), or Sectigo's <stem>.sectigo.pem package (attestation, f9, intermediates)
#   2. openssl verify -CAfile ROOT -untrusted <f9 + intermediates> attestation.pem    (the documented command)
#      It passes on an f9 with basicConstraints CA pathlen 0 (firmware 5.4 and later, as the real 5.4.3 f9s).
#      YubiKey 4 and 5.2 f9 certificates carry no basicConstraints, so OpenSSL >= 1.1 refuses them as CAs
#      (error 79, yubikey-manager #522; Yubico: "doesn't work with OpenSSL 1.1.0 and newer"). Then the walk
#      does what the note leads to: the f9 verified under the root as an end entity, the attestation's
#      issuer is the f9's subject, its signature checked with the f9 key by openssl dgst over its
#      TBSCertificate, and its dates checked by a verify that trusts it alone.
#   3. openssl req -verify, and cmp of the CSR's key with the attested key.
# Like the documentation it reads none of Yubico's extensions (serial, PIN/touch policy, firmware): the
# reference verifier does. For step-ca's <stem>.acme-step.json it cuts the x5c certificates out of the CBOR
# attObj (byte strings 59 LL LL holding a 30 82 SEQUENCE) and checks the statement's signature over the key
# authorization (token "." thumbprint) with openssl dgst / pkeyutl, as step-ca does.
#
# usage: verify_yubico_piv_openssl.sh EVIDENCE_DIR ROOT [UNIX_TIME]
# Prints each step; the last line is "ACCEPT" or "REJECT <step>"; exit 0 / 1 (2 on usage).
set -u
if [ $# -lt 2 ] || [ $# -gt 3 ]; then echo "usage: $0 EVIDENCE_DIR ROOT [UNIX_TIME]" >&2; exit 2; fi
dir=$(readlink -f "$1"); root=$(readlink -f "$2")
attime=(); [ $# -eq 3 ] && attime=(-attime "$3")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
reject() { echo "REJECT $1"; exit 1; }
split() { awk -v p="$2" '/-----BEGIN CERTIFICATE-----/{n++} n{print > (p (n-1) ".pem")}' "$1"; }

# 1. the certificates
: > intermediates.pem
package=$(ls "$dir"/*.sectigo.pem 2>/dev/null | head -1)
record=$(ls "$dir"/*.acme-step.json 2>/dev/null | head -1)
if [ -n "$record" ]; then
  json() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$record" | head -1; }
  b64url() { local s; s=$(printf '%s' "$1" | tr '_-' '/+'); while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
             printf '%s' "$s" | base64 -d; }
  b64url "$(json attObj)" > attobj.cbor || reject layout
  printf '%s.%s' "$(json token)" "$(json accountKeyThumbprint)" > keyauth.txt
  od -An -v -tx1 attobj.cbor | tr -s ' \n' '\n\n' | grep -v '^$' > bytes.txt
  # x5c entries: bstr 59 LL LL whose content is one DER SEQUENCE 30 82 ll ll of length LL
  hexfn='function h(s,  n, k) { n = 0; for (k = 1; k <= length(s); k++) n = n * 16 + index("0123456789abcdef", substr(s, k, 1)) - 1; return n }'
  awk "$hexfn"'{b[NR]=$1} END {n=0; for (i=1; i+6<=NR; i++) if (b[i]=="59" && b[i+3]=="30" && b[i+4]=="82") {
         L=h(b[i+1] b[i+2]); l=h(b[i+5] b[i+6]);
         if (l + 4 == L) { f="x" n ".hex"; for (j=i+3; j<i+3+L; j++) printf "%s", b[j] > f; close(f); n++; i+=L+2 } } }' \
      bytes.txt 2>/dev/null || reject layout
  for hex in x[0-9]*.hex; do [ -f "$hex" ] || reject layout; xxd -r -p "$hex" > "${hex%.hex}.der"
    openssl x509 -inform DER -in "${hex%.hex}.der" -out "${hex%.hex}.pem" || reject layout; done
  cp x0.pem attestation.pem; [ -f x1.pem ] && cp x1.pem f9.pem || reject layout
  for extra in x[2-9].pem; do [ -f "$extra" ] && cat "$extra" >> intermediates.pem; done
  # sig: text "sig" (63 73 69 67), a byte string holding CBOR(byte string signature)
  awk "$hexfn"'{b[NR]=$1} END {for (i=1; i+3<=NR; i++) if (b[i]=="63" && b[i+1]=="73" && b[i+2]=="69" && b[i+3]=="67") {
         j=i+4; if (b[j]=="58") j+=2; else if (b[j]=="59") j+=3; else exit 1;
         if (b[j]=="58") { L=h(b[j+1]); j+=2 } else if (b[j]=="59") { L=h(b[j+1] b[j+2]); j+=3 }
         else { L=h(b[j]) - 64; j+=1 }
         for (k=j; k<j+L; k++) printf "%s", b[k]; exit 0 } exit 1 }' bytes.txt > sig.hex || reject step-signature
  xxd -r -p sig.hex > step_sig.bin
  openssl x509 -in attestation.pem -noout -pubkey > step_pub.pem || reject step-signature
  if openssl pkey -pubin -in step_pub.pem -noout -text 2>/dev/null | grep -q ED25519; then
    openssl pkeyutl -verify -pubin -inkey step_pub.pem -rawin -in keyauth.txt -sigfile step_sig.bin \
      || reject step-signature
  else
    openssl dgst -sha256 -verify step_pub.pem -signature step_sig.bin keyauth.txt || reject step-signature
  fi
  echo "step statement: $(ls x[0-9]*.pem | wc -l) certificates in x5c, signature over the key authorization OK"
elif [ -n "$package" ]; then
  split "$package" c
  [ -f c0.pem ] && [ -f c1.pem ] || reject layout
  cp c0.pem attestation.pem; cp c1.pem f9.pem
  for extra in c[2-9].pem; do [ -f "$extra" ] && cat "$extra" >> intermediates.pem; done
  echo "Sectigo package: $(ls c[0-9]*.pem | wc -l) certificates"
else
  attestation=$(ls "$dir"/*.attestation.pem 2>/dev/null | head -1)
  f9=$(ls "$dir"/*.f9.pem 2>/dev/null | head -1)
  [ -n "$attestation" ] && [ -n "$f9" ] || reject layout
  cp "$attestation" attestation.pem; cp "$f9" f9.pem
  [ -f "$dir/yubico-intermediate.pem" ] && cat "$dir/yubico-intermediate.pem" >> intermediates.pem
  echo "ykman pair$( [ -s intermediates.pem ] && echo ' + yubico-intermediate.pem')"
fi
cat f9.pem intermediates.pem > untrusted.pem
subject() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
issuer() { openssl x509 -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'; }

# 2. chain
if openssl verify "${attime[@]}" -CAfile "$root" -untrusted untrusted.pem attestation.pem; then
  echo "documented verify OK"
else
  echo "documented verify failed; verifying the f9 under the root and the attestation under the f9 key"
  if [ -s intermediates.pem ]; then
    openssl verify "${attime[@]}" -CAfile "$root" -untrusted intermediates.pem f9.pem || reject f9
  else
    openssl verify "${attime[@]}" -CAfile "$root" f9.pem || reject f9
  fi
  [ "$(issuer attestation.pem)" = "$(subject f9.pem)" ] || reject attestation-issuer
  openssl asn1parse -in attestation.pem > att.txt || reject attestation-signature
  tbs=$(awk 'NR==2 {split($0, a, ":"); o=a[1]+0; match($0, /hl= *[0-9]+/); h=substr($0, RSTART+3)+0;
                    match($0, / l= *[0-9]+/); l=substr($0, RSTART+3)+0; print o, h + l}' att.txt)
  sig=$(awk '/BIT STRING/ {line=$0} END {split(line, a, ":"); o=a[1]+0; match(line, /hl= *[0-9]+/);
                    h=substr(line, RSTART+3)+0; match(line, / l= *[0-9]+/); l=substr(line, RSTART+3)+0;
                    print o + h + 1, l - 1}' att.txt)
  openssl x509 -in attestation.pem -outform DER -out att.der || reject attestation-signature
  read -r tbs_off tbs_len <<< "$tbs"; read -r sig_off sig_len <<< "$sig"
  dd if=att.der of=tbs.der bs=1 skip="$tbs_off" count="$tbs_len" status=none || reject attestation-signature
  dd if=att.der of=sig.bin bs=1 skip="$sig_off" count="$sig_len" status=none || reject attestation-signature
  case "$(openssl x509 -in attestation.pem -noout -text | grep -m1 'Signature Algorithm')" in
    *sha512*|*SHA512*) digest=-sha512 ;; *sha384*|*SHA384*) digest=-sha384 ;;
    *sha256*|*SHA256*) digest=-sha256 ;; *) reject attestation-signature ;;
  esac
  openssl x509 -in f9.pem -noout -pubkey > f9_pub.pem || reject attestation-signature
  openssl dgst "$digest" -verify f9_pub.pem -signature sig.bin tbs.der || reject attestation-signature
  openssl verify "${attime[@]}" -partial_chain -trusted attestation.pem attestation.pem || reject attestation-dates
fi

# 3. CSR: self-signature, and its key is the attested key
# (OpenSSL 3.0's `req -verify` exits 0 on a bad signature: read what it says)
csr=$(ls "$dir"/*.csr 2>/dev/null | head -1)
[ -n "$csr" ] || reject csr
openssl req -in "$csr" -noout -verify > req.txt 2>&1; cat req.txt
grep -q "self-signature verify OK" req.txt || reject csr
openssl req -in "$csr" -noout -pubkey > csr_pub.pem || reject csr
openssl x509 -in attestation.pem -noout -pubkey > att_pub.pem || reject binding
cmp csr_pub.pem att_pub.pem && echo "CSR key == attested key" || reject binding
echo ACCEPT
