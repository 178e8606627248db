import random

import numpy as np
import pytest

from transforms.dedupe import (EXACT, ID_ONLY, NEAR, CopyOrder, KeyBatch, NearDupOptions, candidate_row,
                               change_jaccard, change_signature, change_signatures, conditions_text, decide,
                               estimated_jaccard, exact_duplicates, file_part_signatures, file_signatures, hash_text,
                               id_collisions, id_order, kept_id, kept_members, near_candidates, partitioned_keys,
                               representative, resolve_bucket)
from transforms.minhash import shingle_hashes

OPTIONS = NearDupOptions()
WORDS = [f"w{i}" for i in range(5000)]


def document(rng, length=300):
    return [rng.choice(WORDS) for _ in range(length)]


def jaccard(a, b, n=5):
    sa, sb = (set(shingle_hashes([" ".join(words)], n)[0].tolist()) for words in (a, b))
    return len(sa & sb) / len(sa | sb)


def keys_and_sketches(texts, actions=None):
    return file_signatures(texts, actions or [""] * len(texts), OPTIONS)


def member(member_id, text, content_hash=None):
    _, sketches = keys_and_sketches([text])
    return member_id, content_hash or f"h-{member_id}", sketches[0].tobytes()


def test_exact_duplicates_keep_the_smallest_id_whatever_the_order():
    text = "same screen " * 20
    members = [member(i, text, "h") for i in ("b", "c", "a")]
    for order in (members, members[::-1]):
        decisions = sorted(resolve_bucket(order, OPTIONS))
        assert decisions == [("b", EXACT, "a"), ("c", EXACT, "a")]
    assert list(resolve_bucket(members, OPTIONS, report_exact=False)) == []


def test_near_duplicate_found_and_unrelated_left_alone():
    rng = random.Random(3)
    base = document(rng)
    near = list(base)
    near[150] = "changed"  # one word in 300: Jaccard ~0.97
    other = document(rng)
    members = [member("x1", " ".join(base)), member("x2", " ".join(near)), member("x0", " ".join(other))]
    assert list(resolve_bucket(members, OPTIONS)) == [("x2", NEAR, "x1")]


def test_estimate_tracks_true_jaccard():
    rng = random.Random(5)
    base = document(rng, 400)
    errors = []
    for edits in (5, 10, 20, 40):
        variant = list(base)
        for position in rng.sample(range(len(base)), edits):
            variant[position] = rng.choice(WORDS)
        _, sketches = keys_and_sketches([" ".join(base), " ".join(variant)])
        estimate = estimated_jaccard(sketches[:1], sketches[1])[0]
        errors.append(abs(estimate - jaccard(base, variant)))
    assert max(errors) < 0.15


def test_similar_texts_share_a_band_and_different_ones_do_not():
    rng = random.Random(9)
    base = document(rng)
    near = list(base)
    near[10] = "x"
    keys, _ = keys_and_sketches([" ".join(base), " ".join(near), " ".join(document(rng))])
    assert set(keys[0].tolist()) & set(keys[1].tolist())
    assert not set(keys[0].tolist()) & set(keys[2].tolist())
    assert len(set(keys[0].tolist())) == OPTIONS.bands


def test_the_same_screen_under_another_action_is_never_a_candidate():
    screen = "a long shared screen " * 50
    keys, _ = keys_and_sketches([screen, screen, screen], ["ls", "rm notes", "ls"])
    assert not set(keys[0].tolist()) & set(keys[1].tolist())
    assert keys[0].tolist() == keys[2].tolist()


def test_transitions_as_parts_find_an_edited_replay_and_keep_actions_apart():
    rng = random.Random(12)
    screens = [" ".join(document(rng, 60)) for _ in range(3)]
    edited = ["edited " + screen for screen in screens]
    actions = ["ls", "cat notes", "ls"]
    rows = [("", actions[0], screens[0]), (screens[0], actions[1], screens[1]), (screens[1], actions[2], screens[2]),
            ("", actions[0], edited[0]), (edited[0], actions[1], edited[1]), (edited[0], "rm notes", edited[1])]
    keys, sketches = file_part_signatures(rows, actions + [actions[0], actions[1], "rm notes"], OPTIONS)
    assert keys.shape == (6, OPTIONS.bands) and sketches.shape == (6, OPTIONS.num_perm)
    for original, replay in ((0, 3), (1, 4)):
        assert set(keys[original].tolist()) & set(keys[replay].tolist())
        assert estimated_jaccard(sketches[original:original + 1], sketches[replay])[0] >= OPTIONS.threshold
    assert not set(keys[1].tolist()) & set(keys[2].tolist())  # other screens
    assert not set(keys[4].tolist()) & set(keys[5].tolist())  # the same screens under another action


def test_decide_prefers_exact_then_smallest_id():
    assert decide([(NEAR, "a"), (EXACT, "c"), (EXACT, "b")]) == (EXACT, "b")
    assert decide([(NEAR, "z"), (NEAR, "m")]) == (NEAR, "m")



def test_a_near_duplicate_of_a_removed_member_names_the_kept_one():
    """Near-duplication is not transitive (audit R6): with a ~ b and b ~ c but not a ~ c, b and c are removed, and
    c must name a, not the removed b, for `dedupe JOIN transitions ON duplicate_of = id` to keep it."""
    a = np.zeros(OPTIONS.num_perm, dtype=np.uint8)
    b = a.copy()
    b[:40] = 1  # ~84% of a's sketch bytes
    c = b.copy()
    c[40:80] = 2  # ~84% of b's, ~69% of a's
    assert estimated_jaccard(a[None], c)[0] < OPTIONS.threshold <= estimated_jaccard(b[None], c)[0]
    members = [("e-c:0", "h3", c.tobytes()), ("e-a:0", "h1", a.tobytes()), ("e-b:0", "h2", b.tobytes())]
    assert list(resolve_bucket(members, OPTIONS)) == [("e-b:0", NEAR, "e-a:0"), ("e-c:0", NEAR, "e-a:0")]
    # Without a, b is kept and c names it: which records are removed does not change, only whom they name.
    assert list(resolve_bucket(members[::2], OPTIONS)) == [("e-c:0", NEAR, "e-b:0")]


def test_two_contents_of_one_id_are_not_near_duplicates_of_each_other():
    """An episode recorded twice with one step's screen edited: its id's two contents share buckets. Naming the id
    a near duplicate of itself made Finish follow that chain for ever (settle_episode decides which copy stays)."""
    a = np.zeros(OPTIONS.num_perm, dtype=np.uint8)
    b = a.copy()
    b[:20] = 1  # ~92% of a's sketch bytes
    members = [("e:1", "h2", b.tobytes()), ("e:1", "h1", a.tobytes())]
    assert list(resolve_bucket(members, OPTIONS)) == []
    # Another id near both is still a near duplicate of the id, once.
    assert list(resolve_bucket([*members, ("f:1", "h3", a.tobytes())], OPTIONS)) == [("f:1", NEAR, "e:1")]
    with pytest.raises(ValueError, match="comes back to e:1"):
        representative((NEAR, "e:1"), {"e:1": (NEAR, "e:1")})


def test_the_representative_is_the_kept_end_of_a_chain_across_buckets():
    # b near a in one bucket, c near b in another (no bucket holds a and c); d an exact copy of c; f of e, kept.
    removed = {"b:0": (NEAR, "a:0"), "c:0": (NEAR, "b:0"), "d:0": (EXACT, "c:0"), "f:0": (EXACT, "e:0")}
    assert representative(removed["c:0"], removed) == (NEAR, "a:0")
    assert representative(removed["d:0"], removed) == (NEAR, "a:0")  # not the same content as a:0: not exact
    assert representative(removed["f:0"], removed) == (EXACT, "e:0")
    assert representative((EXACT, "g:0"), removed) == (EXACT, "g:0")  # an id read twice names its kept self


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"threshold": 1.5}, {"num_perm": 16, "bands": 5, "rows": 4},
                                    {"ngram": 0}, {"partitions": 0}])
def test_bad_options_are_refused(kwargs):
    with pytest.raises(ValueError):
        NearDupOptions(**kwargs)


# ---- the packed keys the shuffle carries --------------------------------------------------------------------

def all_keys(files, partitions=4):
    """files: {file key: [(id, content hash hex, text, action)]} -> one KeyBatch per partition, as the shuffle
    would deliver them."""
    by_partition = {}
    for file, rows in files.items():
        keys, _ = keys_and_sketches([text for _, _, text, _ in rows], [action for *_, action in rows])
        for partition, batch in partitioned_keys(file, [r[0] for r in rows], [r[1] for r in rows], keys,
                                                 partitions).items():
            by_partition.setdefault(partition, []).append(batch)
    return {partition: KeyBatch.concat(batches) for partition, batches in by_partition.items()}


def test_every_key_lands_in_exactly_one_partition():
    rng = random.Random(1)
    rows = [(f"ep:{i}", f"{i:016x}", " ".join(document(rng, 50)), "ls") for i in range(30)]
    batches = all_keys({7: rows}, partitions=4)
    assert sum(len(b.band_key) for b in batches.values()) == 30 * OPTIONS.bands
    assert sorted(i for b in batches.values() for i in b.content_ids) == sorted(r[0] for r in rows)
    assert sorted(i for b in batches.values() for i in b.id_ids) == sorted(r[0] for r in rows)
    for partition, batch in batches.items():
        assert (batch.band_key % np.uint64(4) == partition).all()


def resolved(batches):
    exact, collisions, candidates = [], [], []
    for batch in batches.values():
        exact += exact_duplicates(batch)
        collisions += id_collisions(batch)
        candidates += near_candidates(batch)
    return sorted(exact), sorted(collisions), candidates


def test_exact_duplicates_across_files_keep_the_smallest_id():
    text = "the same screen " * 30
    files = {1: [("b:0", "00000000000000aa", text, "ls")], 2: [("a:0", "00000000000000aa", text, "ls"),
                                                               ("c:0", "00000000000000bb", "other " * 30, "ls")]}
    exact, collisions, candidates = resolved(all_keys(files))
    assert exact == [("b:0", EXACT, "a:0")]
    assert collisions == []
    assert candidates == []  # one content per bucket: nothing to compare


def test_an_id_read_twice_is_a_duplicate_or_a_conflict():
    text = "screen " * 30
    same = {1: [("x:0", "0000000000000001", text, "ls")], 2: [("x:0", "0000000000000001", text, "ls")]}
    exact, collisions, _ = resolved(all_keys(same))
    assert exact == [] and len(collisions) == 1 and collisions[0][1] is True
    conflict = {1: [("x:0", "0000000000000001", text, "ls")], 2: [("x:0", "0000000000000002", text + "!", "ls")]}
    _, collisions, _ = resolved(all_keys(conflict))
    # The copy with the larger content hash is the one reported, as a conflict, with the copy kept.
    assert collisions == [((2, 0), False, (1, 0))]


def _copies_kept(copies, partitions=3):
    """copies: [(file key, content hash hex, action start or None, source, position)] of one id -> the (file, row)
    id_collisions keeps and what it reports of the others."""
    batches = {}
    for file, content_hash, started, source, position in copies:
        row = {"action_started_at": started, "source": source, "position": position}
        for partition, batch in partitioned_keys(file, ["e:3"], [content_hash], np.zeros((1, 12), dtype=np.uint64),
                                                 partitions, CopyOrder.of_rows([row])).items():
            batches.setdefault(partition, []).append(batch)
    [batch] = [KeyBatch.concat(found) for found in batches.values() if found[0].id_ids]
    reported = list(id_collisions(batch))
    [kept] = {kept for *_, kept in reported}
    return kept, sorted(reported)


def test_an_id_read_twice_with_one_content_keeps_the_later_recording_whatever_the_file_keys():
    """The same recording merged in again with other action times: the copy kept was the smallest prepared-file
    key, a hash of a random path, so each run kept another copy (and wrote its times)."""
    same = "00000000000000aa"
    for early, late in ((1, 2), (2, 1)):  # the prepared files' keys either way round
        copies = [(early, same, 1_000, "raw/transitions/t/pack-1.parquet", 7),
                  (late, same, 5_000, "raw/transitions/t/e.parquet", 0)]
        for order in (copies, copies[::-1]):
            assert _copies_kept(order) == ((late, 0), [((early, 0), True, (late, 0))])
    # The same action times: the last raw file by name, then the last position, as settle_episode's last resort.
    tied = [(1, same, 1_000, "b.jsonl", 4), (2, same, 1_000, "a.jsonl", 9), (3, same, 1_000, "b.jsonl", 2)]
    assert _copies_kept(tied)[0] == (1, 0)
    # A copy without an action time is older than any with one.
    assert _copies_kept([(1, same, None, "z.jsonl", 1), (2, same, 3, "a.jsonl", 1)])[0] == (2, 0)
    # Other content is still a conflict with the copy of the smallest content hash, whatever the times.
    assert _copies_kept([(1, same, 1_000, "a.jsonl", 1), (2, "00000000000000ff", 9_000, "b.jsonl", 1),
                         (3, same, 2_000, "c.jsonl", 1)]) == ((3, 0), [((1, 0), True, (3, 0)),
                                                                       ((2, 0), False, (3, 0))])


def test_copies_alike_in_time_source_and_position_keep_the_first_row_as_without_an_order():
    same = "00000000000000aa"
    assert _copies_kept([(9, same, 1_000, "a.jsonl", 1), (4, same, 1_000, "a.jsonl", 1)])[0] == (4, 0)
    text = "screen " * 30
    unordered = {9: [("x:0", same, text, "ls")], 4: [("x:0", same, text, "ls")]}
    assert resolved(all_keys(unordered))[1] == [((9, 0), True, (4, 0))]


def test_near_candidates_name_every_copy_of_the_contents_in_shared_buckets():
    rng = random.Random(4)
    base = document(rng)
    near = list(base)
    near[100] = "edited"
    files = {1: [("a:0", "0000000000000001", " ".join(base), "ls"),
                 ("a:1", "0000000000000001", " ".join(base), "ls")],  # same content as a:0
             2: [("b:0", "0000000000000002", " ".join(near), "ls"),
                 ("b:1", "0000000000000003", " ".join(document(rng)), "ls")]}
    _, _, candidates = resolved(all_keys(files))
    # a:1 is a:0's content: it comes for its id alone (its sketch is a:0's). b:1 shares no bucket. The pair shares
    # most of its 12 buckets: one group each.
    assert set(candidates) == {((1, 0), (1, 1 | ID_ONLY), (2, 0))}
    assert 1 < len(candidates) <= OPTIONS.bands
    assert candidate_row(1 | ID_ONLY) == (1, True) and candidate_row(1) == (1, False)


def test_the_sketch_row_of_a_content_is_its_first_by_file_and_row_whatever_its_id():
    """A content's copies in three files: the sketch is fetched once, from the smallest (file, row), though the
    id kept for the content (a:0) is read in the last file; every other copy comes for its id."""
    rng = random.Random(6)
    base = document(rng)
    near = list(base)
    near[50] = "edited"
    text = " ".join(base)
    files = {5: [("z:3", "00000000000000a1", text, "ls")],
             9: [("q:0", "00000000000000b2", " ".join(near), "ls"), ("m:1", "00000000000000a1", text, "ls")],
             2: [("x:0", "00000000000000c3", " ".join(document(rng)), "ls"), ("a:0", "00000000000000a1", text, "ls")]}
    for partitions in (1, 4):
        _, _, candidates = resolved(all_keys(files, partitions))
        assert set(candidates) == {((2, 1), (5, ID_ONLY), (9, 0), (9, 1 | ID_ONLY))}


def test_a_near_pair_is_decided_between_the_ids_kept_for_each_content():
    """The row fetched for a content may be any of its exact copies; the decision must not depend on which."""
    from transforms.curate import resolve_near

    rng = random.Random(8)
    base = document(rng)
    near = list(base)
    near[5] = "edited"
    *_, copy_sketch = member("z:0", " ".join(base), "x")
    *_, near_sketch = member("m:0", " ".join(near), "y")
    # z:0's row was fetched for the content; a:0, a copy read in another file, came for its id alone.
    members = [("a:0", "x", b"", b""), ("m:0", "y", near_sketch, b""), ("z:0", "x", copy_sketch, b"")]
    for order in (members, members[::-1]):
        assert list(resolve_near((1, order), OPTIONS)) == [("m:0", (NEAR, "a:0"))]
    # Without the copy, the content is z:0's, later than m:0: z:0 is the one removed.
    assert list(resolve_near((1, members[1:]), OPTIONS)) == [("z:0", (NEAR, "m:0"))]


def test_a_content_is_named_by_the_id_exact_duplicates_keeps_for_it_when_ids_tie():
    """Copies of one id (read twice) tie on id_order and name the content alike; two ids of one order ("e:7" and
    "e:07") name it by the smaller string, in exact_duplicates and in the near check, whatever the order read."""
    sketch = member("e:7", "same screen " * 20, "h")[2]
    for members in ([("e:07", "h", b"", b""), ("e:7", "h", sketch, b"c"), ("e:7", "h", b"", b"")],
                    [("e:7", "h", b"", b""), ("e:07", "h", sketch, b"c")]):
        for order in (members, members[::-1]):
            assert kept_members(order) == [("e:07", "h", sketch, b"c")]
    assert kept_id(["e:7", "e:07", "e:12"]) == kept_id(["e:12", "e:07", "e:7"]) == "e:07"
    rows = [("e:7", "ab" * 8, "x y z", "ls"), ("e:07", "ab" * 8, "x y z", "ls"), ("e:9", "ab" * 8, "x y z", "ls")]
    for order in (rows, rows[::-1]):
        batch = KeyBatch.concat(list(all_keys({1: order}, partitions=1).values()))
        assert sorted(exact_duplicates(batch)) == [("e:7", EXACT, "e:07"), ("e:9", EXACT, "e:07")]


def test_a_content_without_its_sketch_row_is_an_error_naming_the_group():
    with pytest.raises(ValueError, match="candidate group 77: content h .*e:1.* has no row with a sketch"):
        kept_members([("e:1", "h", b"", b"")], 77)


def test_packed_keys_carry_the_hex_content_hashes_and_the_rows_they_came_from():
    rng = random.Random(2)
    hashes = ["ffffffffffffffff", "8000000000000000", "0000000000000000", "0123456789abcdef", "FEDCBA9876543210"]
    rows = [(f"ep:{i}", content_hash, " ".join(document(rng, 40)), "ls") for i, content_hash in enumerate(hashes)]
    batch = KeyBatch.concat(list(all_keys({3: rows}, partitions=3).values()))
    by_id = dict(zip(batch.content_ids, batch.content_hash.tolist()))
    assert by_id == {f"ep:{i}": int(content_hash, 16) for i, content_hash in enumerate(hashes)}
    assert sorted(zip(batch.id_row.tolist(), batch.id_ids)) == [(i, f"ep:{i}") for i in range(len(hashes))]
    assert set(batch.band_file.tolist()) == set(batch.id_file.tolist()) == {3}
    for short_or_long in ("abc", "0" * 17):
        with pytest.raises(ValueError, match="16 hex digits"):
            partitioned_keys(3, ["a", "b"], ["0" * 16, short_or_long], np.zeros((2, 12), dtype=np.uint64), 4)


# ---- the change rule: near duplicates must make the same change ----------------------------------------------

def _screen(rng, lines=60):
    return [f"[{i}] " + " ".join(document(rng, 6)) for i in range(lines)]


def _transition_members(transitions):
    """(id, state lines, next lines) -> resolve_bucket members with change signatures, as curation makes them."""
    parts = [("\n".join(state), "click", "\n".join(after)) for _, state, after in transitions]
    _, sketches = file_part_signatures(parts, ["click"] * len(parts), OPTIONS)
    changes = change_signatures(parts)
    return [(record_id, f"h{i}", sketches[i].tobytes(), changes[i])
            for i, (record_id, _, _) in enumerate(transitions)]


def test_a_one_line_change_on_a_big_screen_is_not_a_near_duplicate_of_another_change():
    rng = random.Random(21)
    screen = _screen(rng)
    shows = lambda value: screen[:30] + [f"[30] display {value}"] + screen[31:]  # noqa: E731
    # The same click on two runs: the display shows 8 in one and 0 in the other.
    members = _transition_members([("calc-a:0", shows(0), shows(8)), ("calc-b:0", shows(0), shows("0."))])
    sketches = np.frombuffer(members[0][2] + members[1][2], dtype=np.uint8).reshape(2, -1)
    assert estimated_jaccard(sketches[:1], sketches[1])[0] >= OPTIONS.threshold  # the whole transitions agree
    assert list(resolve_bucket(members, OPTIONS)) == []
    # The same change on a screen that differs elsewhere by a line is a near duplicate.
    other = shows(0)[:50] + ["[50] a status line that differs"] + shows(0)[51:]
    other_after = shows(8)[:50] + ["[50] a status line that differs"] + shows(8)[51:]
    members = _transition_members([("calc-a:0", shows(0), shows(8)), ("calc-c:0", other, other_after)])
    assert list(resolve_bucket(members, OPTIONS)) == [("calc-c:0", NEAR, "calc-a:0")]


def test_a_step_and_its_reverse_are_not_near_duplicates():
    rng = random.Random(22)
    home, status = _screen(rng), _screen(rng)
    common = home[:50]
    first, second = common + home[50:], common + status[50:]
    members = _transition_members([("web-a:1", second, first), ("web-b:7", first, second)])
    assert list(resolve_bucket(members, OPTIONS)) == []
    assert change_jaccard(members[0][3], members[1][3]) == 0.0


def test_change_signatures_ignore_lines_that_only_move_and_reuse_the_previous_lines():
    screen = ["$ ls", "a b", "$ make"]
    scrolled = screen[1:] + ["built", "$"]
    assert change_signature("\n".join(screen), "\n".join(scrolled)) == change_signature("$ ls\nx", "x\nbuilt\n$")
    assert change_signature("same", "same") == b"" and change_jaccard(b"", b"") == 1.0
    first, second = "\n".join(screen), "\n".join(scrolled)
    parts = [("", "a", first), (first, "b", second)]
    assert change_signatures(parts) == [change_signature("", first), change_signature(first, second)]


def test_a_perturbed_or_failed_step_is_never_a_duplicate_of_a_plain_one():
    assert conditions_text([], None) == "" and conditions_text(None, "") == ""
    plain = hash_text("s", "a", "n")
    assert plain == hash_text("s", "a", "n", conditions_text([], None))
    truncated = hash_text("s", "a", "n", conditions_text(["truncate:/thread/*:0.4"], None))
    failed = hash_text("s", "a", "n", conditions_text([], "timeout"))
    assert len({plain, truncated, failed}) == 3
    assert conditions_text(["b", "a"], None) == conditions_text(["a", "b"], None)


def test_the_first_step_of_an_episode_is_kept_not_the_smallest_string():
    assert sorted(["e:12", "e:7", "d:30"], key=id_order) == ["d:30", "e:7", "e:12"]
    members = [member(i, "same screen " * 20, "h") for i in ("e:12", "e:7")]
    assert list(resolve_bucket(members, OPTIONS)) == [("e:12", EXACT, "e:7")]
    batch = KeyBatch.concat(list(all_keys({1: [("e:12", "ab" * 8, "x y z", "ls"),
                                               ("e:7", "ab" * 8, "x y z", "ls")]}, partitions=1).values()))
    assert list(exact_duplicates(batch)) == [("e:12", EXACT, "e:7")]
    assert decide([(NEAR, "e:12"), (NEAR, "e:7")]) == (NEAR, "e:7")


def test_answers_replacing_different_previous_answers_make_the_same_change():
    # A tool call answered the same after two different earlier answers (the state is the previous answer).
    answer = '{\n  "datetime": "<timestamp>",\n  "timezone": "Europe/Paris"\n}'
    first = change_signature("[tool error]\nInvalid timezone: 'Mars/Olympus'", answer)
    second = change_signature("[tool error]\nInvalid timezone: 'report main ada'", answer)
    assert first == second
    # A no-op and a step that only removes lines (a popup closed) are different changes.
    page = "[1] heading 'Home'\n[2] link 'About'"
    assert change_jaccard(change_signature(page, page), change_signature(page + "\n[9] dialog 'Cookies'", page)) == 0
