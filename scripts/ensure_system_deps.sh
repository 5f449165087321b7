#!/usr/bin/env bash
# Install the system tools hsmsim uses: SoftHSM2 (the pkcs11 backend), the openssl CLI and unzip
# (the vendor-documented verification walks), chromium (headless screenshots of the conformance
# report), and for the swtpm backend swtpm + swtpm-tools (a software TPM 2.0 and swtpm_setup /
# swtpm_localca for EK certificates), tpm2-tools (for inspecting its state by hand), and
# libtss2-dev + pkg-config + a C compiler (pip builds tpm2-pytss from source against them).
# Installs with apt when root; otherwise says how.
set -u
missing=()
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v swtpm >/dev/null 2>&1 || missing+=(swtpm)
command -v swtpm_setup >/dev/null 2>&1 || missing+=(swtpm-tools)
command -v tpm2_createek >/dev/null 2>&1 || missing+=(tpm2-tools)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists tss2-esys tss2-tctildr; } || missing+=(libtss2-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "apt-get install ${missing[*]} failed" >&2; exit 1; }
else
  echo "note: ${missing[*]} not installed; run 'sudo apt-get install ${missing[*]}'" \
       "(tests that need them will be skipped)" >&2
fi
