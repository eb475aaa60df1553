#!/usr/bin/env bash
# Times `arclamp render RAW -o out.svgz` against `inferno-flamegraph < RAW | gzip > out.svgz`
# on the same one-line-per-sample folded input, in the same run, and prints both times and
# their ratio. Not run in CI: a 250 MB input takes minutes to make and seconds per render.
#
# Usage: bench/render.sh [N]
#   N        samples (lines) of synthetic input to generate; default 80000 (about 250 MB)
# Environment:
#   RAW=FILE  use this folded file instead of generating one (kept as is)
#   RUNS=R    timed runs of each command; default 3
#   CARGO=C   cargo command to use (e.g. a wrapper that serializes builds); default cargo
#
# Needs: hyperfine (Debian package `hyperfine`) or /usr/bin/time (package `time`). Builds
# arclamp in release mode, installs inferno's CLI into bench/.tools on first use.
set -euo pipefail

n=${1:-80000}
runs=${RUNS:-3}
cargo=${CARGO:-cargo}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/arclamp-render-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== building arclamp (release)" >&2
if [[ -n ${CARGO_TARGET_DIR:-} ]]; then
    # A target directory shared with other checkouts of arclamp can hold their build, and
    # cargo judges freshness by source mtimes and relative paths, so it may take theirs for
    # ours. Newer mtimes here make it rebuild the arclamp crate from this checkout.
    touch "$root/src/lib.rs" "$root/src/main.rs"
fi
(cd "$root" && "$cargo" build --release --quiet)
# Copy the binary at once, before another checkout's build can replace it.
arclamp=$work/arclamp
cp "${CARGO_TARGET_DIR:-$root/target}/release/arclamp" "$arclamp"
if ! "$arclamp" render --help | grep -q -- '--output'; then
    echo "the arclamp binary built is not this checkout's (no render --output)" >&2
    exit 1
fi

inferno=$root/bench/.tools/bin/inferno-flamegraph
if [[ ! -x $inferno ]]; then
    echo "== installing inferno-flamegraph 0.12.8 into bench/.tools" >&2
    "$cargo" install inferno --version 0.12.8 --locked --root "$root/bench/.tools"
fi

if [[ -n ${RAW:-} ]]; then
    raw=$RAW
else
    raw=$work/raw.folded
    echo "== generating $n samples of synthetic stacks" >&2
    "$arclamp" publish --out "$raw" --format lines --count "$n" --seed 1
fi
lines=$(wc -l < "$raw")
bytes=$(stat -c %s "$raw")
echo "input: $raw, $lines lines, $((bytes / 1000000)) MB, $((bytes / (lines > 0 ? lines : 1))) bytes/line"

# Same work on both sides: flamegraph.pl's 0.1-pixel minimum width (inferno takes percent of
# the 1180-pixel frame area), hash colours, and gzip at arclamp's level (compress::LEVEL), so
# the ratio measures rendering rather than compression settings.
min_width_pct=$(awk 'BEGIN { printf "%.6f", 0.1 * 100 / 1180 }')
arclamp_cmd="'$arclamp' render '$raw' -o '$work/arclamp.svgz'"
inferno_cmd="'$inferno' --hash --minwidth $min_width_pct < '$raw' | gzip -3 > '$work/inferno.svgz'"

if command -v hyperfine > /dev/null; then
    hyperfine --warmup 1 --runs "$runs" --export-json "$work/times.json" \
        -n arclamp "$arclamp_cmd" -n inferno-flamegraph "$inferno_cmd" >&2
    read -r arclamp_s inferno_s < <(python3 -c '
import json, sys
results = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
print(results["arclamp"], results["inferno-flamegraph"])
' "$work/times.json")
elif [[ -x /usr/bin/time ]]; then
    median_seconds() {
        local i
        for ((i = 0; i < runs; i++)); do
            /usr/bin/time -f %e -o "$work/time" bash -c "$1" && cat "$work/time"
        done | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
    }
    bash -c "$arclamp_cmd" && bash -c "$inferno_cmd" # warm the page cache
    arclamp_s=$(median_seconds "$arclamp_cmd")
    inferno_s=$(median_seconds "$inferno_cmd")
else
    echo "neither hyperfine nor /usr/bin/time found: apt-get install hyperfine" >&2
    exit 1
fi

echo "output: arclamp $(stat -c %s "$work/arclamp.svgz") bytes, inferno $(stat -c %s "$work/inferno.svgz") bytes (svgz)"
awk -v a="$arclamp_s" -v i="$inferno_s" 'BEGIN {
    printf "arclamp render:       %.3f s (median of runs)\n", a
    printf "inferno-flamegraph:   %.3f s (median of runs)\n", i
    printf "ratio arclamp/inferno: %.2f (target: at most 1.20)\n", a / i
}'
