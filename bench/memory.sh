#!/usr/bin/env bash
# Memory: resident memory of `arclamp serve` after ingesting about 200,000 distinct stacks
# through Redis (hourly and daily windows live), against its idle baseline. Target: the
# growth is at most a quarter of those stacks' text size (arclamp_stack_text_bytes).
source "$(dirname "$0")/common.sh"
SAMPLES=${1:-800000}
RATE=${2:-40000}
release_bin
work=$(mktemp -d)
port=$(free_port)
http=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --logfile "$work/redis.log" --daemonize yes
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
ARCLAMP__REDIS__URL="redis://127.0.0.1:$port" ARCLAMP__STORAGE__PATH="$work/data" ARCLAMP__HTTP__LISTEN="127.0.0.1:$http" \
    ARCLAMP__LOG__LEVEL=warn $bin serve --config config/arclamp.toml 2> "$work/arclamp.log" &
serve=$!
for _ in $(seq 200); do [ "$(redis-cli -p "$port" pubsub numsub excimer | tail -1)" = "1" ] && break; sleep 0.05; done
sleep 1
idle_kb=$(awk '/VmRSS/ {print $2}' /proc/$serve/status)
$bin publish --redis "redis://127.0.0.1:$port" --count $((SAMPLES / 10)) --lines-per-message 10 --rate $((RATE / 10)) --seed 1 --expect "$work/expect.json" 2>/dev/null
expected=$(tr -d ' \n' < "$work/expect.json" | sed 's/.*"all":\([0-9]*\).*/\1/')
while [ "$(metric 'arclamp_samples_received_total{channel="excimer"}' "$http")" -lt "$expected" ]; do sleep 0.1; done
sleep 1
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$serve/status)
stacks=$(metric arclamp_interned_stacks "$http")
text=$(metric arclamp_stack_text_bytes "$http")
growth=$(( (rss_kb - idle_kb) * 1024 ))
echo "samples $expected, distinct stacks $stacks, their text $((text / 1048576)) MB"
echo "RSS idle $((idle_kb / 1024)) MB, after $((rss_kb / 1024)) MB, growth $((growth / 1048576)) MB"
echo "growth / text = $(echo "scale=3; $growth / $text" | bc) (target <= 0.25)"
kill -TERM $serve; wait $serve
