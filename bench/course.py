"""The whole course under nbval, cold and warm, and the share of it spent waiting on the engine.

Cold: the kit's images are removed first (the base image `dockerlab/busybox`, and what finished
sessions left); live sessions' images are never touched. Warm: the same run again right after.
Each run is `pytest --nbval-lax --nbval-sanitize-with tests/notebooks/sanitize.cfg notebooks`, timed by the
wall clock.

Waiting on the engine: every kernel nbval starts connects through `dockerlab.engine`, which, with
DOCKERLAB_ENGINE_TIMING set, times each blocking read and write on the engine's unix socket (the SDK's
HTTP calls, streamed builds and logs, `wait` for a container). Their sum over all kernels, divided by
the run's wall time, is the share of the run the lessons spent waiting for the engine; the rest is
Python, Jupyter kernels starting and stopping, nbval, and anything not going through the kit (e.g. a
`docker` CLI or skopeo subprocess, which is not counted). Prints the figures; asserts nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockerlab.engine.build import BASE_IMAGE  # noqa: E402
from dockerlab.engine.connection import ENGINE_TIMING_ENV, connect_engine  # noqa: E402
from dockerlab.engine.cleanup import sweep_stale_sessions  # noqa: E402

NBVAL = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-sanitize-with", "tests/notebooks/sanitize.cfg",
         "-p", "no:cacheprovider", "-q", "-rf", "notebooks"]
TARGETS = {"cold": 180, "warm": 90}  # seconds, from the issue (printed for comparison, not asserted)


def make_cold() -> str:
    """Remove the base image and finished sessions' leftovers; say what actually went."""
    engine = connect_engine()
    swept = sweep_stale_sessions(engine)
    try:
        answer = engine.api.remove_image(BASE_IMAGE)
    except Exception as error:  # noqa: BLE001 - reported, not hidden
        return f"base image kept ({error}); {len(swept)} finished session(s) swept"
    deleted = sum("Deleted" in item for item in answer)
    how = "deleted" if deleted else "untagged only (live sessions' images are built on it)"
    return f"base image {how}; {len(swept)} finished session(s) swept"


def run_course(label: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="dockerlab-timing-") as folder:
        env = {**os.environ, ENGINE_TIMING_ENV: folder}
        started = time.monotonic()
        done = subprocess.run(NBVAL, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
        waits = [json.loads(path.read_text()) for path in Path(folder).glob("*.json")]
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    engine_wait = sum(item["engine_wait_seconds"] for item in waits)
    failed = [line.split(" - ")[0].removeprefix("FAILED ") for line in done.stdout.splitlines() if line.startswith("FAILED")]
    return {"run": label, "wall": wall, "engine_wait": engine_wait, "kernels": len(waits),
            "summary": summary, "exit": done.returncode, "failed": failed}


def main() -> None:
    notebooks = sorted(path.name for path in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    print(f"course: {len(notebooks)} lessons ({', '.join(name.split('-')[0] for name in notebooks)}); "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"cold start: {make_cold()}")
    results = [run_course("cold"), run_course("warm")]
    print(f"{'run':5} {'wall s':>8} {'target s':>9} {'engine wait s':>14} {'share':>6}  kernels  nbval")
    for result in results:
        share = result["engine_wait"] / result["wall"] if result["wall"] else 0.0
        print(f"{result['run']:5} {result['wall']:8.1f} {TARGETS[result['run']]:9d} {result['engine_wait']:14.1f} "
              f"{share:6.0%}  {result['kernels']:7d}  {result['summary']} (exit {result['exit']})")
    for result in results:
        if result["failed"]:
            print(f"{result['run']} failures (a lesson run by someone else at the same time on this engine "
                  f"collides on image tags and container names): {', '.join(result['failed'][:5])}")
    cold, warm = results
    print(f"warm / cold wall time: {warm['wall'] / cold['wall']:.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on this machine inflates the figures)")


if __name__ == "__main__":
    main()
