"""Buildah's build stream (Podman's `docker build`) folded into the same `BuildProgress` as the classic builder's.

Buildah writes `STEP 2/3: RUN ...` (`[1/2] STEP 2/3: ...` in a multi-stage build, numbered per stage),
`--> Using cache <id>` for a cache hit, `--> <id>` after each step and `COMMIT <name>` at the end; its
errors may carry a Go struct dump. Steps are numbered across stages, as the classic builder numbers them.
"""
from __future__ import annotations

import re

from .progress import BuildProgress, BuildStep

STEP_LINE = re.compile(r"^(?:\[(\d+)/\d+\] )?STEP (\d+)/(\d+): (.*)$")
NOT_STEP_OUTPUT = re.compile(r"^(-->|COMMIT\b|Successfully (built|tagged) |[0-9a-f]{64}$|time=\"[^\"]*\" level=)")
AT_STEP = re.compile(r'^building at STEP "[^"]*": (Build error: )?')
GO_STRUCT = re.compile(r"\s*&\w+\.\w+\{.*$", re.S)
UNKNOWN_INSTRUCTION = re.compile(r'Unknown instruction: "(\w+)"')


class BuildahProgress(BuildProgress):
    """What a Buildah build has done so far; the same fields as the classic builder's."""

    def __init__(self) -> None:
        super().__init__()
        self._stage = 0
        self._steps_before_stage = 0

    def fold_line(self, line: str) -> None:
        """Fold one line of Buildah's output: a step begins, is taken from the cache, or logs a line."""
        match = STEP_LINE.match(line)
        if match:
            stage, number, total, instruction = match.groups()
            if stage is not None and int(stage) != self._stage:
                self._stage, self._steps_before_stage = int(stage), len(self.steps)
            self.total_steps = self._steps_before_stage + int(total)
            self.steps.append(BuildStep(self._steps_before_stage + int(number), instruction))
            return
        self.log.append(line)
        if self.current is None:
            return
        if line.startswith("--> Using cache "):
            self.current.cached = True
        elif not NOT_STEP_OUTPUT.match(line):
            self.current.log.append(line)

    def error_message(self, message: str) -> str:
        """Buildah's error in the classic builder's words: no step prefix, no Go struct, the exit code."""
        message = GO_STRUCT.sub("", AT_STEP.sub("", message.strip()))
        message = UNKNOWN_INSTRUCTION.sub(r"unknown instruction: \1", message)
        return re.sub(r"while running runtime: exit status (\d+)$", r"the command returned a non-zero code: \1",
                      message)
