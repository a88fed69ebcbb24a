"""A quiz as a widget: the question, the options (or a text box), a Check button and the verdict.

Only a view: checking goes through the `on_check` callback (`dockerlab.check`), which compares
digests, so the widget never holds the answer. Its text form is the current verdict, which is what
a notebook saves as the cell's plain-text output.
"""
from __future__ import annotations

import html
from typing import Callable

import ipywidgets as widgets

from ..course.exercises import Exercise
from ..course.feedback import CheckResult


class QuizView(widgets.VBox):
    """Pick (or type) an answer, press Check, read the verdict."""

    def __init__(self, exercise: Exercise, answer, on_check: Callable[[str, object], CheckResult]) -> None:
        self.exercise = exercise
        self.on_check = on_check
        self.result: CheckResult | None = None
        question = widgets.HTML(f"<b>{html.escape(exercise.title)}</b><br>{html.escape(exercise.question)}")
        if exercise.kind == "choice":
            self.picker = widgets.RadioButtons(options=exercise.options, value=None, layout={"width": "max-content"})
        elif exercise.kind == "multiple":
            self.picker = widgets.VBox([widgets.Checkbox(description=option, indent=False, value=False)
                                        for option in exercise.options])
        else:
            self.picker = widgets.Text(placeholder="your answer")
        self.button = widgets.Button(description="Check", button_style="primary")
        self.verdict = widgets.HTML()
        self.button.on_click(lambda _button: self.check())
        super().__init__([question, self.picker, self.button, self.verdict])
        if answer is not None:
            self.fill(answer)
            self.check(answer)

    def current_answer(self):
        if self.exercise.kind == "multiple":
            return [box.description for box in self.picker.children if box.value]
        return self.picker.value or None

    def fill(self, answer) -> None:
        """Show `answer` in the widget where it fits (a wrong kind of answer is left to the check)."""
        if self.exercise.kind == "multiple" and isinstance(answer, (list, tuple, set)):
            for box in self.picker.children:
                box.value = box.description in answer
        elif self.exercise.kind == "choice" and answer in self.exercise.options:
            self.picker.value = answer
        elif self.exercise.kind == "short" and isinstance(answer, str):
            self.picker.value = answer

    def check(self, answer=None) -> CheckResult:
        self.result = self.on_check(self.exercise.id, self.current_answer() if answer is None else answer)
        colour = "green" if self.result.passed else "#b00"
        lines = "<br>".join(html.escape(line) for line in [self.result.headline, *self.result.feedback])
        self.verdict.value = f"<span style='color:{colour}'>{lines}</span>"
        return self.result

    def __repr__(self) -> str:
        if self.result is None:
            how = "type an answer" if self.exercise.kind == "short" else "pick an answer"
            return f"Quiz '{self.exercise.id}': not yet passed (no answer yet): {how}, then press Check."
        return "\n".join([self.result.headline, *(f"  {line}" for line in self.result.feedback)])

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle
