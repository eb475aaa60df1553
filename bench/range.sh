#!/usr/bin/env bash
# Range graph benchmark (issue 3): a 7-day range graph (/range.svg) over daily trace logs,
# cold (rendered) and then warm (served from the cache), through a running `arclamp serve`.
#
# The daily logs are written by `arclamp publish --to-store --rate 200` (the load
# generator's stream, aggregated per window exactly as the service checkpoints it, without
# Redis): the files a week at 200 samples/s leaves, in minutes rather than a week.
#
# Usage: bench/range.sh     (RATE=200, DAYS=7, RUNS=3)
#        COPIES=7 bench/range.sh   one day generated (--no-render), its `all` log rendered by
#                                  the service (graphs and range summary), then all of them
#                                  copied under 7 dates (generating and rendering 7 days at
#                                  200 samples/s takes too long here)
# Builds with $CARGO (default cargo) into $CARGO_TARGET_DIR (default target), or measures
# BIN=/path/to/arclamp when given.
source "$(dirname "$0")/common.sh"

rate=${RATE:-200}
days=${DAYS:-7}
runs=${RUNS:-3}
copies=${COPIES:-0}
release_bin

stored_logs_service_setup range
cat >> "$work/arclamp.toml" <<TOML
[on_demand]
cache_megabytes = 256
TOML

if [ "$copies" -gt 0 ]; then
    echo "writing 1 day at $rate samples/s (publish --to-store --no-render), copied under $copies dates"
    t0=$(date +%s.%N)
    "$bin" publish --to-store --no-render --days 1 --rate "$rate" --start 2026-11-01 \
        --config "$work/arclamp.toml" >/dev/null 2>&1
    find "$work/data/logs/daily" -type f ! -name '2026-11-01.excimer.all.log.gz' -delete
    "$bin" serve --config "$work/arclamp.toml" 2>"$work/render.log" &
    pid=$!
    until [ -e "$work/data/logs/daily/2026-11-01.excimer.all.range.gz" ]; do
        kill -0 "$pid" || { echo "arclamp died:"; tail -5 "$work/render.log"; exit 1; }
        sleep 1
    done
    sleep 1
    kill "$pid"; wait "$pid" || true; pid=""
    for d in $(seq 2 "$copies"); do
        cp "$work/data/logs/daily/2026-11-01.excimer.all.log.gz" \
            "$work/data/logs/daily/$(printf '2026-11-%02d' "$d").excimer.all.log.gz"
    done
    sleep 1
    # Graphs and summaries written after their logs, as the service writes them.
    for d in $(seq 2 "$copies"); do
        day=$(printf '2026-11-%02d' "$d")
        cp "$work/data/logs/daily/2026-11-01.excimer.all.range.gz" "$work/data/logs/daily/$day.excimer.all.range.gz"
        cp "$work/data/svgs/daily/2026-11-01.excimer.all.svgz" "$work/data/svgs/daily/$day.excimer.all.svgz"
        cp "$work/data/svgs/daily/2026-11-01.excimer.all.reversed.svgz" "$work/data/svgs/daily/$day.excimer.all.reversed.svgz"
    done
    touch "$work"/data/logs/daily/*.range.gz "$work"/data/svgs/daily/*
    days=$copies
    t1=$(date +%s.%N)
else
    echo "writing $days days at $rate samples/s with their graphs (publish --to-store)"
    t0=$(date +%s.%N)
    "$bin" publish --to-store --days "$days" --rate "$rate" --start 2026-11-01 \
        --config "$work/arclamp.toml" >/dev/null
    t1=$(date +%s.%N)
fi
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "generated in %.1f s\n", b - a }'
ls -l "$work"/data/logs/daily/*.excimer.all.log.gz | awk '{ s += $5; n++ } END { printf "%d daily all logs, %.1f MB gzip'"'"'d each on average\n", n, s / n / 1e6 }'
gzip -dc "$work/data/logs/daily/2026-11-01.excimer.all.log.gz" | wc -lc | awk '{ printf "one day: %d distinct stacks, %.0f MB of text\n", $1, $2 / 1e6 }'

"$bin" serve --config "$work/arclamp.toml" 2>"$work/arclamp.log" &
pid=$!
base="http://127.0.0.1:$port"
until curl -sf "$base/healthz" >/dev/null; do sleep 0.2; done
# At start arclamp renders every log newer than its graph: wait for that to finish so it
# does not share the CPU with the measured request.
sleep 1
until curl -sf "$base/metrics" | grep -q '^arclamp_render_queue_depth 0'; do sleep 0.5; done
ls -l "$work"/data/logs/daily/*.range.gz 2>/dev/null | awk '{ s += $5; n++ } END { if (n) printf "%d range summaries, %.2f MB each on average\n", n, s / n / 1e6 }'

last=$(printf '2026-11-%02d' "$days")
url="$base/range.svg?period=daily&from=2026-11-01&to=$last&channel=excimer&entry=all"
fetch() {
    curl -s -o "$work/range.svgz" -H 'Accept-Encoding: gzip' \
        -w '%{http_code} %{time_total} %header{x-arclamp-cache} summaries: %header{x-arclamp-range-summaries}\n' "$url"
}
echo "cold (rendered):"
fetch
for _ in $(seq 1 "$runs"); do
    echo "warm (cache):"
    fetch
done
url="$url&reversed=1"
echo "reversed, cold:"
fetch
echo "reversed, warm:"
fetch
ls -l "$work/range.svgz" | awk '{ print "graph: " $5 " bytes gzip'"'"'d" }'
gzip -dc "$work/range.svgz" | grep -o '<g>' | wc -l | awk '{ print "frames drawn: " $1 }'
ps -o rss= -p "$pid" | awk '{ printf "arclamp RSS after: %.0f MB\n", $1 / 1024 }'
awk '/VmHWM/ { printf "arclamp peak RSS: %.0f MB\n", $2 / 1024 }' "/proc/$pid/status"
