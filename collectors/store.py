"""Atomic, resumable storage of raw episodes (layout in schemas.layout)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import TRANSITION_SCHEMA, Episode, Transition
from schemas.layout import EPISODES_DIR, episode_path, transitions_path


def atomic_write(path: Path, write) -> None:
    """Write through a temp file in the same folder, fsync, then rename: a reader sees all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_episode_table(table: pa.Table, handle) -> None:
    """An episode's transitions as one small Parquet file. No dictionaries or statistics: over a few dozen rows
    they save nothing, and they cost every reader about a third of its time per file."""
    pq.write_table(table, handle, compression="zstd", use_dictionary=False, write_statistics=False)


class EpisodeStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def is_complete(self, domain: str, episode_id: str) -> bool:
        return episode_path(self.root, domain, episode_id).exists()

    def ended_in_error(self, domain: str, episode_id: str) -> bool:
        """True for an episode stored with outcome 'error': the environment broke, so a new run retries it."""
        path = episode_path(self.root, domain, episode_id)
        return path.exists() and json.loads(path.read_text()).get("outcome") == "error"

    def write(self, episode: Episode, transitions: list[Transition]) -> None:
        # Transitions first, metadata last: the metadata file is the commit marker that resume trusts.
        table = pa.Table.from_pylist([t.to_row() for t in transitions], schema=TRANSITION_SCHEMA)
        atomic_write(transitions_path(self.root, episode.domain, episode.episode_id),
                      lambda handle: write_episode_table(table, handle))
        row = episode.to_row()
        payload = json.dumps(row, default=lambda v: v.isoformat(), ensure_ascii=False, indent=1).encode()
        atomic_write(episode_path(self.root, episode.domain, episode.episode_id), lambda h: h.write(payload))

    def episodes(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((self.root / EPISODES_DIR).rglob("*.json"))]
