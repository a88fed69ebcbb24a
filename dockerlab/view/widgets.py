"""Notebook views of the kit's models (ipywidgets). They only render; they never call the engine."""
from __future__ import annotations

import html

import ipywidgets as widgets
from IPython.display import display

from ..model.progress import BuildProgress, TransferProgress
from ..model.text import human_size


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
        if not failed:  # every step done, run or cached (BuildKit reports steps without a run only at the end)
            self.bar.max = max(len(progress.steps), 1)
            self.bar.value = self.bar.max
            self.bar.description = f"Step {len(progress.steps)} of {len(progress.steps)}"
            cached = sum(step.cached for step in progress.steps)
            self.step.value = f"Done: {len(progress.steps)} steps, {cached} from the build cache."


class _Panel(widgets.VBox):
    """A VBox whose plain-text form (what a saved notebook keeps besides the widget) is one stable line."""

    def __init__(self, children: list, text: str) -> None:
        super().__init__(children)
        self._text = text

    def __repr__(self) -> str:
        return self._text


class TransferView:
    """Live push or pull progress: one bar per layer, filled by bytes moved, labelled with its status."""

    def __init__(self, action: str, ref: str) -> None:
        self.title = widgets.HTML(value=f"<b>{html.escape(f'docker {action} {ref}')}</b>")
        self.status = widgets.HTML(value="")
        self.rows = widgets.VBox([])
        self.box = _Panel([self.title, self.rows, self.status], f"(progress of docker {action}, one bar per layer)")
        self.box.add_class("dockerlab-transfer")
        self._bars: dict[str, tuple[widgets.IntProgress, widgets.Label]] = {}
        display(self.box)

    def update(self, progress: TransferProgress) -> None:
        if progress.header:
            self.status.value = html.escape(progress.header)
        for layer in progress.layers.values():
            if layer.id not in self._bars:
                bar = widgets.IntProgress(value=0, min=0, max=1, description=layer.id,
                                          style={"description_width": "initial"})
                label = widgets.Label()
                self._bars[layer.id] = (bar, label)
                self.rows.children = [*self.rows.children, widgets.HBox([bar, label])]
            bar, label = self._bars[layer.id]
            if layer.done:
                bar.max, bar.value, bar.bar_style = 1, 1, "success"
            elif layer.total:
                bar.max, bar.value = max(layer.total, layer.current), layer.current
            label.value = layer.status

    def finish(self, progress: TransferProgress | None, failed: bool) -> None:
        for bar, label in self._bars.values():
            if failed and bar.bar_style != "success":
                bar.bar_style = "danger"
            elif not failed and bar.bar_style != "success":  # the engine's last word was not a final one
                bar.max, bar.value, bar.bar_style = 1, 1, "success"
                label.value = "Done"
        if failed:
            self.status.value = "<b>Failed</b>: nothing was reported as done."
        elif progress is not None:
            self.status.value = html.escape(f"Done: {progress.digest[:19]}…")
class LayerExplorer:
    """Pick a layer, see the files it added, modified and deleted, sorted by size or path.

    A toggle shows the layer tar's raw whiteout entries (`.wh.NAME`, `.wh..wh..opq`), which is how a
    layer records a deletion.
    """

    ROWS = 200

    def __init__(self, model) -> None:
        self.model = model
        options = []
        for layer in reversed(model.layers):
            step = model.step_of(layer)
            origin = " (base image)" if layer.base else ""
            options.append((f"layer {layer.index + 1}{origin}: {step.text if step else '?'}"[:90], layer.index))
        self.picker = widgets.Dropdown(options=options, description="Layer", layout={"width": "95%"})
        self.sort = widgets.ToggleButtons(options=[("largest first", "size"), ("by path", "path")], value="size",
                                          description="Sort")
        self.raw = widgets.Checkbox(value=False, description="show raw whiteout entries")
        self.summary = widgets.HTML()
        self.table = widgets.HTML(layout={"max_height": "24em", "overflow": "auto"})
        for control in (self.picker, self.sort, self.raw):
            control.observe(lambda _change: self.render(), names="value")
        self.box = widgets.VBox([self.picker, widgets.HBox([self.sort, self.raw]), self.summary, self.table])
        self.box.add_class("dockerlab-layers")
        self.render()

    @property
    def layer(self):
        return self.model.layers[self.picker.value]

    def rows(self) -> list[tuple[str, str, int | None]]:
        """(change, path, size) of the picked layer, sorted as asked; whiteouts as "whiteout" rows."""
        layer = self.layer
        rows = [(c.change, c.path, c.size) for c in layer.changes or []]
        if self.sort.value == "size":
            rows.sort(key=lambda row: (-(row[2] or 0), row[1]))
        else:
            rows.sort(key=lambda row: row[1])
        if self.raw.value:
            rows = [("whiteout", path, None) for path in layer.whiteouts or []] + rows
        return rows

    def render(self) -> None:
        layer = self.layer
        if layer.changes is None:
            self.summary.value = "<i>This layer's files were not read (or the layer was not exported).</i>"
            self.table.value = ""
            return
        self.summary.value = (
            f"<b>{layer.count('added')}</b> added, <b>{layer.count('modified')}</b> modified, "
            f"<b>{layer.count('deleted')}</b> deleted · {human_size(layer.size)} in this layer, "
            f"{human_size(layer.wasted_bytes)} of it hidden by later layers")
        rows = self.rows()
        colours = {"added": "#2e7d32", "modified": "#b26a00", "deleted": "#c62828", "whiteout": "#6a1b9a"}
        cells = "".join(
            f'<tr><td style="color:{colours[change]}">{change}</td><td style="text-align:right">'
            f'{"" if size is None else human_size(size)}</td><td><code>{html.escape(path)}</code></td></tr>'
            for change, path, size in rows[:self.ROWS])
        more = f"<p>… and {len(rows) - self.ROWS} more.</p>" if len(rows) > self.ROWS else ""
        self.table.value = f"<table><tr><th>change</th><th>size</th><th>path</th></tr>{cells}</table>{more}"

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)  # stable: the widget's own repr carries a model id
        return bundle

    def __repr__(self) -> str:
        return f"Layer explorer for {self.model.image} ({len(self.model.layers)} layers)"
