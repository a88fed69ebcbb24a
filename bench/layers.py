#!/usr/bin/env python3
"""Benchmark of the layer reader and the diagram (not a test: it prints figures, it asserts nothing).

1. Builds a ~300 MB image with ~16,000 files over four layers (random bytes from /dev/urandom), then
   prints the ratio of `dockerlab layers IMAGE --files --json` wall time to `docker save IMAGE > /dev/null`
   measured in the same run (targets: ratio <= 1.5), and the CLI's peak RSS (target <= 150 MB) next to its
   peak RSS on the small base image (independent of image size).
2. Builds an image of 100 layers and times its diagram: the model, the DOT text and the SVG (target < 0.5 s).
Everything it builds carries this run's session label and is removed at the end.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dockerlab.engine.base_image import ensure_base_image
from dockerlab.engine.build import BASE_IMAGE, stream_build
from dockerlab.view.diagram import Diagram
from dockerlab.engine.connection import connect_engine
from dockerlab.engine.images import load_image_layers
from dockerlab.engine.session import Session

FILES_PER_LAYER = 4000
BIG = 10 * 1024 * 1024


def files_step(folder: str, extra: str = "") -> str:
    """One RUN: FILES_PER_LAYER files of 1 to 32 KiB of random bytes, and one 10 MiB file."""
    return (f"RUN mkdir -p {folder} && cd {folder} && i=0; while [ $i -lt {FILES_PER_LAYER} ]; do "
            f"head -c $(( (i % 32 + 1) * 1024 )) /dev/urandom > f$i; i=$((i+1)); done; "
            f"head -c {BIG} /dev/urandom > big.bin{extra}")


BIG_DOCKERFILE = "\n".join([
    f"FROM {BASE_IMAGE}",
    files_step("/d1"),
    files_step("/d2"),
    files_step("/d3", " && rm /d1/big.bin"),
    files_step("/d4", " && for i in 1 2 3 4 5 6 7 8 9; do head -c 4096 /dev/urandom > /d2/f$i; done"),
    'CMD ["sh"]',
]) + "\n"

HUNDRED_DOCKERFILE = f"FROM {BASE_IMAGE}\n" + "".join(f"RUN echo {i} > /step{i}.txt\n" for i in range(100))


def build(engine, dockerfile: str, tag: str, labels: dict[str, str]) -> None:
    """Build a one-file context with the engine's default builder, as a learner's `docker build` does."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "Dockerfile").write_text(dockerfile)
        stream_build(engine, folder, tag, labels)


def timed(argv: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (MB) of one command, its output thrown away."""
    with open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=devnull)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
    if status != 0:
        sys.exit(f"bench: {' '.join(argv)} failed")
    return elapsed, usage.ru_maxrss // 1024


def main() -> None:
    engine = connect_engine()
    ensure_base_image(engine)
    session = Session(engine)
    tag, hundred = f"dockerlab-bench-layers:{os.getpid()}", f"dockerlab-bench-100:{os.getpid()}"
    try:
        start = time.perf_counter()
        build(engine, BIG_DOCKERFILE, tag, session.labels)
        print(f"built {tag} in {time.perf_counter() - start:.0f} s")
        size = engine.api.inspect_image(tag)["Size"]
        layers_cli = [sys.executable, "-m", "dockerlab", "layers"]
        files = sum(1 for line in subprocess.run([*layers_cli, tag, "--files"], capture_output=True, text=True)
                    .stdout.splitlines() if line.startswith("  A "))
        print(f"image: {size / 1e6:.0f} MB, {files} files added over its own layers")

        saves, reads, rss = [], [], []
        for _ in range(3):  # alternate, so both see the same cache state; medians reported
            saves.append(timed(["docker", "save", tag])[0])
            elapsed, peak = timed([*layers_cli, tag, "--files", "--json"])
            reads.append(elapsed)
            rss.append(peak)
        save, read = statistics.median(saves), statistics.median(reads)
        _, small_rss = timed([*layers_cli, BASE_IMAGE, "--files", "--json"])
        print(f"docker save > /dev/null:            {save:6.2f} s (median of 3)")
        print(f"dockerlab layers --files --json:    {read:6.2f} s (median of 3)")
        print(f"ratio:                              {read / save:6.2f}   (target <= 1.5)")
        print(f"peak RSS, this image:               {max(rss):6d} MB (target <= 150)")
        print(f"peak RSS, the 2 MB base image:      {small_rss:6d} MB")

        start = time.perf_counter()
        build(engine, HUNDRED_DOCKERFILE, hundred, session.labels)
        print(f"built {hundred} ({len(engine.api.inspect_image(hundred)['RootFS']['Layers'])} layers) "
              f"in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        model = load_image_layers(engine, hundred)
        loaded = time.perf_counter()
        diagram = Diagram([model])
        drawn = time.perf_counter()
        svg = diagram.svg()
        rendered = time.perf_counter()
        print(f"100-layer diagram: model {loaded - start:.3f} s, DOT + text {drawn - loaded:.3f} s, "
              f"SVG {rendered - drawn:.3f} s ({len(svg) // 1000} kB); total {rendered - start:.3f} s (target < 0.5)")
    finally:
        session.clean()


if __name__ == "__main__":
    main()
