#!/usr/bin/env bash
# Storage that 2 years of arclamp data need, from `arclamp publish --to-store`: bytes per
# hour of hourly logs and graphs, and bytes per distinct stack of a daily log, measured at
# 200 and 2,000 samples/s (one channel, the synthetic load of src/ingest/synth.rs); then the
# default retention (hourly 336 windows = 14 days, daily 730 = 2 years) extrapolated.
#
# Usage: bench/storage.sh [HOURS_AT_200] [HOURS_AT_2000]    (defaults 3 and 1)
# Builds with $CARGO (default cargo) into $CARGO_TARGET_DIR (default target); on shared
# machines use e.g. CARGO=xcargo. Not run in CI: at 200 samples/s an hour is about 140 MB of
# logs and a minute of CPU; at 2,000 samples/s about 1 GB and several minutes.
#
# What is measured and what is extrapolated:
# - hourly windows are independent and alike: bytes per hour are measured directly;
# - a daily log holds one line per distinct stack of the day, and the synthetic load's
#   distinct stacks grow sublinearly with samples; a full day at 2,000 samples/s does not
#   fit this machine, so the daily log's bytes per distinct stack are measured over the
#   first HOURS and multiplied by the distinct stacks of a full day, computed from the
#   generator's own distribution (expected distinct = sum over entry points and popularity
#   buckets of 2^b (1 - exp(-n p)), scaled by the measured/expected ratio over HOURS);
# - graphs: rendered at 200 samples/s; at 2,000 samples/s rendering an hour needs about
#   9 GB (inferno: 2.3 x the folded text), so it runs with --no-render and the 200 samples/s
#   graph sizes stand in (a graph's size is bounded by min_width, not by its input).
set -euo pipefail
cd "$(dirname "$0")/.."

hours_200=${1:-3}
hours_2000=${2:-1}
bin="${CARGO_TARGET_DIR:-target}/release/arclamp"
"${CARGO:-cargo}" build --release --quiet --bin arclamp

# expected_distinct SAMPLES: expected distinct stacks among SAMPLES synthetic samples.
expected_distinct() {
    awk -v n="$1" 'BEGIN {
        split("0.45 0.30 0.15 0.05 0.05", share, " "); total = 0
        for (b = 0; b < 32; b++) total += 0.9 ^ b
        d = 0
        for (e = 1; e <= 5; e++) for (b = 0; b < 32; b++) {
            p = 0.9 ^ b / total / 2 ^ b
            d += 2 ^ b * (1 - exp(-n * share[e] * p))
        }
        printf "%.0f", d
    }'
}

sizes() { du -sb "$1" 2>/dev/null | cut -f1; }

measure() {
    local rate=$1 hours=$2 render=$3
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/arclamp-storage.XXXXXX")
    trap 'rm -rf "$dir"' RETURN
    printf '[storage]\npath = "%s/data"\n[render]\nworkers = 1\n' "$dir" > "$dir/arclamp.toml"
    local flags=()
    [ "$render" = yes ] || flags+=(--no-render)
    local t0 t1
    t0=$(date +%s)
    "$bin" publish --to-store --config "$dir/arclamp.toml" --rate "$rate" \
        --days "$(awk -v h="$hours" 'BEGIN { printf "%.9f", h / 24 }')" --start 2026-10-01 \
        "${flags[@]}" 2>/dev/null
    t1=$(date +%s)
    local hourly_logs hourly_svgs daily_logs daily_svgs lines
    hourly_logs=$(sizes "$dir/data/logs/hourly")
    hourly_svgs=$(sizes "$dir/data/svgs/hourly" || echo 0)
    daily_logs=$(sizes "$dir/data/logs/daily")
    daily_svgs=$(sizes "$dir/data/svgs/daily" || echo 0)
    # Lines in the daily logs (all + entry points): two per distinct stack.
    lines=0
    for f in "$dir"/data/logs/daily/*.log.gz; do
        lines=$((lines + $(zcat "$f" | wc -l)))
    done
    local n_span n_day
    n_span=$(awk -v r="$rate" -v h="$hours" 'BEGIN { printf "%.0f", r * h * 3600 }')
    n_day=$(awk -v r="$rate" 'BEGIN { printf "%.0f", r * 86400 }')
    echo "$rate $hours $((t1 - t0)) $hourly_logs ${hourly_svgs:-0} $daily_logs ${daily_svgs:-0} $lines $(expected_distinct "$n_span") $(expected_distinct "$n_day")"
}

report() {
    # rate hours seconds hourly_logs hourly_svgs daily_logs daily_svgs lines exp_span exp_day [svg_per_hour_override]
    awk -v svg_override="${12:-}" -v rate="$1" -v hours="$2" -v secs="$3" -v hl="$4" -v hs="$5" \
        -v dl="$6" -v ds="$7" -v lines="$8" -v es="$9" -v ed="${10}" -v dsvg_override="${11:-}" 'BEGIN {
        mb = 1e6; gb = 1e9
        hourly_log_h = hl / hours; hourly_svg_h = (svg_override != "" ? svg_override : hs / hours)
        daily_svg = (dsvg_override != "" ? dsvg_override : ds)
        distinct_span = lines / 2; ratio = distinct_span / es
        distinct_day = ed * ratio
        bytes_per_line = dl / lines
        daily_log_day = 2 * distinct_day * bytes_per_line
        per_day = 24 * (hourly_log_h + hourly_svg_h) + daily_log_day + daily_svg
        two_years = 336 * (hourly_log_h + hourly_svg_h) + 730 * (daily_log_day + daily_svg)
        printf "%d samples/s, one channel (%g h simulated in %d s):\n", rate, hours, secs
        printf "  hourly windows: %.0f MB logs + %.1f MB graphs per hour\n", hourly_log_h / mb, hourly_svg_h / mb
        printf "  daily window: %.0f distinct stacks per day (%.2f of expected over %g h), %.0f B per log line -> %.0f MB logs + %.1f MB graphs per day\n", distinct_day, ratio, hours, bytes_per_line, daily_log_day / mb, daily_svg / mb
        printf "  bytes per day (hourly + daily): %.2f GB\n", per_day / gb
        printf "  2 years, default retention (336 hourly + 730 daily windows): %.0f GB\n", two_years / gb
        printf "  per-hour graphs %.0f B, daily graphs %.0f B\n", hourly_svg_h, daily_svg
    }'
}

read -r -a low < <(measure 200 "$hours_200" yes)
report "${low[@]}"
svg_hour=$(awk -v s="${low[4]}" -v h="${low[1]}" 'BEGIN { printf "%.0f", s / h }')
read -r -a high < <(measure 2000 "$hours_2000" no)
report "${high[@]}" "${low[6]}" "$svg_hour"
