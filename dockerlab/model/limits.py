"""What a checked run may use (`Limits`) and what it did (`RunOutcome`): plain data, shared by the sandbox
that applies the limits and the checks that judge the outcome."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

NO_NETWORK = re.compile(r"bad address|Network is unreachable|network unreachable|Could not resolve|"
                        r"Temporary failure in name resolution|Name or service not known", re.I)


@dataclass(frozen=True)
class Limits:
    """What one check may use; an exercise can change any of these in its `exercise.json`."""

    timeout: float = 10.0  # seconds of wall clock for one run
    build_timeout: float = 30.0  # seconds of wall clock for the build
    memory: str = "64m"  # memory, and memory+swap: no swap at all
    pids: int = 64
    cpus: float = 0.5
    tmpfs: str = "8m"  # the only writable place: /tmp
    output_bytes: int = 64 * 1024  # stdout+stderr kept; more stops the run
    context_bytes: int = 1024 * 1024  # a build context bigger than this is refused before packing
    context_files: int = 500
    user: str | None = "65534:65534"  # nobody; None keeps the image's own user
    allow_run: bool = False  # RUN steps even where the builder cannot cap their pids (no cgroup parent bites)

    def replace(self, **changes) -> "Limits":
        known = {f.name for f in dataclasses.fields(self)}
        return dataclasses.replace(self, **{key: value for key, value in changes.items() if key in known})


@dataclass
class RunOutcome:
    """What a limited run did: its output (capped), exit code, and the limit it hit, if any."""

    command: list[str] | None
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    limit: str | None = None  # "timeout", "memory-limit", "pids-limit", "output-limit" or None
    seconds: float = 0.0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def tried_network(self) -> bool:
        return bool(NO_NETWORK.search(self.output))
