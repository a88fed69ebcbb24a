"""What the helpers return: the engine's raw answer kept in `attrs`, meaning added on top.

Every result shows the equivalent `docker` command and a text form that is stable from run to run
(no ids, addresses, timings, random names), so nbval can check it and learners can map the notebook
to the terminal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .labels import without_kit_label_value
from .progress import BuildStep


class Model:
    """A thing on the engine: its raw inspect answer in `attrs`, a few named properties on top."""

    def __init__(self, attrs: dict) -> None:
        self.attrs = attrs

    @property
    def id(self) -> str:
        return self.attrs.get("Id", "")

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]


@dataclass
class BuildResult:
    """A finished build: the image, its steps (with cache hits), the command that does the same, and the
    builder that made it ("BuildKit", "classic" or "Buildah": they keep their cache differently)."""

    tag: str | None
    image_id: str
    steps: list[BuildStep]
    command: str
    builder: str

    def cache(self) -> "Table":
        """Each step and whether the builder reused it from its cache (`Using cache`) or ran it."""
        rows = []
        for step in self.steps:
            text = without_kit_label_value(" ".join(step.instruction.split()))  # one line, as every builder shows it
            shown = "-" if text.upper().startswith("FROM ") else ("reused (cache)" if step.cached else "ran")
            rows.append([f"{step.number}/{len(self.steps)}", text, shown])
        return Table(self.command, ["STEP", "INSTRUCTION", "CACHE"], rows)

    def __repr__(self) -> str:
        name = self.tag or "an untagged image"
        return f"{self.command}\nBuilt {name} in {len(self.steps)} steps."


@dataclass
class Table:
    """Rows shown like the `docker` CLI shows them (columns padded, header in capitals)."""

    command: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def __repr__(self) -> str:
        cells = [self.columns] + self.rows
        widths = [max(len(str(row[i])) for row in cells) for i in range(len(self.columns))]
        lines = ["   ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
        return "\n".join([self.command, *lines])

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Output:
    """Text a container printed (its logs), shown as is under the command that reads it."""

    command: str
    text: str

    def __repr__(self) -> str:
        return f"{self.command}\n{self.text}".rstrip("\n")

    def __str__(self) -> str:
        return self.text


@dataclass
class TransferResult:
    """A finished push or pull: the name, the digest the registry holds for it, and each layer's fate."""

    command: str
    action: str  # "push" or "pull"
    repository: str
    tag: str
    digest: str
    header: str = ""
    layers: dict[str, str] = field(default_factory=dict)  # short layer id -> the engine's last status
    outcome: str = ""  # pull: "Status: Downloaded newer image for ..."
    image_id: str = ""

    @property
    def short_digest(self) -> str:
        """`sha256:` and the digest's first 12 hex digits: enough to compare by eye."""
        return self.digest[:19]

    def __repr__(self) -> str:
        lines = [self.command, self.header, *(f"{layer}: {status}" for layer, status in self.layers.items())]
        if self.action == "push":
            lines.append(f"{self.tag}: digest: {self.digest}")
        else:
            lines += [f"Digest: {self.digest}", self.outcome]
        return "\n".join(line for line in lines if line)
