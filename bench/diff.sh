#!/usr/bin/env bash
# Differential graph benchmark (issue 3): /diff.svg between two daily windows through a
# running `arclamp serve`, cold, with its time and the service's peak memory (VmHWM of a
# fresh process per measurement).
#
# Two days are written by `arclamp publish --to-store --no-render` (the load generator at
# RATE samples/s, DAYS of each day's traffic; DAYS=1 is a full day), and the second day
# gets one more stack, `~regression;Hot::path` with 0.3 % of its samples (a regression the
# diff should show; `~` sorts last, so the log stays sorted). The service then draws both
# windows once (their graphs and range summaries), and the diff is measured:
#   1. from range summaries (the bounded path's fast case),
#   2. from the logs (summaries moved away: the bounded path's exact fallback),
#   3. from the logs with BIN_OLD (an older build) when given.
#
# Usage: bench/diff.sh                 (DAYS=1, RATE=200)
#        DAYS=0.1 BIN_OLD=/path/to/old/arclamp bench/diff.sh
#        KEEP=1 bench/diff.sh          keep the work dir (its path is printed)
#        PREPARED=DIR bench/diff.sh    reuse DIR/data of a KEEP=1 run: measure only
#        BIN=/path/to/arclamp ...      measure that build instead of building one
#        PREPARE_ONLY=1 KEEP=1 ...      write and draw the two days, measure nothing
# Builds with $CARGO (default cargo) into $CARGO_TARGET_DIR (default target).
source "$(dirname "$0")/common.sh"

rate=${RATE:-200}
days=${DAYS:-1}
release_bin

stored_logs_service_setup diff
if [ -n "${KEEP:-}" ]; then
    trap 'kill "$pid" 2>/dev/null || true' EXIT
    echo "work dir (kept): $work"
fi
if [ -n "${PREPARED:-}" ]; then
    stored_logs_config "$work/arclamp.toml" "$PREPARED/data" "$port"
fi
data=${PREPARED:-$work}/data
logs="$data/logs/daily"

if [ -z "${PREPARED:-}" ]; then

    echo "writing 2 days of $days day(s) of traffic at $rate samples/s (publish --to-store --no-render)"
    t0=$(now)
    for day in 2026-11-01 2026-11-02; do
        "$bin" publish --to-store --no-render --days "$days" --rate "$rate" --start "$day" \
            --config "$work/arclamp.toml" >/dev/null 2>&1
    done
    find "$logs" -type f ! -name '*.excimer.all.log.gz' -delete
    samples=$(gzip -dc "$logs/2026-11-02.excimer.all.log.gz" | awk '{ s += $NF } END { print s }')
    extra=$((samples * 3 / 1000))
    echo "~regression;Hot::path $extra" | gzip >> "$logs/2026-11-02.excimer.all.log.gz"
    awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "generated in %.1f s\n", b - a }'
    for day in 2026-11-01 2026-11-02; do
        gzip -dc "$logs/$day.excimer.all.log.gz" | wc -lc | awk -v d="$day" -v z="$(stat -c %s "$logs/$day.excimer.all.log.gz")" \
            '{ printf "%s: %d distinct stacks, %.0f MB of text, %.0f MB gzip'"'"'d\n", d, $1, $2 / 1e6, z / 1e6 }'
    done

    # The service draws both windows at start (graphs and range summaries); then stop it.
    t0=$(now)
    "$bin" serve --config "$work/arclamp.toml" 2>"$work/render.log" &
    pid=$!
    until [ -e "$logs/2026-11-01.excimer.all.range.gz" ] && [ -e "$logs/2026-11-02.excimer.all.range.gz" ]; do
        kill -0 "$pid" || { echo "arclamp died:"; tail -5 "$work/render.log"; exit 1; }
        sleep 1
    done
    sleep 2
    kill "$pid"; wait "$pid" || true; pid=""
    awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "both windows drawn in %.1f s\n", b - a }'
    ls -l "$logs"/*.range.gz | awk '{ printf "range summary: %.1f MB\n", $5 / 1e6 }'
fi

if [ -n "${PREPARE_ONLY:-}" ]; then
    exit 0
fi

url_path="/diff.svg?period=daily&a=2026-11-01&b=2026-11-02&channel=excimer&entry=all"
# measure LABEL BINARY: a fresh service, one cold request, its time and peak memory.
measure() {
    "$2" serve --config "$work/arclamp.toml" 2>"$work/arclamp.log" &
    pid=$!
    local base="http://127.0.0.1:$port"
    until curl -sf "$base/healthz" >/dev/null; do
        kill -0 "$pid" || { echo "arclamp died:"; tail -5 "$work/arclamp.log"; exit 1; }
        sleep 0.2
    done
    sleep 1
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local out
    out=$(curl -s -o "$work/diff.svgz" -H 'Accept-Encoding: gzip' \
        -w '%{http_code} %{time_total} s, summaries: %header{x-arclamp-range-summaries}' "$base$url_path" || echo "failed")
    local hwm
    hwm=$(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || echo "died")
    local frames
    frames=$(gzip -dc "$work/diff.svgz" 2>/dev/null | grep -o '<g>' | wc -l || true)
    echo "$1: $out, peak RSS $hwm, graph $(stat -c %s "$work/diff.svgz") bytes gzip'd, $frames frames, load $load"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}

measure "after, from summaries" "$bin"
mkdir -p "$work/aside"
mv "$logs"/*.range.gz "$work/aside/"
measure "after, from logs" "$bin"
if [ -n "${BIN_OLD:-}" ]; then
    measure "before ($BIN_OLD), from logs" "$BIN_OLD"
    measure "after, from logs (again)" "$bin"
fi
mv "$work/aside"/*.range.gz "$logs/"
measure "after, from summaries (again)" "$bin"
