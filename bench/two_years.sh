#!/usr/bin/env bash
# Issue 16's measurement: the whole default retention simulated, as the service would have
# left the store: `arclamp publish --to-store` over DAYS days (default 730, ending
# 2026-12-01) at RATE samples/s (default 35, the top of Wikimedia's 12-35 per channel) on
# the calibrated workload, with graphs and roll-ups, under the shipped periods (14 days of
# hourly windows, 730 daily ones; older hourly windows are drawn but not written, as
# retention would have deleted them). Prints the time taken and what the store holds, per
# period and kind of object.
#
# PARTS=N runs N simulations side by side over consecutive slices of the days (one per
# core; part i draws with seed SEED + 1000 i): only the last slice has hourly windows, and
# the last roll-up pass to finish rebuilds any block a slice saw only part of (a roll-up
# names the logs it was built from). Not run in CI: a simulated day costs about 10 s here.
#
# Usage: bench/two_years.sh       (DAYS=730 RATE=35 SEED=3 CHANNELS=1 PARTS=1; KEEP=1 keeps the store)
set -euo pipefail
cd "$(dirname "$0")/.."
days=${DAYS:-730}
rate=${RATE:-35}
seed=${SEED:-3}
channels=${CHANNELS:-1}
parts=${PARTS:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/arclamp-two-years.XXXXXX")
trap '[ -n "${KEEP:-}" ] && echo "store kept in $work/data" || rm -rf "$work"' EXIT
"${CARGO:-cargo}" build --release --quiet --bin arclamp
names=$(for i in $(seq "$channels"); do
    case $i in 1) echo excimer ;; 2) echo excimer-wall ;; 3) echo excimer-k8s ;; 4) echo excimer-k8s-wall ;; *) echo "excimer-$i" ;; esac
done | sed 's/.*/"&"/' | paste -sd, -)
start=$(date -u -d "2026-12-01 - $days days" +%F)
echo "== $days days of $channels channel(s) at $rate samples/s each, seed $seed, from $start, in $parts part(s)"
started=$(date +%s)
pids=()
for part in $(seq 0 $((parts - 1))); do
    from=$((days * part / parts))
    to=$((days * (part + 1) / parts))
    config=$work/arclamp-$part.toml
    printf '[redis]\nchannels = [%s]\n[storage]\npath = "%s/data"\n' "$names" "$work" > "$config"
    # Only the last slice ends where the hourly windows kept are.
    [ "$part" -eq $((parts - 1)) ] || printf '[periods.daily]\nretain = 730\n' >> "$config"
    /usr/bin/time -f "part $part: peak RSS %M KB, %e s" target/release/arclamp publish --to-store \
        --config "$config" --rate "$rate" --days $((to - from)) --seed $((seed + 1000 * part)) \
        --start "$(date -u -d "$start + $from days" +%F)" --expect "$work/report-$part.json" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "simulated in $(( $(date +%s) - started )) s"
python3 -c 'import json, sys
for path in sys.argv[1:]:
    r = json.load(open(path))
    print(path.rsplit("/", 1)[-1], r["start"], "to", r["end"], "windows written", r["windows"],
          "not written (retention)", r.get("pruned_windows", 0), "logs", r["logs"],
          "graphs", r["graphs"], "roll-ups", r["rollups"],
          "samples", {c: t["all"] for c, t in r["samples"].items()})' "$work"/report-*.json
echo "== what the store holds"
bench/store_breakdown.sh "$work/data"
