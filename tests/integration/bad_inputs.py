"""Bad (and good) answers to exercise `first-image`, with the verdict each must get.

Used by course/test_checks.py; run it directly (`.venv/bin/python tests/integration/bad_inputs.py`) for
a table of each case's verdict, exit code and wall time through `dockerlab check --json`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GREETING = "Hello World!! My first Docker image"
TIMEOUT = 5  # seconds a checked container may run, in tests

# name: (files of the build context (None: a symlink to /etc/passwd), verdict, a phrase the feedback contains)
CASES = {
    "right answer": ({"Dockerfile": f'FROM dockerlab/busybox\nCMD echo "{GREETING}"\n'}, "passed", "prints exactly"),
    "wrong text": ({"Dockerfile": 'FROM dockerlab/busybox\nCMD echo "Hello world"\n'}, "failed", "first differ"),
    "no CMD (starter)": ({"Dockerfile": "FROM dockerlab/busybox\n"}, "failed", "base image's CMD"),
    "syntax error": ({"Dockerfile": "FROM dockerlab/busybox\nCMMD echo hi\n"}, "build-error", "unknown instruction"),
    "missing Dockerfile": ({"README.txt": "no Dockerfile here\n"}, "build-error", "There is no 'Dockerfile'"),
    "empty context": ({}, "build-error", "is empty"),
    "symlink out of the context": ({"Dockerfile": f'FROM dockerlab/busybox\nCMD echo "{GREETING}"\n', "passwd": None},
                                   "build-error", "outside the build context"),
    "context over the size cap": ({"Dockerfile": "FROM dockerlab/busybox\n", "big.bin": "x" * (2 * 1024 * 1024)},
                                  "error", "too much to send"),
    "base image not on the engine": ({"Dockerfile": "FROM ubuntu:22.04\nCMD echo hi\n"}, "build-error", "dockerlab/busybox"),
    "CMD loops forever": ({"Dockerfile": "FROM dockerlab/busybox\nCMD while true; do :; done\n"}, "timeout", "still running"),
    "closes its output, then sleeps": ({"Dockerfile": "FROM dockerlab/busybox\nCMD exec >&- 2>&-; sleep 60\n"},
                                       "timeout", "still running"),
    "fork bomb": ({"Dockerfile": "FROM dockerlab/busybox\nCMD bomb(){ bomb | bomb & }; bomb; sleep 60\n"},
                  "pids-limit", "processes"),
    "memory hog": ({"Dockerfile": "FROM dockerlab/busybox\nCMD x=a; while true; do x=$x$x; done\n"},
                   "memory-limit", "OOMKilled"),
    "output flood": ({"Dockerfile": "FROM dockerlab/busybox\nCMD yes\n"}, "output-limit", "printed more than"),
    "tries the network": ({"Dockerfile": f'FROM dockerlab/busybox\nCMD wget -q -O- http://example.com && echo "{GREETING}"\n'},
                          "failed", "without any network"),
}

# Answers with RUN steps: (files, verdict, a phrase the feedback contains) where RUN steps get a pids cap (a
# cgroup parent that bites, with BuildKit or the classic builder). Where they cannot be capped, RUN is refused
# ("RUN line"); the classic builder refuses BuildKit-only syntax ("classic builder").
RUN_CASES = {
    "RUN + CMD, a right answer": ({"Dockerfile": f'FROM dockerlab/busybox\nRUN echo hi > /said\nCMD echo "{GREETING}"\n'},
                                  "passed", "prints exactly"),
    "fork bomb in RUN": ({"Dockerfile": "FROM dockerlab/busybox\nRUN bomb(){ bomb | bomb & }; bomb; sleep 60\nCMD true\n"},
                         "pids-limit", "processes"),
    "memory hog in RUN": ({"Dockerfile": "FROM dockerlab/busybox\nRUN x=a; while true; do x=$x$x; done\nCMD true\n"},
                          "memory-limit", "memory"),
    "endless RUN": ({"Dockerfile": "FROM dockerlab/busybox\nRUN while true; do :; done\nCMD true\n"},
                    "timeout", "longer than"),
    "output flood in RUN": ({"Dockerfile": "FROM dockerlab/busybox\nRUN yes\nCMD true\n"}, "output-limit", "printed more than"),
    "RUN tries the network": ({"Dockerfile": "FROM dockerlab/busybox\nRUN wget -q -O- http://example.com\nCMD true\n"},
                              "build-error", "bad address"),
    "BuildKit heredoc": ({"Dockerfile": f'FROM dockerlab/busybox\nRUN <<EOF\necho hi > /said\nEOF\nCMD echo "{GREETING}"\n'},
                         "passed", "prints exactly"),
    "BuildKit RUN --mount": ({"Dockerfile": "FROM dockerlab/busybox\nRUN --mount=type=cache,target=/c echo hi > /c/x\n"
                                           f'CMD echo "{GREETING}"\n'},
                             "passed", "prints exactly"),
}
BUILDKIT_ONLY_CASES = {"BuildKit heredoc", "BuildKit RUN --mount"}


def run_steps_capped(engine) -> bool:
    """RUN steps of checked builds get a pids cap on this engine (a cgroup parent that bites, probed)."""
    from dockerlab.engine import sandbox
    from dockerlab.engine.session import Session

    session = Session(engine)
    try:
        return sandbox.build_pids_cap_bites(session)
    finally:
        session.clean()


def run_case_expected(case: str, capped: bool, buildkit: bool) -> tuple[str, str]:
    """The verdict and phrase a RUN case gets on a builder that caps RUN steps (or not), BuildKit or not."""
    if case in BUILDKIT_ONLY_CASES and not buildkit:
        return "build-error", "classic builder"
    return RUN_CASES[case][1:] if capped else ("build-error", "RUN line")


# Quiz answers: (exercise, answer, verdict, phrase)
QUIZ_CASES = {
    "quiz: right choice": ("image-or-container", "A new container", "passed", "right"),
    "quiz: wrong choice": ("image-or-container", "A new image", "failed", "Not quite"),
    "quiz: a number instead of a choice": ("image-or-container", 2, "error", "not a number"),
    "quiz: a list for a single choice": ("image-or-container", ["A new container"], "error", "not a list"),
    "quiz: text where a list of choices is expected": ("what-survives-rm", "The image it was made from", "error", "must be a list"),
}


def make_context(root: Path, files: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if text is None:
            (root / name).symlink_to("/etc/passwd")
        else:
            (root / name).write_text(text)
    return root


def main() -> int:
    """Each case through the CLI: verdict, exit code, wall time."""
    from dockerlab.engine.buildx import uses_buildkit
    from dockerlab.engine.connection import connect_engine

    engine = connect_engine()
    capped, buildkit = run_steps_capped(engine), uses_buildkit(engine)
    print(f"builder: {'BuildKit' if buildkit else engine.default_builder}; RUN steps capped: {capped}")
    dockerlab = str(Path(sys.executable).with_name("dockerlab"))
    print(f"{'case':38} {'verdict':13} {'exit':4} {'seconds':>7}  expected")
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        expected = {**{name: verdict for name, (_, verdict, _) in CASES.items()},
                    **{name: run_case_expected(name, capped, buildkit)[0] for name in RUN_CASES}}
        files_of = {**{name: files for name, (files, _, _) in CASES.items()},
                    **{name: files for name, (files, _, _) in RUN_CASES.items()}}
        for number, (name, files) in enumerate(files_of.items()):
            context = make_context(Path(tmp) / f"case{number}", files)
            runs.append((name, expected[name], [dockerlab, "check", "first-image", "--context", str(context),
                                                "--timeout", str(TIMEOUT), "--json"]))
        for name, (exercise, answer, verdict, _) in QUIZ_CASES.items():
            answers = [str(a) for a in answer] if isinstance(answer, list) else [str(answer)]
            flags = [w for a in answers for w in ("--answer", a)] + (["--multiple"] if isinstance(answer, list) else [])
            runs.append((name, verdict, [dockerlab, "check", exercise, *flags, "--json"]))
        for name, verdict, argv in runs:
            started = time.monotonic()
            done = subprocess.run(argv, capture_output=True, text=True)
            seconds = time.monotonic() - started
            got = json.loads(done.stdout)["verdict"] if done.stdout.strip().startswith("{") else "?"
            print(f"{name:38} {got:13} {done.returncode:<4} {seconds:7.1f}  {verdict}{'' if got == verdict else '  <-- MISMATCH'}")
    return 0


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent)
    sys.exit(main())
