#!/usr/bin/env bash
# Build the arclamp runtime image without a registry or a Docker engine: `buildah from
# scratch`, then the binary, the shared libraries `ldd` says it needs, the CA bundle, the
# shipped config and an empty data directory, laid out as deploy/Dockerfile's runtime stage
# (working directory /srv/arclamp, user 65532, port 8080, SIGTERM to stop).
#
#   deploy/build-image-from-scratch.sh [BINARY] [IMAGE]
#
# BINARY defaults to target/release/arclamp (build it with `cargo build --release`), IMAGE
# to localhost/arclamp:dev. Needs root (or a rootless buildah setup) and Debian's buildah.
# BUILDAH_ROOT=DIR keeps buildah's storage (vfs driver) under DIR instead of the system's,
# which is what the tests do so that they leave nothing behind. Prints the image id.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${1:-target/release/arclamp}
image=${2:-localhost/arclamp:dev}
[ -x "$binary" ] || { echo "no executable $binary: run cargo build --release first" >&2; exit 1; }
command -v buildah >/dev/null || { echo "buildah is missing: apt-get install buildah" >&2; exit 1; }

storage=(--storage-driver vfs)
if [ -n "${BUILDAH_ROOT:-}" ]; then
    storage+=(--root "$BUILDAH_ROOT/root" --runroot "$BUILDAH_ROOT/runroot")
fi
bh() { buildah "${storage[@]}" "$@"; }

container=$(bh from scratch)
cleanup() { bh umount "$container" >/dev/null 2>&1 || true; bh rm "$container" >/dev/null 2>&1 || true; }
trap cleanup EXIT
root=$(bh mount "$container")

install -D -m 0755 "$binary" "$root/usr/local/bin/arclamp"
# The dynamic loader and every library the binary links, at the paths ldd resolves them to.
ldd "$binary" | grep -o '/[^ ]*' | sort -u | while read -r library; do
    install -D -m 0755 "$(readlink -f "$library")" "$root$library"
done
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
install -D -m 0644 config/arclamp.toml "$root/srv/arclamp/config/arclamp.toml"
install -d -m 0750 -o 65532 -g 65532 "$root/srv/arclamp/data"
install -d -m 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:arclamp:/srv/arclamp:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"

bh config \
    --workingdir /srv/arclamp \
    --user 65532:65532 \
    --env ARCLAMP__HTTP__LISTEN=0.0.0.0:8080 \
    --port 8080/tcp \
    --stop-signal SIGTERM \
    --entrypoint '["/usr/local/bin/arclamp"]' \
    --cmd 'serve --config config/arclamp.toml' \
    --label org.opencontainers.image.title=arclamp \
    "$container"
bh umount "$container" >/dev/null
bh commit --quiet "$container" "$image"
