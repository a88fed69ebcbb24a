"""Stable text forms shared by every result: the equivalent `docker` command, sizes, shortened lines."""
from __future__ import annotations

import json
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


def size_in_bytes(text: str) -> int:
    """A size as `docker run --memory` takes it ("512m", "10G": powers of 1024); ValueError when it is not one."""
    number, unit = text.strip()[:-1], text.strip()[-1:].lower()
    if unit.isdigit():
        number, unit = text.strip(), "b"
    if not number.isdigit() or unit not in "bkmgt":
        raise ValueError(f"not a size: {text!r}")
    return int(number) * 1024 ** "bkmgt".index(unit)


def shorten(text: str, limit: int = 60) -> str:
    """One line of at most `limit` characters (white space folded, an ellipsis where cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"



def inspect_fields(attrs: dict, fields: tuple[str, ...]) -> tuple[str, str]:
    """Dotted fields of an inspect answer (`State.Status`) as `docker inspect --format` shows them: the
    template and the text, one space between fields. Maps and lists come as compact JSON, as
    `{{json .Mounts}}` prints them; a missing field as `<no value>`."""
    templates, texts = [], []
    for field in fields:
        value: object = attrs
        for key in field.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (dict, list)):
            templates.append("{{json .%s}}" % field)
            texts.append(json.dumps(value, separators=(",", ":"), sort_keys=True))
        else:
            templates.append("{{.%s}}" % field)
            texts.append(str(value).lower() if isinstance(value, bool) else "<no value>" if value is None else str(value))
    return " ".join(templates), " ".join(texts)
