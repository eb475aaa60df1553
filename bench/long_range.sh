#!/usr/bin/env bash
# Two years at a glance (issue 18, point 3): a range graph over 730 daily windows (and one
# over 336 hourly windows), cold and warm, through a running `arclamp serve` that built the
# roll-ups (graphs::rollup) in its first retention pass.
#
# Store: DISTINCT (default 8) days of the calibrated synthetic workload at RATE (default 35)
# samples/s on one channel, written by `arclamp publish --to-store` with their graphs and
# range summaries, then hard-linked under 730 dates (2024-12-01 to 2026-11-30) for the
# `all` entry point. Generating and rendering 730 days at 35 samples/s takes about 2 hours
# here; the copies cost the same to roll up and merge (a merge's work is its inputs' lines,
# whatever their names), though their union has fewer distinct frames than 730 different
# days would, so the graph itself is smaller than a real two years' would be (the graph
# budget bounds it anyway). The hourly store is made the same way from DISTINCT hours.
#
# Usage: bench/long_range.sh        (RATE=35, DISTINCT=8, RUNS=2)
# Builds a release binary, or measures BIN=/path/to/arclamp.
source "$(dirname "$0")/common.sh"

rate=${RATE:-35}
distinct=${DISTINCT:-8}
runs=${RUNS:-2}
release_bin
stored_logs_service_setup long-range
cat >> "$work/arclamp.toml" <<TOML
[periods.hourly]
format = "%Y-%m-%d_%H"
retain = 336
TOML
sed -i 's/^retain = 730$/retain = 800/' "$work/arclamp.toml"
logs="$work/data/logs"

echo "writing $distinct days at $rate samples/s (publish --to-store, graphs and summaries)"
t0=$(now)
"$bin" publish --to-store --days "$distinct" --rate "$rate" --start 2024-12-01 --seed 1 \
    --config "$work/arclamp.toml" >/dev/null 2>"$work/fill.log"
t1=$(now)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "generated in %.1f s\n", b - a }'
# Only `all` is measured; roll-ups are left to the service.
find "$logs" "$work/data/svgs" -type f \( -name '*.rollup*' -o ! -name '*.excimer.all.*' \) -delete

# link PERIOD SOURCE_NAMES... : hard-link the sources' log, summary and graphs under every
# window name read from stdin, in turn (links keep the sources' times: graphs and summary
# newer than their log, so the service's start-up scan has nothing to render).
link() {
    local period=$1; shift
    local sources=("$@") i=0 name
    while read -r name; do
        local src=${sources[$((i % ${#sources[@]}))]}
        if [ "$src" != "$name" ]; then
            ln -f "$logs/$period/$src.excimer.all.log.gz" "$logs/$period/$name.excimer.all.log.gz"
            ln -f "$logs/$period/$src.excimer.all.range.gz" "$logs/$period/$name.excimer.all.range.gz"
            ln -f "$logs/$period/$src.excimer.all.functions.gz" "$logs/$period/$name.excimer.all.functions.gz"
            for svg in "$work/data/svgs/$period/$src".excimer.all.*svgz; do
                ln -f "$svg" "${svg/\/$src./\/$name.}"
            done
        fi
        i=$((i + 1))
    done
}
mapfile -t days < <(cd "$logs/daily" && ls *.excimer.all.log.gz | sed 's/\..*//' | sort)
python3 -c 'import datetime as d
s = d.date(2024, 12, 1)
for i in range(730): print(s + d.timedelta(days=i))' | link daily "${days[@]}"
mapfile -t hours < <(cd "$logs/hourly" && ls *.excimer.all.log.gz | sed 's/\..*//' | sort | head -48)
python3 -c 'import datetime as d
s = d.datetime(2024, 12, 1)
for i in range(336): print((s + d.timedelta(hours=i)).strftime("%Y-%m-%d_%H"))' | link hourly "${hours[@]}"
ls "$logs/daily"/*.log.gz | wc -l | awk '{ printf "daily windows: %d\n", $1 }'
ls "$logs/hourly"/*.log.gz | wc -l | awk '{ printf "hourly windows: %d\n", $1 }'
ls -lL "$logs"/daily/*.range.gz | awk '{ s += $5; n++ } END { printf "daily range summary: %.2f MB on average\n", s / n / 1e6 }'
ls -lL "$logs"/daily/*.log.gz | awk '{ s += $5; n++ } END { printf "daily all log: %.2f MB on average\n", s / n / 1e6 }'

t0=$(now)
"$bin" serve --config "$work/arclamp.toml" 2>"$work/arclamp.log" &
pid=$!
base="http://127.0.0.1:$port"
until curl -sf "$base/healthz" >/dev/null; do
    kill -0 "$pid" || { echo "arclamp died:"; tail -5 "$work/arclamp.log"; exit 1; }
    sleep 0.2
done
# The first retention pass builds the roll-ups: one line per period when done.
until [ "$(grep -c 'roll-ups of the period built' "$work/arclamp.log")" -ge 2 ]; do
    kill -0 "$pid" || { echo "arclamp died:"; tail -5 "$work/arclamp.log"; exit 1; }
    sleep 1
done
t1=$(now)
grep 'roll-ups of the period built' "$work/arclamp.log" | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'period=.*'
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "start to roll-ups built: %.1f s\n", b - a }'
ls -l "$logs"/daily/*.rollup8.* | awk '{ s += $5; n++ } END { printf "daily roll-ups of 8: %d, %.2f MB each on average\n", n, s / n / 1e6 }'
ls -l "$logs"/daily/*.rollup64.* | awk '{ s += $5; n++ } END { printf "daily roll-ups of 64: %d, %.2f MB each on average\n", n, s / n / 1e6 }'
until curl -sf "$base/metrics" | grep -q '^arclamp_render_queue_depth 0'; do sleep 0.5; done

fetch() {
    curl -s -o "$work/range.svgz" -H 'Accept-Encoding: gzip' \
        -w "%{http_code} first byte %{time_starttransfer} s, total %{time_total} s, %header{x-arclamp-cache}, roll-ups: %header{x-arclamp-range-rollups}, summaries: %header{x-arclamp-range-summaries}\n" "$1"
}
measure() {
    local label=$1 url=$2
    echo "$label, cold:"; fetch "$url"
    for _ in $(seq 1 "$runs"); do echo "$label, warm:"; fetch "$url"; done
    ls -l "$work/range.svgz" | awk '{ printf "  graph: %.2f MB gzip'"'"'d, ", $5 / 1e6 }'
    gzip -dc "$work/range.svgz" | wc -c | awk '{ printf "%.2f MB SVG, ", $1 / 1e6 }'
    gzip -dc "$work/range.svgz" | grep -o '<rect' | wc -l | awk '{ printf "%d rectangles\n", $1 }'
    gzip -dc "$work/range.svgz" | grep -o '<text id="subtitle"[^<]*' | sed 's/.*>/  subtitle: /' || true
}
daily="$base/range.svg?period=daily&from=2024-12-01&to=2026-11-30&channel=excimer&entry=all"
measure "730 daily windows" "$daily"
measure "730 daily windows, reversed" "$daily&reversed=1"
measure "62 daily windows (roll-ups of the blocks inside it, the rest one by one)" \
    "$base/range.svg?period=daily&from=2025-03-03&to=2025-05-03&channel=excimer&entry=all"
measure "24 hourly windows (a day: 3 roll-ups of 8)" \
    "$base/range.svg?period=hourly&from=2024-12-05_00&to=2024-12-05_23&channel=excimer&entry=all"
hourly="$base/range.svg?period=hourly&from=2024-12-01_00&to=2024-12-14_23&channel=excimer&entry=all"
measure "336 hourly windows" "$hourly"
measure "336 hourly windows, reversed" "$hourly&reversed=1"
# A two-year trend of the top function of one day.
function=$(curl -s "$base/api/top?period=daily&window=2025-06-01&channel=excimer&entry=all&limit=1" |
    python3 -c 'import json, sys, urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["rows"][0]["function"], safe=""))')
trend="$base/api/trend.json?period=daily&channel=excimer&entry=all&function=$function&from=2024-12-01&to=2026-11-30"
for label in cold warm warm; do
    curl -s -o "$work/trend.json" -w "730-day trend of $function, $label: %{http_code} in %{time_total} s\n" "$trend"
done
python3 -c 'import json, sys; t = json.load(open(sys.argv[1])); print("  points:", len(t["points"]), "without totals:", t["without_totals"])' "$work/trend.json"
curl -s -o /dev/null -w "its page (/trend, 730 windows, warm): %{http_code} in %{time_total} s\n" \
    "$base/trend?period=daily&channel=excimer&entry=all&function=$function&from=2024-12-01&to=2026-11-30"
awk '/VmHWM/ { printf "arclamp peak RSS: %.0f MB\n", $2 / 1024 }' "/proc/$pid/status"
