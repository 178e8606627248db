"""What a pack (collectors/pack.py) records of its members, and which files beside it it holds: shared by the writer
and the readers (transforms/io.py, pipelines/views.py), which skip the members a pack killed before deleting them left
behind, since their rows are in the pack too.

A pack's key-value metadata `worldline.pack.members` lists each member file as {"name", "bytes", "xxh64"} (names
only in packs written before digests were recorded). A file is a copy of a member only if its bytes are the ones the
pack holds: episode ids come from domain, task and seed, so another collection of the same tasks merged into the
folder has files of the same names, and those are recordings of their own.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

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
    holds byte for byte: members a pack killed before deleting them left behind, whose rows a reader would count
    twice. Only files a pack names are read (none, but after such a kill). A pack or file that cannot be read
    holds or is no copy: the reader that reads it then reports it."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        folder, _, name = path.rpartition("/")
        by_folder[folder].append(name)
    copies = set()
    for folder, names in by_folder.items():
        held = held_by_packs(folder, [name for name in names if name.startswith(PACK_PREFIX)], metadata_of)
        for name in names:
            digest = held.get(name, ("", None))[1]
            if digest and not name.startswith(PACK_PREFIX) and has_digest(f"{folder}/{name}", digest, content_of):
                copies.add(f"{folder}/{name}")
    return copies


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
