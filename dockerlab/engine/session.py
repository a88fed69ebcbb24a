"""Sessions: who created what on the engine, so re-runs replace and cleanup never overreaches.

One session per process (a notebook kernel, a CLI run, a check). Its id names the owning process
(`PID-STARTTICKS-RANDOM@HOST`, see `processes`), and every resource it creates carries
`dockerlab.session=<id>` (see `model.labels`), so a later sweep can tell a session whose process is gone
(swept) from a live one (never touched, whoever sweeps).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import NameTaken
from ..model.labels import session_labels, session_of
from .cleanup import remove_labelled
from .connection import Engine
from .processes import new_session_id
from .translate import found_or_none, translated


@dataclass
class Session:
    """The labels and scoped cleanup of one process's work on the engine."""

    engine: Engine
    pid: int = field(default_factory=os.getpid)
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or new_session_id(self.pid)

    @property
    def labels(self) -> dict[str, str]:
        """The label every resource of this session carries."""
        return session_labels(self.id)

    def owns(self, labels: dict | None) -> bool:
        return session_of(labels) == self.id

    def claim_container_name(self, name: str) -> None:
        """Make `name` free for a new container: remove ours, refuse anyone else's."""
        api = self.engine.api
        existing = found_or_none(lambda: api.inspect_container(name), f"look for a container named '{name}'")
        if existing is None:
            return
        labels = existing["Config"].get("Labels") or {}
        if self.owns(labels):
            with translated(f"remove this notebook's old container '{name}'"):
                api.remove_container(existing["Id"], force=True, v=True)
            return
        owner = session_of(labels)
        whose = (f"another dockerlab session ({owner}), which is still running" if owner
                 else "a container the kit did not create")
        raise NameTaken(
            f"The name '{name}' is already used by {whose}; the kit will not delete it. "
            f"Pick another name, or remove it yourself with `docker rm -f {name}` if it is yours."
        )

    def clean(self) -> dict[str, int]:
        """Remove everything this session created; returns how many of each kind went."""
        return remove_labelled(self.engine, self.id)
