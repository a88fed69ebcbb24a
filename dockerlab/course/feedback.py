"""What a learner reads after a check: the verdict, what is wrong, a hint; hints and solutions on request.

`CheckResult` has a stable text form (no ids, no timings) for notebooks and nbval, and a JSON form for
`dockerlab check --json`. `Progress` remembers which exercises this kernel tried, so hints open only
after a first attempt and the solution only after a hint (a restarted kernel starts afresh).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from ..errors import NotYetTried
from ..model.limits import Limits
from .exercises import Exercise


def limit_sentence(verdict: str, limits: Limits) -> str:
    """One sentence for a run (or build) stopped by a sandbox limit."""
    return {
        "timeout": f"The container was still running after {limits.timeout:g} s, so the check stopped it: "
                   "the command your image runs must finish on its own (a loop that never ends never does).",
        "memory-limit": f"The container used more than its {limits.memory} of memory and the engine killed it "
                        "(OOMKilled): the answer needs far less memory than that.",
        "pids-limit": f"The container tried to start more than {limits.pids} processes and the engine refused "
                      "(a fork bomb?): the answer needs only one or two processes.",
        "output-limit": f"The container printed more than {limits.output_bytes // 1024} KiB, so the check "
                        "stopped it: the answer prints one line.",
    }[verdict]


def build_hint(sentence: str) -> str:
    """A hint matching a build failure's sentence ('' when none fits)."""
    lowered = sentence.lower()
    if "unknown instruction" in lowered:
        return "Hint: check the spelling of each instruction (FROM, CMD, COPY...); they are one word each."
    if "pull access denied" in lowered or "repository does not exist" in lowered or "no such host" in lowered:
        return ("Hint: no registry is reachable here, so only images already on this engine can be used: "
                "start FROM dockerlab/busybox.")
    return ""


@dataclass
class CheckResult:
    """The outcome of checking one exercise: a verdict and sentences saying what passed and what did not."""

    exercise: str
    verdict: str
    feedback: list[str] = field(default_factory=list)
    command: str = ""
    checks_passed: int = 0
    checks_total: int = 0
    seconds: float = field(default=0.0, compare=False)

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 0 passed, 1 not yet passed, 2 could not check."""
        return 0 if self.passed else 2 if self.verdict == "error" else 1

    @property
    def headline(self) -> str:
        if self.passed:
            return f"✓ {self.exercise}: passed"
        if self.verdict == "error":
            return f"! {self.exercise}: could not check"
        return f"✗ {self.exercise}: not yet passed ({self.verdict})"

    def to_json(self) -> dict:
        return {"exercise": self.exercise, "passed": self.passed, "verdict": self.verdict, "feedback": self.feedback}

    def __repr__(self) -> str:
        lines = [self.command] if self.command else []
        lines.append(self.headline)
        lines += [f"  {line}" for line in self.feedback]
        return "\n".join(lines)


def check_command(exercise: Exercise, context: str | None = None, answer=None, hidden: bool = False) -> str:
    """The `dockerlab check` line that does the same as a notebook's `dockerlab.check(...)`."""
    words = ["dockerlab", "check", exercise.id] + (["--hidden"] if hidden else [])
    if context is not None:
        words += ["--context", str(context)]
    if isinstance(answer, str):
        words += ["--answer", answer]
    elif isinstance(answer, (list, tuple)) and all(isinstance(a, str) for a in answer):
        for choice in answer:
            words += ["--answer", choice]
    return "$ " + " ".join(shlex.quote(word) for word in words)


# --- progress: attempts, hints, solutions -----------------------------------------------------------

@dataclass
class Progress:
    """Per exercise: how many checks were tried and how many hints were shown."""

    state: dict = field(default_factory=dict)

    def _entry(self, exercise_id: str) -> dict:
        return self.state.setdefault(exercise_id, {"attempts": 0, "hints": 0, "passed": False})

    def record_attempt(self, result: CheckResult) -> None:
        entry = self._entry(result.exercise)
        entry["attempts"] += 1
        entry["passed"] = entry["passed"] or result.passed

    def tried(self, exercise_id: str) -> bool:
        return self.state.get(exercise_id, {}).get("attempts", 0) > 0

    def next_hint(self, exercise: Exercise) -> str:
        """The next hint (the last one repeats); refuses before a first attempt."""
        if not self.tried(exercise.id):
            raise NotYetTried(
                f"Try the exercise first: run its check (dockerlab.check({exercise.id!r}, ...)); "
                "hints open after a first attempt."
            )
        if not exercise.hints:
            return f"There are no hints for '{exercise.id}'; re-read the statement, or ask for the solution."
        entry = self._entry(exercise.id)
        number = min(entry["hints"], len(exercise.hints) - 1)
        entry["hints"] = number + 1
        return f"Hint {number + 1} of {len(exercise.hints)} for '{exercise.id}': {exercise.hints[number]}"

    def solution(self, exercise: Exercise) -> str:
        """The solution; refuses before an attempt and before a first hint."""
        if not self.tried(exercise.id):
            raise NotYetTried(
                f"Try the exercise first: run its check (dockerlab.check({exercise.id!r}, ...)); "
                "the solution opens after an attempt and a hint."
            )
        if exercise.hints and self.state[exercise.id]["hints"] == 0:
            raise NotYetTried(
                f"Look at a hint first (dockerlab.hint({exercise.id!r})); the solution opens after it."
            )
        return f"Solution of '{exercise.id}':\n{exercise.solution()}"


class Text(str):
    """A string a notebook shows as plain text (no quotes), e.g. a hint."""

    def __repr__(self) -> str:
        return str(self)
