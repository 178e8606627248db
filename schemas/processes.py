"""Whether a process still runs, asked by its pid and, where the asker wrote it down, its start time: what tells a
dead owner's leftovers (temporary folders, cgroups, staging folders, containers) from a live one's, and a killed
sandbox process from one that still holds what it had. Here, not in sandboxes/, because pipelines/ asks it too."""

from __future__ import annotations

import functools
import os
import re
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
    """When `pid` started, in clock ticks after boot (/proc/<pid>/stat field 22) as the initial time namespace
    counts them; None when it cannot be read."""
    fields = _stat_fields(pid)
    return _started(fields) if fields else None


def _started(fields: list[bytes]) -> int:
    # The kernel shows a start time shifted by the READER's time namespace's boottime offset: a process under
    # `unshare --time --boottime N` read every live owner's start time as another and called their pids reused.
    return int(fields[19]) - _boottime_offset_ticks()


@functools.cache
def _boottime_offset_ticks() -> int:
    """This process's time namespace's boottime offset (/proc/self/timens_offsets; 0 in the initial one or
    without time namespaces), in clock ticks."""
    try:
        lines = Path("/proc/self/timens_offsets").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, seconds, nanoseconds = line.split()
        if name in ("boottime", "7"):  # the clock's name, or its id (CLOCK_BOOTTIME) on kernels that print that
            return (int(seconds) * 1_000_000_000 + int(nanoseconds)) * os.sysconf("SC_CLK_TCK") // 1_000_000_000
    return 0


def alive(pid: int, start: int | None = None) -> bool:
    """Whether a process has `pid` and still holds what it had. False when none has it; when it is a zombie with no
    thread left (it has ended and let go of everything, only its exit status waits to be reaped); or, `start`
    given, when it started at another time (the pid was reused by a later process). A process whose /proc entry
    this one cannot read (a hidden /proc, another user's) but that kill(0) finds counts as alive: in doubt, what it
    owns is left alone."""
    if pid <= 0:
        return False  # kill() would ask about a process group, not a process
    fields = _stat_fields(pid)
    if fields is None:
        return _exists(pid)
    if start is not None and _started(fields) != start:
        return False
    return fields[0] != b"Z" or _threads_left(pid)


def _threads_left(pid: int) -> bool:
    """Whether a zombie still runs threads: the first thread shows Z for the whole process once it ends
    (pthread_exit) while others go on, and /proc/<pid>/task lists it alone only when the whole process has ended."""
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False  # reaped meanwhile


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True


@functools.cache
def pid_namespace() -> int:
    """This process's pid namespace (its inode): a pid means the same process only to readers in the same one.
    Kept (a sweep asks it per entry, 15 us a stat of /proc/self): a process never changes its own, only a forked
    child can be in another (unshare -p)."""
    return os.stat("/proc/self/ns/pid").st_ino


os.register_at_fork(after_in_child=pid_namespace.cache_clear)
# A child of `unshare --time` (CLONE_NEWTIME applies to children) is in another time namespace than its parent.
os.register_at_fork(after_in_child=_boottime_offset_ticks.cache_clear)


@functools.cache
def _tag(pid: int, namespace: int) -> str:
    return f"{pid}.{start_time(pid)}.{namespace}"


def owner_tag() -> str:
    """This process's tag "<pid>.<start time>.<pid namespace>", for names and labels of what it makes (looked up
    per pid and namespace: a forked child gets its own)."""
    return _tag(os.getpid(), pid_namespace())


def tagged_owner(match: re.Match) -> tuple[int, int | None] | None:
    """(pid, start time or None) from a match of a tag's groups `pid` and optional `start` and `namespace`; None
    when the tag names another pid namespace, where its pid is another process than here (e.g. a collector in a
    container sharing /tmp): what it owns cannot be told from here and is left. Tags written before they carried
    a namespace are read as this namespace's."""
    namespace = match["namespace"]
    if namespace and int(namespace) != pid_namespace():
        return None
    return int(match["pid"]), int(match["start"]) if match["start"] else None
