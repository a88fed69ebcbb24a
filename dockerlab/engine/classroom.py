"""The classroom on the engine: the student image, the students' network, their servers.

The student image is made offline from Debian's packages: `dockerlab-bare-debian:13` (debootstrap minbase,
made once by `scripts/engines/bare-debian-13.sh`, shared with the engines harness) + Docker 26 from Debian 13
+ a venv with the kit from this checkout, JupyterLab and JupyterHub's single-user server + the student
notebooks. It is labelled `dockerlab.kit=student` with a digest of its inputs and rebuilt when they change.
Student servers (spawned by DockerSpawner) and the classroom network carry `dockerlab.kit=classroom` (servers
also `dockerlab.classroom.student=<name>`); the students' work and engines live on their disks (the app's).
"""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Callable

import docker

from ..errors import DockerlabError
from ..model.labels import CLASSROOM_KIT, CLASSROOM_STUDENT_LABEL, INPUTS_LABEL, KIT_LABEL, classroom_labels
from .build import classic_build
from .connection import Engine
from .translate import found_or_none
from .translate import removed as was_removed

STUDENT_IMAGE = "dockerlab/student:latest"
BARE_IMAGE = "dockerlab-bare-debian:13"
NETWORK = "dockerlab-classroom"
HOME_DIR = "/home/student"  # on the student's disk: their JupyterLab settings and, in WORK_DIR, their work
WORK_DIR = f"{HOME_DIR}/work"  # the student's notebooks, exercise folders, answers and progress
ENGINE_DIR = "/var/lib/docker"  # on the student's disk too: their engine's images, containers and cache
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")  # pip inside a build container needs the host's CAs

# Every capability but CAP_SYS_RESOURCE (a host that is itself a container cannot grant it, so
# `--privileged` fails), unconfined seccomp/AppArmor/system paths, every device, the host's cgroups
# writable: what an engine inside a container needs without Sysbox. A student can then become root on
# the host: only for students the instructor trusts (`--trust-students`).
TRUSTED_ISOLATION = {
    "cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "device_cgroup_rules": ["a *:* rwm"],
}
TRUSTED_RAW = {"MaskedPaths": [], "ReadonlyPaths": []}  # `--security-opt systempaths=unconfined` in the API's words
TRUSTED_MOUNTS = {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}}
SYSBOX_RUNTIME = "sysbox-runc"

DOCKERFILE = """\
FROM {base}
ENV DEBIAN_FRONTEND=noninteractive PIP_CERT=/etc/ssl/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1
COPY host-ca.crt /etc/ssl/host-ca.crt
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io docker-cli docker-buildx \\
    busybox-static graphviz iptables procps >/dev/null && rm -rf /var/lib/apt/lists/*
COPY kit/pyproject.toml /tmp/pyproject.toml
RUN python3 -m venv /opt/venv && /opt/venv/bin/python -c "import tomllib; \\
print('\\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" >/tmp/requirements.txt \\
    && /opt/venv/bin/pip install -q -r /tmp/requirements.txt "jupyterhub=={hub_version}" && rm -rf /root/.cache
COPY lab-overrides.json /opt/venv/share/jupyter/lab/settings/overrides.json
COPY kit/ /opt/dockerlab/
RUN /opt/venv/bin/pip install -q --no-deps -e /opt/dockerlab && rm -rf /root/.cache \\
    && /opt/venv/bin/dockerlab student --source /opt/dockerlab/notebooks --out /opt/dockerlab/student
COPY entrypoint.sh /usr/local/bin/dockerlab-student
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME={home}
WORKDIR {work}
ENTRYPOINT ["/usr/local/bin/dockerlab-student"]
CMD ["jupyterhub-singleuser", "--allow-root"]
"""

# JupyterLab's defaults for the class: no news or update pop-ups over the lesson, a lesson's kernel started
# without asking, every cell in the page.
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none", "autoStartDefaultKernel": True},
}

# The student's own engine first, its containers' cgroups nested inside this server's own cgroup (so the
# server's memory, CPU and pids limits hold for everything the student runs, and no two students' cgroups
# mix), then the kit's base image in that engine, then their copy of the lessons (never overwriting their work), then the command (the single-user server).
ENTRYPOINT = """\
#!/bin/sh
set -eu
own=$(sed -n 's/^[0-9]*:memory:\\(.*\\)$/\\1/p' /proc/self/cgroup)
[ -n "$own" ] || own=$(sed -n 's/^0::\\(.*\\)$/\\1/p' /proc/self/cgroup)
dockerd --cgroup-parent="${{own%/}}/engine" >/var/log/dockerd.log 2>&1 &
engine=$!
until docker info >/dev/null 2>&1; do
  kill -0 "$engine" 2>/dev/null || {{ echo "dockerlab: the student's engine did not start:" >&2; tail -n 5 /var/log/dockerd.log >&2; exit 1; }}
  sleep 0.5
done
/opt/venv/bin/python -c 'from dockerlab.engine.base_image import ensure_base_image as base
from dockerlab.engine.connection import connect_engine
base(connect_engine())' >/var/log/dockerlab-base-image.log 2>&1 || echo "dockerlab: no base image yet (see /var/log/dockerlab-base-image.log)" >&2
mkdir -p {work}
cp -Rn /opt/dockerlab/student/. {work}/
cd {work}
exec "$@"
"""


def kit_files(repo: Path) -> list[str]:
    """The checkout's tracked files (what a clone would have): the kit as installed in the student image."""
    try:
        listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise DockerlabError(f"The student image is made from a git checkout of the kit, and {repo} is not one; "
                             "run the command from a clone of dockerlab.") from None
    return sorted(name for name in listed.decode().split("\0") if name and (repo / name).is_file())


def student_image_context(repo: Path, hub_version: str) -> tuple[io.BytesIO, str]:
    """The build context of the student image and the digest of its inputs (the image's cache key)."""
    files = {  # name in the context -> (bytes, mode)
        "Dockerfile": (DOCKERFILE.format(base=BARE_IMAGE, hub_version=hub_version, home=HOME_DIR,
                                         work=WORK_DIR).encode(), 0o644),
        "entrypoint.sh": (ENTRYPOINT.format(work=WORK_DIR).encode(), 0o755),
        "host-ca.crt": (HOST_CA.read_bytes() if HOST_CA.is_file() else b"", 0o644),
        "lab-overrides.json": (json.dumps(LAB_OVERRIDES, indent=1).encode(), 0o644),
    }
    for name in kit_files(repo):
        files[f"kit/{name}"] = ((repo / name).read_bytes(), (repo / name).stat().st_mode & 0o777)
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mode) in sorted(files.items()):
            if name != "host-ca.crt":  # the host's CA bundle changes with updates, not the image's meaning
                digest.update(f"{name}\0{mode:o}\0".encode() + hashlib.sha256(data).digest())
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer, digest.hexdigest()[:16]


def student_image_inputs(engine: Engine) -> str | None:
    """The inputs digest of the student image on the engine, None when there is none."""
    image = found_or_none(lambda: engine.api.inspect_image(STUDENT_IMAGE), "look for the student image")
    return ((image or {}).get("Config") or {}).get("Labels", {}).get(INPUTS_LABEL) if image else None


def ensure_bare_debian(engine: Engine, repo: Path) -> None:
    """Debian 13 minbase, made once by debootstrap (the engines harness's script; root and apt needed)."""
    if found_or_none(lambda: engine.api.inspect_image(BARE_IMAGE), "look for the Debian 13 image"):
        return
    script = repo / "scripts" / "engines" / "bare-debian-13.sh"
    if subprocess.run(["bash", str(script)], stdout=sys.stderr).returncode != 0:
        raise DockerlabError(f"Could not make {BARE_IMAGE} (debootstrap of Debian 13, as root with apt); "
                             f"run `sudo bash {script}` to see why.")


def ensure_student_image(engine: Engine, repo: Path, hub_version: str,
                         on_line: Callable[[str], None] = lambda line: None) -> bool:
    """Build the student image unless one with the same inputs exists; True when it was built."""
    context, inputs = student_image_context(repo, hub_version)
    if student_image_inputs(engine) == inputs:
        return False
    ensure_bare_debian(engine, repo)

    def show(_progress, event: dict) -> None:
        text = (event.get("stream") or "").strip()
        if text.startswith("Step "):
            on_line(text)

    classic_build(engine, ".", STUDENT_IMAGE, {KIT_LABEL: "student", INPUTS_LABEL: inputs},
                  fileobj=context, on_progress=show)
    return True


# --- the classroom's network and servers ------------------------------------------------------------------

def has_sysbox(engine: Engine) -> bool:
    return SYSBOX_RUNTIME in (engine.info.get("Runtimes") or {})


def isolation(engine: Engine) -> tuple[dict, dict, dict]:
    """(host-config options, raw HostConfig fields, extra mounts) for a student's server: Sysbox where the
    host has it, else near-root access (see TRUSTED_ISOLATION)."""
    if has_sysbox(engine):
        return {"runtime": SYSBOX_RUNTIME}, {}, {}
    return dict(TRUSTED_ISOLATION), dict(TRUSTED_RAW), dict(TRUSTED_MOUNTS)


def ensure_network(engine: Engine) -> str:
    """The students' bridge (containers on it cannot reach each other); returns the host's address on it."""
    network = found_or_none(lambda: engine.api.inspect_network(NETWORK), "look for the classroom network")
    if network is None:
        engine.api.create_network(NETWORK, driver="bridge", labels=classroom_labels(),
                                  options={"com.docker.network.bridge.enable_icc": "false"})
        network = engine.api.inspect_network(NETWORK)
    return network["IPAM"]["Config"][0]["Gateway"]


def student_containers(engine: Engine) -> dict[str, dict]:
    """The classroom's student servers on the engine, by student name (raw `docker ps` rows)."""
    rows = engine.api.containers(all=True, filters={"label": f"{KIT_LABEL}={CLASSROOM_KIT}"})
    return {row["Labels"][CLASSROOM_STUDENT_LABEL]: row for row in rows if CLASSROOM_STUDENT_LABEL in row["Labels"]}


def container_usage(engine: Engine, container_id: str) -> tuple[int, float]:
    """(memory in bytes, CPU percent of one core) of a running container, from one stats sample."""
    stats = engine.api.stats(container_id, stream=False)
    memory = stats.get("memory_stats", {})
    used = memory.get("usage", 0) - (memory.get("stats") or {}).get("cache", 0)
    cpu, before = stats.get("cpu_stats", {}), stats.get("precpu_stats", {})
    spent = cpu.get("cpu_usage", {}).get("total_usage", 0) - before.get("cpu_usage", {}).get("total_usage", 0)
    elapsed = cpu.get("system_cpu_usage", 0) - before.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or 1
    return used, (100.0 * spent / elapsed * cores) if elapsed > 0 else 0.0


def exec_in(engine: Engine, container_id: str, command: list[str], out=sys.stdout.buffer,
            err=sys.stderr.buffer) -> int:
    """Run `command` in a student's server, its output streamed as it comes; returns its exit status."""
    try:
        execution = engine.api.exec_create(container_id, command, stdout=True, stderr=True)
        for stdout, stderr in engine.api.exec_start(execution["Id"], stream=True, demux=True):
            for stream, data in ((out, stdout), (err, stderr)):
                if data:
                    stream.write(data)
                    stream.flush()
        return engine.api.exec_inspect(execution["Id"])["ExitCode"]
    except docker.errors.APIError as error:
        if "executable file not found" in str(error):
            print(f"dockerlab: there is no command '{command[0]}' in the student's server.", file=sys.stderr)
            return 127
        raise


def remove_classroom(engine: Engine) -> dict[str, int]:
    """Remove every student server and the network (the students' work is on their disks, not the engine)."""
    selector = {"label": f"{KIT_LABEL}={CLASSROOM_KIT}"}
    removed = {"containers": 0, "networks": 0}
    for row in engine.api.containers(all=True, filters=selector):
        removed["containers"] += bool(was_removed(lambda: engine.api.remove_container(row["Id"], force=True)))
    for network in engine.api.networks(filters=selector):
        removed["networks"] += bool(was_removed(lambda: engine.api.remove_network(network["Id"])))
    return removed
