#!/usr/bin/env bash
# Rendering one big daily window (issues 2 and 3): peak memory and time of the service's
# renderer on a daily `all` log written by `arclamp publish --to-store` (the load
# generator's stream at RATE samples/s for DAYS days, aggregated as the service checkpoints
# it). `arclamp serve` starts on the store and renders the log in its start-up scan (the
# log is newer than its missing graphs); the script reads the render time from
# /metrics (arclamp_render_duration_seconds) and the process's peak resident memory
# (VmHWM) once the render queue is empty.
#
# Usage: bench/render_window.sh                (RATE=200, DAYS=1)
#        BIN=/path/to/other/arclamp bench/render_window.sh   (e.g. an older build, to compare)
# Builds with $CARGO (default cargo) into $CARGO_TARGET_DIR (default target) unless BIN is
# given. Needs about 1 GB of disk per day at 200 samples/s.
source "$(dirname "$0")/common.sh"

rate=${RATE:-200}
days=${DAYS:-1}
release_bin
stored_logs_service_setup render

echo "writing $days day(s) at $rate samples/s (publish --to-store --no-render)"
"$bin" publish --to-store --no-render --days "$days" --rate "$rate" --start 2026-11-01 \
    --config "$work/arclamp.toml" >/dev/null 2>&1
# Only the `all` log: one window to render.
find "$work/data/logs/daily" -type f ! -name '2026-11-01.excimer.all.log.gz' -delete
log="$work/data/logs/daily/2026-11-01.excimer.all.log.gz"
ls -l "$log" | awk '{ printf "log: %.0f MB gzip'"'"'d\n", $5 / 1e6 }'
gzip -dc "$log" | wc -lc | awk '{ printf "log: %d distinct stacks, %.0f MB of text\n", $1, $2 / 1e6; print $2 > "'"$work/text_bytes"'" }'

"$bin" serve --config "$work/arclamp.toml" 2>"$work/arclamp.log" &
pid=$!
base="http://127.0.0.1:$port"
until curl -sf "$base/healthz" >/dev/null; do sleep 0.2; done
until curl -sf "$base/metrics" | grep -q '^arclamp_render_duration_seconds_count 1'; do
    kill -0 "$pid" || { echo "arclamp died:"; tail -5 "$work/arclamp.log"; exit 1; }
    sleep 0.5
done
seconds=$(curl -sf "$base/metrics" | awk '$1 == "arclamp_render_duration_seconds_sum" { print $2 }')
hwm_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
text=$(cat "$work/text_bytes")
printf 'render: %.1f s for its graphs (forward, reversed)\n' "$seconds"
printf 'peak RSS of arclamp serve: %.0f MB = %.2f x the stack text\n' \
    "$(echo "$hwm_kb / 1024" | bc -l)" "$(echo "$hwm_kb * 1024 / $text" | bc -l)"
ls "$work/data/svgs/daily/" | sed 's/^/graph: /'
ls -l "$work/data/logs/daily/" | awk '/range.gz/ { printf "range summary: %.2f MB\n", $5 / 1e6 }'
