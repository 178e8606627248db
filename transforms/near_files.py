"""Near-duplicate candidates' sketches in work files, by group partition: the verification step of Dedupe reads one
partition's files at a time, so the shuffle between fetching the sketches and comparing them carries paths, not
the ~780 bytes (256-value sketch and change signature) of every candidate row. FnApiRunner holds every shuffled
element in its own memory (about three times over: its grouping, the re-encoded partitions and the gRPC copy), which
made these sketches the largest part of the runner's growth with the input (h224: ~0.2 KB a transition at 1M).

A record is (group key, id, content hash, sketch bytes, change signature): one per (candidate row, group), as a row
may stand for its content in several buckets. A row marked dedupe.ID_ONLY (a further copy of a content) brings its
id and content hash with an empty sketch and change: the content's sketch comes once, with its first row. Group
keys are xxh64 values (dedupe.group_key), so group % partitions spreads the groups evenly.

The candidate groups themselves reach the sketch step the same way: Resolve writes each key partition's groups to
work files by group partition (GroupFiles), and one worker per group partition makes them distinct and lists each
prepared file's wanted rows, packed (packed_rows_by_file).
"""

from __future__ import annotations

import uuid
from collections import defaultdict

import numpy as np

from transforms.dedupe import candidate_row
from transforms.io import read_pickled, write_pickled

NEAR = "near"
GROUPS = "groups"


def near_path(work_dir: str, partition: int) -> str:
    """A new file of one group partition's records; unique per write, as a retried bundle must not overwrite the
    file of another try whose path went on."""
    return f"{work_dir.rstrip('/')}/{NEAR}/{partition:05d}-{uuid.uuid4().hex}.pickle.lz4"


def group_partition(group: int, partitions: int) -> int:
    return group % partitions


def partitioned_records(wanted, sketches: tuple, partitions: int) -> dict[int, list[tuple]]:
    """[(row, group key)] of one prepared file and that file's (ids, content hashes, sketches, change signatures)
    -> {group partition: [(group key, id, content hash, sketch bytes, change signature)]}; an ID_ONLY row's sketch
    and change are b""."""
    ids, hashes, values, changes = sketches
    records: dict[int, list[tuple]] = defaultdict(list)
    for value, group in wanted:
        row, id_only = candidate_row(value)
        records[group_partition(group, partitions)].append(
            (group, ids[row], hashes[row], b"", b"") if id_only else
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


class GroupFiles:
    """A bundle's candidate groups, each once, by group partition; flush() writes one file of [(group, group key)]
    per partition and gives (partition, path). A near pair shares most of its buckets, so a key partition names its
    group several times, and other key partitions name it again: FnApiRunner held every emitted group, decoded, to
    make them distinct (34,410 emitted, 4,180 distinct on the benchmark's 100k)."""

    def __init__(self, work_dir: str, partitions: int):
        self.work_dir, self.partitions = work_dir, partitions
        self.groups: dict[int, dict[tuple, int]] = defaultdict(dict)
        self.count = 0

    def add(self, group: tuple, key: int) -> None:
        groups = self.groups[group_partition(key, self.partitions)]
        if group not in groups:
            groups[group] = key
            self.count += 1

    def flush(self):
        groups, self.groups, self.count = self.groups, defaultdict(dict), 0
        for partition, partition_groups in groups.items():
            path = f"{self.work_dir.rstrip('/')}/{GROUPS}/{partition:05d}-{uuid.uuid4().hex}.pickle.lz4"
            write_pickled(path, list(partition_groups.items()))
            yield partition, path


def distinct_groups(group_lists) -> dict[tuple, int]:
    """The [(group, group key)] lists of one group partition's files -> {group: group key}, each group once: a
    group's partition is its key's, so every copy of a group is in its partition's files."""
    groups: dict[tuple, int] = {}
    for listed in group_lists:
        groups.update(listed)
    return groups


def packed_rows_by_file(groups: dict[tuple, int]) -> dict[int, bytes]:
    """{group ((file, row), ...): group key} -> {file: its (row, group key) pairs as uint64 bytes}: the runner
    decodes and holds every element of the shuffle by file, and one bytes object per (group partition, file) costs
    it less than a tuple per candidate row (GroupByFile 0.46 -> 0.16 MB at 100k, h246)."""
    by_file: dict[int, list[int]] = defaultdict(list)
    for group, key in groups.items():
        for file, row in group:
            by_file[file] += (row, key)
    return {file: np.array(pairs, dtype=np.uint64).tobytes() for file, pairs in by_file.items()}


def unpacked_rows(packed: list[bytes]) -> list[tuple[int, int]]:
    """The packed values one prepared file got (packed_rows_by_file, from each group partition) -> [(row, group
    key)]."""
    pairs = np.frombuffer(b"".join(packed), dtype=np.uint64).reshape(-1, 2).tolist()
    return [(row, key) for row, key in pairs]
