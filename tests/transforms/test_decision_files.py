"""Dedupe decisions in work files by id partition (transforms.decision_files): combined in one worker per id
partition, they must give each id what FnApiRunner's CombinePerKey(dedupe.decide) gave, whatever order the runner
lists the files in."""

import random
from itertools import permutations

from transforms.curate import decide_partition
from transforms.decision_files import DecisionFiles, decided, id_partition
from transforms.dedupe import EXACT, NEAR, decide
from transforms.io import read_pickled


def _decisions():
    """(id, decision) pairs as Resolve and Verify bundles make them: most ids decided in several buckets."""
    rng = random.Random(3)
    pairs = []
    for step in range(60):
        record_id = f"e{step % 7}:{step}"
        for _ in range(rng.randrange(1, 4)):
            pairs.append((record_id, (rng.choice([EXACT, NEAR]), f"k{rng.randrange(3)}:{rng.randrange(12)}")))
    return pairs


def _write(work, pairs, bundles, partitions):
    """The pairs split over `bundles` writers -> {id partition: [paths]}."""
    by_partition = {}
    for bundle in range(bundles):
        files = DecisionFiles(work, partitions)
        for record_id, decision in pairs[bundle::bundles]:
            files.add(record_id, decision)
        for partition, path in files.flush():
            assert path.startswith(f"{work}/decisions/{partition:05d}-")
            by_partition.setdefault(partition, []).append(path)
        assert not list(files.flush()), "a flush leaves nothing to write again"
    return by_partition


def test_decisions_combined_from_files_equal_decide_over_all_of_an_ids_decisions(tmp_path):
    pairs = _decisions()
    by_partition = _write(str(tmp_path / "work"), pairs, bundles=3, partitions=4)
    assert len(by_partition) > 1
    expected = {}
    for record_id, decision in pairs:
        expected.setdefault(record_id, []).append(decision)
    expected = {record_id: decide(decisions) for record_id, decisions in expected.items()}

    combined = {}
    for partition, paths in by_partition.items():
        listed = [read_pickled(path) for path in paths]
        assert all(id_partition(record_id, 4) == partition for pairs_ in listed for record_id, _ in pairs_)
        for order in permutations(listed):
            assert decided(order) == decided(listed)
        combined.update(decide_partition((partition, paths)))
    assert combined == expected


def test_ids_that_id_order_ties_get_one_decision_in_any_file_order(tmp_path):
    """e:7 and e:07 tie in id_order: decide() keeps the first it sees, so the files' order must not choose."""
    work = str(tmp_path / "work")
    paths = []
    for decision in ((NEAR, "e:07"), (NEAR, "e:7")):
        files = DecisionFiles(work, 1)
        files.add("f:1", decision)
        paths += [path for _, path in files.flush()]
    listed = [read_pickled(path) for path in paths]
    assert decided(listed) == decided(listed[::-1]) == dict(decide_partition((0, paths))) == {"f:1": (NEAR, "e:07")}
