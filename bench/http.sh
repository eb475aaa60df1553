#!/usr/bin/env bash
# HTTP serving under ingest: a stored daily graph (one simulated day at 200 samples/s,
# written by `arclamp publish --to-store`) served with wrk over loopback while
# `arclamp publish --rate 2000` feeds the same service. Reports wrk's requests/s (target
# >= 5,000) and checks no ingest loss: messages received == published, and samples in the
# daily log after SIGTERM == samples published.
#   [DAYS=1] bench/http.sh [SECONDS (default 20)] [CONNECTIONS (default 32)]  (DAYS: simulated days stored)
source "$(dirname "$0")/common.sh"
SECONDS_=${1:-20}
CONNS=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked --bin arclamp 2>&1 | tail -1
bin=${CARGO_TARGET_DIR:-target}/release/arclamp
work=$(mktemp -d)
port=$(free_port)
http=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --logfile "$work/redis.log" --daemonize yes
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"; echo "work dir: $work"' EXIT
cat > "$work/arclamp.toml" <<TOML
[redis]
url = "redis://127.0.0.1:$port"
channels = ["excimer"]
[storage]
path = "$work/data"
[http]
listen = "127.0.0.1:$http"
[log]
level = "warn"
TOML

# 1. A stored day: yesterday, so the live feed below lands in another (today's) window.
day=$(date -u -d yesterday +%Y-%m-%d)
$bin publish --to-store --config "$work/arclamp.toml" --days ${DAYS:-1} --rate 200 --start "${day}T00:00:00Z" > /dev/null 2>&1
file="svgs/daily/$day.excimer.all.svgz"
[ -f "$work/data/$file" ] || { echo "no stored daily graph $file" >&2; exit 1; }
echo "stored daily graph: /$file, $(stat -c %s "$work/data/$file") bytes gzip, $(zcat "$work/data/$file" | wc -c) bytes SVG"

# 2. The service, fed at 2,000 messages/s (one sample each) for the whole wrk run.
$bin serve --config "$work/arclamp.toml" 2> "$work/arclamp.log" &
serve=$!
for _ in $(seq 200); do [ "$(redis-cli -p "$port" pubsub numsub excimer | tail -1)" = "1" ] && break; sleep 0.05; done
count=$((2000 * (SECONDS_ + 4)))
$bin publish --redis "redis://127.0.0.1:$port" --rate 2000 --count "$count" --seed 7 --expect "$work/expect.json" > /dev/null 2>&1 &
feed=$!
sleep 2
url="http://127.0.0.1:$http/$file"
echo "wrk -t2 -c$CONNS -d${SECONDS_}s (Accept-Encoding: gzip) $url"
wrk -t2 -c"$CONNS" -d"${SECONDS_}s" --latency -H 'Accept-Encoding: gzip' "$url" | tee "$work/wrk.txt"
wait $feed
start=$(now)
while [ "$(metric 'arclamp_messages_received_total{channel="excimer"}' "$http")" -lt "$count" ]; do
    sleep 0.1
    if [ "$(echo "$(now) - $start > 30" | bc)" = 1 ]; then echo "not every message arrived" >&2; break; fi
done
received=$(metric 'arclamp_messages_received_total{channel="excimer"}' "$http")
reconnects=$(metric 'arclamp_redis_reconnects_total' "$http")
status_200=$(grep -c "Non-2xx" "$work/wrk.txt" || true)
kill -TERM $serve; wait $serve || true
expected=$(tr -d ' \n' < "$work/expect.json" | sed 's/.*"all":\([0-9]*\).*/\1/')
unreceived=$(tr -d ' \n' < "$work/expect.json" | sed 's/.*"unreceived_messages":\([0-9]*\).*/\1/')
today=$(date -u +%Y-%m-%d)
total=$(zcat "$work"/data/logs/daily/*.excimer.all.log.gz | awk '{s += $NF} END {print s}')
stored=$(zcat "$work/data/logs/daily/$day.excimer.all.log.gz" | awk '{s += $NF} END {print s}')
fed=$((total - stored))
rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
echo "requests/s: $rps (target >= 5000); non-2xx lines in wrk output: $status_200"
echo "ingest: published $count messages ($expected samples), unreceived by Redis $unreceived, received $received, in the live window's files after SIGTERM $fed, reconnects $reconnects"
[ "$received" -eq "$count" ] && [ "$fed" -eq "$expected" ] && [ "$reconnects" = 0 ] && echo "ingest loss: none" || echo "ingest loss: YES"

# 3. The machine's ceiling for this body size: nginx (sendfile, 2 workers) serving the same
#    file to the same wrk, in the same run, without ingest. Skipped when nginx is absent
#    (Debian package nginx-light); it shows how much of the gap is the server's.
if command -v nginx >/dev/null; then
    ngx=$(free_port)
    mkdir -p "$work/nginx/www"
    cp "$work/data/$file" "$work/nginx/www/graph.svgz"
    # mktemp -d makes the work dir 0700; nginx's workers (user nobody) must read the file, or
    # every answer is a 403 and the "ceiling" measures error pages.
    chmod a+rx "$work" "$work/nginx" "$work/nginx/www" && chmod a+r "$work/nginx/www/graph.svgz"
    cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$ngx;
        root $work/nginx/www;
        location / { add_header Content-Encoding gzip; }
    }
}
NGINX
    nginx -c "$work/nginx/nginx.conf"
    sleep 0.5
    echo "ceiling: nginx (sendfile) serving the same file, wrk -t2 -c$CONNS -d${SECONDS_}s, no ingest"
    wrk -t2 -c"$CONNS" -d"${SECONDS_}s" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$ngx/graph.svgz" | grep -E 'Requests/sec|Transfer/sec|Non-2xx'
    nginx -c "$work/nginx/nginx.conf" -s stop
fi
