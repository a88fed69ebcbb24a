"""Who owns what: a process named for good (pid + start time), so a sweep tells a finished owner from a live one.

Sessions (`PID-STARTTICKS-RANDOM@HOST`) and registries (pid + start ticks in their state file) are owned by
processes; a recycled pid has another start time, and a zombie counts as gone.
"""
from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path


def pid_is_running(pid: int) -> bool:
    """True when a process with this pid exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None where /proc is missing."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return []
    except OSError:
        return None


def process_start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" where /proc is not available)."""
    fields = _proc_stat(pid)
    return fields[19] if fields else ""


def process_alive(pid: int, started: str) -> bool:
    """True while `pid` is still the process that was started: not gone, not a zombie, not a recycled pid.

    `started` "" (or "0") means its start time is unknown: then the pid alone decides.
    """
    fields = _proc_stat(pid)
    if fields is None:  # no /proc (macOS): trust the pid
        return pid_is_running(pid)
    if not fields:
        return False
    return fields[0] != "Z" and (started in ("", "0") or fields[19] == started)


def new_session_id(pid: int) -> str:
    """`PID-STARTTICKS-RANDOM@HOST`: names the owning process for good, unique within it."""
    return f"{pid}-{process_start_ticks(pid) or 0}-{secrets.token_hex(2)}@{socket.gethostname()}"


def owner_is_alive(owner_id: str) -> bool:
    """True unless we can prove the owning process is gone; other hosts' owners count as alive."""
    owner, _, host = owner_id.partition("@")
    if host != socket.gethostname():
        return True
    try:
        pid_text, started, _ = owner.split("-")
        pid = int(pid_text)
    except ValueError:
        return True  # not an id this kit made: leave it alone
    return process_alive(pid, started)
