"""Stable text forms shared by every result: the equivalent `docker` command, sizes, shortened lines."""
from __future__ import annotations

import shlex


def docker_command(*words: str | None) -> str:
    """`docker ...` with each word quoted as a shell would need it; None words are left out."""
    return "$ docker " + " ".join(shlex.quote(word) for word in words if word is not None)


def human_size(size: int | float | None) -> str:
    """Bytes the way `docker images` shows them (powers of 1000)."""
    if size is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("not reached")


def shorten(text: str, limit: int = 60) -> str:
    """One line of at most `limit` characters (white space folded, an ellipsis where cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
