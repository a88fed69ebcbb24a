"""Overhead of `lab.build` + `lab.run` against the plain `docker` CLI doing the same, in one run.

Builds the lesson-01 image (notebooks/examples/hello) and runs it attached, N times each way, cold
(the image and its cached steps removed first) and warm (built once before), alternating kit and CLI
so that machine noise falls on both. Both use the classic builder. Prints medians and ratios.
Run: `.venv/bin/python bench/overhead.py [N]`.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dockerlab

HELLO = Path(__file__).resolve().parents[1] / "notebooks" / "examples" / "hello"
KIT_TAG, CLI_TAG = "dockerlab-bench-kit", "dockerlab-bench-cli"
CLI_ENV = {**os.environ, "DOCKER_BUILDKIT": "0"}


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, env=CLI_ENV).stdout


def kit_once(lab: dockerlab.Lab) -> float:
    start = time.perf_counter()
    lab.build(HELLO, tag=KIT_TAG, show=False)
    output = lab.run(KIT_TAG).output
    elapsed = time.perf_counter() - start
    assert output.startswith("Hello World!!"), output
    return elapsed


def cli_once() -> float:
    start = time.perf_counter()
    docker("build", "-q", "-t", CLI_TAG, str(HELLO))
    output = docker("run", "--label", "dockerlab.bench=cli", CLI_TAG)
    elapsed = time.perf_counter() - start
    assert output.startswith("Hello World!!"), output
    return elapsed


def forget(lab: dockerlab.Lab) -> None:
    """Remove both images (and with them their cached steps) and the containers they ran."""
    lab.clean()
    for container in lab.client.containers.list(all=True, filters={"label": "dockerlab.bench=cli"}):
        container.remove(force=True)
    for tag in (KIT_TAG, CLI_TAG):
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def measure(lab: dockerlab.Lab, runs: int, cold: bool) -> tuple[float, float]:
    kit, cli = [], []
    if not cold:
        kit_once(lab), cli_once()
    for index in range(runs):
        order = (("kit", "cli") if index % 2 == 0 else ("cli", "kit"))
        for who in order:
            if cold:
                forget(lab)
            (kit if who == "kit" else cli).append(kit_once(lab) if who == "kit" else cli_once())
    forget(lab)
    return statistics.median(kit), statistics.median(cli)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    lab = dockerlab.connect()
    print(f"docker CLI: {shutil.which('docker')} ({docker('version', '--format', '{{.Client.Version}}').strip()}), "
          f"engine {lab.engine.version}, {runs} runs each, medians")
    for label, cold in (("cold", True), ("warm", False)):
        kit, cli = measure(lab, runs, cold)
        print(f"{label}: kit build+run {kit * 1000:7.1f} ms   docker CLI {cli * 1000:7.1f} ms   ratio {kit / cli:.2f}x")


if __name__ == "__main__":
    main()
