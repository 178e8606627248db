"""The near-duplicate candidates' sketch files (transforms.near_files): written by group partition, read back one
partition at a time, with the same decisions as when each group's members were shuffled to it."""

import random
from itertools import permutations

import numpy as np

from transforms import curate
from transforms.curate import (SketchFilesFn, candidate_rows_by_file, resolve_near, resolve_near_files,
                               sketches_path)
from transforms.dedupe import ID_ONLY, NEAR, NearDupOptions, change_signatures, file_signatures, group_key
from transforms.io import read_pickled, write_pickled
from transforms.near_files import (GroupFiles, distinct_groups, group_members, group_partition, packed_rows_by_file,
                                   partitioned_records, unpacked_rows, write_records)

OPTIONS = NearDupOptions()
WORDS = [f"w{i}" for i in range(5000)]


def texts(seed, count, edits=1):
    """`count` near copies of one 1000-word document (long enough for the change signatures to pass too), each
    with `edits` words of its own."""
    rng = random.Random(seed)
    base = [rng.choice(WORDS) for _ in range(1000)]
    out = []
    for index in range(count):
        words = list(base)
        for position in rng.sample(range(1000), edits):
            words[position] = f"edit{index}"
        out.append(" ".join(words))
    return out


def sketch_file(ids, documents):
    """What PrepareFn writes for a prepared file's rows: (ids, content hashes, sketches, change signatures)."""
    _, sketches = file_signatures(documents, [""] * len(documents), OPTIONS)
    changes = change_signatures([("", "", document) for document in documents], OPTIONS.ngram)
    return list(ids), [f"h-{record_id}" for record_id in ids], sketches, changes


def test_records_go_to_their_group_partition_one_per_row_and_group():
    ids = ["a:0", "a:1", "a:2"]
    sketches = sketch_file(ids, texts(1, 3))
    wanted = [(0, 7), (2, 7), (2, 12), (1, 13)]  # row 2 stands for its content in two buckets
    records = partitioned_records(wanted, sketches, 4)
    assert set(records) == {group_partition(7, 4), group_partition(12, 4), group_partition(13, 4)} == {3, 0, 1}
    assert [(group, record_id) for group, record_id, *_ in records[3]] == [(7, "a:0"), (7, "a:2")]
    assert [(group, record_id) for group, record_id, *_ in records[0]] == [(12, "a:2")]
    group, record_id, content_hash, sketch, change = records[1][0]
    assert (group, record_id, content_hash, change) == (13, "a:1", "h-a:1", sketches[3][1])
    assert sketch == sketches[2][1].tobytes() and isinstance(sketch, bytes)
    # A further copy of a content brings its id and content hash, not the sketch its content's first row brings.
    [copy] = partitioned_records([(1 | ID_ONLY, 7)], sketches, 4)[3]
    assert copy == (7, "a:1", "h-a:1", b"", b"")


def test_a_partition_read_from_its_files_in_any_order_gives_each_group_its_members_in_one_order(tmp_path):
    first = partitioned_records([(0, 5), (1, 5)], sketch_file(["b:0", "b:1"], texts(2, 2)), 1)[0]
    second = partitioned_records([(0, 5), (0, 9)], sketch_file(["a:3"], texts(3, 1)), 1)[0]
    paths = [write_records(str(tmp_path / "work"), 0, records) for records in (first, second)]
    assert len(set(paths)) == 2 and all(path.startswith(f"{tmp_path}/work/near/00000-") for path in paths)
    assert read_pickled(paths[0]) == first
    gathered = group_members(paths)
    assert gathered == group_members(paths[::-1])
    assert {group: [member[0] for member in members] for group, members in gathered.items()} == {
        5: ["a:3", "b:0", "b:1"], 9: ["a:3"]}


def test_sketch_files_decide_as_the_shuffled_groups_did(tmp_path, monkeypatch):
    """A cluster of near copies spread over three prepared files, its group and a second group split over group
    partitions and several flushes: the decisions per partition are those of resolve_near over each whole group."""
    work = str(tmp_path / "work")
    documents = texts(4, 6)
    files = {1: ["c:0", "c:1"], 2: ["a:0", "a:1"], 3: ["b:0", "b:1"], 4: ["a:9"]}
    paths = {file: f"{work}/prepared/file-{file}.pickle.lz4" for file in files}
    for file in (1, 2, 3):
        write_pickled(sketches_path(paths[file]), sketch_file(files[file], [documents.pop() for _ in files[file]]))
    # a:9, read in file 4, is a copy of c:1 (its content, sketch and change): the id kept for that content.
    _, _, sketches, changes = read_pickled(sketches_path(paths[1]))
    write_pickled(sketches_path(paths[4]), (["a:9"], ["h-c:1"], sketches[1:], changes[1:]))
    groups = {101: [(1, 0), (2, 0), (3, 1)], 202: [(1, 1), (2, 1), (3, 0), (2, 0), (4, ID_ONLY)]}
    wanted = {}  # each file's packed rows, one value from each group's partition, as GroupByFile gives them
    for group, rows in groups.items():
        for file, packed in packed_rows_by_file({tuple(rows): group}).items():
            wanted.setdefault(file, []).append(packed)
    expected = []
    for group, rows in groups.items():
        members = [(files[file][row], f"h-{files[file][row]}",
                    read_pickled(sketches_path(paths[file]))[2][row].tobytes(),
                    read_pickled(sketches_path(paths[file]))[3][row]) for file, row in rows if row < ID_ONLY]
        members = [("a:9" if member_id == "c:1" else member_id, *rest) for member_id, *rest in members]
        expected += resolve_near((group, members), OPTIONS)
    assert expected and all(kind == NEAR for _, (kind, _) in expected)
    assert "c:1" not in {id for decision in expected for id in (decision[0], decision[1][1])}

    monkeypatch.setattr(curate, "SKETCH_BUFFER_RECORDS", 2)  # a flush after every file
    for order in permutations(wanted.items()):
        fn = SketchFilesFn(work, partitions=2)
        fn.start_bundle()
        written = [item for element in order for item in fn.process(element, paths)]
        written += [value.value for value in fn.finish_bundle()]
        by_partition = {}
        for partition, path in written:
            by_partition.setdefault(partition, []).append(path)
        assert set(by_partition) == {group_partition(group, 2) for group in groups} == {0, 1}
        decided = [decision for element in sorted(by_partition.items())
                   for decision in resolve_near_files(element, OPTIONS)]
        assert sorted(decided) == sorted(expected)


def test_group_partitions_spread_xxh64_group_keys():
    keys = [group_key(((file, row),)) for file in range(50) for row in range(40)]
    counts = np.bincount([group_partition(key, 16) for key in keys], minlength=16)
    assert counts.min() > 0.7 * len(keys) / 16


def test_packed_rows_by_file_unpack_to_each_rows_group_key():
    big = 2**64 - 5  # xxh64 keys use all 64 bits
    groups = {((7, 0), (9, 3)): big, ((7, 2), (9, 3), (11, 1)): 12}
    packed = packed_rows_by_file(groups)
    assert set(packed) == {7, 9, 11} and all(isinstance(value, bytes) for value in packed.values())
    assert unpacked_rows([packed[7]]) == [(0, big), (2, 12)]
    assert sorted(unpacked_rows([packed[9], packed[11]])) == [(1, 12), (3, 12), (3, big)]


def _candidate_groups():
    """Candidate groups as key partitions name them: each group's rows sorted, keyed by dedupe.group_key."""
    rng = random.Random(5)
    groups = [tuple(sorted({(rng.randrange(4), rng.randrange(50)) for _ in range(rng.randrange(2, 5))}))
              for _ in range(40)]
    return [group for group in dict.fromkeys(groups) if len(group) > 1]


def test_groups_named_by_several_key_partitions_reach_each_file_once(tmp_path):
    """Three Resolve bundles (key partitions) name overlapping groups, some twice: each group partition's files,
    read in any order, hold its groups once, and the rows each prepared file gets are those of the distinct groups,
    as DistinctGroups + candidate_rows made them."""
    work, partitions = str(tmp_path / "work"), 3
    groups = _candidate_groups()
    named = [groups[:25] + groups[:5], groups[10:], groups[::2]]
    by_partition: dict[int, list[str]] = {}
    for bundle in named:
        files = GroupFiles(work, partitions)
        for group in bundle:
            files.add(group, group_key(group))
        assert files.count == len(set(bundle))
        for partition, path in files.flush():
            assert path.startswith(f"{work}/groups/{partition:05d}-")
            by_partition.setdefault(partition, []).append(path)
        assert files.count == 0 and not list(files.flush())

    for partition, paths in by_partition.items():
        assert all(group_partition(key, partitions) == partition
                   for path in paths for _, key in read_pickled(path))
        made = distinct_groups(read_pickled(path) for path in paths)
        assert made == distinct_groups(read_pickled(path) for path in reversed(paths))
    everything = distinct_groups(read_pickled(path) for paths in by_partition.values() for path in paths)
    assert sorted(everything) == sorted(groups) and all(everything[group] == group_key(group) for group in groups)

    expected = sorted((file, (row, group_key(group))) for group in groups for file, row in group)
    got = sorted((file, pair) for element in by_partition.items()
                 for file, packed in candidate_rows_by_file(element) for pair in unpacked_rows([packed]))
    assert got == expected
