#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time.
#
#   fuzz/run.sh BINARY NAME SECONDS [--smoke]
#
# Seeds come from fuzz/corpus/NAME (in the repository); inputs the fuzzer
# finds go to build/fuzz/corpus/NAME (kept between runs, not committed).
# Crashes, timeouts and sanitizer reports are written to
# build/fuzz/artifacts/ and make the script fail. One process, one worker:
# the machines this runs on are shared.
#
# A summary line (executions, exec/s, corpus size, peak RSS) is printed and
# appended to build/fuzz/results.txt.
set -uo pipefail

bin=$1 name=$2 seconds=$3 mode=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${FUZZ_OUT:-$root/build/fuzz}
seeds=$here/corpus/$name
work=$out/corpus/$name
arts=$out/artifacts
log=$out/logs/$name.log
mkdir -p "$work" "$arts" "$out/logs" "$seeds"

args=(-max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}"
      -print_final_stats=1 -artifact_prefix="$arts/$name-")
case $name in
  loader) args+=(-max_len=65536) ;;
  cpu) args+=(-max_len=4096) ;;
  devices) args+=(-max_len=4096) ;;
  *) args+=(-max_len=8192) ;;
esac
[ -f "$here/dict/$name.dict" ] && args+=(-dict="$here/dict/$name.dict")

if [ "$mode" = --smoke ]; then
  # The smoke run explores from the seeds only and keeps nothing.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

echo "fuzz: $name for ${seconds}s"
start=$(date +%s)
"$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
summary="$name: ${elapsed}s, ${execs:-?} execs, ${rate:-?} exec/s, corpus ${corp:-?} (units/bytes), peak RSS ${rss:-?} MB, status $status"
echo "$summary"
[ "$mode" = --smoke ] || echo "$(date -u +%FT%TZ) $summary" >>"$out/results.txt"

if [ $status -ne 0 ]; then
  echo "fuzz: $name FAILED (see $log); the last report:" >&2
  grep -E 'ERROR|SUMMARY|Fatal error|Test unit written|==[0-9]+==' "$log" | tail -20 >&2
  exit 1
fi
