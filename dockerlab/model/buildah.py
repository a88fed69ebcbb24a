"""Buildah's build stream (Podman's `docker build`) folded into the same `BuildProgress` as the classic builder's.

Buildah writes `STEP 2/3: RUN ...` (`[1/2] STEP 2/3: ...` in a multi-stage build, numbered per stage),
`--> Using cache <id>` for a cache hit, `--> <id>` after each step and `COMMIT <name>` at the end; its
errors may carry a Go struct dump. Steps are numbered across stages, as the classic builder numbers them.
The build's labels (the kit's own among them) come as one more step, `LABEL "k"="v" ...`, at the end of the
last stage: not a Dockerfile step, so left out as the classic builder's label steps are.
"""
from __future__ import annotations

import re

from .progress import BuildProgress, BuildStep

STEP_LINE = re.compile(r"^(?:\[(\d+)/(\d+)\] )?STEP (\d+)/(\d+): (.*)$")
NOT_STEP_OUTPUT = re.compile(r"^(-->|(\[\d+/\d+\] )?COMMIT\b|Successfully (built|tagged) |[0-9a-f]{64}$|time=\"[^\"]*\" level=)")
AT_STEP = re.compile(r'^building at STEP "[^"]*": (Build error: )?')
GO_STRUCT = re.compile(r"\s*&\w+\.\w+\{.*$", re.S)
UNKNOWN_INSTRUCTION = re.compile(r'Unknown instruction: "(\w+)"')


class BuildahProgress(BuildProgress):
    """What a Buildah build has done so far; the same fields as the classic builder's."""

    def __init__(self, label_steps: int = 0) -> None:
        super().__init__(label_steps=label_steps)
        self._stage = 0
        self._steps_before_stage = 0
        self._labelling = False  # in the build's label step: what follows belongs to no Dockerfile step

    def fold_line(self, line: str) -> None:
        """Fold one line of Buildah's output: a step begins, is taken from the cache, or logs a line."""
        match = STEP_LINE.match(line)
        if match:
            stage, stages, number, total = (int(group) if group else None for group in match.groups()[:4])
            if stage is not None and stage != self._stage:
                self._stage, self._steps_before_stage = stage, len(self.steps)
            label_steps = self.label_steps if stage == stages else 0  # only the last stage is labelled
            self.total_steps = self._steps_before_stage + total - label_steps
            self._labelling = number > total - label_steps
            if not self._labelling:
                self.steps.append(BuildStep(self._steps_before_stage + number, match.group(5)))
            return
        self.log.append(line)
        if self.current is None or self._labelling:
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
