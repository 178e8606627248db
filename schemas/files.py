"""The temporary file an atomic writer fills and then renames onto its target. Imports nothing from the project.

tempfile.mkstemp creates its file 0600, and a rename keeps the mode: every file written that way ended up
`-rw-------` beside the 0644 files a plain open() makes. temp_file asks the kernel for 0666, as open() does, so the
umask (or the folder's default ACL) applies exactly as it would to open(path, "w"); nothing reads or sets the
process umask, which is shared by every thread.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

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
