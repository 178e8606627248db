"""What `--out` may name: a folder a collection can go into (the runner refuses some later, with the same error)."""

from __future__ import annotations

import tempfile
from pathlib import Path


class OutFolderError(ValueError):
    """--out names something a collection cannot go into."""


def check_out_folder(out: Path) -> Path:
    """--out must be a folder (or not exist yet) and not a curate output: episodes written into a curate output made
    a folder that both `curate` (a curate output) and `export` (a raw collection) refused, and a file gave a
    NotADirectoryError traceback. Checked as the option is read, before any environment starts."""
    if out.exists() and not out.is_dir():
        raise OutFolderError(f"--out {out} is a file, not a folder: pass a folder for the collection (it is "
                             "created if missing)")
    from schemas.layout import is_curation_output

    if is_curation_output(out):
        raise OutFolderError(f"--out {out} is a curate output (it holds shards written by `worldline curate`), not "
                             "a raw collection: collect into the folder you curated from, or a new one")
    check_writable(out)
    return out


def check_writable(out: Path) -> None:
    """An --out that cannot be written (a read-only disk, another user's folder) failed only when the first episode
    was stored, after its environment had run. A file is made and dropped in --out, or in the folder it will be
    made in, as the kernel is the only judge (mode bits, ACLs, capabilities, a read-only mount)."""
    folder = out
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        what = "it" if folder == out else f"{folder}, where it would be made,"
        raise OutFolderError(f"--out {out} is not writable: {what} refused a new file ({exc.strerror}): choose "
                             "another --out, or one this user may write") from exc
