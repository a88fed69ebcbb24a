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


class EngineRefused(DockerlabError):
    """The engine answered but refused a request (the engine's own words follow the kit's sentence)."""


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


class InvalidReference(DockerlabError):
    """An image name or registry address Docker would refuse (`UPPER/case`, `a:b:c`)."""


class RegistryUnavailable(DockerlabError):
    """The local registry could not be started or stopped (binary missing, port taken, no answer)."""


class PortTaken(RegistryUnavailable):
    """The port asked for on 127.0.0.1 is already in use by another program."""


class LoginFailed(DockerlabError):
    """A registry refused the username and password, or could not be reached to check them."""


class TransferFailed(DockerlabError):
    """A push or pull did not finish: nothing is reported as pushed or pulled."""


class ArchiveError(DockerlabError):
    """An archive that is not a `docker save` or OCI image archive, or is damaged or cut short."""


class DiagramUnavailable(DockerlabError):
    """Graphviz's `dot` is missing or failed: the text form is shown instead."""


class NotOwned(DockerlabError):
    """A container or image this session did not create: the kit refuses to change or remove it."""


class ContainerRunning(DockerlabError):
    """`docker rm` without `-f` on a running container: stop it first."""


class ImageInUse(DockerlabError):
    """`docker rmi` of an image that containers (stopped ones too) still use."""

    def __init__(self, explanation: str, *, containers: list[str], detail: str = "") -> None:
        super().__init__(explanation, detail=detail)
        self.containers = containers  # the names of the containers that still use the image


class SwarmError(DockerlabError):
    """A swarm step failed: init, a service that does not converge, leaving."""


class ExerciseNotFound(DockerlabError):
    """An exercise id with no folder under `exercises/`."""


class CheckRefused(DockerlabError):
    """A check that cannot run safely or at all (a context too big, limits the engine ignores)."""


class BadAnswer(DockerlabError):
    """A quiz answer of the wrong kind (a number where a choice is expected, an unknown option)."""


class NotYetTried(DockerlabError):
    """A hint or solution asked for before the learner tried the exercise's check."""
