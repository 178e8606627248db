"""transforms.prepare: a row's state reuses the previous row's next observation when it is that observation."""

import inspect
import threading

import pyarrow as pa

from benchmarks.bench_curate import _episode_rows
from schemas.transition import TRANSITION_SCHEMA
from transforms import dedupe, masking
from transforms.normalize import normalize_observation
from schemas.validate import record_id
from transforms.prepare import MAX_OBSERVATION_CHARS, curated_row, prepare_chunk, with_masks


def _read_back(rows: list[dict]) -> list[dict]:
    """Rows as curation reads them: every observation a dict of its own, equal by value to its repeats."""
    return pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA).to_pylist()


def _two_episodes() -> list[dict]:
    return _read_back(_episode_rows("terminal", "terminal-0", 1, 101, edit=False)
                      + _episode_rows("web", "web-1", 2, 102, edit=True))


def test_texts_spans_and_hashes_are_each_observations_own():
    rows = _two_episodes()
    curated = [curated_row(row) for row in rows]
    parts = with_masks(curated)
    for row, prepared, (state_masked, action, next_masked) in zip(rows, curated, parts):
        assert prepared["state_text"] == normalize_observation(row["state"])
        assert prepared["next_text"] == normalize_observation(row["next_observation"])
        next_spans, expected_next_masked = masking.mask(prepared["next_text"])
        assert (prepared["next_volatile_spans"], next_masked) == (next_spans, expected_next_masked)
        assert state_masked == masking.mask(prepared["state_text"])[1]
        assert prepared["content_hash"] == dedupe.hash_text(state_masked, action, next_masked)


def test_a_state_that_is_the_previous_next_observation_is_the_same_object():
    curated = [curated_row(row) for row in _two_episodes()]
    parts = with_masks(curated)
    for previous in (*range(19), *range(20, 39)):
        assert curated[previous + 1]["state_text"] is curated[previous]["next_text"]
        # minhash.union_signatures finds a repeated part by identity (transforms/_shingles.c).
        assert parts[previous + 1][0] is parts[previous][2]
    # A new episode's first state is another screen: normalized and masked on its own.
    assert curated[20]["state_text"] != curated[19]["next_text"]
    assert parts[20][0] is not parts[19][2]


def test_a_state_differing_from_the_previous_next_observation_only_in_its_raw_bytes_is_rendered_again():
    rows = _two_episodes()[:2]
    rows[1]["state"]["raw"] = rows[1]["state"]["raw"].replace(b"$", b"#", 1)
    first, second = curated_row(rows[0]), curated_row(rows[1])
    assert second["state_text"] == normalize_observation(rows[1]["state"]) != first["next_text"]


def test_rows_without_state():
    rows = _two_episodes()[:3]
    for row in rows:
        row["state"] = None
    curated = [curated_row(row) for row in rows]
    parts = with_masks(curated)
    assert [prepared["state_text"] for prepared in curated] == ["", "", ""]
    assert [state_masked for state_masked, _, _ in parts] == ["", "", ""]
    assert [next_masked for _, _, next_masked in parts] == [masking.mask(prepared["next_text"])[1]
                                                             for prepared in curated]


def test_each_thread_reuses_its_own_previous_next_observation():
    rows = _two_episodes()
    first_episode, second_episode = rows[:2], rows[20:22]
    curated, curated_first_step, main_thread_done = [], threading.Event(), threading.Event()

    def curate_first_episode():
        curated.append(curated_row(first_episode[0]))
        curated_first_step.set()
        main_thread_done.wait(10)
        curated.append(curated_row(first_episode[1]))

    worker = threading.Thread(target=curate_first_episode)
    worker.start()
    curated_first_step.wait(10)
    # In between, this thread curates a row of another episode.
    other = curated_row(second_episode[0])
    main_thread_done.set()
    worker.join(10)
    assert curated[1]["state_text"] is curated[0]["next_text"]
    assert curated_row(second_episode[1])["state_text"] is other["next_text"]


def test_an_observation_over_the_cap_dead_letters_the_steps_it_is_in_and_names_its_size():
    rows = _two_episodes()
    huge = {"text": "", "raw": b"line of output\n" * 10_000, "raw_format": "text", "meta_json": "{}"}
    rows[4]["next_observation"], rows[5]["state"] = huge, dict(huge)
    items = [("raw.parquet", position, row) for position, row in enumerate(rows)]
    prepared = prepare_chunk(items, dedupe.NearDupOptions(), max_chars=100_000, keep_stand_ins=True)
    reasons = {letter["record_id"]: (letter["stage"], letter["reason"]) for letter in prepared.letters}
    assert reasons == {
        record_id(rows[4]): ("normalize", "the next observation is 150,000 characters after normalizing, more than "
                                          "--max-observation-chars 100,000 (raise it, or 0 for no cap, to keep it)"),
        record_id(rows[5]): ("normalize", "the state is 150,000 characters after normalizing, more than "
                                          "--max-observation-chars 100,000 (raise it, or 0 for no cap, to keep it)")}
    assert len(prepared.rows) == len(rows) - 2
    # 0 turns the cap off: every row is kept.
    assert len(prepare_chunk(items, dedupe.NearDupOptions(), max_chars=0, keep_stand_ins=True).rows) == len(rows)


def test_the_command_line_default_cap_is_curations():
    from pipelines.commands.curate import curate_command
    from transforms.curate import CurateOptions

    default = inspect.signature(curate_command).parameters["max_observation_chars"].default.default
    assert default == MAX_OBSERVATION_CHARS == CurateOptions().max_observation_chars


def test_stand_in_transitions_are_dead_lettered_unless_kept():
    rows = _two_episodes()  # generated: marked as a stand-in ("generated")
    rows[0]["provenance"]["stand_in"] = None
    items = [("raw.parquet", position, row) for position, row in enumerate(rows)]
    prepared = prepare_chunk(items, dedupe.NearDupOptions())
    assert [row["id"] for row in prepared.rows] == [record_id(rows[0])]
    assert {letter["stage"] for letter in prepared.letters} == {"stand_in"}
    assert len(prepared.letters) == len(rows) - 1
    assert "recorded from a stand-in environment (generated)" in prepared.letters[0]["reason"]
    assert len(prepare_chunk(items, dedupe.NearDupOptions(), keep_stand_ins=True).rows) == len(rows)


def test_a_full_date_far_from_when_the_step_was_recorded_is_content():
    from datetime import datetime, timezone

    from transforms.validate import recorded_at

    rows = _read_back(_episode_rows("terminal", "terminal-0", 1, 101, edit=False))[:2]
    listing = "-rw-r--r-- 1 root root 19 2024-01-02 03:04 config.ini.bak\nnow 2026-11-25T10:00:00"
    rows[1]["next_observation"] = dict(rows[1]["next_observation"], raw=listing.encode(), raw_format="text")
    curated = [curated_row(row) for row in rows]
    times = [recorded_at(row) for row in rows]
    assert times[1] == datetime(2026, 11, 25, tzinfo=timezone.utc).timestamp()
    with_masks(curated, times)
    spans = curated[1]["next_volatile_spans"]
    assert [curated[1]["next_text"][s["start"]:s["end"]] for s in spans] == ["2026-11-25T10:00:00"]
    # Without the time the step was recorded, every date is taken for a clock reading.
    unknown = [curated_row(row) for row in rows]
    with_masks(unknown, [None, None])
    assert len(unknown[1]["next_volatile_spans"]) == 2
    assert unknown[1]["content_hash"] != curated[1]["content_hash"]


def test_recorded_at_reads_datetimes_iso_strings_and_nothing():
    from datetime import datetime, timezone

    from transforms.validate import RECORDED_AT, recorded_at

    moment = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
    assert recorded_at({"timings": {"action_start": moment}}) == moment.timestamp()
    assert recorded_at({"timings": {"action_start": "2026-11-25T12:00:00+00:00"}}) == moment.timestamp()
    assert recorded_at({"timings": {"action_start": "2026-11-25T12:00:00"}}) == moment.timestamp()
    assert recorded_at({RECORDED_AT: 5.0, "timings": {"action_start": moment}}) == 5.0
    assert recorded_at({"timings": {"action_start": "yesterday"}}) is None
    assert recorded_at({"timings": None}) is None and recorded_at({}) is None
