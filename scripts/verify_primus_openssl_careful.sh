#!/usr/bin/env bash
# The vendor's OpenSSL walk (scripts/verify_primus_openssl.sh) behind an archive guard the Securosys
# documentation does not have: before anything is unzipped, refuse a zip that Python's zipfile cannot
# read, a member name with a path component or a leading dot (zip-slip), and a member that inflates
# (or claims to) beyond 16 MiB (zip bomb, huge XML). Everything after the guard is the vendor walk.
#
# usage: verify_primus_openssl_careful.sh BUNDLE_ZIP CSR ROOT [UNIX_TIME]
# Prints each step; the last line is "ACCEPT" or "REJECT <step>"; exit 0 / 1 (2 on usage).
set -u
if [ $# -lt 3 ] || [ $# -gt 4 ]; then echo "usage: $0 BUNDLE_ZIP CSR ROOT [UNIX_TIME]" >&2; exit 2; fi

python3 - "$1" <<'PY' || { echo "REJECT unzip"; exit 1; }
import sys, zipfile
limit = 16 << 20
with zipfile.ZipFile(sys.argv[1]) as z:
    for m in z.infolist():
        if "/" in m.filename or "\\" in m.filename or m.filename.startswith(".") or m.file_size > limit:
            sys.exit(1)
        with z.open(m) as member:
            if len(member.read(limit + 1)) > limit:
                sys.exit(1)
PY
exec bash "$(dirname "$0")/verify_primus_openssl.sh" "$@"
