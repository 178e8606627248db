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
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".worldline.lock"
COMMANDS = ("pack", "curate", "query")  # the commands that take the lock, to name a holder by
# How often a waiting run tries again. It polls rather than blocks in flock(2) so that it sees a new holder take the
# lock first (a curate ends and another pack gets in) and says whom it waits for now.
POLL_SECONDS = 0.2

# The locks this process holds, by the lock file's (device, inode): a command takes the lock before it counts files
# and opens its progress display, and the library function it then calls takes it again, which must not wait on
# itself (an exclusive flock on a second descriptor would).
_held: set[tuple[int, int]] = set()


class WaitInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while waiting for the lock, before the command did any of its work: its message can say
    that nothing was read or written. A KeyboardInterrupt still, so a command that says the same either way need
    not tell them apart; 128 + signum is its exit code (schemas.interrupts.interrupted_exit_code)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def collection_lock(root: str | Path, exclusive: bool) -> Iterator[None]:
    """Hold `root`'s lock (exclusive for a writer, shared for a reader) inside the block; inside a block of this
    process holding it already, that hold stands. A run that has to wait says on stderr whom for, and again when
    another command takes the lock first; Ctrl-C or SIGTERM while waiting raises WaitInterrupted."""
    fd = None if "://" in str(root) else _open(Path(root) / LOCK_FILE)
    if fd is None:
        yield
        return
    stat = os.fstat(fd)
    key = (stat.st_dev, stat.st_ino)
    if key in _held:
        os.close(fd)
        yield
        return
    try:
        _acquire(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, root)
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
    finally:
        os.close(fd)


def _acquire(fd: int, mode: int, root: str | Path) -> None:
    said, named = False, set()  # the holders said so far, by pid
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            holders = _holders(fd)
            pids = {pid for pid, _ in holders}
            # Between one holder's end and the next one's start the list can be empty: nothing new to say then.
            if not said or pids - named:
                print(_waiting_line(root, holders, again=said), file=sys.stderr, flush=True)
                said, named = True, named | pids
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt as exc:  # Terminated (SIGTERM) carries its signum
        raise WaitInterrupted(getattr(exc, "signum", signal.SIGINT)) from None


def _open(path: Path) -> int | None:
    # Read-only is enough for flock, so a reader without write access to the folder still shares a lock pack made.
    for flags in (os.O_RDONLY | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags | os.O_CLOEXEC, 0o666)
        except OSError:
            continue
    return None


def _waiting_line(root: str | Path, holders: list[tuple[str, str]], again: bool) -> str:
    """"waiting for worldline pack (pid N), which is packing RAW, to finish ...": the holder named by its own command,
    so that the line reads right whichever command waits."""
    if not holders:
        return f"waiting for another worldline command using {root} to finish ..."
    names = " and ".join(f"worldline {_command(pid) or ('pack' if kind == 'WRITE' else 'curate or query')} "
                         f"(pid {pid})" for pid, kind in holders)
    doing = "packing" if holders[0][1] == "WRITE" else "reading"
    which = "which is" if len(holders) == 1 else "which are"
    return f"{'now ' if again else ''}waiting for {names}, {which} {doing} {root}, to finish ..."


def _holders(fd: int) -> list[tuple[str, str]]:
    """(pid, READ or WRITE) of each process holding the lock, from /proc/locks (Linux); none without /proc."""
    stat = os.fstat(fd)
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    holders = []
    try:
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; a waiter's line has "->" after the number.
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
                    holders.append((fields[4], fields[3]))
    except OSError:
        pass
    return holders


def _command(pid: str) -> str | None:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    return next((arg for arg in argv if arg in COMMANDS), None)
