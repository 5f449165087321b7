#!/usr/bin/env bash
# Install the system tools hsmsim uses: SoftHSM2 (the pkcs11 backend), the openssl CLI and
# unzip (the vendor-documented verification walks) and chromium (headless screenshots of the conformance
# report). Installs with apt when root; otherwise says how.
set -u
missing=()
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "apt-get install ${missing[*]} failed" >&2; exit 1; }
else
  echo "note: ${missing[*]} not installed; run 'sudo apt-get install ${missing[*]}'" \
       "(tests that need them will be skipped)" >&2
fi
