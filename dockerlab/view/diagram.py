"""Pictures of layer stacks: graphviz DOT (rendered to SVG in JupyterLab), with the model's stable text form.

Only renders a model (`dockerlab.model.layers`); never calls the engine. One box per step that made a layer,
thin boxes for metadata-only steps, the base image's steps grouped, cache hits marked, containers'
writable layers dashed on top. Several images are drawn as one tree: steps they share (the same history
and layers from the bottom up) are one box. The DOT text depends only on the models (same input, same
text); labels are HTML-like labels with every character escaped, so quotes, backslashes, `<`, `&`
and non-ASCII names reach the picture as they are.
"""
from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field

import graphviz

from ..errors import DiagramUnavailable
from ..model.layers import ContainerLayer, ImageLayers, Step, counts, stack_text
from ..model.text import human_size, shorten

DOT_MISSING = ("Graphviz's `dot` program is not installed, so the picture cannot be drawn; here is the text "
               "form (install it with `sudo apt-get install graphviz`, or `make setup`).")


def escape(text: str) -> str:
    """Text for an HTML-like graphviz label: entities escaped, control characters dropped."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return html.escape(clean, quote=True)


@dataclass
class _Node:
    id: str
    step: Step
    image: ImageLayers
    base: bool
    parent: str | None
    images: list[str] = field(default_factory=list)  # names of images whose top is this node


def _step_base(image: ImageLayers, index: int) -> bool:
    return index < image.base_steps


def _tree(images: list[ImageLayers]) -> tuple[list[_Node], dict[str, str]]:
    """Nodes in first-seen order (shared history prefixes merged) and each image's top node."""
    nodes: dict[str, _Node] = {}
    tops: dict[str, str] = {}
    for image in images:
        chain = hashlib.sha256()
        parent = None
        for index, step in enumerate(image.steps):
            layer = image.layers[step.layer].diff_id if step.layer is not None else ""
            chain.update(f"{step.created_by}\0{step.empty}\0{layer}\n".encode())
            key = chain.hexdigest()
            if key not in nodes:
                nodes[key] = _Node(f"s{len(nodes) + 1}", step, image, _step_base(image, index), parent)
            parent = nodes[key].id
        if parent is not None:
            tops[image.image] = parent
    return list(nodes.values()), tops


def _step_label(node: _Node) -> str:
    step, image = node.step, node.image
    text = escape(shorten(step.text))
    if step.layer is None:
        return f'<<font point-size="9">{text}</font>>'
    layer = image.layers[step.layer]
    details = [f"layer {layer.index + 1}", human_size(layer.size)]
    if counts(layer):
        details.append(counts(layer))
    if step.cached:
        details.append("cached")
    if not layer.exported:
        details.append("not exported")
    return f'<<b>{text}</b><br/><font point-size="10">{escape(" · ".join(details))}</font>>'


def _container_label(container: ContainerLayer) -> str:
    size = human_size(container.size_rw) if container.size_rw is not None else "?"
    tally = f"A {container.count('A')} · C {container.count('C')} · D {container.count('D')} · {size}"
    return f'<<b>container {escape(container.name)}</b><br/><font point-size="10">writable layer: {escape(tally)}</font>>'


def dot_source(images: list[ImageLayers]) -> str:
    """The DOT text of the stack(s): bottom (base image) at the bottom, containers dashed on top."""
    nodes, tops = _tree(images)
    lines = ["digraph layers {", "  rankdir=BT;", "  nodesep=0.3; ranksep=0.25;",
             '  node [shape=box, style="rounded,filled", fillcolor="#e8f1fb", color="#4a79a8", '
             'fontname="Helvetica", fontsize=11, margin="0.15,0.05"];',
             '  edge [arrowhead=none, color="#7a7a7a"];']

    def node_line(node: _Node) -> str:
        attrs = [f"label={_step_label(node)}"]
        if node.step.layer is None:
            attrs += ["height=0.2", 'fillcolor="#f4f4f4"', 'color="#b0b0b0"']
        elif node.step.cached:
            attrs += ['fillcolor="#e6f5e6"', 'color="#4b9a4b"']
        return f"  {node.id} [{', '.join(attrs)}];"

    base_nodes = [node for node in nodes if node.base]
    if base_nodes:
        base_name = next((n.image.base_image for n in base_nodes if n.image.base_image), "the base image")
        lines.append("  subgraph cluster_base {")
        lines.append(f'    label=<base image <b>{escape(base_name)}</b>>; style="dashed,rounded"; color="#9a9a9a"; '
                     'fontname="Helvetica"; fontsize=10;')
        lines += ["  " + node_line(node) for node in base_nodes]
        lines.append("  }")
    lines += [node_line(node) for node in nodes if not node.base]
    lines += [f"  {node.parent} -> {node.id};" for node in nodes if node.parent]
    for number, image in enumerate(images, 1):
        if image.image not in tops:
            continue
        image_id = f"i{number}"
        lines.append(f'  {image_id} [shape=tab, style=filled, fillcolor="#fff4d6", color="#b58900", '
                     f'label=<image <b>{escape(image.image)}</b>>];')
        lines.append(f"  {tops[image.image]} -> {image_id};")
        for index, container in enumerate(image.containers, 1):
            container_id = f"c{number}_{index}"
            lines.append(f'  {container_id} [style="dashed,rounded", fillcolor="white", color="#b03a2e", '
                         f"label={_container_label(container)}];")
            lines.append(f'  {image_id} -> {container_id} [style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"


class Diagram:
    """A picture of one or more stacks: SVG in JupyterLab, a stable text form for nbval and terminals."""

    def __init__(self, images: list[ImageLayers]) -> None:
        self.images = list(images)
        self.source = dot_source(self.images)
        self.text = stack_text(self.images)
        self._svg: str | None = None

    def svg(self) -> str:
        """The picture as SVG, drawn by graphviz's `dot`; raises `DiagramUnavailable` without it."""
        if self._svg is None:
            try:
                self._svg = graphviz.Source(self.source).pipe(format="svg", encoding="utf-8")
            except graphviz.ExecutableNotFound:
                raise DiagramUnavailable(DOT_MISSING) from None
            except graphviz.CalledProcessError as error:
                raise DiagramUnavailable(f"Graphviz could not draw the picture ({error.stderr!r}); "
                                         "here is the text form.") from None
        return self._svg

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        try:
            return {"image/svg+xml": self.svg(), "text/plain": self.text}
        except DiagramUnavailable as error:
            return {"text/plain": f"{error}\n{self.text}"}

    def __repr__(self) -> str:
        return self.text
