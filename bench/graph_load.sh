#!/usr/bin/env bash
# How fast graph pages open (issue 18, point 2): the time to the `load` event of each page
# kind in headless Chromium (the page waits for its embedded graph), cold and warm, with
# the graph's size and rectangles, on three workloads in one store:
#   - a simulated day at RATE samples/s (default 200; `publish --to-store`, 2026-11-01):
#     daily and hourly, forward and reversed, a function graph, a 24-hour range, a diff;
#   - the real MediaWiki samples (../shared/data/mediawiki/wall_samples.txt.gz, imported
#     as the daily window 2026-11-10 of Arc Lamp's layout), forward and reversed;
#   - the demo's size (20,000 samples in one hour, 2026-11-20 00:00), forward and reversed.
# The service is a release build; the browser half is the ignored test graph_page_load_times.
#
# Usage: bench/graph_load.sh
source "$(dirname "$0")/common.sh"
rate=${RATE:-200}
release_bin
stored_logs_service_setup graphs
cat >> "$work/arclamp.toml" <<TOML
[periods.hourly]
format = "%Y-%m-%d_%H"
retain = 336
[[render.functions]]
name = "MediaWiki::run"
label = "Run"
TOML
echo "writing a day at $rate samples/s and the demo's hour (publish --to-store --no-render)"
"$bin" publish --to-store --no-render --days 1 --rate "$rate" --start 2026-11-01 \
    --config "$work/arclamp.toml" >/dev/null 2>&1
"$bin" publish --to-store --no-render --days 0.041667 --rate 133 --start 2026-11-20 \
    --config "$work/arclamp.toml" --seed 5 >/dev/null 2>&1
real=../shared/data/mediawiki/wall_samples.txt.gz
if [ -e "$real" ]; then
    mkdir -p "$work/arclamp-data/logs/daily"
    gzip -dc "$real" > "$work/arclamp-data/logs/daily/2026-11-10.excimer.all.log"
    "$bin" import --config "$work/arclamp.toml" "$work/arclamp-data" >/dev/null 2>&1
fi
"$bin" serve --config "$work/arclamp.toml" 2>"$work/arclamp.log" &
pid=$!
base="http://127.0.0.1:$port"
until curl -sf "$base/healthz" >/dev/null; do sleep 0.2; done
# The start-up scan draws every window's graphs: wait until each log has its graph.
for _ in $(seq 600); do
    logs=$(find "$work/data/logs" -name '*.log.gz' | wc -l)
    svgs=$(find "$work/data/svgs" -name '*.svgz' ! -name '*.reversed.svgz' ! -name '*.fn-*' 2>/dev/null | wc -l)
    [ "$svgs" -ge "$logs" ] && break
    kill -0 "$pid" || { echo "arclamp died:"; tail -5 "$work/arclamp.log"; exit 1; }
    sleep 1
done
pages="/view/daily/2026-11-01/excimer/all
/view/daily/2026-11-01/excimer/all?reversed=1
/view/daily/2026-11-01/excimer/all?fn=Run
/view/hourly/2026-11-01_12/excimer/all
/view/hourly/2026-11-01_12/excimer/all?reversed=1
/range?period=hourly&from=2026-11-01_00&to=2026-11-01_23&channel=excimer&entry=all
/diff?period=hourly&a=2026-11-01_11&b=2026-11-01_12&channel=excimer&entry=all
/view/hourly/2026-11-20_00/excimer/all
/view/hourly/2026-11-20_00/excimer/all?reversed=1"
[ -e "$real" ] && pages="$pages
/view/daily/2026-11-10/excimer/all
/view/daily/2026-11-10/excimer/all?reversed=1"
ARCLAMP_BENCH_URL=$base ARCLAMP_BENCH_PAGES=$pages \
    "${CARGO:-cargo}" test --locked --quiet --test it graph_page_load_times -- --ignored --nocapture 2>&1 \
    | grep -v '^running\|^test \|^$\|test result'
