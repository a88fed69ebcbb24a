#!/usr/bin/env bash
# The "fresh machine" check: `make test` on a bare Debian 12 that has only git, make and python3-venv.
# A debootstrap minbase system runs as a container on this engine, with the engine's socket mounted,
# the clone at the same path as on the host, and the host's CA bundle named in PIP_CERT.
# It shares the host's network (PyPI, Debian, the loopback registry) and pid namespace (so the kit's
# session liveness checks see the same processes). Run as root: `bash scripts/bare-debian-check.sh`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${BARE_WORK:-/var/tmp/dockerlab-bare}"
image="dockerlab-bare-debian:12"
clone="$work/clone"

if ! docker image inspect "$image" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  rm -rf "$work/rootfs" && mkdir -p "$work"
  debootstrap --variant=minbase --include=git,make,python3-venv bookworm "$work/rootfs" http://deb.debian.org/debian
  cp /etc/apt/sources.list.d/debian.sources "$work/rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
  tar -C "$work/rootfs" -c . | docker import --change 'LABEL dockerlab.kit=bare-debian' - "$image"
  rm -rf "$work/rootfs"
fi
rm -rf "$clone" && git clone -q "$repo" "$clone"
exec docker run --rm --network host --pid host \
  -v /var/run/docker.sock:/var/run/docker.sock \
  -v "$clone:$clone" -w "$clone" \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro -e PIP_CERT=/etc/ssl/host-ca.crt \
  "$image" make test
