#!/usr/bin/env bash
# Runs inside the engine-test container (see run.sh): clone the project, configure the engine variant
# $ENGINE the way an administrator would, then the README's `make test` (or `make $TARGET`). The kit's own `make setup`
# installs and starts the engine.
# docker-26-remote is only the engine: installed and started here with its socket in /run/remote (a host
# folder), a registry:2 image made offline; the kit runs on the host (run.sh) until this container is removed.
set -euo pipefail
clone=/root/dockerlab
echo "engines: $ENGINE in $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"

serve_engine() {
  export DEBIAN_FRONTEND=noninteractive DOCKER_HOST=unix:///run/remote/docker.sock
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io docker-cli docker-registry >/dev/null
  dockerd -H "$DOCKER_HOST" >/var/log/dockerd.log 2>&1 &
  local engine=$!
  until docker info >/dev/null 2>&1; do
    kill -0 "$engine" 2>/dev/null || { tail -n 5 /var/log/dockerd.log; exit 1; }
    sleep 0.5
  done
  bash /engines/registry-image.sh registry:2
  echo "engines: engine ready: Docker $(docker version -f '{{.Server.Version}}') at $DOCKER_HOST"
  wait "$engine"
}
[ "$ENGINE" != docker-26-remote ] || serve_engine

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
