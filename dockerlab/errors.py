"""The kit's one errors module: every failure a learner can meet becomes a `DockerlabError`.

Each error carries `explanation`: one sentence saying what was tried and what to do next. Notebooks
show only that sentence (see `dockerlab.notebook`); the CLI prints it and exits non-zero.
"""
from __future__ import annotations


class DockerlabError(Exception):
    """Base of every error the kit raises on purpose; `str(err)` is the learner-facing sentence."""

    def __init__(self, explanation: str, *, detail: str = "") -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.detail = detail  # extra lines (a build's last log lines), shown under the sentence

    def __str__(self) -> str:
        return f"{self.explanation}\n{self.detail}" if self.detail else self.explanation


class EngineUnavailable(DockerlabError):
    """No Docker engine answers (no socket, daemon down, permission denied, API too old)."""


class BuildFailed(DockerlabError):
    """`docker build` failed: a bad Dockerfile, a failing RUN, a missing base image."""

    def __init__(self, explanation: str, *, step: str = "", log_tail: list[str] | None = None) -> None:
        self.step = step
        self.log_tail = list(log_tail or [])
        detail = "\n".join(f"    {line}" for line in self.log_tail)
        super().__init__(explanation, detail=detail)


class ImageNotFound(DockerlabError):
    """An image that is not on this engine (and cannot be pulled: no registry answers)."""


class ContainerNotFound(DockerlabError):
    """A container name or id that does not exist."""


class NameTaken(DockerlabError):
    """A name is used by a resource this session did not create: the kit refuses, never deletes it."""


class RunFailed(DockerlabError):
    """The engine refused to create or start a container."""


class Interrupted(DockerlabError):
    """The learner pressed Ctrl-C (interrupted the kernel); what was started has been removed."""


class ExerciseNotFound(DockerlabError):
    """An exercise id with no folder under `exercises/`."""


class CheckRefused(DockerlabError):
    """A check that cannot run safely or at all (a context too big, limits the engine ignores)."""


class BadAnswer(DockerlabError):
    """A quiz answer of the wrong kind (a number where a choice is expected, an unknown option)."""


class NotYetTried(DockerlabError):
    """A hint or solution asked for before the learner tried the exercise's check."""
