#!/usr/bin/env bash
# Pub/sub mode: samples lost or counted twice when the instance is replaced mid-traffic,
# the measurement behind issue 15's table. One channel, RATE samples/s (default 400) for
# DURATION seconds (default 24), the default config (checkpoints every 60 s, writer lease
# 10 s); halfway through, one of:
#   kill      SIGKILL, then a new instance starts (node crash, OOM kill)
#   recreate  SIGTERM, the new instance starts once the old one exited (Kubernetes Recreate)
#   rolling   a new instance starts beside the old one, then the old one gets SIGTERM
#             (Kubernetes RollingUpdate, maxSurge 1): the writer-lease handover
# It prints, per scenario, the samples published, those no subscriber received (Redis
# pub/sub drops them), the samples in the stored daily `all` log, and the difference.
#
# Usage: bench/handover.sh [SCENARIO...]   (default: kill recreate rolling)
source "$(dirname "$0")/common.sh"
release_bin
redis_workspace
rate=${RATE:-400}
duration=${DURATION:-24}
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(kill recreate rolling)

# start_instance NAME: `arclamp serve` on $work/data in the background; sets $pid and
# $http, and returns once it is subscribed.
start_instance() {
    http=$(free_port)
    cat > "$work/$1.toml" <<TOML
[redis]
url = "redis://127.0.0.1:$port"
channels = ["excimer"]
[storage]
path = "$work/data"
[http]
listen = "127.0.0.1:$http"
TOML
    "$bin" serve --config "$work/$1.toml" > "$work/$1.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        [ "$(metric arclamp_redis_connected "$http")" = 1 ] && return
        sleep 0.05
    done
    echo "instance $1 did not subscribe:" >&2; cat "$work/$1.log" >&2; exit 1
}

stored_samples() {
    local sum=0
    for log in "$work"/data/logs/daily/*.excimer.all.log.gz; do
        [ -e "$log" ] || continue
        sum=$((sum + $(zcat "$log" | awk '{ s += $NF } END { print s + 0 }')))
    done
    echo "$sum"
}

printf '%-9s %10s %11s %10s %10s %9s\n' scenario published unreceived stored difference percent
for scenario in "${scenarios[@]}"; do
    redis-cli -p "$port" flushall >/dev/null
    rm -rf "$work/data"
    start_instance old
    old=$pid
    "$bin" publish --redis "redis://127.0.0.1:$port" --rate "$rate" --count $((rate * duration)) \
        --seed 7 --expect "$work/expect.json" > "$work/publish.log" 2>&1 &
    publisher=$!
    sleep $((duration / 2))
    case $scenario in
        kill)
            kill -KILL "$old"; wait "$old" 2>/dev/null || true
            start_instance new ;;
        recreate)
            kill -TERM "$old"; wait "$old" || true
            start_instance new ;;
        rolling)
            start_instance new
            sleep 2
            kill -TERM "$old"; wait "$old" || true ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
    new=$pid
    wait "$publisher"
    sleep 1
    kill -TERM "$new"; wait "$new" || true
    published=$(python3 -c "import json; print(json.load(open('$work/expect.json'))['samples']['all'])")
    unreceived=$(python3 -c "import json; print(json.load(open('$work/expect.json'))['unreceived_messages'] or 0)")
    stored=$(stored_samples)
    difference=$((stored - published))
    percent=$(echo "scale=3; 100 * $difference / $published" | bc)
    printf '%-9s %10d %11d %10d %+10d %8s%%\n' "$scenario" "$published" "$unreceived" "$stored" "$difference" "$percent"
done
echo "(difference: stored minus published; negative is lost, positive counted twice; unreceived are messages, not samples)"
