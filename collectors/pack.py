"""Pack a collection's finished per-episode transition files into a few big Parquet files.

Collectors write one small file per episode (atomic, resumable), but reading a Parquet file has a fixed cost of a
few milliseconds whatever its size: over 20-step episodes that is most of what curation spends reading. A pack
holds many whole episodes, each row group a run of whole episodes, so a reader can take it a row group at a time
and never split an episode.

Only complete episodes are packed (their episode JSON exists and the run did not end in error, since those are
retried). A pack is written atomically and names its members in its metadata; the members are deleted after it,
and a pack found with members still present (a run killed between the two) has them deleted on the next run, so
every transition is in exactly one file whenever a reader looks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from collectors.store import EpisodeStore, atomic_write
from schemas import TRANSITION_SCHEMA
from schemas.transition import is_transition_schema, with_current_columns
from schemas.layout import TRANSITIONS_DIR

PACK_PREFIX = "pack-"
MEMBERS_KEY = b"worldline.pack.members"
ROWS_PER_GROUP = 2_000
ROWS_PER_PACK = 100_000


@dataclass
class PackReport:
    packs_written: int = 0
    episodes_packed: int = 0
    transitions_packed: int = 0
    left_unpacked: int = 0  # incomplete, errored, or not in the transition schema
    leftovers_removed: int = 0  # members of an earlier pack that a killed run had not deleted yet
    left: list[tuple[str, str]] = field(default_factory=list)  # (path under the collection, why), one per left file


def is_pack(path: Path) -> bool:
    return path.name.startswith(PACK_PREFIX)


def pack_members(path: Path) -> list[str]:
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata.get(MEMBERS_KEY, b"[]"))


def pack_collection(root: str | Path, rows_per_group: int = ROWS_PER_GROUP, rows_per_pack: int = ROWS_PER_PACK,
                    progress: Callable[[int], None] | None = None) -> PackReport:
    root = Path(root)
    base = root / TRANSITIONS_DIR
    if not base.is_dir():
        raise FileNotFoundError(f"{root} is not a raw collection: it has no {TRANSITIONS_DIR}/ folder")
    report = PackReport()
    store = EpisodeStore(root)
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        report.leftovers_removed += _remove_packed_leftovers(folder)
        members, sizes = [], []
        for path in sorted(folder.glob("*.parquet")):
            if is_pack(path) or path.name.startswith("."):
                continue
            why = _why_not_packable(store, folder.name, path)
            if why:
                report.left_unpacked += 1
                report.left.append((str(path.relative_to(root)), why))
                continue
            members.append(path)
            sizes.append(pq.ParquetFile(path).metadata.num_rows)
        for group in _groups(members, sizes, rows_per_pack):
            rows = _write_pack(folder, group, rows_per_group)
            for path in group:
                path.unlink()
            report.packs_written += 1
            report.episodes_packed += len(group)
            report.transitions_packed += rows
            if progress:
                progress(len(group))
    return report


def _why_not_packable(store: EpisodeStore, domain: str, path: Path) -> str | None:
    """None for a file to pack, else why it stays as it is."""
    if not store.is_complete(domain, path.stem):
        return "episode not finished (no episode record yet)"
    if store.ended_in_error(domain, path.stem):
        return "episode ended in an environment error (the next collect retries it)"
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        return f"not readable Parquet ({' '.join(str(exc).split())[:120]})"
    if not is_transition_schema(schema):
        return "not in the transition schema"
    return None


def _groups(paths: list[Path], sizes: list[int], rows_per_pack: int):
    group, rows = [], 0
    for path, size in zip(paths, sizes):
        if group and rows + size > rows_per_pack:
            yield group
            group, rows = [], 0
        group.append(path)
        rows += size
    if group:
        yield group


def _write_pack(folder: Path, members: list[Path], rows_per_group: int) -> int:
    names = [path.name for path in members]
    schema = TRANSITION_SCHEMA.with_metadata({**(TRANSITION_SCHEMA.metadata or {}),
                                              MEMBERS_KEY: json.dumps(names).encode()})
    target = folder / f"{PACK_PREFIX}{xxhash.xxh64_hexdigest(json.dumps(names).encode())}.parquet"
    written = 0

    def write(handle):
        nonlocal written
        with pq.ParquetWriter(handle, schema, compression="zstd", write_page_checksum=True) as writer:
            pending, pending_rows = [], 0
            for path in members:
                table = with_current_columns(pq.read_table(path)).cast(schema)
                pending.append(table)
                pending_rows += table.num_rows
                if pending_rows >= rows_per_group:
                    writer.write_table(pa.concat_tables(pending), row_group_size=pending_rows)
                    written += pending_rows
                    pending, pending_rows = [], 0
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=pending_rows)
                written += pending_rows

    atomic_write(target, write)
    return written


def _remove_packed_leftovers(folder: Path) -> int:
    removed = 0
    for pack in folder.glob(f"{PACK_PREFIX}*.parquet"):
        for name in pack_members(pack):
            member = folder / name
            if member.exists():
                member.unlink()
                removed += 1
    return removed
