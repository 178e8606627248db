"""Dedupe decisions in work files by id partition: Resolve and Verify write their bundle's decisions, one file per
id partition, and one worker per id partition combines each id's decisions (dedupe.decide). The runner then carries
(partition, path) pairs: with CombinePerKey it held every decision, encoded in the Decisions flatten and decoded
per id in OneDecisionPerId's grouping (h246: the +14 MB stage of the runner at 300k transitions).
"""

from __future__ import annotations

import uuid
from collections import defaultdict

import xxhash

from transforms import dedupe
from transforms.io import read_pickled, write_pickled

DECISIONS = "decisions"


def id_partition(record_id: str, partitions: int) -> int:
    return xxhash.xxh64_intdigest(record_id.encode()) % partitions


class DecisionFiles:
    """A bundle's (id, (kind, duplicate_of)) decisions by id partition; flush() writes one file per partition and
    gives (partition, path)."""

    def __init__(self, work_dir: str, partitions: int):
        self.work_dir, self.partitions = work_dir, partitions
        self.decisions: dict[int, list[tuple]] = defaultdict(list)

    def add(self, record_id: str, decision: tuple) -> None:
        self.decisions[id_partition(record_id, self.partitions)].append((record_id, decision))

    def flush(self):
        decisions, self.decisions = self.decisions, defaultdict(list)
        for partition, listed in decisions.items():
            path = f"{self.work_dir.rstrip('/')}/{DECISIONS}/{partition:05d}-{uuid.uuid4().hex}.pickle.lz4"
            write_pickled(path, listed)
            yield partition, path


def decided(decision_lists) -> dict[str, tuple]:
    """The [(id, decision)] lists of one id partition -> {id: its decisions combined by dedupe.decide}. Each id's
    decisions are sorted first: two duplicate_of ids that id_order ties ("e:7", "e:07") would otherwise make the
    choice depend on the order the runner listed the files in."""
    by_id: dict[str, list[tuple]] = defaultdict(list)
    for listed in decision_lists:
        for record_id, decision in listed:
            by_id[record_id].append(decision)
    return {record_id: dedupe.decide(sorted(decisions)) for record_id, decisions in by_id.items()}
