#!/usr/bin/env bash
# This crate (default build) against python-telegram-bot on the same
# payloads: RSA-2048 and RSA-4096 credentials, a typical whole PassportData,
# and 100 KiB / 1 MiB / 10 MiB files. Prints a table with our time over theirs.
#
#   bash compare/peers.sh [ROUNDS]
#
# Installs python-telegram-bot into a throwaway virtual environment (removed
# on exit), so nothing is left behind. Each of ROUNDS (default 3) times every
# case with this crate, then with python-telegram-bot. The OpenSSL comparison is
# `cargo run --release -p telegram-passport-compare --features openssl --bin compare`.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "usage: bash compare/peers.sh [ROUNDS]" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== python-telegram-bot into a throwaway virtual environment" >&2
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "python-telegram-bot[passport]==22.8"

echo "== building this crate's side (release, default features)" >&2
cargo build --quiet --release -p telegram-passport-compare --bin peer_bench
peer_bench="$(cargo metadata --format-version 1 --no-deps | "$work/venv/bin/python" -c \
  'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/peer_bench"

"$peer_bench" write "$work/payloads"
echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)"
echo "this crate: backend $("$peer_bench" backend)"
"$work/venv/bin/python" compare/python_telegram_bot.py "$peer_bench" "$work/payloads" "$rounds"
