"""Progress events folded into plain data: a build's steps (cache hits, log) and a push's or pull's layers.

The engine streams JSON events; these classes fold them one at a time, so a view can draw live progress
and a result can say what happened. No I/O: the engine package feeds them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
PUSHED = re.compile(r"^\S+: digest: (sha256:[0-9a-f]{64}) size: \d+$")  # "1.0: digest: sha256:… size: 527"


@dataclass
class BuildStep:
    """One Dockerfile instruction as the builder ran it."""

    number: int
    instruction: str
    cached: bool = False
    log: list[str] = field(default_factory=list)


@dataclass
class BuildProgress:
    """What a build has done so far; handed to the progress callback after every event."""

    total_steps: int = 0
    steps: list[BuildStep] = field(default_factory=list)
    image_id: str = ""
    log: list[str] = field(default_factory=list)
    label_steps: int = 0  # the classic builder's LABEL steps for the build's own labels: not Dockerfile steps

    @property
    def current(self) -> BuildStep | None:
        return self.steps[-1] if self.steps else None

    def apply(self, event: dict) -> None:
        """Fold one decoded event of the build stream into the progress."""
        if "aux" in event and "ID" in event["aux"]:
            self.image_id = event["aux"]["ID"]
        for line in event.get("stream", "").splitlines():
            if line.rstrip():
                self.fold_line(line.rstrip())

    def fold_line(self, line: str) -> None:
        """Fold one line of the builder's output: a step begins, is taken from the cache, or logs a line."""
        match = STEP_LINE.match(line)
        if match:
            self.total_steps = int(match.group(2)) - self.label_steps
            if int(match.group(1)) <= self.total_steps:
                self.steps.append(BuildStep(int(match.group(1)), match.group(3)))
            return
        self.log.append(line)
        if self.current is None:
            return
        if line.strip() == "---> Using cache":
            self.current.cached = True
        elif not line.lstrip().startswith("--->") and not line.startswith("Removing intermediate"):
            self.current.log.append(line)
        if line.startswith("Successfully built "):
            self.image_id = self.image_id or line.split()[-1]

    def error_message(self, message: str) -> str:
        """The builder's error as `build_failure` reads it (the classic builder's words already)."""
        return message


PULL_HEADER = "Pulling from "
DONE = {"Pushed", "Layer already exists", "Pull complete", "Already exists", "Download complete"}


@dataclass
class LayerProgress:
    """One layer of a push or pull: its short id, the engine's last word on it, bytes moved so far."""

    id: str
    status: str = ""
    current: int = 0
    total: int = 0

    @property
    def done(self) -> bool:
        return self.status in DONE or self.status.startswith("Mounted from")


@dataclass
class TransferProgress:
    """What a push or pull has done so far, folded from the engine's JSON events."""

    header: str = ""  # "The push refers to repository [...]" or "1.0: Pulling from ruud/partech"
    layers: dict[str, LayerProgress] = field(default_factory=dict)
    digest: str = ""
    outcome: str = ""  # pull: "Status: Downloaded newer image for ..." / "Status: Image is up to date for ..."
    error: str = ""

    def apply(self, event: dict) -> None:
        """Fold one decoded event into the progress."""
        if "error" in event or "errorDetail" in event:
            self.error = (event.get("errorDetail") or {}).get("message") or event.get("error", "")
            return
        if "aux" in event and event["aux"].get("Digest"):
            self.digest = event["aux"]["Digest"]
            return
        status = event.get("status", "")
        layer_id = event.get("id")
        if layer_id and status.startswith(PULL_HEADER):
            self.header = f"{layer_id}: {status}"
        elif layer_id:
            layer = self.layers.setdefault(layer_id, LayerProgress(layer_id))
            layer.status = status
            detail = event.get("progressDetail") or {}
            if detail.get("total"):
                layer.current, layer.total = detail.get("current", 0), detail["total"]
        elif status.startswith("The push refers to"):
            self.header = status
        elif status.startswith("Digest: "):
            self.digest = status.removeprefix("Digest: ").strip()
        elif PUSHED.search(status) and not self.digest:  # the containerd image store says it only this way
            self.digest = PUSHED.search(status).group(1)
        elif status.startswith("Status: "):
            self.outcome = status

    def lines(self) -> list[str]:
        """What the `docker` CLI prints at the end of the same push or pull."""
        return [self.header, *(f"{layer.id}: {layer.status}" for layer in self.layers.values())]
