"""Notebook views of the kit's models (ipywidgets). They only render; they never call the engine."""
from __future__ import annotations

import html

import ipywidgets as widgets
from IPython.display import display

from .build import BuildProgress


class BuildView:
    """Live build progress: a bar (step N of M), the current instruction, and the builder's log."""

    def __init__(self, title: str) -> None:
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description="Step 0 of ?",
                                       style={"description_width": "initial"})
        self.step = widgets.HTML(value=f"<b>{html.escape(title)}</b>")
        self.log = widgets.Output(layout={"max_height": "12em", "overflow": "auto", "border": "1px solid #ddd"})
        self.box = widgets.VBox([self.bar, self.step, self.log])
        self.box.add_class("dockerlab-build")
        self._shown_lines = 0
        display(self.box)

    def update(self, progress: BuildProgress, event: dict) -> None:
        step = progress.current
        if step is not None:
            self.bar.max = max(progress.total_steps, 1)
            self.bar.value = step.number
            self.bar.description = f"Step {step.number} of {progress.total_steps}"
            cache = " <i>(from the cache)</i>" if step.cached else ""
            self.step.value = f"<code>{html.escape(step.instruction)}</code>{cache}"
        for line in progress.log[self._shown_lines:]:
            self.log.append_stdout(line + "\n")
        self._shown_lines = len(progress.log)

    def finish(self, progress: BuildProgress, failed: bool) -> None:
        self.bar.bar_style = "danger" if failed else "success"
        if not failed:
            cached = sum(step.cached for step in progress.steps)
            self.step.value = f"Done: {len(progress.steps)} steps, {cached} from the build cache."
