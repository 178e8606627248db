"""Atomic writes: a temporary file beside the target, filled and then renamed onto it, so that a reader sees the
whole new file or the old one. Imports nothing from the project.

tempfile.mkstemp creates its file 0600, and a rename keeps the mode: every file written that way ended up
`-rw-------` beside the 0644 files a plain open() makes. temp_file asks the kernel for 0666, as open() does, so the
umask (or the folder's default ACL) applies exactly as it would to open(path, "w"); nothing reads or sets the
process umask, which is shared by every thread.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def temp_file(folder: str | Path, name: str) -> tuple[int, str]:
    """(open descriptor, path) of a new, empty file `folder/.NAME.RANDOM.tmp`, created with the mode open() would
    give `folder/NAME` (0o666 less the umask), so the file renamed onto NAME has it too. Like mkstemp, the name is
    never one that existed (O_EXCL) and the descriptor is not inherited by child processes."""
    for _ in range(100):
        path = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(path, _FLAGS, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary name for {name} in {folder}")


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", *, fsync: bool = False, encoding: str | None = None,
                temp_name: str | None = None, publish_as: Callable[[], str | Path] | None = None) -> Iterator[IO]:
    """A handle on a temp file (temp_file) beside `path` that is renamed onto `path` when the block ends without an
    exception; on any exception, KeyboardInterrupt included, the temp file is removed and `path` keeps what it held.
    `mode` is "wb" or "w" (text, in `encoding`). `fsync` flushes the data to disk before the rename, so that a power
    loss does not leave the new name on an empty file: a choice each caller makes, as it costs a disk flush a file.
    `temp_name` replaces the target's name in the temp file's (for a writer-identifying tag); `publish_as`, called
    once the file is written, gives another path in the same folder to rename it to, for a name that depends on what
    was written. The folder must exist."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole new file: mode 'w' or 'wb', not {mode!r}")
    folder = os.path.dirname(path) or "."
    fd, tmp = temp_file(folder, temp_name or os.path.basename(path))
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, publish_as() if publish_as else path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
