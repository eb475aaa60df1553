#!/usr/bin/env bash
# Issue 16: the real MediaWiki samples as an Arc Lamp host kept them (one line per sample
# in logs/daily/{day}.excimer.all.log and in the log of its entry point), imported into an
# arclamp store, then `arclamp migrate` (each sample stored once): bytes per sample stored.
# Not run in CI. Usage: bench/import_real.sh
set -euo pipefail
cd "$(dirname "$0")/.."
real=${REAL:-../shared/data/mediawiki/wall_samples.txt.gz}
work=$(mktemp -d "${TMPDIR:-/tmp}/arclamp-import-real.XXXXXX")
trap 'rm -rf "$work"' EXIT
"${CARGO:-cargo}" build --release --quiet --bin arclamp
day=2026-11-01
mkdir -p "$work/arclamp/logs/daily"
# Arc Lamp's daemon appends each line to `all` and to the file of the entry point its first
# frame names (`/srv/.../index.php` -> index).
zcat "$real" | awk -v dir="$work/arclamp/logs/daily" -v day="$day" '{
    print > (dir "/" day ".excimer.all.log")
    first = $0; sub(/;.*/, "", first); n = split(first, parts, "/"); file = parts[n]
    if (file ~ /^[A-Za-z0-9_]+\.php$/) { sub(/\.php$/, "", file); print > (dir "/" day ".excimer." file ".log") }
}'
samples=$(zcat "$real" | awk '{s += $NF} END {print s}')
printf '[redis]\nchannels = ["excimer"]\n[storage]\npath = "%s"\n' "$work/data" > "$work/arclamp.toml"
echo "== Arc Lamp files: $(du -cb "$work"/arclamp/logs/daily/* | tail -1 | cut -f1) bytes, $samples samples"
target/release/arclamp import "$work/arclamp" --config "$work/arclamp.toml"
size() { find "$work/data" -type f "$@" -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }
report() {
    local all logs
    all=$(size)
    logs=$(size -path '*/logs/*' -name '*.log.gz')
    echo "$1: $(find "$work/data" -type f | wc -l) objects, $all bytes ($(awk -v b="$all" -v s="$samples" 'BEGIN {printf "%.2f", b/s}') B/sample), logs $logs bytes ($(awk -v b="$logs" -v s="$samples" 'BEGIN {printf "%.2f", b/s}') B/sample)"
}
report "== after import"
target/release/arclamp migrate --config "$work/arclamp.toml" --min-age 0s
report "== after migrate (each sample stored once)"
