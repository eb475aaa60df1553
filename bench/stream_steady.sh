#!/usr/bin/env bash
# Stream mode at a steady rate: two replicas in one consumer group, `arclamp publish --stream`
# on CHANNELS streams (default 4, Wikimedia's: excimer, excimer-wall and their -k8s twins)
# at RATE entries/s each (default 50, one sample each, publish's synthetic stream) for
# SECONDS_RUN (default 95, three commits at the default commit_interval of 30 s), default
# config otherwise (live twins refreshed every 60 s). Prints each replica's share of the
# entries, its CPU seconds, and per commit: wall time, bytes written; then every object
# written by both replicas (segments, live twins, sealed logs, graphs), per hour.
source "$(dirname "$0")/common.sh"
RATE=${RATE:-50}
CHANNELS=${CHANNELS:-4}
names=(excimer excimer-wall excimer-k8s excimer-wall-k8s)
channels=("${names[@]:0:$CHANNELS}")
toml_channels=$(printf '"%s", ' "${channels[@]}")
SECONDS_RUN=${SECONDS_RUN:-95}
${CARGO:-cargo} build --release --locked --bin arclamp 2>&1 | tail -1
bin=${CARGO_TARGET_DIR:-target}/release/arclamp
redis_workspace
declare -A http pid
for r in a b; do
    http[$r]=$(free_port)
    cat > "$work/$r.toml" <<TOML
[redis]
url = "redis://127.0.0.1:$port"
channels = [${toml_channels%, }]
source = "stream"
[storage]
path = "$work/data"
[http]
listen = "127.0.0.1:${http[$r]}"
[render]
workers = 1
TOML
    $bin serve --config "$work/$r.toml" 2>"$work/$r.log" &
    pid[$r]=$!
done
sleep 1
seed=1
for c in "${channels[@]}"; do
    $bin publish --stream --redis "redis://127.0.0.1:$port" --channel "$c" --rate "$RATE" --count $((RATE * SECONDS_RUN)) --seed $seed 2>/dev/null &
    seed=$((seed + 1))
done
wait $(jobs -p | tail -n "${#channels[@]}")
sleep 35   # one more commit interval: everything read is committed
# entries_read REPLICA_PORT: entries the replica read as new, all channels.
entries_read() {
    curl -s "http://127.0.0.1:$1/metrics" | awk '$1 ~ /^arclamp_stream_entries_read_total\{/ && $1 ~ /how="new"/ { s += $2 } END { print s + 0 }'
}
total=0
for r in a b; do
    total=$(echo "$total + $(entries_read "${http[$r]}")" | bc)
done
for r in a b; do
    p=${http[$r]}
    n=$(entries_read "$p")
    commits=$(metric 'arclamp_stream_commits_total{result="ok"}' "$p")
    bytes=$(metric arclamp_stream_commit_bytes_total "$p")
    dur_sum=$(metric arclamp_stream_commit_duration_seconds_sum "$p")
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/${pid[$r]}/stat")
    printf 'replica %s: share=%.1f%% entries=%s cpu_seconds=%s (whole run, incl. start, reads, renders) commits=%s mean_commit_wall=%.3fs mean_commit_bytes=%.0f\n' \
        "$r" "$(echo "100 * $n / $total" | bc -l)" "$n" "$cpu" "$commits" "$(echo "$dur_sum / $commits" | bc -l)" "$(echo "$bytes / $commits" | bc -l)"
done
elapsed=$((SECONDS_RUN + 35))
printf 'per hour, both replicas, %s channels at %s entries/s each (%s s measured):\n' "${#channels[@]}" "$RATE" "$elapsed"
for kind in segments logs svgs other; do
    puts=0; bytes=0
    for r in a b; do
        puts=$(echo "$puts + $(metric "arclamp_storage_writes_total{kind=\"$kind\"}" "${http[$r]}")" | bc)
        bytes=$(echo "$bytes + $(metric "arclamp_storage_written_bytes_total{kind=\"$kind\"}" "${http[$r]}")" | bc)
    done
    printf '  %-9s %8.0f PUTs/h %8.3f GB/h\n' "$kind" "$(echo "$puts * 3600 / $elapsed" | bc -l)" "$(echo "$bytes * 3600 / $elapsed / 1000000000" | bc -l)"
done
# Reading live windows (nothing is written for them): the first request merges the window
# from the ledger's snapshot and draws the graph, the next ones within flush_interval reuse it.
hour=$(date -u +%Y-%m-%d_%H)
day=$(date -u +%Y-%m-%d)
for path in "/logs/hourly/$hour.excimer.all.log.gz" "/svgs/hourly/$hour.excimer.all.svgz" "/svgs/daily/$day.excimer.all.svgz"; do
    for attempt in first again; do
        printf 'live read (%s) %s: %s\n' "$attempt" "$path" \
            "$(curl -s -o /dev/null -w '%{http_code}, %{size_download} bytes, %{time_total} s' "http://127.0.0.1:${http[a]}$path")"
    done
done
