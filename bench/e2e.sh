#!/usr/bin/env bash
# End to end: a burst of N messages (default 200,000) of publish's seed-1 stream pushed with
# `redis-cli --pipe` into a redis-server with default output-buffer limits. The ceiling is
# a subscriber that only counts messages (examples/count_subscriber.rs, same redis crate);
# arclamp must receive and count the same burst with zero loss in at most 1/0.9 of the
# ceiling's time. Both run in the same invocation, so the ratio is what matters.
source "$(dirname "$0")/common.sh"
N=${1:-200000}
# CARGO=xcargo on a shared machine; the binaries are where CARGO_TARGET_DIR says.
${CARGO:-cargo} build --release --locked --bin arclamp --example count_subscriber 2>&1 | tail -1
release=${CARGO_TARGET_DIR:-target}/release
bin=$release/arclamp
redis_workspace
$bin publish --out "$work/burst.resp" --format resp --count "$N" --seed 1 --expect "$work/expect.json" 2>/dev/null
echo "burst: $N messages, $(du -m "$work/burst.resp" | cut -f1) MB of RESP"

redis_pid=$(redis-cli -p "$port" info server | awk -F: '/^process_id/ {print $2}' | tr -d '\r')
# cpu_seconds PID [PROCESS]: user + system CPU seconds of a process (or of thread PID of PROCESS).
cpu_seconds() {
    local stat=/proc/$1/stat
    [ -n "${2:-}" ] && stat=/proc/$2/task/$1/stat
    awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "$stat" 2>/dev/null || echo 0
}

wait_numsub() { for _ in $(seq 200); do [ "$(redis-cli -p "$port" pubsub numsub excimer | tail -1)" = "1" ] && return; sleep 0.05; done; echo "no subscriber" >&2; exit 1; }

# 1. Ceiling: count-only subscriber.
"$release/examples/count_subscriber" "redis://127.0.0.1:$port" excimer "$N" 120 > "$work/ceiling.txt" &
sub=$!
wait_numsub
redis_before=$(cpu_seconds "$redis_pid")
start=$(now)
redis-cli -p "$port" --pipe < "$work/burst.resp" > /dev/null
wait $sub
ceiling=$(echo "$(now) - $start" | bc)
echo "ceiling (count-only subscriber): $(tail -1 "$work/ceiling.txt"); wall ${ceiling}s"
echo "  CPU seconds during the burst: redis-server $(echo "$(cpu_seconds "$redis_pid") - $redis_before" | bc), ceiling subscriber: see its line above"

# 2. arclamp serve.
http=$(free_port)
ARCLAMP__REDIS__URL="redis://127.0.0.1:$port" ARCLAMP__STORAGE__PATH="$work/data" ARCLAMP__HTTP__LISTEN="127.0.0.1:$http" \
    ARCLAMP__AGGREGATION__FLUSH_INTERVAL="1h" ARCLAMP__LOG__LEVEL=warn \
    $bin serve --config config/arclamp.toml 2> "$work/arclamp.log" &
serve=$!
wait_numsub
start=$(now)
redis-cli -p "$port" --pipe < "$work/burst.resp" > /dev/null
piped=$(echo "$(now) - $start" | bc)
while [ "$(metric 'arclamp_messages_received_total{channel="excimer"}' "$http")" -lt "$N" ]; do
    sleep 0.05
    if [ "$(echo "$(now) - $start > 120" | bc)" = 1 ]; then echo "arclamp did not receive the burst" >&2; break; fi
done
arclamp=$(echo "$(now) - $start" | bc)
received=$(metric 'arclamp_messages_received_total{channel="excimer"}' "$http")
samples=$(metric 'arclamp_samples_received_total{channel="excimer"}' "$http")
reconnects=$(metric 'arclamp_redis_reconnects_total' "$http")
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$serve/status)
# Per thread: the subscriber and the ingest thread are the two busy ones (arbiter threads are
# all named actix-rt|system; the ingest one is created first).
threads=$(for t in /proc/$serve/task/*; do echo "$(basename "$t")($(cat "$t/comm")):$(cpu_seconds "$(basename "$t")" "$serve")"; done | awk -F: '$NF > 0.05' | tr '\n' ' ')
kill -TERM $serve; wait $serve || true
expected=$(tr -d ' \n' < "$work/expect.json" | sed 's/.*"all":\([0-9]*\).*/\1/')
total=$(zcat "$work"/data/logs/daily/*.excimer.all.log.gz | awk '{s += $NF} END {print s}')
echo "arclamp: received $received messages ($samples samples; expected $expected; in files after SIGTERM: $total), reconnects $reconnects, wall ${arclamp}s (redis-cli --pipe itself: ${piped}s), peak RSS $((rss_kb / 1024)) MB"
echo "  arclamp threads with CPU seconds (tid(name):seconds; the busiest two are the ingest thread, created first, and the subscriber): $threads"
echo "ratio arclamp/ceiling: $(echo "scale=3; $arclamp / $ceiling" | bc) (target <= 1.111)"
[ "$received" -eq "$N" ] && [ "$total" -eq "$expected" ] && [ "$reconnects" = 0 ] && echo "zero loss: yes" || echo "zero loss: NO"
