#!/usr/bin/env bash
# Seeds the corpora, replays the kept regression inputs, then fuzzes every
# target for TIME_PER_TARGET seconds, one target after another. Exits
# non-zero if any target crashed, hung or failed an assertion; crashing
# inputs are in fuzz/artifacts/<target>/, full logs in fuzz/artifacts/logs/.
#
#   fuzz/run_all.sh [--dev] TIME_PER_TARGET [TARGET...]
#
# --dev builds the targets unoptimised: half the build time, a fraction of
# the runs per second; for a smoke run of seconds (CI), not for real fuzzing.
#
# Runs on a stable toolchain (no sanitizer) and needs no input, so it is
# fit for CI. Installs cargo-fuzz if it is missing.
set -euo pipefail

usage="usage: fuzz/run_all.sh [--dev] TIME_PER_TARGET [TARGET...]"
profile=()
if [ "${1:-}" = "--dev" ]; then
  profile=(--dev)
  shift
fi
time_per_target="${1:?$usage}"
shift
[[ "$time_per_target" =~ ^[1-9][0-9]*$ ]] || { echo "$usage (seconds, a positive integer)" >&2; exit 2; }

cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

echo "== seeding the corpora"
./seed_corpus.sh

echo "== building ${#targets[@]} targets"
cargo fuzz build -s none "${profile[@]}"

mkdir -p artifacts/logs
failed=()
summary=()
for target in "${targets[@]}"; do
  log="artifacts/logs/$target.log"
  if compgen -G "regressions/$target/*" >/dev/null; then
    echo "== $target: replaying regressions/$target/"
    if ! cargo fuzz run -s none "${profile[@]}" "$target" regressions/"$target"/* -- -timeout=60 </dev/null >"$log.regressions" 2>&1; then
      tail -n 60 "$log.regressions"
      failed+=("$target (regression input)")
    fi
  fi

  echo "== $target: fuzzing for ${time_per_target}s"
  status=ok
  if ! cargo fuzz run -s none "${profile[@]}" "$target" -- -max_total_time="$time_per_target" -timeout=60 -print_final_stats=1 \
    </dev/null >"$log" 2>&1; then
    status=FAILED
    tail -n 60 "$log"
    failed+=("$target")
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  files="$(find "corpus/$target" -type f | wc -l)"
  bytes="$(find "corpus/$target" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
  summary+=("$(printf '%-18s %-6s %12s runs %8s/s  corpus %5d files %10d bytes' \
    "$target" "$status" "${runs:-?}" "${speed:-?}" "$files" "$bytes")")
  echo "${summary[-1]}"
done

echo "== summary (${time_per_target}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== crashes in: ${failed[*]}; inputs in fuzz/artifacts/<target>/, logs in fuzz/artifacts/logs/" >&2
  exit 1
fi
echo "== no crashes"
