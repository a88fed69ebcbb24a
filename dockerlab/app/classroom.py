"""`dockerlab classroom`: JupyterHub serving the course to a class, each student with their own engine.

`up` starts the hub (JupyterHub + configurable-http-proxy + DockerSpawner, configured by
`jupyterhub_config.py` beside this file from the settings `up` writes) in the background and returns once
it answers; `status`, `collect`, `exec` and `down` work on what it started. The classroom's state lives in
`<state dir>/classroom/` (0700): the settings, the hub's database and log, the students' password hashes,
the kit's API token and the instructor's first password (files 0600, never printed or passed on argv), and
each student's disk: an ext4 file of `--disk` bytes (sparse: the host pays what is used), mounted while the
classroom is up, holding their home (with their work) and their engine's data, so a student who fills it
stops there. `down` keeps the disks (a second `up` mounts them again) unless `--delete-work`.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ..course.exercises import all_exercise_ids
from ..course.grading import PROGRESS_FILE
from ..engine import classroom as room
from ..engine.connection import Engine, connect_engine
from ..engine.processes import process_alive, process_start_ticks
from ..engine.registry import bind_error, free_port, state_root
from ..errors import DockerlabError
from ..model.labels import classroom_labels
from ..model.roster import read_roster
from ..model.text import human_size, size_in_bytes

REPO = Path(__file__).resolve().parents[2]
HUB_CONFIG = Path(__file__).with_name("jupyterhub_config.py")
PROXY = "configurable-http-proxy"
MIN_DISK = "512M"  # the student's engine with the kit's base image and a few lesson images, and their work
TRUST_SENTENCE = (
    "This host has no Sysbox runtime (sysbox-runc), so each student's engine would need near-root access to "
    "the host (every capability but one, no seccomp or AppArmor, the host's cgroups): a student could become "
    "root on this host; install Sysbox, or pass --trust-students if you trust every student on the roster."
)


@dataclass
class Limits:
    """What one student's server may use: memory, CPU (cores), processes, disk; idle minutes before it is culled."""

    memory: str = "2G"
    cpus: float = 1.0
    pids: int = 2048
    disk: str = "10G"
    idle_minutes: float = 60


def classroom_dir() -> Path:
    return state_root() / "classroom"


def disks_dir() -> Path:
    return classroom_dir() / "disks"


def mount_disk(student: str, size: int) -> Path:
    """The student's disk mounted at disks/<student>/ (made at their first `up`: an ext4 file of `size` bytes);
    returns the mount point, with `home/` (their home and work) and `engine/` (their engine's data) in it."""
    image, mount_point = disks_dir() / f"{student}.img", disks_dir() / student
    if not image.exists():
        blank = image.with_name(f".{image.name}.new")
        with open(blank, "wb") as out:
            out.truncate(size)
        made = run_tool(["mkfs.ext4", "-q", "-F", "-m", "0", str(blank)])
        if made:
            blank.unlink()
            raise DockerlabError(f"Could not make {student}'s disk with mkfs.ext4 ({made}); install e2fsprogs "
                                 "and run `dockerlab classroom up` again.")
        blank.rename(image)
    mount_point.mkdir(exist_ok=True)
    if not os.path.ismount(mount_point):
        mounted = run_tool(["mount", "-o", "loop", str(image), str(mount_point)])
        if mounted:
            raise DockerlabError(f"Could not mount {student}'s disk ({mounted}); the classroom runs as root on a "
                                 "host with loop devices: run `dockerlab classroom up` as root.")
    for folder in ("home", "engine"):
        (mount_point / folder).mkdir(exist_ok=True)
    return mount_point


def run_tool(argv: list[str]) -> str:
    """Run a system tool; "" when it succeeded, else what went wrong in one line."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True)
    except OSError as error:
        return f"{argv[0]}: {error.strerror}"
    return "" if done.returncode == 0 else " ".join(done.stderr.split()) or f"{argv[0]} exited {done.returncode}"


def unmount_disks() -> None:
    """Unmount every student's disk (their servers are gone); the disk files stay."""
    if not disks_dir().is_dir():
        return
    for mount_point in sorted(disks_dir().iterdir()):
        if os.path.ismount(mount_point):
            if run_tool(["umount", str(mount_point)]):
                run_tool(["umount", "--lazy", str(mount_point)])


def work_folder(student: str) -> Path:
    """The student's work folder on the host (their disk mounted), what WORK_DIR is in their server."""
    return disks_dir() / student / "home" / Path(room.WORK_DIR).relative_to(room.HOME_DIR)


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


def prepare_state(instructor: str, given: dict[str, str]) -> Path:
    """The state folder with the kit's API token, the instructor's password (made at the first `up`) and the
    passwords the roster gives (set again at each `up`: the instructor's word wins, so a forgotten password is
    reset by giving one). The hub's authenticator reads their bcrypt hashes; the others choose theirs."""
    folder = classroom_dir()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    if not (folder / "api-token").exists():
        secret_file(folder / "api-token", secrets.token_hex(32))
    password_file = folder / "instructor-password"
    if not password_file.exists():
        password = secrets.token_urlsafe(12)
        secret_file(password_file, f"{instructor}\n{password}\n")
        given = {**given, instructor: password}
    import bcrypt
    import dbm

    with dbm.open(str(folder / "passwords.dbm"), "c", 0o600) as db:
        for name, password in given.items():
            if password:
                db[name] = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    return folder


def up(roster: Path, ip: str, port: int, trust_students: bool, start_all: bool, limits: Limits,
       instructor: str = "instructor", say=print) -> dict:
    """Start the classroom; returns its state once the hub answers (and every server runs, with start_all)."""
    try:
        given = read_roster(roster.read_text(), str(roster))
    except OSError as error:
        raise DockerlabError(f"Could not read the roster '{roster}' ({error.strerror}); give a CSV file with "
                             "a `username` column.") from None
    try:
        disk = size_in_bytes(limits.disk)
    except ValueError:
        raise DockerlabError(f"--disk {limits.disk} is not a size; give one like 10G or 500M.") from None
    if disk < size_in_bytes(MIN_DISK):
        raise DockerlabError(f"--disk {limits.disk} is too small for a student's engine and work; give at least "
                             f"{MIN_DISK}, such as 10G.")
    if limits.idle_minutes * 60 < 1:
        raise DockerlabError(f"--idle-minutes {limits.idle_minutes:g} is no time at all; give the minutes a server "
                             "may stay idle before it is stopped, such as 60.")
    students = list(given)
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
    folder = prepare_state(instructor, given)
    disks_dir().mkdir(exist_ok=True)
    for student in students:
        mount_disk(student, disk)
    volumes = {str(disks_dir() / "{username}" / "home"): room.HOME_DIR,
               str(disks_dir() / "{username}" / "engine"): room.ENGINE_DIR}
    host_config, raw_host_config, mounts = room.isolation(engine)
    settings = {
        "students": students, "instructor": instructor, "ip": ip, "port": port,
        "hub_ip": gateway, "hub_port": free_port(gateway), "proxy_api_port": free_port("127.0.0.1"),
        "state_dir": str(folder), "image": room.STUDENT_IMAGE, "network": room.NETWORK,
        "work_dir": room.WORK_DIR, "volumes": {**volumes, **mounts}, "host_config": host_config,
        "raw_host_config": raw_host_config,
        "labels": classroom_labels("{username}"), "mem_limit": limits.memory, "cpu_limit": limits.cpus,
        "pids_limit": limits.pids, "idle_timeout": round(limits.idle_minutes * 60),
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
            room.remove_classroom(engine)
            unmount_disks()
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
    """Each student: server running or not, since when, memory and CPU now, their disk, and their progress (checks
    passed per exercise tried, from the progress.json the learner API keeps in their work folder)."""
    state = require_running()
    containers = room.student_containers(engine)
    rows = []
    for user in hub_api(state, "GET", "/users") or []:
        if user["name"] == state["instructor"]:
            continue
        server = (user.get("servers") or {}).get("")
        row = {"student": user["name"], "server": "running" if server and server.get("ready") else
               ("starting" if server else "stopped"), "since": (server or {}).get("started") or "",
               "memory": "", "cpu": "", "disk": disk_usage(user["name"])}
        container = containers.get(user["name"])
        if container and container["State"] == "running":
            memory, cpu = room.container_usage(engine, container["Id"])
            row.update(memory=human_size(memory), cpu=f"{cpu:.0f}%")
        row["progress"] = student_progress(user["name"])
        rows.append(row)
    return rows


def disk_usage(student: str) -> str:
    """What the student's disk holds, of its size ("" when it is not mounted)."""
    mount_point = disks_dir() / student
    if not os.path.ismount(mount_point):
        return ""
    disk = os.statvfs(mount_point)
    used, size = (disk.f_blocks - disk.f_bfree) * disk.f_frsize, disk.f_blocks * disk.f_frsize
    return f"{human_size(used)} of {human_size(size)}"


def student_progress(student: str) -> dict[str, dict]:
    """The course's exercises the student tried, in course order: attempts, passed, checks of the last attempt.
    The file is the student's own: whatever it holds that is not a record of a known exercise is left out."""
    try:
        record = json.loads((work_folder(student) / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    record = record if isinstance(record, dict) else {}
    tried = {}
    for exercise_id in all_exercise_ids():
        entry = record.get(exercise_id)
        if isinstance(entry, dict):
            try:
                tried[exercise_id] = {"attempts": int(entry["attempts"]), "passed": bool(entry["passed"]),
                                      "checks_passed": int(entry["checks_passed"]),
                                      "checks_total": int(entry["checks_total"])}
            except (KeyError, TypeError, ValueError):
                continue
    return tried


def collect(out: Path, students: list[str] | None = None) -> list[str]:
    """Copy every student's work folder to OUT/<student>/ (their servers go on running); returns who.
    Folders, regular files and symbolic links (as links) are copied; a pipe or a device file is not."""
    state = require_running()
    out.mkdir(parents=True, exist_ok=True)
    collected = []
    for student in students or state["students"]:
        target = out / student
        if target.exists():
            raise DockerlabError(f"{target} already exists; collect into a new folder (the kit never "
                                 "overwrites files).")
        if work_folder(student).is_dir():
            shutil.copytree(work_folder(student), target, symlinks=True, ignore=special_files)
            collected.append(student)
    return collected


def special_files(folder: str, names: list[str]) -> list[str]:
    """The names in `folder` that are neither a folder, a regular file nor a symbolic link."""
    kinds = (stat.S_ISDIR, stat.S_ISREG, stat.S_ISLNK)
    return [name for name in names if not any(kind(os.lstat(os.path.join(folder, name)).st_mode) for kind in kinds)]


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
    removed = room.remove_classroom(engine)
    unmount_disks()
    folder = classroom_dir()
    (folder / "state.json").unlink(missing_ok=True)
    if delete_work and folder.exists():
        shutil.rmtree(folder)  # the disks (unmounted), the passwords and the hub's database go together
    return removed
