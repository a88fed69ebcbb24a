"""Round trip of the lesson-01 image through a local registry: the kit against the plain `docker` CLI.

Each side gets its own fresh registry (same program, same user) and does the same four steps on the same
image: tag, push, rmi (the pushed name), pull. Login happens before the clock starts. One run each;
prints both times and the ratio kit / CLI.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockerlab.engine.base_image import ensure_base_image  # noqa: E402
from dockerlab.engine.connection import connect_engine  # noqa: E402
from dockerlab.app.lab import Lab  # noqa: E402
from dockerlab.engine.transfer import checked_address  # noqa: E402

HELLO = REPO / "notebooks" / "examples" / "hello"


def docker(*words: str, stdin: str | None = None, env: dict | None = None) -> None:
    subprocess.run(["docker", *words], input=stdin, text=True, check=True, capture_output=True, env=env)


def kit_round_trip(lab: Lab, image: str, password: str) -> float:
    registry = lab.start_registry(users={"ruud": password})
    lab.login(registry, "ruud", password)
    ref = f"{registry}/ruud/partech:1.0"
    started = time.perf_counter()
    lab.tag(image, f"{registry}/ruud/partech", "1.0")
    lab.push(ref, show=False)
    lab.rmi(ref)
    lab.pull(ref, show=False)
    return time.perf_counter() - started


def cli_round_trip(lab: Lab, image: str, password: str) -> float:
    registry = lab.start_registry(users={"ruud": password})
    address = checked_address(lab.engine, registry.address)  # Podman checks a plain-HTTP login as localhost:PORT
    ref = f"{address}/ruud/partech:1.0"
    with tempfile.TemporaryDirectory() as config:  # the CLI's login goes here, not into ~/.docker
        env = {**os.environ, "DOCKER_CONFIG": config}
        docker("login", address, "-u", "ruud", "--password-stdin", stdin=password, env=env)
        started = time.perf_counter()
        docker("tag", image, ref, env=env)
        docker("push", ref, env=env)
        docker("rmi", ref, env=env)
        docker("pull", ref, env=env)
        elapsed = time.perf_counter() - started
        docker("rmi", ref, env=env)
    return elapsed


def main() -> None:
    engine = connect_engine()
    ensure_base_image(engine)
    lab = Lab(engine)
    password = secrets.token_urlsafe(12)
    image = f"bench-registry-{secrets.token_hex(3)}"
    try:
        lab.build(HELLO, tag=image, show=False)
        cli = cli_round_trip(lab, image, password)
        kit = kit_round_trip(lab, image, password)
    finally:
        lab.clean()
    print("round trip of the lesson-01 image (tag + push + rmi + pull), one run each")
    print(f"docker CLI : {cli:.3f} s")
    print(f"dockerlab  : {kit:.3f} s")
    print(f"ratio kit / CLI: {kit / cli:.2f}")


if __name__ == "__main__":
    main()
