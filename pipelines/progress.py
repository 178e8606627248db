"""A progress display for local curation runs: FnApiRunner reports nothing until it ends, so this counts the
files the steps leave in the work folder (a prepared file per chunk or merged chunks read, a marker per prepared
file written out)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collectors.pack import is_pack
from schemas.layout import transition_files
from transforms.curate import chunks_in

# Counts change when a file lands, so the bars are drawn as often as they are polled: rich's default, ten redraws
# a second, costs ~22 ms of CPU a second of a run (~0.4 s on a 100k run), against ~6 at two.
POLL_SECONDS = 0.5


def expected_chunks(input_dir: str) -> int:
    """How many chunks (row groups; a JSONL file is one) curation will read from a local raw collection."""
    return sum(_chunks_of(path) for path in transition_files(Path(input_dir)))


def _chunks_of(path: Path) -> int:
    # An episode file is one row group: only packs need their metadata read. A pack that cannot be read is one
    # dead letter to curation, so one chunk here; opening it must not stop the run before it starts.
    if not is_pack(path):
        return 1
    try:
        return pq.ParquetFile(path).metadata.num_row_groups
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError
        return 1


def _count(folder: Path) -> int:
    """Chunks done: Prepare merges small chunks, and a prepared file's name (its marker's too) says how many."""
    try:
        with os.scandir(folder) as entries:
            return sum(chunks_in(entry.name) for entry in entries if not entry.name.startswith("."))
    except FileNotFoundError:
        return 0


class CurationProgress:
    """Context manager: two bars, chunks prepared and chunks written, refreshed every POLL_SECONDS."""

    def __init__(self, input_dir: str, work_dir: str, enabled: bool = True):
        self.enabled = enabled and "://" not in input_dir and "://" not in work_dir
        self.input_dir, self.work_dir = input_dir, Path(work_dir)
        self.stopped = threading.Event()

    def __enter__(self):
        if self.enabled:
            total = expected_chunks(self.input_dir)
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), transient=True,
                                     refresh_per_second=1 / POLL_SECONDS,
                                     # on stderr, which the caller checked is a terminal: stdout may be piped
                                     console=Console(stderr=True))
            self.progress.start()
            prepared = self.progress.add_task("read, normalize, dedupe keys", total=total)
            written = self.progress.add_task("reasoning, stage rows, write", total=total)
            self.thread = threading.Thread(target=self._poll, args=(prepared, written), daemon=True)
            self.thread.start()
        return self

    def _poll(self, prepared, written):
        while not self.stopped.wait(POLL_SECONDS):
            self.progress.update(prepared, completed=_count(self.work_dir / "prepared"))
            self.progress.update(written, completed=_count(self.work_dir / "finished"))

    def __exit__(self, *exc):
        if self.enabled:
            self.stopped.set()
            self.thread.join()
            self.progress.stop()
        return False
