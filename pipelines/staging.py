"""Hidden folders beside an output folder, where curate and export write a run's output until it is complete and
then put it in the output's place whole: `.OUT.KIND-HOST-TAG-XXXXXXXX`. The host and owner tag (pid, start time and
pid namespace: schemas/processes) in the name let a later run tell a folder a killed run left (SIGKILL runs no
cleanup) from one a running process is still writing; folders named before the tag have the bare pid there."""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterable
from pathlib import Path

from schemas.processes import alive, owner_tag, tagged_owner

# renameat2(2): Python has no binding for it (os.rename cannot exchange two folders).
AT_FDCWD, RENAME_EXCHANGE = -100, 2
# What a file system answers when it cannot exchange two folders (NFS; overlayfs for a folder of its lower layer).
NO_EXCHANGE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV)


def owned_folder(out: Path, kind: str) -> Path:
    """The name of a new hidden folder of this process beside `out` (not made)."""
    return out.parent / f".{out.name}.{kind}-{socket.gethostname()}-{owner_tag()}-{secrets.token_hex(4)}"


def remove_stale(out: Path, kinds: Iterable[str], keep_while_out_missing: Iterable[str] = ()) -> list[tuple[Path, str]]:
    """Remove the hidden folders of `kinds` beside `out` that processes of this host left and that are gone;
    returns each removed folder with the pid that made it. Those of another pid namespace's processes stay (their
    pid is another process here), and those of `keep_while_out_missing` while `out` does not exist: a run killed
    between two renames left the only copy of the earlier output there."""
    owned = re.compile(rf"\.{re.escape(out.name)}\.(?P<kind>{'|'.join(map(re.escape, kinds))})-(?P<host>.+)"
                       r"-(?P<pid>\d+)(?:\.(?P<start>\d+)\.(?P<namespace>\d+))?-[0-9a-f]{8}")
    kept = set(keep_while_out_missing)
    removed = []
    for entry in out.parent.iterdir() if out.parent.is_dir() else []:
        match = owned.fullmatch(entry.name)
        owner = tagged_owner(match) if match and match["host"] == socket.gethostname() else None
        if owner is None or alive(*owner):
            continue
        if match["kind"] in kept and not out.is_dir():
            continue
        shutil.rmtree(entry, ignore_errors=True)  # one that cannot be removed must not stop this run
        if not entry.exists():
            removed.append((entry, match["pid"]))
    return removed


def exchange(a: Path, b: Path) -> None:
    """Swap two paths in one step: renameat2(RENAME_EXCHANGE), Linux 3.15+ (glibc 2.28+). OSError with one of
    NO_EXCHANGE where the file system cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not in this C library")
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))
