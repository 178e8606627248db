"""Near-duplicate candidates' sketches in work files, by group partition: the verification step of Dedupe reads one
partition's files at a time, so the shuffle between fetching the sketches and comparing them carries paths, not
the ~780 bytes (256-value sketch and change signature) of every candidate row. FnApiRunner holds every shuffled
element in its own memory (about three times over: its grouping, the re-encoded partitions and the gRPC copy), which
made these sketches the largest part of the runner's growth with the input (h224: ~0.2 KB a transition at 1M).

A record is (group key, id, content hash, sketch bytes, change signature): one per (candidate row, group), as a row
may stand for its content in several buckets. Group keys are xxh64 values (dedupe.group_key), so group % partitions
spreads the groups evenly.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from transforms.io import read_pickled, write_pickled

NEAR = "near"


def near_path(work_dir: str, partition: int) -> str:
    """A new file of one group partition's records; unique per write, as a retried bundle must not overwrite the
    file of another try whose path went on."""
    return f"{work_dir.rstrip('/')}/{NEAR}/{partition:05d}-{uuid.uuid4().hex}.pickle.lz4"


def group_partition(group: int, partitions: int) -> int:
    return group % partitions


def partitioned_records(wanted, sketches: tuple, partitions: int) -> dict[int, list[tuple]]:
    """[(row, group key)] of one prepared file and that file's (ids, content hashes, sketches, change signatures)
    -> {group partition: [(group key, id, content hash, sketch bytes, change signature)]}."""
    ids, hashes, values, changes = sketches
    records: dict[int, list[tuple]] = defaultdict(list)
    for row, group in wanted:
        records[group_partition(group, partitions)].append(
            (group, ids[row], hashes[row], values[row].tobytes(), changes[row]))
    return dict(records)


def write_records(work_dir: str, partition: int, records: list[tuple]) -> str:
    path = near_path(work_dir, partition)
    write_pickled(path, records)
    return path


def group_members(paths) -> dict[int, list[tuple]]:
    """The files of one group partition, read one at a time -> {group key: [(id, content hash, sketch, change)]},
    each group's members in one order whatever order the files came in (two copies of an id with other content tie
    in resolve_bucket's id order, and which comes first must not depend on how the runner listed the paths)."""
    members: dict[int, list[tuple]] = defaultdict(list)
    for path in paths:
        for group, *member in read_pickled(path):
            members[group].append(tuple(member))
    for group_rows in members.values():
        group_rows.sort()
    return dict(members)
