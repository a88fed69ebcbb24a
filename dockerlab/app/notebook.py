"""Notebook integration: kit errors appear as one clear sentence, never as a traceback."""
from __future__ import annotations

import sys

from ..errors import DockerlabError


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets can be shown)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and "IPKernelApp" in getattr(shell, "config", {})


def _show_kit_error(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython custom exception handler: print the sentence (and detail) in red, no traceback.

    IPython shows nothing itself for a custom-handled exception (the cell still counts as failed);
    it only wants a list of strings back.
    """
    lines = [f"\x1b[31m✗ {value.explanation}\x1b[0m", *([value.detail] if value.detail else [])]
    print("\n".join(lines), file=sys.stderr)
    return lines


def install_error_display() -> None:
    """Show `DockerlabError`s kindly in this kernel (called by `dockerlab.connect()`)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is not None:
        shell.set_custom_exc((DockerlabError,), _show_kit_error)
