#!/usr/bin/env bash
# Stream mode: drain a backlog of N entries (default 200,000) of publish's seed-1 stream,
# XADDed with `redis-cli --pipe` before anyone reads. The ceiling is a consumer that only
# reads and acknowledges (examples/count_stream_reader.rs: XREADGROUP COUNT 1000 + XACK,
# same redis crate, same reply parser); arclamp must read, count, commit (segments to a
# local store) and acknowledge every entry, in at least 0.8 of the ceiling's rate. Each
# reads in its own consumer group of the same stream, alternating, ROUNDS times (default 2).
source "$(dirname "$0")/common.sh"
N=${1:-200000}
ROUNDS=${ROUNDS:-2}
${CARGO:-cargo} build --release --locked --bin arclamp --example count_stream_reader 2>&1 | tail -1
release=${CARGO_TARGET_DIR:-target}/release
bin=$release/arclamp
redis_workspace
$bin publish --stream --channel excimer --out "$work/backlog.resp" --format resp --count "$N" --seed 1 2>/dev/null
redis-cli -p "$port" --pipe < "$work/backlog.resp" >/dev/null
# Every reader's group exists before anyone reads: arclamp trims only what every group has
# acknowledged, so each round finds the whole backlog.
for round in $(seq "$ROUNDS"); do
    redis-cli -p "$port" xgroup create excimer "ceiling$round" 0 >/dev/null
    redis-cli -p "$port" xgroup create excimer "arclamp$round" 0 >/dev/null
done
echo "backlog: $(redis-cli -p "$port" xlen excimer) entries, $(du -m "$work/backlog.resp" | cut -f1) MB of RESP, redis used_memory $(redis-cli -p "$port" info memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r')"

for round in $(seq "$ROUNDS"); do
    ceiling=$("$release/examples/count_stream_reader" "redis://127.0.0.1:$port" excimer "ceiling$round" "$N")
    echo "round $round ceiling: $ceiling"
    http=$(free_port)
    mkdir -p "$work/r$round"
    cat > "$work/r$round/arclamp.toml" <<TOML
[redis]
url = "redis://127.0.0.1:$port"
channels = ["excimer"]
source = "stream"
group = "arclamp$round"
# The backlog's last entries wait at most this long for their commit.
commit_interval = "1s"
claim_after = "2s"
[storage]
path = "$work/r$round/data"
[http]
listen = "127.0.0.1:$http"
[render]
workers = 1
interval = "1h"
TOML
    start=$(now)
    $bin serve --config "$work/r$round/arclamp.toml" 2>"$work/r$round/log" &
    pid=$!
    counted=""
    until [ "$(metric arclamp_stream_entries_acked_total "$http")" = "$N" ]; do
        [ -z "$counted" ] && [ "$(metric 'arclamp_stream_entries_read_total{channel="excimer",how="new"}' "$http")" = "$N" ] && counted=$(now)
        sleep 0.05
        kill -0 $pid 2>/dev/null || { echo "arclamp exited:"; tail "$work/r$round/log"; exit 1; }
    done
    end=$(now)
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' /proc/$pid/stat)
    commits=$(metric 'arclamp_stream_commits_total{result="ok"}' "$http")
    segment_mb=$(echo "$(metric arclamp_stream_commit_bytes_total "$http") / 1048576" | bc -l)
    kill -TERM $pid; wait $pid || true
    seconds=$(echo "$end - $start" | bc -l)
    ceiling_seconds=$(echo "$ceiling" | sed 's/.* seconds=\([0-9.]*\) .*/\1/')
    read_seconds=$(echo "${counted:-$end} - $start" | bc -l)
    printf 'round %s arclamp: entries=%s read_and_counted=%.3fs all_acknowledged=%.3fs (from process start) cpu_seconds=%s commits=%s segments=%.1fMB rate=%.0f/s ratio_to_ceiling=%.2f\n' \
        "$round" "$N" "$read_seconds" "$seconds" "$cpu" "$commits" "$segment_mb" "$(echo "$N / $seconds" | bc -l)" "$(echo "$ceiling_seconds / $seconds" | bc -l)"
done
