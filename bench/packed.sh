#!/usr/bin/env bash
# Issue 16's measurements: what one day of one channel costs in the store today, by kind of
# object, and the packed trace format against the gzip'd folded log on the same logs (a
# daily and an hourly `all` log of that day, and the real MediaWiki samples).
# Not run in CI: the day takes about a minute to simulate.
#
# Usage: bench/packed.sh        (RATE=35 samples/s, SEED=3; DATA=DIR reuses a simulated store)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${RATE:-35}
seed=${SEED:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/arclamp-packed.XXXXXX")
trap 'rm -rf "$work"' EXIT
"${CARGO:-cargo}" build --release --quiet --bin arclamp
data=${DATA:-}
if [ -z "$data" ]; then
    data=$work/data
    printf '[redis]\nchannels = ["excimer"]\n[storage]\npath = "%s"\n' "$data" > "$work/arclamp.toml"
    target/release/arclamp publish --to-store --config "$work/arclamp.toml" --rate "$rate" \
        --days 1 --seed "$seed" --start 2026-11-01
fi
echo "== one day of one channel at $rate samples/s, by kind of object (MB)"
bench/store_breakdown.sh "$data"
day=$(ls "$data/logs/daily" | grep 'all.log.gz$' | head -1)
hour=$(ls "$data/logs/hourly" | grep 'all.log.gz$' | sed -n 13p)
logs=("$data/logs/daily/$day" "$data/logs/hourly/$hour")
real=../shared/data/mediawiki/wall_samples.txt.gz
[ ! -e "$real" ] || logs+=("$(realpath "$real")")
echo "== packed trace vs gzip'd folded log"
"${CARGO:-cargo}" bench --quiet --bench packed -- "${logs[@]}"
