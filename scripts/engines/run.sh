#!/usr/bin/env bash
# `make test-engine ENGINE=name` / `make test-engines`: the README's `make test` on a bare Debian 13
# with its own engine inside (never the host's socket). Run as root, with the host engine answering.
#   bash scripts/engines/run.sh NAME...     NAME: docker-26, docker-26-containerd, podman-5, docker-26-remote
# REPO (default: this checkout) is mounted read-only and cloned inside: its committed HEAD is tested.
# docker-26-remote: an engine not on this host (as Docker Desktop's is): the container runs only Docker 26,
# its socket in a host folder; the kit runs here, from its own clone and .venv, with DOCKER_HOST on that
# socket and DOCKERLAB_ENGINE_ADDRESS the container's address: `make test` of REMOTE_TESTS.
# Each engine's whole output goes to /var/tmp/dockerlab-engines/NAME.log (the run before is kept as
# NAME.previous.log); its last line (also printed) is the pytest summary and the wall time.
# TESTS (optional) runs only those files inside, as `make test TESTS=...` does.
# ENGINES_WORK (default /var/tmp/dockerlab-engines) holds logs and stores; runs with different ones may
# go side by side. ENGINE_TIMEOUT (seconds, default 7200) stops a run that hangs. TARGET=bench runs `make bench` instead
# (`make bench-engine`): its summary is the benchmarks' ratio lines.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "${REPO:-$here/../..}" && pwd)"
work="${ENGINES_WORK:-/var/tmp/dockerlab-engines}"
image="dockerlab-bare-debian:13"
timeout="${ENGINE_TIMEOUT:-7200}"
target="${TARGET:-test}"  # the make target run inside: test (the README's), or bench
suffix="${target/#test/}"  # logs: NAME.log for the tests, NAME.bench.log for the benchmarks
suffix="${suffix:+.$suffix}"
ca=/etc/ssl/certs/ca-certificates.crt

say() { echo "engines: $*"; }

ENGINES="docker-26, docker-26-containerd, podman-5, docker-26-remote"
REMOTE_TESTS="tests/unit/engine/test_connection.py tests/integration/engine/test_registry_container.py \
notebooks/01-first-image.ipynb notebooks/02-layers.ipynb notebooks/09-sharing.ipynb"

store_of() {
  case "$1" in
    docker-26|docker-26-containerd|docker-26-remote) echo /var/lib/docker ;;
    podman-5) echo /var/lib/containers ;;
    *) return 1 ;;
  esac
}

# --privileged where the host allows it; else everything but CAP_SYS_RESOURCE, which this kind of
# host (a container itself) cannot grant, with the device and cgroup access an engine needs.
isolation=()
choose_isolation() {
  if docker run --rm --privileged --label dockerlab.kit=engine-test "$image" true >/dev/null 2>&1; then
    isolation=(--privileged)
  else
    isolation=(--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined
      --security-opt apparmor=unconfined --security-opt systempaths=unconfined
      "--device-cgroup-rule=a *:* rwm" -v /sys/fs/cgroup:/sys/fs/cgroup:rw)
  fi
  say "isolation: ${isolation[*]}"
}

# The repo read-only at its own path, and its git directory when it lives elsewhere (a worktree).
repo_mounts=(-v "$repo:$repo:ro")
common="$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)" || exit 1
case "$common" in "$repo"/*) ;; *) repo_mounts+=(-v "$common:$common:ro") ;; esac

remove_container() {  # only the harness's own container of that name
  docker ps -aq --filter "name=^/$1\$" --filter label=dockerlab.kit=engine-test | xargs -r docker rm -f >/dev/null 2>&1
}

summary_of() {  # the pytest summary line of a log, without its ===== frame; a bench run's ratios
  if [ "$target" = bench ]; then
    grep -E 'ratio|peak RSS|^(cold|warm) ' "$1" | sed -E 's/ +/ /g' | paste -sd ';' -
    return
  fi
  grep -E '^=+ .*\b(passed|failed|error|errors|skipped|no tests ran)\b.* in [0-9.]+s' "$1" | tail -n 1 |
    sed -E 's/^=+ //; s/ =+$//'
}

run_kit_here() (  # docker-26-remote: once the container's engine is ready, `make test` of a clone here
  local container="$1" dir="$2" run="$3"
  until grep -q '^engines: engine ready' "$log"; do
    kill -0 "$run" 2>/dev/null || { say "the engine did not start (see above)"; return 1; }
    sleep 1
  done
  local clone="$dir/clone" address
  address="$(docker inspect -f '{{.NetworkSettings.IPAddress}}' "$container")" || return 1
  git -c safe.directory='*' clone -q --no-local "$repo" "$clone" || return 1
  say "cloned $repo at $(git -C "$clone" log -1 --format='%h %s') into $clone (the kit runs on this host)"
  export DOCKER_HOST="unix://$dir/run/docker.sock" DOCKERLAB_ENGINE_ADDRESS="$address" DOCKERLAB_STATE_DIR="$dir/state"
  env | grep -E '^(DOCKER_HOST|DOCKERLAB_ENGINE_ADDRESS|DOCKERLAB_STATE_DIR)=' | sed 's/^/engines: env /'
  make -C "$clone" test TESTS="$REMOTE_TESTS"
)

run_engine() {
  local name="$1" store container="dockerlab-engine-$1" log="$work/$1$suffix.log" dir="$work/$1"
  # Another ENGINES_WORK is another run: its container gets its own name (runs side by side).
  [ "$work" = /var/tmp/dockerlab-engines ] || container+="-$(basename "$work")"
  store="$(store_of "$name")" || { say "unknown engine '$name' ($ENGINES)"; return 2; }
  local env=(-e "ENGINE=$name" -e "DOCKERLAB_ENGINE_HARNESS=$name" -e "REPO=$repo" -e "TARGET=$target"
    -e PIP_CERT=/etc/ssl/host-ca.crt) mounts=()
  [ "$name" != docker-26-remote ] || mounts=(-v "$dir/run:/run/remote")
  [ -z "${TESTS:-}" ] || [ "$name" = docker-26-remote ] || env+=(-e "TESTS=$TESTS")  # a subset, as `make test TESTS=...`
  if [ "$name" = podman-5 ]; then
    # Until the kit finds Podman's socket itself, name it (PODMAN_DOCKER_HOST= leaves it to the kit).
    env+=(-e DOCKERLAB_ENGINE=podman)
    local host="${PODMAN_DOCKER_HOST-unix:///run/podman/podman.sock}"
    [ -z "$host" ] || env+=(-e "DOCKER_HOST=$host")
  fi

  remove_container "$container"
  rm -rf "$dir" && mkdir -p "$dir/store" "$dir/run"
  local tailer= watchdog=
  cleanup() {
    remove_container "$container"
    kill $tailer $watchdog 2>/dev/null
    rm -rf "$dir"
  }
  trap 'cleanup; say "$name: interrupted" | tee -a "$log"; exit 130' INT TERM HUP

  local start=$SECONDS
  [ ! -s "$log" ] || mv "$log" "${log%.log}.previous.log"  # one earlier run is kept to compare with
  : >"$log"
  docker run --name "$container" --label dockerlab.kit=engine-test --init --shm-size 1g \
    "${isolation[@]}" "${repo_mounts[@]}" "${mounts[@]}" -v "$here:/engines:ro" -v "$dir/store:$store" \
    -v "$ca:/etc/ssl/host-ca.crt:ro" "${env[@]}" \
    "$image" bash /engines/inside.sh >>"$log" 2>&1 &
  local run=$!
  tail -n +1 -f --pid="$run" "$log" &
  tailer=$!
  (trap 'kill $nap 2>/dev/null; exit' TERM; sleep "$timeout" & nap=$!; wait $nap &&
    echo "engines: stopped after $timeout s" >>"$log" && remove_container "$container") &
  watchdog=$!
  local rc
  if [ "$name" = docker-26-remote ]; then
    run_kit_here "$container" "$dir" "$run" >>"$log" 2>&1
    rc=$?
  else
    wait "$run"
    rc=$?
  fi
  [ "$name" != docker-26-remote ] || remove_container "$container"  # the engine serves until removed
  wait "$run" "$tailer"
  tailer=
  cleanup
  trap - INT TERM HUP

  local wall=$((SECONDS - start)) result
  result="$(summary_of "$log")"
  [ -n "$result" ] || result="no pytest summary (see the log)"
  local line="engines: $name: $result; wall $((wall / 60))m$((wall % 60))s; exit $rc; log $log"
  echo "$line" >>"$log"
  echo "$line"
  return "$rc"
}

[ $# -gt 0 ] || { echo "usage: $0 NAME... ($ENGINES)" >&2; exit 2; }
docker info >/dev/null 2>&1 || { say "the host engine does not answer: run \`make setup\` first"; exit 1; }
mkdir -p "$work"
bash "$here/bare-debian-13.sh" || exit 1
choose_isolation
status=0
lines=()
for name in "$@"; do
  run_engine "$name" || status=1
  lines+=("$(tail -n 1 "$work/$name$suffix.log" 2>/dev/null)")
done
if [ $# -gt 1 ]; then
  printf '%s\n' "${lines[@]}"
fi
exit "$status"
