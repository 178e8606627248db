"""What a SIGKILLed collector leaves behind (no close, no atexit runs): the folders it made for its sandboxes, such as
temporary folders and cgroups. Each such folder carries its owner's tag (pid, start time and pid namespace) in its
name, so a later collector can tell a dead owner's folder from a live one's and remove it.

The start time is what tells a reused pid apart: a pid that is alive but started at another time is a different
process, so its folder's owner is gone. A pid that cannot be read (hidden /proc) counts as alive, and a tag from
another pid namespace (a collector in a container or `unshare -p` sharing /tmp) cannot be judged: when in doubt a
folder is left."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from schemas.processes import alive, owner_tag, tagged_owner

# "<anything>-<pid>.<start>[.<pid namespace>]-<suffix>" (no namespace in names made before it was added): the suffix
# (tempfile's random name, a group's number) has no "-", so the tag is found from the right whatever the purpose or
# server name before it holds.
_TAGGED = re.compile(r"-(?P<pid>[0-9]+)\.(?P<start>[0-9]+)(?:\.(?P<namespace>[0-9]+))?-[^-]*$")


def owner_of(name: str) -> tuple[int, int] | None:
    """(pid, start time) from a tagged name; None when the name has no tag or its tag is from another pid
    namespace (its owner cannot be told from here)."""
    match = _TAGGED.search(name)
    return tagged_owner(match) if match else None


def remove_dead_temp(family: str) -> list[Path]:
    """Remove the temporary folders named `family`* whose owner is gone; folders without a tag are left (their
    owner cannot be told). Returns what was removed."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{family}*"):
        owner = owner_of(folder.name)
        if owner and folder.is_dir() and not folder.is_symlink() and not alive(*owner):
            shutil.rmtree(folder, ignore_errors=True)  # another collector may be removing it at the same time
            removed.append(folder)
    return removed


def make_temp(prefix: str, family: str | None = None) -> Path:
    """A new temporary folder "<prefix><tag>-<random>", after removing dead owners' folders of `family` (default:
    `prefix`; e.g. "wl-mcp-" to sweep every server's while making one named "wl-mcp-<server>-")."""
    remove_dead_temp(family or prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{owner_tag()}-"))
