#!/usr/bin/env bash
# Runs inside the engine-test container (see run.sh): clone the project, configure the engine variant
# $ENGINE the way an administrator would, then the README's `make test` (or `make $TARGET`). The kit's own `make setup`
# installs and starts the engine.
set -euo pipefail
clone=/root/dockerlab
echo "engines: $ENGINE in $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
git -c safe.directory='*' clone -q --no-local "$REPO" "$clone"
echo "engines: cloned $REPO at $(git -C "$clone" log -1 --format='%h %s')"

case "$ENGINE" in
  docker-26)
    ;;
  docker-26-containerd)
    mkdir -p /etc/docker
    echo '{"features": {"containerd-snapshotter": true}}' >/etc/docker/daemon.json
    echo "engines: /etc/docker/daemon.json: $(cat /etc/docker/daemon.json)"
    ;;
  podman-5)
    # Podman's defaults do not run nested here: crun refuses hybrid cgroups (runc does not), its
    # default rlimits are higher than this container's own (raising them needs CAP_SYS_RESOURCE), and
    # overlay whiteouts are refused on the bind-mounted store (vfs is not).
    ulimits=()
    for limit in nofile:n nproc:u; do
      soft=$(ulimit -S"${limit#*:}") hard=$(ulimit -H"${limit#*:}")
      [ "$hard" = unlimited ] || ulimits+=("\"${limit%%:*}=${soft/unlimited/$hard}:$hard\"")
    done
    mkdir -p /etc/containers
    cat >/etc/containers/containers.conf <<CONF
[containers]
default_ulimits = [$(IFS=,; echo "${ulimits[*]}")]

[engine]
runtime = "runc"
CONF
    cat >/etc/containers/storage.conf <<'CONF'
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
CONF
    for conf in /etc/containers/containers.conf /etc/containers/storage.conf; do
      echo "engines: $conf:" && sed 's/^/    /' "$conf"
    done
    ;;
  *)
    echo "engines: unknown engine $ENGINE" >&2
    exit 2
    ;;
esac
env | grep -E '^(DOCKER_HOST|DOCKERLAB_ENGINE|PIP_CERT)=' | sed 's/^/engines: env /' || true

cd "$clone"
exec make "${TARGET:-test}"
