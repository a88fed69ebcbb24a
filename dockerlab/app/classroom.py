"""`dockerlab classroom`: JupyterHub serving the course to a class, each student with their own engine.

`up` starts the hub (JupyterHub + configurable-http-proxy + DockerSpawner, configured by
`jupyterhub_config.py` beside this file from the settings `up` writes) in the background and returns once
it answers; `status`, `collect`, `exec` and `down` work on what it started. The classroom's state lives in
`<state dir>/classroom/` (0700): the settings, the hub's database and log, the students' password hashes,
the kit's API token and the instructor's first password (files 0600, never printed or passed on argv).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ..engine import classroom as room
from ..engine.connection import Engine, connect_engine
from ..engine.processes import process_alive, process_start_ticks
from ..engine.registry import bind_error, free_port, state_root
from ..errors import DockerlabError
from ..model.labels import classroom_labels
from ..model.roster import read_roster
from ..model.text import human_size

REPO = Path(__file__).resolve().parents[2]
HUB_CONFIG = Path(__file__).with_name("jupyterhub_config.py")
PROXY = "configurable-http-proxy"
TRUST_SENTENCE = (
    "This host has no Sysbox runtime (sysbox-runc), so each student's engine would need near-root access to "
    "the host (every capability but one, no seccomp or AppArmor, the host's cgroups): a student could become "
    "root on this host; install Sysbox, or pass --trust-students if you trust every student on the roster."
)


@dataclass
class Limits:
    """What one student's server may use: memory, CPU (cores), processes; idle minutes before it is culled."""

    memory: str = "2G"
    cpus: float = 1.0
    pids: int = 2048
    idle_minutes: int = 60


def classroom_dir() -> Path:
    return state_root() / "classroom"


def secret_file(path: Path, text: str) -> None:
    """Write a secret readable by its owner only (created 0600, never world-readable for a moment)."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)


def hub_state() -> dict | None:
    """The running classroom's state (url, pid, students), None when no classroom is up."""
    path = classroom_dir() / "state.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if process_alive(state["pid"], state["started"]) else None


def hub_api(state: dict, method: str, path: str, body: dict | None = None) -> dict | list | None:
    """Call the hub's REST API with the kit's token."""
    return hub_request(state, method, f"hub/api{path}", body)


def hub_request(state: dict, method: str, path: str, body: dict | None = None) -> dict | list | None:
    """Call `path` under the hub's URL (its API, or a student's server through its proxy) with the kit's token
    (from its 0600 file); the JSON answer, or None when there is none."""
    token = (classroom_dir() / "api-token").read_text().strip()
    request = urllib.request.Request(f"{state['url']}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request) as answer:
        data = answer.read()
    return json.loads(data) if data else None


def check_port_free(ip: str, port: int) -> None:
    if bind_error(ip, port) is not None:
        raise DockerlabError(f"Port {port} on {ip} is already in use by another program; choose another "
                             "with --port.")


def hub_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}hub/api", timeout=5) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def prepare_state(instructor: str) -> Path:
    """The state folder with the kit's API token and, at the first `up`, the instructor's password."""
    folder = classroom_dir()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    if not (folder / "api-token").exists():
        secret_file(folder / "api-token", secrets.token_hex(32))
    password_file = folder / "instructor-password"
    if not password_file.exists():
        import bcrypt
        import dbm

        password = secrets.token_urlsafe(12)
        with dbm.open(str(folder / "passwords.dbm"), "c", 0o600) as db:
            db[instructor] = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
        secret_file(password_file, f"{instructor}\n{password}\n")
    return folder


def up(roster: Path, ip: str, port: int, trust_students: bool, start_all: bool, limits: Limits,
       instructor: str = "instructor", say=print) -> dict:
    """Start the classroom; returns its state once the hub answers (and every server runs, with start_all)."""
    try:
        students = read_roster(roster.read_text(), str(roster))
    except OSError as error:
        raise DockerlabError(f"Could not read the roster '{roster}' ({error.strerror}); give a CSV file with "
                             "a `username` column.") from None
    if instructor in students:
        raise DockerlabError(f"'{instructor}' is the instructor's username; give that student another one.")
    running = hub_state()
    if running:
        raise DockerlabError(f"A classroom is already running at {running['url']}; stop it first with "
                             "`dockerlab classroom down`.")
    engine = connect_engine()
    if not room.has_sysbox(engine) and not trust_students:
        raise DockerlabError(TRUST_SENTENCE)
    if shutil.which(PROXY) is None:
        raise DockerlabError(f"JupyterHub's proxy ({PROXY}) is not installed; run `make setup` (as root it "
                             f"installs it with npm) or `sudo npm install -g {PROXY}`.")
    check_port_free(ip, port)
    started = time.monotonic()
    if room.ensure_student_image(engine, REPO, version("jupyterhub"), on_line=lambda line: say(f"  {line}")):
        say(f"Built the student image {room.STUDENT_IMAGE} in {time.monotonic() - started:.0f} s (kept for next time).")
    gateway = room.ensure_network(engine)
    for student in students:
        room.ensure_volumes(engine, student)
    template = room.volume_names("{username}")
    volumes = {template["work"]: room.WORK_DIR, template["engine"]: room.ENGINE_DIR}
    host_config, raw_host_config, mounts = room.isolation(engine)
    folder = prepare_state(instructor)
    settings = {
        "students": students, "instructor": instructor, "ip": ip, "port": port,
        "hub_ip": gateway, "hub_port": free_port(gateway), "proxy_api_port": free_port("127.0.0.1"),
        "state_dir": str(folder), "image": room.STUDENT_IMAGE, "network": room.NETWORK,
        "work_dir": room.WORK_DIR, "volumes": {**volumes, **mounts}, "host_config": host_config,
        "raw_host_config": raw_host_config,
        "labels": classroom_labels("{username}"), "mem_limit": limits.memory, "cpu_limit": limits.cpus,
        "pids_limit": limits.pids, "idle_timeout": limits.idle_minutes * 60,
    }
    secret_file(folder / "classroom.json", json.dumps(settings, indent=1))
    env = {**os.environ, "DOCKERLAB_CLASSROOM_SETTINGS": str(folder / "classroom.json"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(folder / "hub.log", "ab")
    hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG)], cwd=folder, env=env,
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()
    url = f"http://{ip}:{port}/"
    state = {"pid": hub.pid, "started": process_start_ticks(hub.pid), "url": url, "students": students,
             "instructor": instructor}
    while not hub_answers(url):
        if hub.poll() is not None:
            room.remove_classroom(engine, delete_work=False)
            raise DockerlabError(f"JupyterHub stopped while starting (exit {hub.returncode}); its log says why: "
                                 f"{folder / 'hub.log'}.")
        time.sleep(0.5)
    (folder / "state.json").write_text(json.dumps(state))
    if start_all:
        start_servers(state, students)
    return state


def start_servers(state: dict, students: list[str]) -> None:
    """Start these students' servers through the hub and wait until each one is ready."""
    for student in students:
        try:
            hub_api(state, "POST", f"/users/{student}/server")
        except urllib.error.HTTPError as error:
            if error.code != 400:  # 400: already running
                raise
    waiting = set(students)
    while waiting:
        for student in sorted(waiting):
            server = (hub_api(state, "GET", f"/users/{student}") or {}).get("servers", {}).get("")
            if server and server.get("ready"):
                waiting.discard(student)
            elif not server:
                raise DockerlabError(f"{student}'s server did not start; the hub's log says why: "
                                     f"{classroom_dir() / 'hub.log'}.")
        time.sleep(1)


def require_running() -> dict:
    state = hub_state()
    if state is None:
        raise DockerlabError("No classroom is running; start one with `dockerlab classroom up --roster FILE`.")
    return state


def status(engine: Engine) -> list[dict]:
    """Each student: server running or not, since when, memory and CPU now."""
    state = require_running()
    containers = room.student_containers(engine)
    rows = []
    for user in hub_api(state, "GET", "/users") or []:
        if user["name"] == state["instructor"]:
            continue
        server = (user.get("servers") or {}).get("")
        row = {"student": user["name"], "server": "running" if server and server.get("ready") else
               ("starting" if server else "stopped"), "since": (server or {}).get("started") or "",
               "memory": "", "cpu": ""}
        container = containers.get(user["name"])
        if container and container["State"] == "running":
            memory, cpu = room.container_usage(engine, container["Id"])
            row.update(memory=human_size(memory), cpu=f"{cpu:.0f}%")
        rows.append(row)
    return rows


def collect(engine: Engine, out: Path, students: list[str] | None = None) -> list[str]:
    """Copy every student's work folder to OUT/<student>/ (their servers go on running); returns who."""
    state = require_running()
    out.mkdir(parents=True, exist_ok=True)
    collected = []
    for student in students or state["students"]:
        target = out / student
        if target.exists():
            raise DockerlabError(f"{target} already exists; collect into a new folder (the kit never "
                                 "overwrites files).")
        stream = room.work_archive(engine, student)
        try:
            reader = _IterStream(stream)
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                target.mkdir()
                tar.extractall(target, filter="data")
        except DockerlabError:
            continue  # no work yet
        collected.append(student)
    return collected


class _IterStream:
    """A file-like reader over an iterator of byte chunks (the engine's archive stream)."""

    def __init__(self, chunks) -> None:
        self.chunks, self.buffer = iter(chunks), b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        data, self.buffer = (self.buffer, b"") if size < 0 else (self.buffer[:size], self.buffer[size:])
        return data


def exec_command(engine: Engine, student: str, command: list[str]) -> int:
    state = require_running()
    if student not in state["students"]:
        raise DockerlabError(f"'{student}' is not on this classroom's roster.")
    container = room.student_containers(engine).get(student)
    if container is None or container["State"] != "running":
        raise DockerlabError(f"{student}'s server is not running; start it from the hub's admin page or with "
                             "`dockerlab classroom up --start-all`.")
    return room.exec_in(engine, container["Id"], command)


def down(engine: Engine, delete_work: bool) -> dict[str, int]:
    """Stop the hub (it stops the students' servers and its proxy), then remove what is left."""
    state = hub_state()
    if state is not None:
        os.kill(state["pid"], signal.SIGTERM)
        while process_alive(state["pid"], state["started"]):
            time.sleep(0.2)
    removed = room.remove_classroom(engine, delete_work)
    folder = classroom_dir()
    (folder / "state.json").unlink(missing_ok=True)
    if delete_work and folder.exists():
        shutil.rmtree(folder)  # the passwords and the hub's database go with the work
    return removed
