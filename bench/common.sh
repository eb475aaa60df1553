# Shared helpers of the bench/ scripts (sourced, not run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

free_port() {
    local port
    while true; do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
}

# metric NAME_WITH_LABELS PORT: the value of one series on /metrics (0 when absent).
metric() {
    curl -s "http://127.0.0.1:$2/metrics" | awk -v s="$1" '$1 == s { print $2; found=1 } END { if (!found) print 0 }'
}

now() { date +%s.%N; }

# start_redis DIR: a private redis-server (no persistence) on a free port, its files in DIR;
# sets $port and returns once it answers. --daemonize returns before the server listens
# (and a taken port only shows in its log), so this waits for a PONG.
start_redis() {
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$1" --logfile "$1/redis.log" --daemonize yes
    for _ in $(seq 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return; sleep 0.05; done
    echo "redis-server did not start on port $port:" >&2; cat "$1/redis.log" >&2; exit 1
}

# redis_workspace: a temporary $work directory and a private redis-server in it ($port);
# at exit the server and every background job are stopped and $work removed (KEEP=1 keeps it).
redis_workspace() {
    work=$(mktemp -d)
    port=0
    trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"; echo "work dir: $work"' EXIT
    start_redis "$work"
}
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }

# stored_logs_config FILE DATA_DIR HTTP_PORT: a config for `arclamp serve` on stored logs
# only (daily period, one renderer, no Redis listening, retention idle); append to FILE for
# more keys.
stored_logs_config() {
    cat > "$1" <<TOML
[redis]
# Nothing listens here: the benchmark works on stored logs only.
url = "redis://127.0.0.1:1"
[storage]
path = "$2"
[periods.daily]
format = "%Y-%m-%d"
retain = 730
[http]
listen = "127.0.0.1:$3"
[render]
workers = 1
[retention]
interval = "1d"
TOML
}

# release_bin: the arclamp build to measure, in $bin: $BIN when given, else a release build
# made with $CARGO (default cargo; xcargo on a shared machine) into $CARGO_TARGET_DIR
# (default target).
release_bin() {
    if [ -n "${BIN:-}" ]; then
        bin=$BIN
        return
    fi
    "${CARGO:-cargo}" build --release --quiet --bin arclamp
    bin="${CARGO_TARGET_DIR:-target}/release/arclamp"
}

# stored_logs_service_setup NAME: a temporary work dir in $work (removed on exit, after
# stopping the `arclamp serve` whose pid the caller puts in $pid), a free HTTP port in
# $port, and $work/arclamp.toml from stored_logs_config with its data in $work/data.
stored_logs_service_setup() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/arclamp-$1.XXXXXX")
    pid=""
    trap stored_logs_service_cleanup EXIT
    port=$(free_port)
    stored_logs_config "$work/arclamp.toml" "$work/data" "$port"
}

stored_logs_service_cleanup() {
    # `|| true`: under `set -e` the killed service's exit status would end the trap before
    # the work dir (GBs for a day of logs) is removed.
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
