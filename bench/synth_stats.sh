#!/usr/bin/env bash
# Numbers behind the synthetic load (src/ingest/synth.rs): generation speed, line length, distinct
# stacks, hot-stack share and entry-point mix of SAMPLES samples (default 1,000,000).
# Not run in CI: it writes about 3 GB to a temporary file and sorts it.
#
# Usage: bench/synth_stats.sh            (SAMPLES=..., SEED=..., KEEP=1 to keep the file)
# Builds with $CARGO (default cargo) into $CARGO_TARGET_DIR (default target); on shared
# machines use e.g. CARGO=xcargo CARGO_TARGET_DIR=/work/target-helpers.
set -euo pipefail
cd "$(dirname "$0")/.."

samples=${SAMPLES:-1000000}
seed=${SEED:-1}
out=$(mktemp "${TMPDIR:-/tmp}/arclamp-synth.XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] || rm -f "$out" "$out.json"' EXIT
bin="${CARGO_TARGET_DIR:-target}/release/arclamp"

"${CARGO:-cargo}" build --release --quiet --bin arclamp

now() { date +%s.%N; }
per_second() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# Generation alone: /dev/null costs no disk time.
t0=$(now)
"$bin" publish --count "$samples" --seed "$seed" --out /dev/null --format lines 2>/dev/null
t1=$(now)
echo "generation:        $(per_second "$samples" "$t0" "$t1") lines/s (to /dev/null)"

t0=$(now)
"$bin" publish --count "$samples" --seed "$seed" --out "$out" --format lines \
    --expect "$out.json" 2>/dev/null
t1=$(now)
echo "generation + disk: $(per_second "$samples" "$t0" "$t1") lines/s"

bytes=$(wc -c <"$out")
lines=$(wc -l <"$out")
echo "lines:             $lines"
echo "mean line length:  $(( (bytes - lines) / lines )) bytes (without newline)"

# Stacks are everything before the count; frames never contain spaces.
counts=$(mktemp "${TMPDIR:-/tmp}/arclamp-synth-counts.XXXXXX")
trap '[ "${KEEP:-0}" = 1 ] || rm -f "$out" "$out.json"; rm -f "$counts"' EXIT
cut -d' ' -f1 "$out" | LC_ALL=C sort -S 25% | uniq -c | awk '{ print $1 }' \
    | sort -rn >"$counts"
echo "distinct stacks:   $(wc -l <"$counts")"
awk -v n="$lines" 'NR <= 10 { top += $1 } NR == 1 { first = $1 }
    END { printf "hottest stack:     %.1f%% of lines; 10 hottest: %.1f%%\n", 100 * first / n, 100 * top / n }' "$counts"
awk '{ if ($1 == 1) once++ } END { printf "stacks seen once:  %d\n", once }' "$counts"

echo "depth (frames):    $(awk -F';' '{ d += NF; if (NF > max) max = NF; if (min == "" || NF < min) min = NF }
    END { printf "mean %.1f, min %d, max %d", d / NR, min, max }' "$out")"

echo "entry points (share of lines):"
cut -d';' -f1 "$out" | sed 's#.*/##; s#\.php$##' | LC_ALL=C sort | uniq -c | sort -rn \
    | awk -v n="$lines" '{ printf "  %-8s %7d  %5.2f%%\n", $2, $1, 100 * $1 / n }'

echo "counts (share of lines):"
awk '{ print $NF }' "$out" | sort | uniq -c \
    | awk -v n="$lines" '{ printf "  %-8s %7d  %5.2f%%\n", $2, $1, 100 * $1 / n }'

echo "samples per entry point (sums of counts, from --expect):"
cat "$out.json"
