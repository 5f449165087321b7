#!/usr/bin/env bash
# A minimal oneshot adapter: wrap any verifier command line so that it follows the oneshot contract.
#   exit 0 = ACCEPT, exit 1 = REJECT, any other status = ERROR (killed by a signal = CRASH);
#   the last line of stdout may say "ACCEPT" or "REJECT <REASON>" (an hsmsim reason code, compared when given).
# Here the verifier under test is hsmsim's own CLI (override it with $HSMSIM, e.g. "python -m hsmsim").
# usage (placeholders filled in by tiny-oneshot.toml): tiny_oneshot.sh DIR ANCHOR_PEM TIME PROFILE FORMAT
set -u
[ $# -eq 5 ] || { echo "usage: $0 DIR ANCHOR_PEM TIME PROFILE FORMAT" >&2; exit 2; }
read -ra verifier <<< "${HSMSIM:-hsmsim}"
"${verifier[@]}" verify "$1" --format "$5" --root "$2" --at "$3" --profile "$4"   # prints "REJECT <REASON>: ..."
