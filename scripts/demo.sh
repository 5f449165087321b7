#!/usr/bin/env bash
# The main job, as a user runs it: make a non-exportable RSA key inside a software HSM,
# attest it as a Securosys Primus HSM would, and verify the bundle two ways.
set -eu
cd "$(dirname "$0")/.."
hsmsim=.venv/bin/hsmsim
out=build/demo
rm -rf "$out"; mkdir -p "$out"
backend=soft
if command -v softhsm2-util >/dev/null 2>&1; then backend=pkcs11; fi

echo "== key: RSA-3072, sensitive, non-extractable, generated inside the $backend backend"
$hsmsim key create --state "$out/hsm" --backend "$backend" --label qes-signing-key --spec rsa-3072
echo "== attest: Securosys Primus key attestation bundle"
$hsmsim attest --state "$out/hsm" --format primus --key qes-signing-key --out "$out/bundle/qes-signing-key_attestation.zip"
echo
echo "bundle: $out/bundle/qes-signing-key_attestation.zip"
set +e
ref=$($hsmsim verify "$out/bundle/qes-signing-key_attestation.zip" --root "$out/bundle/hsm_rsa_root.crt" --profile strict)
walk=$(bash scripts/verify_primus_openssl.sh "$out/bundle/qes-signing-key_attestation.zip" \
        "$out/bundle/qes-signing-key.csr" "$out/bundle/hsm_rsa_root.crt" | tail -n 1)
set -e
echo "reference verifier (strict profile): $ref"
echo "vendor openssl walk:                 $walk"
[ "$ref" = ACCEPT ] && [ "$walk" = ACCEPT ]
