"""Lesson parts that need what an engine may lack: code cells tagged `needs-swarm` (lesson 11's Swarm
part) are skipped, with the reason printed, on an engine without Swarm mode (Podman). Nothing else is
ever skipped; the lesson itself says so in one sentence."""
from __future__ import annotations

import warnings

from dockerlab.engine.swarm import NO_SWARM, has_swarm

SWARM_TAG = "needs-swarm"


def missing_parts(engine) -> dict[str, str]:
    """Tag -> the reason its cells cannot run on this engine, for each part it lacks."""
    return {} if has_swarm(engine) else {SWARM_TAG: NO_SWARM}


def reason_to_skip(cell, missing: dict[str, str]) -> str | None:
    """Why this notebook cell cannot run on the engine, or None when it can."""
    return next((missing[tag] for tag in cell.get("metadata", {}).get("tags", []) if tag in missing), None)


def without_missing_parts(notebook, engine, name: str) -> list[str]:
    """Remove the cells this engine cannot run from `notebook` (in place); warn and return the reasons."""
    missing = missing_parts(engine)
    kept, reasons = [], []
    for cell in notebook.cells:
        reason = reason_to_skip(cell, missing) if cell.cell_type == "code" else None
        if reason is None:
            kept.append(cell)
        elif reason not in reasons:
            reasons.append(reason)
    notebook.cells = kept
    for reason in reasons:  # a warning: pytest prints it in its summary even when the test passes
        warnings.warn(f"{name}: cells skipped on this engine: {reason}", stacklevel=2)
    return reasons
