"""Whether a process still runs, asked by its pid and, where the asker wrote it down, its start time: what tells a
dead owner's leftovers (temporary folders, cgroups, staging folders, containers) from a live one's, and a killed
sandbox process from one that still holds what it had. Here, not in sandboxes/, because pipelines/ asks it too."""

from __future__ import annotations

import os
from pathlib import Path


def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 (state) on, None when it cannot be read. Split after the last ")": the
    command name before it may hold spaces and parentheses."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields if len(fields) > 19 else None


def start_time(pid: int) -> int | None:
    """When `pid` started, in clock ticks after boot (/proc/<pid>/stat field 22); None when it cannot be read."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def alive(pid: int, start: int | None = None) -> bool:
    """Whether a process has `pid` and still holds what it had. False when none has it; when it is a zombie (it has
    ended and let go of everything, only its exit status waits to be reaped); or, `start` given, when it started at
    another time (the pid was reused by a later process). A process whose /proc entry this one cannot read (a
    hidden /proc, another user's) but that kill(0) finds counts as alive: in doubt, what it owns is left alone."""
    if pid <= 0:
        return False  # kill() would ask about a process group, not a process
    fields = _stat_fields(pid)
    if fields is None:
        return _exists(pid)
    return fields[0] != b"Z" and (start is None or int(fields[19]) == start)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True
