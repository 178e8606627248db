"""Finish's decisions over one prepared file, made by transforms.finish without Beam: which rows are dead-lettered
and why, which go to the dedupe list naming which kept row, which are kept, and the history each kept row is built
after."""

from transforms.finish import Letter, decide_file, in_episode_order, rejected_recordings, removal

FILE = "prepared-a"


def row(episode: str, step: int, source: str = "raw/a.parquet", record_id: str | None = None,
        content: str | None = None) -> dict:
    return {"id": record_id or f"{episode}:{step}", "episode_id": episode, "step": step, "source": source,
            "domain": "terminal", "content_hash": content or f"h-{episode}-{step}"}


def test_removed_rows_go_to_the_dedupe_list_naming_the_row_their_chain_ends_at_and_stay_history():
    read = [row("ep1", 2), row("ep1", 0), row("ep1", 1), row("ep1", 3)]  # out of step order, as a JSONL drop may be
    # ep1:1 is a near duplicate of ep0:5, ep1:2 an exact one of ep1:1: the list names ep0:5 for both.
    removed = {"ep1:1": ("near", "ep0:5"), "ep1:2": ("exact", "ep1:1")}

    decided = decide_file(FILE, read, removed, {}, {})

    assert [r["id"] for r in decided.rows] == ["ep1:0", "ep1:1", "ep1:2", "ep1:3"]
    assert [decided.rows[p]["id"] for p in decided.kept] == ["ep1:0", "ep1:3"]
    assert decided.duplicates == [
        {"id": "ep1:1", "duplicate_of": "ep0:5", "kind": "near", "domain": "terminal", "episode_id": "ep1",
         "content_hash": "h-ep1-1"},
        {"id": "ep1:2", "duplicate_of": "ep0:5", "kind": "near", "domain": "terminal", "episode_id": "ep1",
         "content_hash": "h-ep1-2"}]
    assert decided.letters == []
    # ep1:3's history runs from its episode's first row to itself: the two removed rows are in it.
    assert decided.history_starts == [0, 0] and decided.history_ends == [0, 3]


def test_each_episode_is_its_own_history_and_a_repeated_id_ends_at_its_last_copy():
    read = [row("ep2", 1), row("ep1", 0), row("ep2", 0), row("ep1", 1), row("ep1", 2, record_id="ep1:0")]

    decided = decide_file(FILE, read, {}, {}, {})

    assert [(r["episode_id"], r["step"]) for r in decided.rows] == [("ep2", 0), ("ep2", 1), ("ep1", 0), ("ep1", 1),
                                                                     ("ep1", 2)]
    assert decided.kept == [0, 1, 2, 3, 4]
    assert decided.history_starts == [0, 0, 2, 2, 2]
    # Both copies of ep1:0 are built after the last one (step 2), so neither sees less of its episode.
    assert decided.history_ends == [0, 1, 4, 3, 4]


def test_a_copy_whose_kept_copy_has_other_content_is_dead_lettered_naming_where_that_was_read():
    read = [row("ep1", 0), row("ep1", 1)]
    collisions = {(FILE, 1): (False, "raw/b.jsonl line 7", ("prepared-b", 4))}

    decided = decide_file(FILE, read, {}, collisions, {})

    assert decided.letters == [Letter(read[1], "another record with the same id and different content was kept: "
                                               "raw/b.jsonl line 7")]
    assert [decided.rows[p]["id"] for p in decided.kept] == ["ep1:0"] and decided.duplicates == []


def test_a_repeat_with_the_same_content_is_an_exact_duplicate_of_its_own_id():
    read = [row("ep1", 0)]

    assert removal((FILE, 0), read[0], {}, {(FILE, 0): (True, None, ("prepared-b", 0))}, read, {}) == {
        "id": "ep1:0", "duplicate_of": "ep1:0", "kind": "exact", "domain": "terminal", "episode_id": "ep1",
        "content_hash": "h-ep1-0"}
    assert removal((FILE, 0), read[0], {}, {}, read, {}) is None


def test_a_rejected_recording_is_dead_lettered_whole_and_left_out_of_the_kept_ones_history():
    old, new = "raw/pack-1.parquet", "raw/ep1.parquet"
    read = [row("ep1", 0, old, content="old0"), row("ep1", 1, old), row("ep1", 0, new), row("ep1", 1, new)]
    episodes = {("ep1", new): None,
                ("ep1", old): (new, f"ep1 is also in {new}, the later recording", {"ep1:0": f"{new} row 0"})}

    decided = decide_file(FILE, read, {}, {}, episodes)

    assert [(letter.row["source"], letter.reason) for letter in decided.letters] == [
        (old, f"ep1 is also in {new}, the later recording; another record with the same id and different content "
              f"was kept: {new} row 0"),
        (old, f"ep1 is also in {new}, the later recording")]
    assert [r["source"] for r in decided.rows] == [new, new] and decided.kept == [0, 1]
    assert decided.history_ends == [0, 1]


def test_a_clash_whose_kept_copy_is_in_a_rejected_recording_keeps_the_row():
    old, new = "raw/pack-1.parquet", "raw/ep1.parquet"
    read = [row("ep1", 0, old), row("ep1", 0, new)]
    episodes = {("ep1", new): None, ("ep1", old): (new, "rejected", {})}
    # Per id, the old recording's copy was kept; settling by episode rejects that recording, so the new one stays.
    collisions = {(FILE, 1): (False, f"{old} row 0", (FILE, 0))}

    assert removal((FILE, 1), read[1], {}, collisions, read, episodes) is None
    # The same verdict when the kept copy is in this row's own recording: the clash stands.
    assert isinstance(removal((FILE, 1), read[1], {}, {(FILE, 1): (False, f"{new} row 9", (FILE, 1))}, read,
                              episodes), Letter)


def test_rejected_rows_are_found_by_episode_and_source_and_skipped_in_episode_order():
    read = [row("ep1", 1, "a"), row("ep1", 0, "b"), row("ep1", 0, "a")]

    rejected, letters = rejected_recordings(read, {("ep1", "b"): ("a", "why", {})})
    refs, rows, starts = in_episode_order(FILE, read, skip=rejected)

    assert rejected == {1} and [letter.reason for letter in letters] == ["why"]
    assert refs == [(FILE, 2), (FILE, 0)] and [r["step"] for r in rows] == [0, 1] and starts == [0, 0]
