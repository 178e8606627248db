"""What a pack (collectors/pack.py) records of its members, and which files beside it it holds: shared by the writer
and the readers (transforms/io.py, pipelines/views.py), which skip the members a pack killed before deleting them left
behind, since their rows are in the pack too.

A pack's key-value metadata `worldline.pack.members` lists each member file as {"name", "bytes", "xxh64"} (names
only in packs written before digests were recorded). A file is a copy of a member only if its bytes are the ones the
pack holds: episode ids come from domain, task and seed, so another collection of the same tasks merged into the
folder has files of the same names, and those are recordings of their own. Beside a pack written before digests, a
local file is a copy if its rows are the ones the pack holds of its episode.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import groupby
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from schemas.transition import TRANSITION_SCHEMA, with_current_columns

PACK_PREFIX = "pack-"
MEMBERS_KEY = b"worldline.pack.members"


def is_pack(path: Path) -> bool:
    return path.name.startswith(PACK_PREFIX)


def pack_members(path: Path) -> list[str]:
    return list(member_digests(pq.read_metadata(path).metadata))


# A member as a pack records it: (file size, xxh64 hex digest of the file's bytes); None in a pack written before
# packs recorded them (a list of names only), whose members can be checked by their rows only.
Digest = tuple[int, str] | None


def member_digests(metadata: dict[bytes, bytes] | None) -> dict[str, Digest]:
    """Member file name -> its Digest, from a pack's key-value metadata (added after the rows: the members are known
    only once written, as an unreadable one is left out)."""
    entries = json.loads((metadata or {}).get(MEMBERS_KEY, b"[]"))
    return {entry: None for entry in entries if isinstance(entry, str)} | {
        entry["name"]: (entry["bytes"], entry["xxh64"]) for entry in entries if isinstance(entry, dict)}


def digest_of(data: bytes) -> tuple[int, str]:
    return len(data), xxhash.xxh64_hexdigest(data)


def _local_metadata(path: str) -> dict[bytes, bytes] | None:
    return pq.read_metadata(path).metadata


def _local_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def packed_copies(paths: Iterable[str], metadata_of: Callable[[str], dict | None] = _local_metadata,
                  content_of: Callable[[str], bytes] = _local_bytes) -> set[str]:
    """The files among `paths` (a listing of raw transition files, "/"-separated) that a pack listed beside them
    holds: members a pack killed before deleting them left behind, whose rows a reader would count twice. Only
    files a pack names are read (none, but after such a kill): by digest, or beside a pack written before digests
    by rows (local files only; each such pack is named in a warning, as its copies are read again by every reader
    until `worldline pack` removes them). A pack or file that cannot be read holds or is no copy: the reader that
    reads it then reports it."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        folder, _, name = path.rpartition("/")
        by_folder[folder].append(name)
    copies = set()
    for folder, names in by_folder.items():
        held = held_by_packs(folder, [name for name in names if name.startswith(PACK_PREFIX)], metadata_of)
        undigested: dict[str, dict[str, str]] = defaultdict(dict)  # pack -> {episode id: member path}
        for name in names:
            pack, digest = held.get(name, (None, None))
            path = f"{folder}/{name}"
            if pack is None or name.startswith(PACK_PREFIX):
                continue
            if digest is None:
                undigested[pack][name.removesuffix(".parquet")] = path
            elif has_digest(path, digest, content_of):
                copies.add(path)
        for pack, members in undigested.items():
            copies |= _undigested_copies(f"{folder}/{pack}", members)
    return copies


def _undigested_copies(pack: str, members: dict[str, str]) -> set[str]:
    """The member files (episode id -> path) beside a pack written before digests whose rows are the pack's rows of
    their episode, read a row group of the pack at a time; each member file is read once. On a bucket none: reading
    a pack there to compare is a download of it."""
    same = set()
    if "://" not in pack:
        try:
            with pq.ParquetFile(pack) as file:
                for group in range(file.num_row_groups):
                    table = _current(file.read_row_group(group, use_threads=False))
                    start = 0
                    # A pack holds each episode's rows together; an episode split across runs matches none.
                    for episode_id, run in groupby(table.column("episode_id").to_pylist()):
                        rows = len(list(run))
                        if episode_id in members and _rows_equal(members[episode_id], table.slice(start, rows)):
                            same.add(members[episode_id])
                        start += rows
        except (OSError, pa.ArrowException):
            pass  # an unreadable pack holds nothing here: the reader dead-letters it
    found = "they are read, not compared on a bucket" if "://" in pack else \
        f"the {len(same)} holding its rows are skipped, the {len(members) - len(same)} holding others read"
    logging.getLogger(__name__).warning(
        "%s (written before packs recorded digests) has %d of its members beside it, left by a pack that was "
        "stopped: %s; run `worldline pack %s` to remove the copies", pack, len(members), found,
        pack.rsplit("/", 3)[0])
    return same


def _current(table: pa.Table) -> pa.Table:
    return with_current_columns(table).cast(TRANSITION_SCHEMA)


def _rows_equal(path: str, rows: pa.Table) -> bool:
    """Arrow's own reader, opened by path: pq.read_table's dataset machinery cost ~1 ms more an episode file."""
    reader = pq.ParquetReader()
    try:
        reader.open(path, pre_buffer=False)
        try:
            return _current(reader.read_all(use_threads=False)).equals(rows)
        finally:
            reader.close()
    except (OSError, pa.ArrowException, ValueError):  # ValueError: a cast to the schema that does not fit
        return False


def has_digest(path: str, digest: tuple[int, str], content_of: Callable[[str], bytes] = _local_bytes) -> bool:
    try:
        return digest_of(content_of(path)) == digest
    except OSError:
        return False


def held_by_packs(folder: str, packs: list[str], metadata_of: Callable[[str], dict | None] = _local_metadata
                  ) -> dict[str, tuple[str, Digest]]:
    """Member name -> (pack name, the member's Digest) for the readable packs (names) of a folder. An unreadable
    pack holds nothing here: readers dead-letter it whole."""
    held = {}
    for pack in packs:
        try:
            digests = member_digests(metadata_of(f"{folder}/{pack}"))
        except (OSError, ValueError, pa.ArrowException):
            continue
        held.update((name, (pack, digest)) for name, digest in digests.items())
    return held
