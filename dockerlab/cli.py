"""The `dockerlab` command: doctor, clean, lab, check, grade, student. Errors are one sentence on stderr, never a traceback."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import DockerlabError

REPO = Path(__file__).resolve().parent.parent


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import report

    result = report(fix=args.fix)
    print(result)
    return 0 if result.ready else 1


def cmd_clean(args: argparse.Namespace) -> int:
    from .engine import connect_engine
    from .session import sweep_stale_sessions

    swept = sweep_stale_sessions(connect_engine())
    print(f"Removed what {len(swept)} finished session(s) left behind; running sessions were not touched.")
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        raise DockerlabError(f"There is no folder '{folder}' to open; run `make lab` from the kit's folder.")
    argv = ["jupyter", "lab", f"--notebook-dir={folder}", f"--ip={args.ip}", f"--port={args.port}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    if args.no_browser:
        argv.append("--no-browser")
    os.execvp(argv[0], argv)
    return 0  # not reached: exec replaces this process


def cmd_check(args: argparse.Namespace) -> int:
    import json

    from .engine import connect_engine
    from .grading import check_submission

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
    from .engine import connect_engine
    from .grading import grade

    out = Path(args.out)
    report = Path(args.report) if args.report else out.with_suffix(".md")
    rows = grade(connect_engine, args.submissions, out, report, args.exercise or None,
                 limits={"timeout": args.timeout} if args.timeout else None)
    students = len({row["student"] for row in rows})
    passed = sum(row["verdict"] == "passed" for row in rows)
    print(f"Graded {students} submission(s): {passed} of {len(rows)} exercise results passed; "
          f"wrote {out} and {report}.")
    return 0


def cmd_student(args: argparse.Namespace) -> int:
    from .student import generate

    for line in generate(Path(args.source), Path(args.out), force=args.force):
        print(line)
    return 0


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
    lab.set_defaults(func=cmd_lab)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DockerlabError as error:
        print(f"dockerlab: {error}", file=sys.stderr)
        return getattr(args, "error_exit_code", 1)
    except KeyboardInterrupt:
        print("dockerlab: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
