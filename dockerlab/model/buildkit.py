"""BuildKit's build stream (`docker buildx build --progress=rawjson`) folded into the same `BuildProgress`
the classic builder's stream gives: one step per Dockerfile instruction, its cache hit and its output.

BuildKit reports only the instructions that run (FROM, RUN, COPY, ADD, WORKDIR) as vertices named
`[stage k/n] INSTRUCTION`; the metadata ones (CMD, ENV, LABEL...) are read from the Dockerfile, so a
build shows the same steps on both builders. No I/O: the engine package feeds the decoded events.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from .layers import METADATA_INSTRUCTIONS
from .progress import BuildProgress, BuildStep

HEREDOC = re.compile(r"<<(-?)\s*[\"']?([A-Za-z_]\w*)[\"']?")
VERTEX_STEP = re.compile(r"^\[(?:(\S+) )?(\d+)/(\d+)\] (.*)$", re.S)  # "[build 2/3] RUN make"
LOADS_BASE = re.compile(r"^\[internal\] load metadata for (\S+)$")
ESCAPE_DIRECTIVE = re.compile(r"^#\s*escape\s*=\s*(\S)\s*$", re.I)


@dataclass
class Instruction:
    """One Dockerfile instruction: its text on one line, the stage it belongs to, its number (1-based)."""

    number: int
    text: str
    stage: int
    stage_name: str

    @property
    def keyword(self) -> str:
        return self.text.split(None, 1)[0].upper()

    @property
    def runs(self) -> bool:
        """BuildKit makes a vertex for it (it is not metadata only)."""
        return self.keyword not in METADATA_INSTRUCTIONS


def _escape_char(lines: list[str]) -> str:
    for line in lines:
        match = ESCAPE_DIRECTIVE.match(line.strip())
        if match:
            return match.group(1)
        if not line.strip().startswith("#"):
            break
    return "\\"


def dockerfile_instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile in order: continuation lines joined, comments and heredoc bodies
    left out, each tagged with its stage (0, 1, ... as FROM lines come; named by `AS name`)."""
    lines = text.splitlines()
    escape = _escape_char(lines)
    found: list[Instruction] = []
    stage, stage_name, index = -1, "", 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        parts = [line]
        continued = line.endswith(escape)
        while continued and index < len(lines):
            parts[-1] = parts[-1][:-1].rstrip() if parts[-1].endswith(escape) else parts[-1]
            following = lines[index].strip()
            index += 1
            if not following.startswith("#"):  # comment lines inside an instruction are left out
                parts.append(following)
                continued = following.endswith(escape)
        parts[-1] = parts[-1][:-1].rstrip() if continued else parts[-1]
        instruction = " ".join(part for part in parts if part)
        for strip_tabs, marker in HEREDOC.findall(instruction):
            while index < len(lines) and (lines[index].lstrip("\t") if strip_tabs else lines[index]).rstrip() != marker:
                index += 1
            index += 1
        if instruction.split(None, 1)[0].upper() == "FROM":
            stage += 1
            words = instruction.split()
            stage_name = words[3] if len(words) >= 4 and words[2].upper() == "AS" else f"stage-{stage}"
        if stage < 0:  # ARG before the first FROM: not a step of any stage
            continue
        found.append(Instruction(len(found) + 1, instruction, stage, stage_name))
    return found


def normalized(text: str) -> str:
    return " ".join(text.split())


@dataclass
class BuildKitProgress(BuildProgress):
    """A `BuildProgress` fed with BuildKit's status events (see the module docstring)."""

    instructions: list[Instruction] = field(default_factory=list)
    vertices: dict[str, Instruction] = field(default_factory=dict)  # vertex digest -> the instruction it runs
    started: set[str] = field(default_factory=set)  # digests of the vertices that started
    error: str = ""  # the failing vertex's own words

    def __post_init__(self) -> None:
        self.total_steps = len(self.instructions)

    def _instruction_of(self, name: str) -> Instruction | None:
        """The Dockerfile instruction a vertex named `[stage k/n] TEXT` runs (FROM: its stage's first)."""
        match = VERTEX_STEP.match(name)
        if match is None:
            return None
        stage_name, position, total, text = match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)
        stages = sorted({i.stage for i in self.instructions})
        if stage_name is None and len(stages) != 1:
            return None
        stage = stages[0] if stage_name is None else next(
            (i.stage for i in self.instructions if i.stage_name.lower() == stage_name.lower()), None)
        running = [i for i in self.instructions if i.stage == stage and i.runs]
        if total == len(running) and 0 < position <= total:  # BuildKit counts the same instructions
            return running[position - 1]
        return next((i for i in running if normalized(i.text) == normalized(text)), None)

    def _from_of(self, reference: str) -> Instruction | None:
        """The FROM instruction whose base image BuildKit names `reference` (docker.io/library/x:latest)."""
        for instruction in self.instructions:
            words = instruction.text.split()
            if instruction.keyword == "FROM" and len(words) > 1:
                base = words[1] if ":" in words[1].rsplit("/", 1)[-1] or "@" in words[1] else f"{words[1]}:latest"
                if reference == base or reference.endswith("/" + base):
                    return instruction
        return None

    def _step(self, instruction: Instruction) -> BuildStep:
        step = next((s for s in self.steps if s.number == instruction.number), None)
        if step is None:
            step = BuildStep(instruction.number, instruction.text)
            self.steps.append(step)
        elif self.steps[-1] is not step:  # becomes the current step
            self.steps.remove(step)
            self.steps.append(step)
        return step

    def apply(self, event: dict) -> None:
        """Fold one decoded status event (vertexes, logs) into the progress: a step becomes the current one
        when its vertex starts (BuildKit announces vertices before it runs them)."""
        for vertex in event.get("vertexes") or []:
            name = vertex.get("name", "")
            if vertex.get("error"):
                self.error = vertex["error"]
            base = LOADS_BASE.match(name)
            instruction = self._from_of(base.group(1)) if base else self._instruction_of(name)
            if instruction is None:
                continue
            self.vertices[vertex["digest"]] = instruction
            if not (vertex.get("started") or vertex.get("error")):
                continue
            step = self._step(instruction)
            if vertex["digest"] not in self.started:
                self.started.add(vertex["digest"])
                self.log.append(name)
            if vertex.get("cached") and not step.cached and instruction.keyword != "FROM":  # as classic: never
                step.cached = True
                self.log.append(f"CACHED {name}")
        for entry in event.get("logs") or []:
            instruction = self.vertices.get(entry.get("vertex", ""))
            step = self._step(instruction) if instruction is not None else None
            lines = base64.b64decode(entry.get("data", "")).decode(errors="replace").splitlines()
            for line in (line.rstrip() for line in lines):
                if line:
                    self.log.append(line)
                    if step is not None:
                        step.log.append(line)

    def finish(self) -> None:
        """Every instruction as a step, in Dockerfile order: a metadata step counts as reused from the cache
        when the step before it in its stage was (as the classic builder reports it)."""
        ran = {step.number: step for step in self.steps}
        steps: list[BuildStep] = []
        for instruction in self.instructions:
            step = ran.get(instruction.number) or BuildStep(instruction.number, instruction.text)
            before = steps[-1] if steps and self.instructions[steps[-1].number - 1].stage == instruction.stage else None
            if not instruction.runs and before is not None and before.instruction.split()[0].upper() != "FROM":
                step.cached = before.cached
            steps.append(step)
        self.steps = steps
