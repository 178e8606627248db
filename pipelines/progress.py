"""A progress display for local curation runs: FnApiRunner reports nothing until it ends, so this counts the
files the steps leave in the work folder (a prepared file per chunk or merged chunks read, a marker per prepared
file written out), and reads an LLM run's spend from the cache file its workers share."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas.packs import is_pack
from schemas.layout import transition_files
from transforms.curate import chunks_in
from transforms.reasoning.ledger import spent_by

# Counts change when a file lands, so the bars are drawn as often as they are polled: rich's default, ten redraws
# a second, costs ~22 ms of CPU a second of a run (~0.4 s on a 100k run), against ~6 at two.
POLL_SECONDS = 0.5
# Without a terminal (a log), an LLM run's spend is a line this often: its calls take minutes to hours.
LOG_SECONDS = 60.0


def spend_line(spend: dict[str, int]) -> str:
    return (f"LLM reasoning: {spend['calls']} calls, {spend['tokens']:,} tokens, {spend['hits']} traces from the "
            f"cache, {spend['failures']} failed")


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
    """Context manager: two bars, chunks prepared and chunks written, refreshed every POLL_SECONDS, and for an LLM
    run (`spend`: its cache file and run id) a line of its spend. Without a terminal (`enabled` False) only that
    line is shown, every LOG_SECONDS."""

    def __init__(self, input_dir: str, work_dir: str, enabled: bool = True,
                 spend: tuple[str | Path, str] | None = None, log_seconds: float = LOG_SECONDS):
        self.enabled = enabled and "://" not in input_dir and "://" not in work_dir
        self.input_dir, self.work_dir = input_dir, Path(work_dir)
        self.spend, self.log_seconds = spend, log_seconds
        self.stopped = threading.Event()

    def __enter__(self):
        if self.spend and not self.enabled:
            self.thread = threading.Thread(target=self._log_spend, daemon=True)
            self.thread.start()
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
            # No total: how many calls a run makes depends on its cache.
            llm = self.progress.add_task(spend_line(spent_by(*self.spend)), total=None) if self.spend else None
            self.thread = threading.Thread(target=self._poll, args=(prepared, written, llm), daemon=True)
            self.thread.start()
        return self

    def _poll(self, prepared, written, llm):
        while not self.stopped.wait(POLL_SECONDS):
            self.progress.update(prepared, completed=_count(self.work_dir / "prepared"))
            self.progress.update(written, completed=_count(self.work_dir / "finished"))
            if self.spend:
                self.progress.update(llm, description=spend_line(spent_by(*self.spend)))

    def _log_spend(self):
        while not self.stopped.wait(self.log_seconds):
            print(spend_line(spent_by(*self.spend)), file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        self.stopped.set()
        if self.enabled or self.spend:
            self.thread.join()
        if self.enabled:
            self.progress.stop()
        return False
