"""A lock on a raw collection, between the commands that delete its files and those that read them.

`worldline pack` deletes the per-episode files it has packed; a curate or query that listed them before reads files
that are gone (curate dead-lettered each one and never read the pack holding their rows: rows lost, exit 0), and two
packs at once put the same episodes in two packs. So pack holds COLLECTION/.worldline.lock exclusively for its whole
run, and curate and query hold it shared while they list and read the raw input. `collect` takes no lock: it only
adds files or replaces them whole (atomic rename), which readers and pack tolerate (pack checks that a file is the
one it read before deleting it).

flock(2): the kernel drops the lock of a process that ends, however it ends, so a killed run leaves no stale lock,
and the file stays (hidden, so no reader takes it for data). A collection on a bucket (gs://) has no such lock, nor
one whose lock file cannot be opened (a read-only folder where no pack made one yet): those go without.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".worldline.lock"
COMMANDS = ("pack", "curate", "query")  # the commands that take the lock, to name a holder by


@contextmanager
def collection_lock(root: str | Path, exclusive: bool) -> Iterator[None]:
    """Hold `root`'s lock (exclusive for a writer, shared for a reader) inside the block. A run that has to wait says
    once on stderr for what; Ctrl-C or SIGTERM while waiting raises as it does anywhere else."""
    fd = None if "://" in str(root) else _open(Path(root) / LOCK_FILE)
    if fd is None:
        yield
        return
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for {_holders(fd)} on {root} ...", file=sys.stderr, flush=True)
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)


def _open(path: Path) -> int | None:
    # Read-only is enough for flock, so a reader without write access to the folder still shares a lock pack made.
    for flags in (os.O_RDONLY | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags | os.O_CLOEXEC, 0o666)
        except OSError:
            continue
    return None


def _holders(fd: int) -> str:
    """Who holds the lock, from /proc/locks (Linux): "another worldline pack (pid N)"; without /proc, less."""
    stat = os.fstat(fd)
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    holders = []
    try:
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; a waiter's line has "->" after the number.
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
                    holders.append((fields[3], fields[4]))
    except OSError:
        pass
    if not holders:
        return "another worldline command using the collection"
    return ", ".join(f"another worldline {_command(pid) or ('pack' if kind == 'WRITE' else 'curate or query')} "
                     f"(pid {pid})" for kind, pid in holders)


def _command(pid: str) -> str | None:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    return next((arg for arg in argv if arg in COMMANDS), None)
