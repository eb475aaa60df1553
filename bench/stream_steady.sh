#!/usr/bin/env bash
# Stream mode at a steady rate: two replicas in one consumer group, `arclamp publish --stream`
# at RATE entries/s (default 200, one sample each, publish's seed-1 synthetic stream) for
# SECONDS (default 95, three commits at the default commit_interval of 30 s). Prints each
# replica's share of the entries, its CPU seconds, and per commit: wall time, bytes written;
# then what that makes per hour (PUTs and bytes) for this one channel.
source "$(dirname "$0")/common.sh"
RATE=${RATE:-200}
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
channels = ["excimer"]
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
$bin publish --stream --redis "redis://127.0.0.1:$port" --channel excimer --rate "$RATE" --count $((RATE * SECONDS_RUN)) --seed 1 2>/dev/null
sleep 35   # one more commit interval: everything read is committed
total=0
for r in a b; do
    n=$(metric 'arclamp_stream_entries_read_total{channel="excimer",how="new"}' "${http[$r]}")
    total=$(echo "$total + $n" | bc)
done
for r in a b; do
    p=${http[$r]}
    n=$(metric 'arclamp_stream_entries_read_total{channel="excimer",how="new"}' "$p")
    commits=$(metric 'arclamp_stream_commits_total{result="ok"}' "$p")
    bytes=$(metric arclamp_stream_commit_bytes_total "$p")
    dur_sum=$(metric arclamp_stream_commit_duration_seconds_sum "$p")
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/${pid[$r]}/stat")
    printf 'replica %s: share=%.1f%% entries=%s cpu_seconds=%s (whole run, incl. start, reads, renders) commits=%s mean_commit_wall=%.3fs mean_commit_bytes=%.0f\n' \
        "$r" "$(echo "100 * $n / $total" | bc -l)" "$n" "$cpu" "$commits" "$(echo "$dur_sum / $commits" | bc -l)" "$(echo "$bytes / $commits" | bc -l)"
done
bytes=$(( $(metric arclamp_stream_commit_bytes_total "${http[a]}" | cut -d. -f1) + $(metric arclamp_stream_commit_bytes_total "${http[b]}" | cut -d. -f1) ))
printf 'per hour for this channel: %.0f segment PUTs (2 replicas x 120 commits), %.3f GB of segments at %s entries/s\n' 240 "$(echo "$bytes * 3600 / ($SECONDS_RUN + 35) / 1000000000" | bc -l)" "$RATE"
