"""The curation output folder's lifecycle: the checks before a run (apart from the input, no foreign files, no
earlier output unless --overwrite), the lock a run holds on it, the staging folder a run writes into, the publish
that puts a complete output in the folder's place whole, and the work folder's removal.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from apache_beam.io.filesystems import FileSystems

from pipelines.staging import NO_EXCHANGE, exchange, owned_folder, remove_stale
from schemas.layout import WORK_DIR, is_curation_output
from transforms.curate import OUTPUT_SCHEMAS

OUTPUT_FILES = ("stats.json", "README.md")
LOCK_FILE = ".curate.lock"  # held by the run using the output folder (output_lock)
# Where a run whose output folder cannot be swapped whole (see staging_folder) puts its output until it is complete.
PUBLISH_DIR = ".publish"


class OutputExistsError(RuntimeError):
    pass


def check_output_apart(input_dir: str, output_dir: str) -> None:
    """The output's folders are removed by --overwrite, `transitions/` among them: an output that was the input
    deleted the raw collection. Shards written under the input's transitions/ would be read as raw records by the
    next run. An output folder holding other files (an export, say) had the shards mixed in silently."""
    if "://" in input_dir or "://" in output_dir:
        return
    raw, out = Path(input_dir).resolve(), Path(output_dir).resolve()
    removed = [out / name for name in (*OUTPUT_SCHEMAS, WORK_DIR, PUBLISH_DIR)]
    # Anywhere under the collection: episodes/x had its stats.json counted as an episode by `query RAW`.
    if any(raw.is_relative_to(path) for path in removed) or out.is_relative_to(raw):
        raise OutputExistsError(f"--output {output_dir} would overwrite or be read as the raw collection "
                                f"{input_dir}; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--output {output_dir} is a file, not a folder")
    foreign = _foreign_entries(out)
    if foreign:
        shown = ", ".join(sorted(foreign)[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputExistsError(f"--output {output_dir} already holds files curate did not write ({shown}); choose "
                                "an empty or new folder")


def _foreign_entries(out: Path) -> list[str]:
    """Names in an existing output folder other than what curation writes, unless the folder is a curation output
    (one the user added notes to stays usable with --overwrite)."""

    if not out.is_dir():
        return []
    foreign = [entry.name for entry in out.iterdir() if entry.name not in _own_names()]
    return [] if not foreign or is_curation_output(out) else foreign


@contextmanager
def output_lock(output_dir: str) -> Iterator[None]:
    """Hold OUTPUT/.curate.lock while a run uses the folder: a second run into it removed the first one's work
    folder (prepare_output) and the first failed with a traceback. The kernel drops a process's flock when it ends,
    so a killed run leaves no stale lock; a run that ends removes the file, so a published folder does not carry it."""
    root = Path(output_dir)
    if "://" in output_dir:  # a bucket has no such lock
        yield
        return
    if root.exists() and not root.is_dir():
        raise OutputExistsError(f"{output_dir} is a file, not a folder")
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    while True:
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise OutputExistsError(f"another curation run is writing to {output_dir}; wait for it to end") from None
        # The run before us may have removed the file between our open and our lock: a lock on that unlinked file
        # excludes no one, so take it again on the file the path names now.
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        # Before the lock is released: a run waiting on it sees a new file. Only our own file: a swap (publish)
        # moved it away with the earlier output, and a run that started since holds the one the path names now.
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                path.unlink()
        except FileNotFoundError:
            pass
        handle.close()


def existing_output(output_dir: str, overwrite: bool) -> list[Path]:
    """What a run would replace in the output folder; OutputExistsError if there is any and not `overwrite`: two
    runs' shards must not mix in one folder."""
    if "://" in output_dir:
        return []  # remote outputs are managed by their bucket's lifecycle; Beam refuses to overwrite shards itself
    root = Path(output_dir)
    existing = [root / name for name in (*OUTPUT_SCHEMAS, *OUTPUT_FILES) if (root / name).exists()]
    if existing and not overwrite:
        # stats.json is written last: without it, the folders are what a killed run published before it stopped.
        unfinished = "" if (root / "stats.json").exists() else " from a run that did not finish (no stats.json)"
        raise OutputExistsError(f"{output_dir} already holds curation output{unfinished} "
                                f"({', '.join(p.name for p in existing)}); pass --overwrite to replace it")
    return existing


def prepare_output(output_dir: str, overwrite: bool) -> str:
    """The folder this run publishes into (staging_folder), once refused (existing_output) if it would replace
    output without `overwrite`; what killed runs left is removed. Nothing earlier is removed here: an --overwrite
    run killed, out of disk or failed leaves the earlier output whole."""
    existing_output(output_dir, overwrite)
    if "://" in output_dir:
        return output_dir
    root = Path(output_dir)
    for leftover in (root / WORK_DIR, root / PUBLISH_DIR):
        shutil.rmtree(leftover, ignore_errors=True)
    remove_stale_staging(root.resolve())
    return str(staging_folder(root))


def staging_folder(root: Path) -> Path:
    """A new folder beside the output, swapped onto it whole when the run is complete (publish). Inside it
    (PUBLISH_DIR) when the output cannot be renamed, being a mount point (a container's volume), or nothing can
    be made beside it (its parent is not writable); that one is published entry by entry."""
    real = root.resolve()
    if not os.path.ismount(real):
        folder = owned_folder(real, "curate")
        try:
            folder.mkdir()
            shutil.copymode(real, folder)  # the swap makes it the output folder: keep the one the user made
            return folder
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
    folder = root / PUBLISH_DIR
    folder.mkdir()
    return folder


def remove_stale_staging(root: Path) -> None:
    """Remove the staging folders beside the output that runs killed on this host left: each holds a run's
    unfinished output, or, after the swap, the earlier output it replaced; the output folder is whole either way."""
    for folder, pid in remove_stale(root, ["curate"]):
        print(f"removed {folder}, left by a curation run (pid {pid}) that was killed", file=sys.stderr)


def publish(staging: str, output_dir: str) -> None:
    """Make the complete output in `staging` the output folder's. Beside it, the two folders are exchanged in one
    rename(2) (the user's own files in the output are linked into the new one first), so the folder holds the
    earlier output or this one, whole, at every instant; the earlier one is then in `staging`, which the caller
    removes. A file system that cannot exchange folders (EINVAL; EXDEV on overlayfs), and a staging folder inside the output, publish
    entry by entry (publish_in_place). On a bucket the shards were written in place."""
    if staging == output_dir:
        return
    root = Path(output_dir)
    new = Path(staging)
    if new.parent != root:
        keep_foreign_entries(root, new)
        try:
            exchange(new, root.resolve())
            return
        except OSError as exc:
            if exc.errno not in NO_EXCHANGE:
                raise
    publish_in_place(new, root)


def keep_foreign_entries(root: Path, new: Path) -> None:
    """Hard-link what the user added to the output folder (notes: _foreign_entries) into the new one, so the swap
    keeps it; links, not moves, so a kill before the swap leaves it where it was."""
    for entry in (entry for entry in root.iterdir() if entry.name not in _own_names()):
        target = new / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, target)


def _own_names() -> set[str]:
    """What curation writes into an output folder, work and lock files included."""
    return {*OUTPUT_SCHEMAS, *OUTPUT_FILES, WORK_DIR, LOCK_FILE, PUBLISH_DIR}


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:  # another user's file (fs.protected_hardlinks) or a file system without links
        shutil.copy2(source, target, follow_symlinks=False)


def publish_in_place(new: Path, root: Path) -> None:
    """Replace the output's entries one by one: the earlier output's removed, stats.json first, then the new ones
    renamed in, stats.json last, so a kill part-way leaves a folder without stats.json (the readers warn of it and
    a rerun without --overwrite is refused), never one mixing two runs."""
    for name in ("stats.json", "README.md", *OUTPUT_SCHEMAS):
        path = root / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    for name in (*OUTPUT_SCHEMAS, "README.md", "stats.json"):
        if (new / name).exists():
            os.rename(new / name, root / name)


def work_dir(output_dir: str) -> str:
    return f"{output_dir.rstrip('/')}/{WORK_DIR}"


def remove_work_dir(output_dir: str, settle_s: float = 0.0) -> None:
    """Remove the work folder; `settle_s`: and again whenever it reappears within that time. An interrupted run's
    writer can still be finishing a file (a prepared file's sketches, written right after it) when the folder is
    removed, and make it again: under load 5 of 20 SIGTERMs left `.work/sketches/...` in the output."""
    path = work_dir(output_dir)
    if "://" not in path:
        shutil.rmtree(path, ignore_errors=True)
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            time.sleep(0.05)
            shutil.rmtree(path, ignore_errors=True)
        return
    try:
        FileSystems.delete([path + "/"])  # on GCS a folder is a prefix: this deletes every object under it
    except Exception as exc:  # noqa: BLE001 - the shards are written; a leftover work folder is only litter
        logging.getLogger(__name__).warning("could not remove %s: %s; delete it by hand", path, exc)


def remove_staging(staging: str, output_dir: str) -> None:
    # This run's unfinished output, or after the swap the earlier output; either way not the output folder.
    if staging != output_dir:
        shutil.rmtree(staging, ignore_errors=True)
