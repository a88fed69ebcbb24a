"""Bad (and good) answers to exercise `first-image`, with the verdict each must get.

Used by test_bad_inputs.py; run it directly (`.venv/bin/python tests/integration/bad_inputs.py`) for
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

# Answers with RUN steps: (files, (verdict, phrase) where RUN steps get a pids cap (BuildKit), and where the
# builder is the classic one). Where BuildKit cannot cap them, RUN is refused ("RUN line").
RUN_CASES = {
    "RUN + CMD, a right answer": ({"Dockerfile": f'FROM dockerlab/busybox\nRUN echo hi > /said\nCMD echo "{GREETING}"\n'},
                                  ("passed", "prints exactly"), ("build-error", "RUN line")),
    "fork bomb in RUN": ({"Dockerfile": "FROM dockerlab/busybox\nRUN bomb(){ bomb | bomb & }; bomb; sleep 60\nCMD true\n"},
                         ("pids-limit", "processes"), ("build-error", "RUN line")),
    "memory hog in RUN": ({"Dockerfile": "FROM dockerlab/busybox\nRUN x=a; while true; do x=$x$x; done\nCMD true\n"},
                          ("memory-limit", "memory"), ("build-error", "RUN line")),
    "endless RUN": ({"Dockerfile": "FROM dockerlab/busybox\nRUN while true; do :; done\nCMD true\n"},
                    ("timeout", "longer than"), ("build-error", "RUN line")),
    "RUN tries the network": ({"Dockerfile": "FROM dockerlab/busybox\nRUN wget -q -O- http://example.com\nCMD true\n"},
                              ("build-error", "bad address"), ("build-error", "RUN line")),
    "BuildKit heredoc": ({"Dockerfile": f'FROM dockerlab/busybox\nRUN <<EOF\necho hi > /said\nEOF\nCMD echo "{GREETING}"\n'},
                         ("passed", "prints exactly"), ("build-error", "classic builder")),
    "BuildKit RUN --mount": ({"Dockerfile": "FROM dockerlab/busybox\nRUN --mount=type=cache,target=/c echo hi > /c/x\n"
                                           f'CMD echo "{GREETING}"\n'},
                             ("passed", "prints exactly"), ("build-error", "classic builder")),
}

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
    dockerlab = str(Path(sys.executable).with_name("dockerlab"))
    print(f"{'case':38} {'verdict':13} {'exit':4} {'seconds':>7}  expected")
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for number, (name, (files, verdict, _)) in enumerate(CASES.items()):
            context = make_context(Path(tmp) / f"case{number}", files)
            runs.append((name, verdict, [dockerlab, "check", "first-image", "--context", str(context),
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
