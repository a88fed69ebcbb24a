#!/usr/bin/env bash
# A bare Debian 13 (debootstrap minbase with only git, make, python3-venv and ca-certificates, apt
# pointed at Debian 13), imported once into the host engine as dockerlab-bare-debian:13 and reused.
# Run as root: `bash scripts/engines/bare-debian-13.sh` (the engine harness calls it).
set -euo pipefail
image="dockerlab-bare-debian:13"
work="${ENGINES_WORK:-/var/tmp/dockerlab-engines}"
rootfs="$work/rootfs-debian-13"

if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
# Debian's archive keyring too: Ubuntu (a hosted CI runner) does not have it.
command -v debootstrap >/dev/null && [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] ||
  { apt-get update -qq && apt-get install -y -qq debootstrap debian-archive-keyring; }
rm -rf "$rootfs" && mkdir -p "$work"
trap 'rm -rf "$rootfs"' EXIT
echo "engines: making $image (debootstrap trixie, a few minutes, once)"
debootstrap --variant=minbase --include=git,make,python3-venv,ca-certificates \
  trixie "$rootfs" http://deb.debian.org/debian
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
tar -C "$rootfs" -c . | docker import --change 'LABEL dockerlab.kit=bare-debian' - "$image"
