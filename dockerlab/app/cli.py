"""The `dockerlab` command: doctor, clean, lab, registry, layers, diff, check, grade, student, classroom.

Errors are one sentence on stderr, never a traceback."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..archive.layouts import read_archive
from ..course.exercises import all_exercise_ids
from ..course.grading import check_submission, grade
from ..course.student import generate
from ..engine.cleanup import sweep_stale_sessions
from ..engine.connection import connect_engine
from ..engine.images import base_image_layers, load_container_layer, load_image_layers
from ..engine import registry
from ..engine.registry_container import cli_registry_where_the_engine_is, registry_where_the_engine_is
from ..engine.translate import ENGINE_ERRORS, explain
from ..errors import DockerlabError, EngineUnavailable
from ..model.layers import build_image_layers, dumps
from ..model.text import human_size
from . import classroom
from .doctor import report

REPO = Path(__file__).resolve().parents[2]


def cmd_doctor(args: argparse.Namespace) -> int:

    result = report(fix=args.fix)
    print(result)
    return 0 if result.ready else 1


def cmd_clean(args: argparse.Namespace) -> int:

    swept = sweep_stale_sessions(connect_engine())
    registries = registry.sweep_stale_registries()
    print(f"Removed what {len(swept)} finished session(s) left behind; running sessions were not touched.")
    if registries:
        print(f"Stopped {len(registries)} registry(ies) whose notebook had finished.")
    return 0


def cmd_registry(args: argparse.Namespace) -> int:

    try:
        engine = connect_engine()
    except EngineUnavailable:
        engine = None  # none answers: the registry starts here, as for an engine on this host
    running = cli_registry_where_the_engine_is(engine)
    if args.action == "status":
        print(running.describe() if running else
              "No registry started by `dockerlab registry start` is running; start one with it.")
        return 0 if running else 3
    if args.action == "stop":
        if running is None:
            print("No registry started by `dockerlab registry start` is running; nothing to stop.")
            return 0
        running.stop()
        print(f"Stopped the registry at {running.address}.")
        return 0
    if running is not None:
        raise DockerlabError(f"A registry is already running at {running.address}; stop it first with "
                             "`dockerlab registry stop`, or use that one.")
    if bool(args.user) != bool(args.password):
        raise DockerlabError("Give --user and --password together (or neither, for a registry without login).")
    users = {args.user: args.password} if args.user else None
    started = registry_where_the_engine_is(engine, args.port, users, args.storage, registry.CLI_OWNER)
    print(started.address)
    login = f"`docker login {started.address} -u {args.user}`, then " if users else ""
    print(f"{started.describe()} Use it with {login}`docker push {started.address}/<user>/<name>:<tag>`; "
          "stop it with `dockerlab registry stop`.")
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        raise DockerlabError(f"There is no folder '{folder}' to open; run `make lab` from the kit's folder.")
    argv = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={folder}", f"--ip={args.ip}", f"--port={args.port}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    if args.no_browser:
        argv.append("--no-browser")
    if args.token is not None:
        argv.append(f"--IdentityProvider.token={args.token}")
    os.execv(argv[0], argv)
    return 0  # not reached: exec replaces this process


class ReadProgress:
    """`reading IMAGE: 120.0 MB` on stderr, rewritten in place, only when stderr is a terminal."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.shown = 0
        self.enabled = sys.stderr.isatty()

    def __call__(self, _path: str, total: int) -> None:
        if self.enabled and total - self.shown >= 8 << 20:

            self.shown = total
            print(f"\rreading {self.what}: {human_size(total)}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled and self.shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def cmd_layers(args: argparse.Namespace) -> int:

    if args.archive:
        model = archive_model(args.archive)
        files = True
    elif args.image:

        progress = ReadProgress(args.image)
        try:
            model = load_image_layers(connect_engine(), args.image, args.files, on_progress=progress)
        finally:
            progress.done()
        files = args.files
    else:
        raise DockerlabError("Name an image (`dockerlab layers IMAGE`) or an archive (`dockerlab layers --archive FILE`).")
    if args.json:
        print(dumps(model, files=files))
        return 0
    print(model)
    if files:
        for layer in model.layers:
            if not layer.changes or layer.base:
                continue  # the base image's files are many and the same in every lesson image
            step = model.step_of(layer)
            print(f"\nlayer {layer.index + 1}: {step.text if step else '?'}")
            for change in layer.changes:
                print(f"  {change.change[0].upper()} {human_size(change.size):>9}  {change.path}")
    return 0


def archive_model(path: str):
    """The model of the image in a `docker save` / OCI archive file (base layers matched if an engine answers)."""

    try:
        stream = open(path, "rb")
    except OSError as error:
        raise DockerlabError(f"Could not open the archive '{path}' ({error.strerror}); give a file made by "
                             "`docker save IMAGE -o FILE` or `skopeo copy ... oci-archive:FILE`.") from None
    progress = ReadProgress(path)
    with stream:
        try:
            image = read_archive(stream, on_progress=lambda member, _: progress(member, stream.tell()))
        finally:
            progress.done()
    base_ids, base_length = [], None
    try:

        base_ids, base_length = base_image_layers(connect_engine(timeout=5))
    except DockerlabError:
        pass  # no engine: no layer is known to be the base image's
    return build_image_layers(image.name or Path(path).name, image.diff_ids, image.history, layer_files=image.layers,
                              base_diff_ids=base_ids, base_image="dockerlab/busybox", base_history_length=base_length)


def cmd_diff(args: argparse.Namespace) -> int:


    layer = load_container_layer(connect_engine(), args.container)
    print(json.dumps(layer.to_json(), indent=2) if args.json else layer)
    return 0


def cmd_check(args: argparse.Namespace) -> int:


    answer = None
    if args.answer is not None:
        answer = args.answer[0] if len(args.answer) == 1 and not args.multiple else args.answer
    result = check_submission(connect_engine, args.exercise, context=args.context, answer=answer,
                              hidden=args.hidden, limits={"timeout": args.timeout} if args.timeout else None)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print("\n".join([result.headline, *(f"  {line}" for line in result.feedback)]))
    return result.exit_code


def cmd_grade(args: argparse.Namespace) -> int:

    out = Path(args.out)
    report_path = Path(args.report) if args.report else out.with_suffix(".md")
    rows = grade(connect_engine, args.submissions, out, report_path, args.exercise or None,
                 limits={"timeout": args.timeout} if args.timeout else None)
    students = len({row["student"] for row in rows})
    passed = sum(row["verdict"] == "passed" for row in rows)
    print(f"Graded {students} submission(s): {passed} of {len(rows)} exercise results passed; "
          f"wrote {out} and {report_path}.")
    return 0


def cmd_student(args: argparse.Namespace) -> int:

    for line in generate(Path(args.source), Path(args.out), force=args.force):
        print(line)
    return 0


def cmd_classroom(args: argparse.Namespace) -> int:
    if args.action == "up":
        limits = classroom.Limits(memory=args.memory, cpus=args.cpus, pids=args.pids, disk=args.disk,
                                  idle_minutes=args.idle_minutes)
        state = classroom.up(Path(args.roster), args.ip, args.port, args.trust_students, args.start_all, limits,
                             args.instructor, say=lambda line: print(line, file=sys.stderr, flush=True))
        print(state["url"])
        print(f"The classroom is up for {len(state['students'])} student(s) at {state['url']}: each student logs in "
              "with their roster username and the password the roster gives them, or one they choose at their first "
              "login. The instructor logs in as "
              f"'{state['instructor']}' with the password in {classroom.classroom_dir() / 'instructor-password'} "
              "(readable by you only). Stop it with `dockerlab classroom down`.")
        return 0
    if args.action == "down":
        removed = classroom.down(connect_engine(), args.delete_work)
        kept = "deleted" if args.delete_work else "kept (a second `up` gives them back; `down --delete-work` deletes them)"
        print(f"The classroom is down: {removed['containers']} server(s) and {removed['networks']} network(s) removed; "
              f"students' disks (their work and engines) {kept}.")
        return 0
    engine = connect_engine()
    if args.action == "status":
        rows = classroom.status(engine)
        print(f"{'student':<20} {'server':<9} {'since':<27} {'memory':>9} {'cpu':>5}  {'disk':<22} passed")
        for row in rows:
            passed = sum(entry["passed"] for entry in row["progress"].values())
            print(f"{row['student']:<20} {row['server']:<9} {row['since']:<27} {row['memory']:>9} {row['cpu']:>5}  "
                  f"{row['disk']:<22} {passed} of {len(all_exercise_ids())} exercises")
        print("\nProgress: checks passed at the last attempt, per exercise tried (✓ passed once):")
        for row in rows:
            tried = [f"{exercise} {entry['checks_passed']}/{entry['checks_total']}{' ✓' if entry['passed'] else ''}"
                     for exercise, entry in row["progress"].items()]
            print(f"  {row['student']}: {', '.join(tried) or 'no check run yet'}")
        return 0
    if args.action == "collect":
        who = classroom.collect(Path(args.out))
        print(f"Collected the work of {len(who)} student(s) into {args.out}; grade it with "
              f"`dockerlab grade {args.out} --out grades.csv`.")
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise DockerlabError("Name a student and a command: `dockerlab classroom exec STUDENT -- COMMAND...`.")
    return classroom.exec_command(engine, args.student, command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dockerlab", description="Learn Docker images and containers for real.")
    commands = parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser("doctor", help="check that the lessons can run on this machine")
    doctor.add_argument("--fix", action="store_true", help="start the engine and build the base image where allowed")
    doctor.set_defaults(func=cmd_doctor)

    clean = commands.add_parser("clean", help="remove what finished notebook sessions left on the engine")
    clean.set_defaults(func=cmd_clean)

    lab = commands.add_parser("lab", help="start JupyterLab on the lessons")
    lab.add_argument("folder", nargs="?", default=str(REPO / "notebooks"))
    lab.add_argument("--ip", default="127.0.0.1")
    lab.add_argument("--port", default="8888")
    lab.add_argument("--no-browser", action="store_true")
    lab.add_argument("--token", help="the access token (default: JupyterLab makes one up)")
    lab.set_defaults(func=cmd_lab)

    registry = commands.add_parser("registry", help="a local image registry (start, stop, status)")
    registry.add_argument("action", choices=["start", "stop", "status"])
    registry.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    registry.add_argument("--user", help="a user who may log in (with --password)")
    registry.add_argument("--password", help="that user's password (stored only as a bcrypt hash)")
    registry.add_argument("--storage", help="a folder or a name whose images survive restarts (default: temporary)")
    registry.set_defaults(func=cmd_registry)

    layers = commands.add_parser("layers", help="show an image's layers (and the files each one changes)")
    layers.add_argument("image", nargs="?", help="an image on the engine")
    layers.add_argument("--archive", metavar="FILE", help="read a `docker save` or OCI archive instead (files always read)")
    layers.add_argument("--files", action="store_true", help="read the files each layer adds, modifies and deletes")
    layers.add_argument("--json", action="store_true", help="print JSON")
    layers.set_defaults(func=cmd_layers)

    diff = commands.add_parser("diff", help="show a container's writable layer (like `docker diff`)")
    diff.add_argument("container")
    diff.add_argument("--json", action="store_true", help="print JSON")
    diff.set_defaults(func=cmd_diff)

    check = commands.add_parser("check", help="check an exercise: exit 0 passed, 1 not yet passed, 2 could not check")
    check.add_argument("exercise", help="the exercise id, e.g. first-image")
    check.add_argument("--context", help="the folder to build (image exercises; default: the exercise's folder)")
    check.add_argument("--answer", action="append", help="a quiz answer (repeat for several choices)")
    check.add_argument("--multiple", action="store_true", help="treat a single --answer as a list of one choice")
    check.add_argument("--hidden", action="store_true", help="run the hidden checks too (instructors)")
    check.add_argument("--timeout", type=float, help="seconds a checked container may run")
    check.add_argument("--json", action="store_true", help='print {"exercise", "passed", "verdict", "feedback"}')
    check.set_defaults(func=cmd_check, error_exit_code=2)

    grade = commands.add_parser("grade", help="run public and hidden checks on every submission, in the sandbox")
    grade.add_argument("submissions", help="a folder with one folder (or notebook) per student")
    grade.add_argument("--out", default="grades.csv", help="the CSV to write (one row per student and exercise)")
    grade.add_argument("--report", help="the Markdown report to write (default: next to the CSV, .md)")
    grade.add_argument("--exercise", action="append", help="grade only this exercise (repeatable)")
    grade.add_argument("--timeout", type=float, help="seconds a checked container may run")
    grade.set_defaults(func=cmd_grade, error_exit_code=2)

    student = commands.add_parser("student", help="generate the student notebooks from the instructor ones")
    student.add_argument("--source", default=str(REPO / "notebooks"))
    student.add_argument("--out", default=str(REPO / "student"))
    student.add_argument("--force", action="store_true", help="overwrite student notebooks even if edited")
    student.set_defaults(func=cmd_student)

    room = commands.add_parser("classroom", help="JupyterHub for a class, a private engine per student (instructors)")
    actions = room.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start the hub in the background; returns once it answers, printing its URL")
    up.add_argument("--roster", required=True, help="a CSV with a header line and a `username` column")
    up.add_argument("--ip", default="127.0.0.1", help="the address the hub listens on (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000)")
    up.add_argument("--trust-students", action="store_true",
                    help="without Sysbox, run students' engines with near-root access to this host")
    up.add_argument("--start-all", action="store_true", help="start every student's server now (before class)")
    up.add_argument("--instructor", default="instructor", help="the instructor's (admin's) username")
    up.add_argument("--memory", default=classroom.Limits.memory, help="memory per student (default 2G)")
    up.add_argument("--cpus", type=float, default=classroom.Limits.cpus, help="CPU cores per student (default 1)")
    up.add_argument("--pids", type=int, default=classroom.Limits.pids, help="processes per student (default 2048)")
    up.add_argument("--disk", default=classroom.Limits.disk,
                    help="disk per student: their work and their engine's images (default 10G)")
    up.add_argument("--idle-minutes", type=float, default=classroom.Limits.idle_minutes,
                    help="stop a server idle this long; its work stays (default 60)")
    actions.add_parser("status", help="each student's server, since when, its memory, CPU and disk, their progress")
    collect = actions.add_parser("collect", help="copy every student's work out (nothing is stopped)")
    collect.add_argument("--out", required=True, help="a new folder: one folder per student")
    run = actions.add_parser("exec", help="run a command in a student's server (`docker` there is theirs)")
    run.add_argument("student")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND...")
    down = actions.add_parser("down", help="stop everything the classroom started (students' work is kept)")
    down.add_argument("--delete-work", action="store_true", help="also delete students' work and engines")
    room.set_defaults(func=cmd_classroom)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DockerlabError as error:
        print(f"dockerlab: {error}", file=sys.stderr)
        return getattr(args, "error_exit_code", 1)
    except ENGINE_ERRORS as error:  # an engine failure no command translated itself
        print(f"dockerlab: {explain(error)}", file=sys.stderr)
        return getattr(args, "error_exit_code", 1)
    except KeyboardInterrupt:
        print("dockerlab: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
