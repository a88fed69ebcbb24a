#!/usr/bin/env bash
# Makes a `registry:2`-like image offline from Debian's `docker-registry` (the Distribution registry):
# the binary, the libraries it links, and the official image's config, ENTRYPOINT, CMD, port and volume.
#   bash scripts/engines/registry-image.sh TAG [LABEL=VALUE]
# The `docker` CLI names the engine (DOCKER_HOST); the engine-test harness tags it registry:2, tests
# tag their own. Needs docker-registry and ldd on this host.
set -euo pipefail
tag="$1"
binary="$(command -v docker-registry)"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc/docker/registry" "$root/var/lib/registry" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$binary" "$root/bin/registry"
for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cat >"$root/etc/docker/registry/config.yml" <<'CONF'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
CONF
changes=(--change 'ENTRYPOINT ["/bin/registry", "serve"]' --change 'CMD ["/etc/docker/registry/config.yml"]'
  --change 'EXPOSE 5000' --change 'VOLUME ["/var/lib/registry"]')
[ $# -lt 2 ] || changes+=(--change "LABEL $2")
tar -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
echo "registry image $tag made from $binary ($(dpkg-query -W -f='${Version}' docker-registry 2>/dev/null || echo '?'))"
