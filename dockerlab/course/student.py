"""Student notebooks, generated from the instructor notebooks (`dockerlab student`, `make student`).

Marking, in the instructor notebook:
- a cell tagged `solution` becomes a "your turn" stub (the cell's `dockerlab.stub` metadata, if any,
  is the whole stub); inside it, only the lines between `### BEGIN SOLUTION` and `### END SOLUTION`
  are replaced when those markers are there;
- a cell tagged `hidden-check` is removed;
- every output and execution count is cleared.

A learner's work is never overwritten: a student notebook whose cells were edited since it was
generated is kept (the generated cells' fingerprint is stored in its metadata), as is every
non-notebook file already there.
"""
from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

from .exercises import all_exercise_ids, load_exercise
from .grading import ANSWERS_FILE, PROGRESS_FILE

SOLUTION_TAG = "solution"
HIDDEN_TAG = "hidden-check"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = "# Your turn: write your answer here, then run the check below."
MARKDOWN_STUB = "*Your turn: write your answer here.*"
SKIPPED = {".ipynb_checkpoints", ".dockerlab", "__pycache__", ANSWERS_FILE, PROGRESS_FILE}


def fingerprint(notebook) -> str:
    """What the learner may change: the cells' types and sources (outputs do not count)."""
    cells = [[cell.cell_type, cell.source] for cell in notebook.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def stub_for(cell) -> str:
    custom = cell.metadata.get("dockerlab", {}).get("stub")
    return custom or (MARKDOWN_STUB if cell.cell_type == "markdown" else CODE_STUB)


def replace_solution(cell) -> str:
    """The cell's source with its solution replaced by the stub."""
    lines = cell.source.splitlines()
    if not any(line.strip() == BEGIN for line in lines):
        return stub_for(cell)
    kept, inside = [], False
    for line in lines:
        if line.strip() == BEGIN:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            kept += [indent + stub_line for stub_line in stub_for(cell).splitlines()]
        elif line.strip() == END:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def student_version(instructor) -> "nbformat.NotebookNode":
    """A copy with solutions stubbed, hidden checks removed and outputs cleared."""
    notebook = copy.deepcopy(instructor)
    cells = []
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if HIDDEN_TAG in tags:
            continue
        if SOLUTION_TAG in tags:
            cell.source = replace_solution(cell)
            cell.metadata["tags"] = [tag for tag in tags if tag != SOLUTION_TAG] + ["your-turn"]
            cell.metadata.pop("dockerlab", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    notebook.cells = cells
    notebook.metadata["dockerlab"] = {"student_version": True, "source_fingerprint": fingerprint(notebook)}
    return notebook


def learner_edited(path: Path) -> bool:
    """True when the student notebook at `path` was changed since it was generated (or is not ours)."""
    import nbformat  # here: its import takes seconds (jsonschema) that other `dockerlab` commands need not pay

    try:
        existing = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return True
    stored = existing.metadata.get("dockerlab", {}).get("source_fingerprint")
    return stored != fingerprint(existing)


def generate(source: Path, out: Path, force: bool = False) -> list[str]:
    """Write the student version of every notebook in `source` to `out`; one line per notebook."""
    import nbformat  # see `learner_edited`

    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for path in sorted(source.glob("*.ipynb")):
        target = out / path.name
        if target.exists() and not force and learner_edited(target):
            lines.append(f"kept {target} (it has your changes; --force overwrites it)")
            continue
        nbformat.write(student_version(nbformat.read(path, as_version=4)), target)
        lines.append(f"wrote {target}")
    copied = copy_assets(source, out)
    if copied:
        lines.append(f"copied {copied} lesson file(s) (examples) into {out}")
    return lines


def copy_assets(source: Path, out: Path) -> int:
    """Copy the lessons' other files (examples) that are not there yet; never the exercises' answers."""
    skipped = SKIPPED | {load_exercise(exercise_id).submission for exercise_id in all_exercise_ids()}
    count = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.suffix == ".ipynb" and len(relative.parts) == 1 or skipped & set(relative.parts):
            continue
        target = out / relative
        if path.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            count += 1
    return count
