"""A classroom for real, set up once: `dockerlab classroom up` (JupyterHub, configurable-http-proxy,
DockerSpawner, the student image with its own Docker 26 per student) on 127.0.0.1, three students.

Two students log in through the hub's login form, the third in a real browser (Playwright, Debian's
chromium), where she runs lesson 01 in JupyterLab and answers its quiz; each builds and runs lesson 01's
image in their own engine. One
student's containers are invisible to another; a fork bomb in one server leaves another's build and run
working, and one who fills their disk stops there while another's build goes on; `status` shows each
student's progress; `collect` then `grade` give the expected table (quiz answers included); `down` leaves no
container, network, process or mount of the classroom (the students' disks stay, a second `up` gives their
work back, until `down --delete-work`). Bad input: one sentence each.
"""
from __future__ import annotations

import csv
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

from dockerlab.course.student import student_version
from dockerlab.engine.connection import connect_engine
from dockerlab.engine.registry import free_port
from dockerlab.engine.processes import process_alive
from dockerlab.model.labels import KIT_LABEL

from tests.browser import test_lessons_in_browser as lab_browser

REPO = Path(__file__).resolve().parents[3]
DOCKERLAB = [sys.executable, "-m", "dockerlab"]
GREETING = "Hello World!! My first Docker image"
# The engines harness (scripts/engines) runs this suite inside a container that is itself an engine's host:
# a classroom there would nest each student's engine a third level deep. The classroom is tested on the
# host's engine, in the host's `make test` (CI's first step).
pytestmark = pytest.mark.skipif(bool(os.environ.get("DOCKERLAB_ENGINE_HARNESS")),
                                reason="inside the engines harness: the classroom is tested on the host's engine")
STUDENTS = ["ann", "ben", "cat"]  # ann and ben log in by the form, cat in the browser
PASSWORDS = {name: f"{name}-first-login-pw" for name in STUDENTS}
CLASSROOM = {"label": f"{KIT_LABEL}=classroom"}


def dockerlab(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([*DOCKERLAB, *args], capture_output=True, text=True, env=env)
    if check:
        assert done.returncode == 0, f"dockerlab {' '.join(args)}: {done.stderr}"
    return done


def classroom_processes(settings: Path) -> list[int]:
    """Processes started by this classroom's hub (the hub, its proxy, the culler): they carry its settings."""
    found = []
    marker = f"DOCKERLAB_CLASSROOM_SETTINGS={settings}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Student:
    """A student logged in through the hub's login form (at the first login, the password they choose)."""

    def __init__(self, url: str, name: str, password: str) -> None:
        self.url, self.name, self.jar = url, name, http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(f"{url}hub/login").close()
        xsrf = next(cookie.value for cookie in self.jar if cookie.name == "_xsrf")
        form = urllib.parse.urlencode({"username": name, "password": password, "_xsrf": xsrf}).encode()
        try:
            with self.opener.open(f"{url}hub/login?next=/hub/home", data=form) as answer:
                self.landed = answer.url
        except urllib.error.HTTPError as refused:
            self.landed = f"refused {refused.code}"

    def status_of(self, owner: str) -> int:
        """HTTP status of `owner`'s JupyterLab page, asked with this student's login (through the hub's OAuth)."""
        try:
            with self.opener.open(f"{self.url}user/{owner}/lab") as answer:
                return answer.status if f"/user/{owner}/lab" in answer.url else 302
        except urllib.error.HTTPError as error:
            return error.code


def hub(classroom, method: str, path: str) -> dict | None:
    """The hub's REST API with the kit's token (as `dockerlab classroom` calls it)."""
    token = (Path(classroom["env"]["DOCKERLAB_STATE_DIR"]) / "classroom" / "api-token").read_text().strip()
    request = urllib.request.Request(f"{classroom['url']}hub/api{path}", method=method,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request) as answer:
        data = answer.read()
    return json.loads(data) if data else None


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    engine = connect_engine()
    if engine.api.containers(all=True, filters=CLASSROOM) or engine.api.networks(filters=CLASSROOM):
        pytest.skip("a classroom is already running on this engine; its servers are never touched by tests")
    root = tmp_path_factory.mktemp("classroom")
    env = {**os.environ, "DOCKERLAB_STATE_DIR": str(root / "state")}
    roster = root / "roster.csv"
    # ben's password is given by the instructor; ann and cat choose theirs at their first login.
    roster.write_text("username,name,password\n" + "".join(
        f"{name},{name.title()},{PASSWORDS[name] if name == 'ben' else ''}\n" for name in STUDENTS))
    port = free_port()
    up = dockerlab("classroom", "up", "--roster", str(roster), "--port", str(port), "--trust-students",
                   "--start-all", "--cpus", "0.5", "--memory", "1G", "--pids", "512", "--disk", "1G", env=env,
                   check=False)
    try:
        assert up.returncode == 0, up.stderr
        url = f"http://127.0.0.1:{port}/"
        assert up.stdout.splitlines()[0] == url
        yield {"engine": engine, "env": env, "url": url, "root": root, "roster": roster, "port": port,
               "settings": root / "state" / "classroom" / "classroom.json", "up": up}
    finally:
        dockerlab("classroom", "down", "--delete-work", env=env, check=False)


def run_in(classroom, student: str, script: str) -> subprocess.CompletedProcess:
    return dockerlab("classroom", "exec", student, "--", "sh", "-c", script, env=classroom["env"], check=False)


def test_a_password_the_roster_gives_is_the_only_one_that_works_even_at_first_login(classroom):
    assert not Student(classroom["url"], "ben", "a-password-ben-did-not-get").landed.endswith("/hub/home")
    assert Student(classroom["url"], "ben", PASSWORDS["ben"]).landed.endswith("/hub/home")


@pytest.fixture(scope="module")
def logged_in(classroom):
    return {name: Student(classroom["url"], name, PASSWORDS[name]) for name in ("ann", "ben")}


def test_students_log_in_with_the_password_they_chose_and_reach_only_their_own_server(classroom, logged_in):
    ann, ben = logged_in["ann"], logged_in["ben"]
    assert ann.landed.endswith("/hub/home") and ben.landed.endswith("/hub/home")
    assert ann.status_of("ann") == 200 and ben.status_of("ben") == 200
    assert ann.status_of("ben") != 200
    # From now on only the password chosen at the first login works.
    assert not Student(classroom["url"], "ann", "not-anns-password").landed.endswith("/hub/home")
    assert Student(classroom["url"], "ann", PASSWORDS["ann"]).landed.endswith("/hub/home")


def test_each_student_builds_and_runs_lesson_01s_image_in_their_own_engine(classroom):
    for student in ("ann", "ben"):
        done = run_in(classroom, student, "docker build -q -t partech examples/hello >/dev/null && docker run --rm partech")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == GREETING


def test_one_students_containers_and_images_are_invisible_to_another(classroom):
    made = run_in(classroom, "ann", "docker run -d --name ann-only dockerlab/busybox sleep 600 >/dev/null && "
                  "docker tag dockerlab/busybox ann/secret && docker ps -a --format '{{.Names}}'")
    assert made.returncode == 0 and "ann-only" in made.stdout
    seen = run_in(classroom, "ben", "docker ps -a --format '{{.Names}}'; docker images --format '{{.Repository}}'")
    assert seen.returncode == 0
    assert "ann-only" not in seen.stdout and "ann/secret" not in seen.stdout
    # Nor does the host's engine list a student's container: each engine is the student's own.
    assert not classroom["engine"].api.containers(all=True, filters={"name": "ann-only"})


def test_one_students_server_cannot_reach_anothers_on_the_network(classroom):
    ben = classroom["engine"].api.inspect_container("dockerlab-classroom-ben")
    address = ben["NetworkSettings"]["Networks"]["dockerlab-classroom"]["IPAddress"]
    # ben's Jupyter server answers on its port from ben's own server...
    fetch = "busybox wget -q -T 10 -O /dev/null http://{}:8888/user/ben/api && echo reached"
    own = run_in(classroom, "ben", fetch.format("127.0.0.1"))
    assert own.stdout.strip() == "reached", own.stderr
    # ...and not from ann's: the classroom's bridge carries no traffic between servers.
    other = run_in(classroom, "ann", fetch.format(address))
    assert other.returncode != 0 and "reached" not in other.stdout


def test_a_memory_hog_in_one_server_is_killed_at_its_limit_and_the_others_work_on(classroom):
    hog = run_in(classroom, "ann", "docker run --name hog dockerlab/busybox sh -c 'tail /dev/zero'; "
                 "docker inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' hog; docker rm hog >/dev/null")
    assert hog.stdout.split()[-2:] == ["true", "137"], hog.stdout + hog.stderr  # killed inside ann's 1G
    done = run_in(classroom, "ben", "docker run --rm dockerlab/busybox echo still here")
    assert (done.returncode, done.stdout) == (0, "still here\n"), done.stderr
    assert run_in(classroom, "ann", "docker ps -q >/dev/null && echo ann works").stdout == "ann works\n"


def test_exec_gives_the_commands_exit_status_and_output(classroom):
    done = run_in(classroom, "ben", "echo to-out; echo to-err >&2; exit 7")
    assert (done.returncode, done.stdout, done.stderr) == (7, "to-out\n", "to-err\n")


def test_a_student_who_fills_their_disk_stops_there_and_another_builds_on(classroom):
    size = run_in(classroom, "ben", "df -k --output=size /home/student/work /var/lib/docker | tail -n 2")
    work, engine = (int(kib) // 1024 for kib in size.stdout.split())
    assert work == engine and 900 < work <= 1024  # MiB: both on ben's own 1G disk
    fill = run_in(classroom, "ben", "docker run --name fill dockerlab/busybox "
                  "dd if=/dev/zero of=/fill bs=1M count=1500")
    assert fill.returncode != 0 and "No space left on device" in fill.stdout + fill.stderr
    full = run_in(classroom, "ben", "head -c 1048576 /dev/zero > more.bin")
    assert full.returncode != 0 and "No space left on device" in full.stderr
    # Nor can ben write anywhere else that would grow the host's storage: the image's own files are read-only.
    elsewhere = run_in(classroom, "ben", "head -c 1048576 /dev/zero > /opt/dockerlab/more.bin")
    assert elsewhere.returncode != 0 and "Read-only file system" in elsewhere.stderr
    done = run_in(classroom, "ann", "docker build -q -t partech3 examples/hello >/dev/null && docker run --rm partech3")
    assert (done.returncode, done.stdout.strip()) == (0, GREETING), done.stderr
    freed = run_in(classroom, "ben", "rm -f more.bin && docker rm fill >/dev/null && "
                   "echo note > note.txt && cat note.txt")
    assert (freed.returncode, freed.stdout) == (0, "note\n"), freed.stderr


def test_a_fork_bomb_in_one_server_leaves_anothers_lesson_working(classroom):
    bomb = run_in(classroom, "ann", "docker run -d --name bomb dockerlab/busybox sh -c 'f() { f | f & }; f; sleep 600'")
    assert bomb.returncode == 0, bomb.stderr
    engine = classroom["engine"]
    ann = engine.api.containers(filters={"name": "dockerlab-classroom-ann"})[0]
    # The bomb is held inside ann's server: its pids limit covers her engine's containers (nested cgroups).
    stats = engine.api.stats(ann["Id"], stream=False)
    while stats["pids_stats"].get("current", 0) < 500:
        stats = engine.api.stats(ann["Id"], stream=False)
    assert stats["pids_stats"]["current"] <= 512
    done = run_in(classroom, "ben", "docker build -q -t partech2 examples/hello >/dev/null && docker run --rm partech2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == GREETING
    # Ann's server cannot start a process now; the hub stops it (her work stays on her disk).
    hub(classroom, "DELETE", "/users/ann/server")
    while (hub(classroom, "GET", "/users/ann")["servers"] or {}).get(""):
        time.sleep(0.5)
        pass


def test_a_student_runs_lesson_01_in_jupyterlab_in_a_real_browser_and_answers_its_quiz(classroom):
    """cat logs in on the hub's page in chromium, opens lesson 01 (the student version) in JupyterLab, runs all
    its cells (the image is built and run in her engine), then picks the quiz's answer and presses Check."""
    if lab_browser.CHROMIUM is None:
        pytest.skip("chromium is not installed (make setup installs it)")
    lesson = student_version(nbformat.read(REPO / "notebooks" / "01-first-image.ipynb", as_version=4))
    code_cells = sum(cell.cell_type == "code" for cell in lesson.cells)
    prompts = f"(() => {{ const all = {lab_browser.PROMPTS}; return all.length === {code_cells} ? all : null; }})()"
    playwright = lab_browser.playwright_api
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(lab_browser.CHROMIUM), args=lab_browser.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(lab_browser.UI_WAIT_MS)
        step = "log in"
        try:
            page.goto(f"{classroom['url']}hub/login")
            page.fill("#username_input", "cat")
            page.fill("#password_input", PASSWORDS["cat"])
            page.click("#login_submit")
            page.wait_for_url(re.compile(r".*/hub/(home|spawn.*)|.*/user/cat/.*"))
            step = "open lesson 01"
            page.goto(f"{classroom['url']}user/cat/lab/workspaces/lesson/tree/01-first-image.ipynb?reset")
            page.wait_for_selector(f"{lab_browser.PANEL} .jp-Notebook .jp-Cell")
            lab_browser.wait_for_kernel_idle(page)
            page.wait_for_function(f"() => {prompts} !== null")
            title = page.locator(f"{lab_browser.PANEL} .jp-RenderedHTMLCommon h1").first.inner_text()
            # As in the lessons' own browser test: the app is settled once a menu command has run.
            lab_browser.click_menu(page, "Edit", "Clear Outputs of All Cells")
            step = "run all cells"
            lab_browser.run_all_cells(page, prompts)
            page.wait_for_function(f"() => {prompts}?.every(p => /\\[\\d+\\]/.test(p.textContent))",
                                   timeout=lab_browser.LESSON_WAIT_MS)
            lab_browser.wait_for_kernel_idle(page)
            shown = "\n".join(page.locator(f"{lab_browser.PANEL} .jp-OutputArea-output").all_inner_texts())
            tracebacks = [text for text in page.locator(lab_browser.STDERR).all_inner_texts() if "Traceback" in text]
            step = "answer the quiz"
            check = page.locator("button", has_text=re.compile(r"^\s*Check\s*$"))
            quiz = page.locator(f"{lab_browser.PANEL} .widget-vbox").filter(has=check).last
            quiz.scroll_into_view_if_needed()
            quiz.locator("label", has_text=re.compile(r"^\s*A new container\s*$")).click()
            quiz.locator("button", has_text=re.compile(r"^\s*Check\s*$")).click()
            page.wait_for_function("el => /passed/.test(el.innerText)", arg=quiz.element_handle(),
                                   timeout=lab_browser.QUIZ_WAIT_MS)
        except playwright.Error as error:
            shot = Path(tempfile.gettempdir()) / "dockerlab-classroom-cat-stuck.png"
            page.screenshot(path=str(shot))
            raise AssertionError(f"cat in the classroom's JupyterLab: could not {step} "
                                 f"({error.message.splitlines()[0]}); screenshot: {shot}") from None
        finally:
            browser.close()
    assert title.startswith("01 ")
    assert GREETING in shown and tracebacks == []  # partech built and ran in cat's own engine


def test_status_shows_each_students_progress_and_collect_then_grade_gives_the_expected_table(classroom):
    for student, cmd in (("ann", 'CMD echo "Hello World!! My first Docker image"'), ("ben", 'CMD echo "Hello"')):
        if student == "ann":  # her server was stopped after the fork bomb: start it again (her work is kept)
            hub(classroom, "POST", "/users/ann/server")
            while not ((hub(classroom, "GET", "/users/ann")["servers"] or {}).get("") or {}).get("ready"):
                time.sleep(1)
            assert "ann-only" in run_in(classroom, "ann", "docker ps -a --format '{{.Names}}'").stdout
        done = run_in(classroom, student, f"mkdir -p my-first-image && printf 'FROM dockerlab/busybox\\n{cmd}\\n' "
                      "> my-first-image/Dockerfile")
        assert done.returncode == 0, done.stderr
        # The quiz of lesson 01, answered as the notebook's widget answers it (the learner API, in their folder).
        answer = {"ann": "A new container", "ben": "A new image"}[student]
        done = run_in(classroom, student, "python -c 'import dockerlab; "
                      f"print(dockerlab.check(\"image-or-container\", answer=\"{answer}\").verdict)'")
        assert done.stdout.strip() == ("passed" if student == "ann" else "failed"), done.stderr
    status = dockerlab("classroom", "status", env=classroom["env"]).stdout
    lines = {line.split(":")[0].strip(): line for line in status.split("\nProgress")[1].splitlines()[1:]}
    assert lines["ann"].endswith("image-or-container 1/1 ✓") and lines["ben"].endswith("image-or-container 0/1")
    assert re.search(r"first-image \d/\d+, image-or-container 1/1 ✓$", lines["cat"])  # her run in the browser
    table = {line.split()[0]: line for line in status.splitlines()[1:len(STUDENTS) + 1]}
    assert " 1 of " in table["ann"] and " 0 of " in table["ben"] and "running" in table["ben"]
    assert re.search(r"\d+\.\d MB of 1\.\d GB", table["ben"])  # what ben's disk holds, of its size
    engine = classroom["engine"]
    before = {c["Names"][0]: c["Id"] for c in engine.api.containers(filters=CLASSROOM)}
    out = classroom["root"] / "collected"
    dockerlab("classroom", "collect", "--out", str(out), env=classroom["env"])
    assert {c["Names"][0]: c["Id"] for c in engine.api.containers(filters=CLASSROOM)} == before  # nothing stopped
    assert sorted(path.name for path in out.iterdir()) == STUDENTS
    assert (out / "cat" / "01-first-image.ipynb").is_file()
    grades = classroom["root"] / "grades.csv"
    dockerlab("grade", str(out), "--out", str(grades), "--exercise", "first-image", "--exercise", "image-or-container",
              env=classroom["env"])
    table = {(row["student"], row["exercise"]): row["verdict"] for row in csv.DictReader(grades.open())}
    # cat's exercise folder holds the student version's starter (she left the exercise for later) and the
    # quiz's answer she checked in the browser; ben's greeting and answer are wrong.
    assert table == {("ann", "first-image"): "passed", ("ann", "image-or-container"): "passed",
                     ("ben", "first-image"): "failed", ("ben", "image-or-container"): "failed",
                     ("cat", "first-image"): "failed", ("cat", "image-or-container"): "passed"}


def test_secrets_never_in_the_hubs_log_or_the_process_list(classroom):
    state = Path(classroom["env"]["DOCKERLAB_STATE_DIR"]) / "classroom"
    token = (state / "api-token").read_text().strip()
    password = (state / "instructor-password").read_text().split()[1]
    log = (state / "hub.log").read_text()
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    for secret in (token, password, *PASSWORDS.values()):
        assert secret not in log and secret not in listed and secret not in classroom["up"].stdout
    assert oct((state / "api-token").stat().st_mode & 0o777) == "0o600"


def classroom_mounts(state: Path) -> list[str]:
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if str(state) in line]


def test_down_leaves_nothing_running_and_keeps_the_work_until_asked(classroom):
    engine, env = classroom["engine"], classroom["env"]
    state = Path(env["DOCKERLAB_STATE_DIR"]) / "classroom"
    hub = json.loads((state / "state.json").read_text())
    assert len(classroom_mounts(state)) == len(STUDENTS)
    assert classroom_processes(classroom["settings"])
    dockerlab("classroom", "down", env=env)
    assert not process_alive(hub["pid"], hub["started"])
    assert classroom_processes(classroom["settings"]) == []
    assert engine.api.containers(all=True, filters=CLASSROOM) == []
    assert engine.api.networks(filters=CLASSROOM) == []
    assert classroom_mounts(state) == []
    assert sorted(path.name for path in (state / "disks").glob("*.img")) == [f"{name}.img" for name in STUDENTS]
    # A second `up` mounts the same disks: ann's progress is back before any server starts.
    dockerlab("classroom", "up", "--roster", str(classroom["roster"]), "--port", str(classroom["port"]),
              "--trust-students", env=env)
    assert "image-or-container 1/1 ✓" in dockerlab("classroom", "status", env=env).stdout
    dockerlab("classroom", "down", "--delete-work", env=env)
    assert classroom_mounts(state) == [] and not state.exists()


# --- bad input: one sentence each, nothing started ---------------------------------------------------------

def one_sentence(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dockerlab: ")
    return lines[0]


@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("username\nann\n")
    return path


def test_bad_roster_is_one_sentence(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("username\nann\nAnn Smith\n")
    env = {**os.environ, "DOCKERLAB_STATE_DIR": str(tmp_path / "state")}
    said = one_sentence(dockerlab("classroom", "up", "--roster", str(path), "--trust-students", env=env, check=False))
    assert "'Ann Smith' is not a username" in said


@pytest.mark.parametrize("flag, value, says", [
    ("--disk", "lots", "--disk lots is not a size"), ("--disk", "0", "--disk 0 is too small"),
    ("--idle-minutes", "0", "--idle-minutes 0 is no time at all"),
])
def test_a_limit_that_cannot_be_used_is_one_sentence(roster, tmp_path, flag, value, says):
    env = {**os.environ, "DOCKERLAB_STATE_DIR": str(tmp_path / "state")}
    said = one_sentence(dockerlab("classroom", "up", "--roster", str(roster), flag, value, "--trust-students",
                                  env=env, check=False))
    assert says in said


def test_a_taken_port_is_one_sentence(roster, tmp_path):
    env = {**os.environ, "DOCKERLAB_STATE_DIR": str(tmp_path / "state")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said = one_sentence(dockerlab("classroom", "up", "--roster", str(roster), "--port", str(port),
                                      "--trust-students", env=env, check=False))
    assert f"Port {port} on 127.0.0.1 is already in use" in said


def test_no_engine_is_one_sentence(roster, tmp_path):
    env = {**os.environ, "DOCKERLAB_STATE_DIR": str(tmp_path / "state"), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    one_sentence(dockerlab("classroom", "up", "--roster", str(roster), "--trust-students", env=env, check=False))


def test_without_sysbox_up_refuses_unless_students_are_trusted(roster, tmp_path):
    if "sysbox-runc" in (connect_engine().info.get("Runtimes") or {}):
        pytest.skip("this host has Sysbox: students' engines need no trust here")
    env = {**os.environ, "DOCKERLAB_STATE_DIR": str(tmp_path / "state")}
    said = one_sentence(dockerlab("classroom", "up", "--roster", str(roster), env=env, check=False))
    assert "could become root on this host" in said and "--trust-students" in said
