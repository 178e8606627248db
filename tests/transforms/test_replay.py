"""Volatile spans found by replay: the ranges of a recorded observation that a replay showed differently."""

import re

from transforms import masking
from transforms.replay import KIND, replay_spans, with_replay_spans, without_reproduced_values


def spanned(text, ranges):
    return [text[start:end] for start, end in ranges]


def test_a_value_the_replay_shows_differently_is_marked_and_nothing_else():
    text = "$ echo token=$RANDOM\ntoken=21734\nsession ok\n$ "
    again = "$ echo token=$RANDOM\ntoken=4410\nsession ok\n$ "
    assert spanned(text, replay_spans(text, [again])) == ["21734"]


def test_identical_replays_mark_nothing():
    text = "total 8\n-rw-r--r-- 1 root root 12 notes.txt\n"
    assert replay_spans(text, [text, text]) == []


def test_ranges_of_several_replays_are_united():
    text = "order: bob alice\nseed 17\n"
    first = "order: alice bob\nseed 17\n"
    second = "order: bob alice\nseed 99\n"
    found = spanned(text, replay_spans(text, [first, second]))
    assert found[-1] == "17" and "order" not in found[0] and "alice" in found[0]


def test_lines_only_the_recording_has_are_marked_whole_and_lines_only_the_replay_has_mark_where_they_go():
    text = "header\nwarning: cache cold\nbody\nfooter\n"
    assert spanned(text, replay_spans(text, ["header\nbody\nfooter\n"], max_changed_share=1.0)) == ["warning: cache cold\n"]
    # Inserted before "footer": that line is marked, so "header\nwarning: cache cold\nbody\n" + anything matches.
    assert spanned(text, replay_spans(text, ["header\nwarning: cache cold\nbody\nnew\nfooter\n"])) == ["footer\n"]
    assert spanned(text, replay_spans(text, [text + "tail\n"])) == ["footer\n"]


def test_every_replay_matches_the_recording_outside_the_spans():
    text = "files: a b c\ncount 3\n"
    replays = ["files: a x b c\ncount 4\n", "files: b c\ncount 2\n", "files: a b c d\ncount 4\n",
               "files:   a b c\ncount 3\n", "first\nfiles: a b c\ncount 3\n", "files: a b c\n"]
    ranges = replay_spans(text, replays, max_changed_share=1.0)
    pattern = "".join(re.escape(text[end:start]) + "(.*?)" for (_, end), (start, _) in
                      zip([(0, 0)] + ranges, ranges)) + re.escape(text[ranges[-1][1]:])
    for replay in replays:
        assert re.fullmatch(pattern, replay, re.S), replay


def test_lines_are_paired_by_position_when_a_value_recurs_on_another_line():
    text = ("Commit: ccf979bb9ae1\nDate: 2026-11-27 06:09:53\nMessage: Add subtraction\n\n"
            "Commit: b127a2ff8949\nDate: 2026-11-27 06:09:52\nMessage: Initial commit\n")
    replay = ("Commit: ac800f44c460\nDate: 2026-11-27 06:09:54\nMessage: Add subtraction\n\n"
              "Commit: 8ab0ade8e511\nDate: 2026-11-27 06:09:53\nMessage: Initial commit\n")
    assert spanned(text, replay_spans(text, [replay])) == ["ccf979bb9ae1", "53", "b127a2ff8949", "52"]


def test_a_replay_that_went_elsewhere_is_diverged_not_masked():
    text = "Welcome to the shop\n[12] link 'Cart'\n[13] button 'Checkout'\n"
    other = "404 Not Found\nnginx\n"
    assert replay_spans(text, [other]) is None
    assert replay_spans(text, [text, other]) is None


def test_replay_ranges_fill_in_around_rule_spans_which_keep_their_kind():
    text = "pid 4242 started at 2026-11-27 06:01:02 id=af93k\n"
    rules = masking.volatile_spans(text)
    assert [s["kind"] for s in rules] == ["pid", "timestamp"]
    replay = "pid 5151 started at 2026-11-27 06:01:09 id=zz01q\n"
    ranges = replay_spans(text, [replay])
    merged = with_replay_spans(rules, ranges)
    assert [(text[s["start"]:s["end"]], s["kind"]) for s in merged] == [
        ("4242", "pid"), ("2026-11-27 06:01:02", "timestamp"), ("af93k", KIND)]
    assert all(a["end"] <= b["start"] for a, b in zip(merged, merged[1:]))
    assert with_replay_spans(rules, []) is rules
    assert with_replay_spans(rules, [(4, 8), (20, 30)]) is rules  # within rule spans: nothing to add


def test_a_replay_range_straddling_a_rule_span_keeps_only_its_uncovered_parts():
    rules = [{"start": 4, "end": 8, "kind": "pid"}]
    merged = with_replay_spans(rules, [(2, 12)])
    assert [(s["start"], s["end"], s["kind"]) for s in merged] == [(2, 4, KIND), (4, 8, "pid"), (8, 12, KIND)]


def test_a_long_differing_block_is_marked_whole_without_quadratic_matching():
    text = "\n".join(f"row {i} value {i * 7}" for i in range(3000)) + "\n" + "tail\n"
    replay = "\n".join(f"row {i} value {i * 7 + 1}" for i in range(3001)) + "\n" + "tail\n"
    ranges = replay_spans(text, [replay], max_changed_share=1.0)
    assert ranges == [(0, text.index("tail"))]


# ---- through curation's reading and preparing ----------------------------------------------------------------

import copy  # noqa: E402
import json  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from schemas.transition import TRANSITION_SCHEMA, TRANSITION_SCHEMA_1_0  # noqa: E402
from transforms import dedupe  # noqa: E402
from transforms.prepare import prepare_chunk  # noqa: E402
from transforms.validate import Rejected, read_valid_chunks  # noqa: E402
from tests.transforms.test_prepare import _two_episodes  # noqa: E402


def _screen(row: dict, replace: tuple[bytes, bytes]) -> dict:
    observation = copy.deepcopy(row["next_observation"])
    observation["raw"] = observation["raw"].replace(*replace, 1)
    observation["text"] = observation["raw"].decode()
    return observation


def _with_random_token(rows: list[dict], token: bytes) -> list[dict]:
    """The terminal episode with a number no rule masks in one step's next observation (and so in the next
    step's state), as `echo $RANDOM` prints."""
    rows = copy.deepcopy(rows)
    line = b"lucky number " + token
    rows[3]["next_observation"] = _screen(rows[3], (b"\r\n", b"\r\n" + line + b"\r\n"))
    rows[4]["state"] = rows[3]["next_observation"]
    return rows


def _prepared(rows: list[dict]):
    # The bench's generated rows say they come from a stand-in: kept here, as curate --keep-stand-ins would.
    return prepare_chunk([("f", i, row) for i, row in enumerate(rows)], dedupe.NearDupOptions(), keep_stand_ins=True)


def test_a_replayed_row_gets_replay_spans_and_hashes_as_its_replay_would():
    base = _two_episodes()[:20]
    recorded, replayed = _with_random_token(base, b"21734"), _with_random_token(base, b"4410")
    for row, again in zip(recorded, replayed):
        row["replay_observations"] = [again["next_observation"]]
    prepared = _prepared(recorded)
    assert not prepared.letters
    row = prepared.rows[3]
    replay_spans = [s for s in row["next_volatile_spans"] if s["kind"] == "replay"]
    assert [row["next_text"][s["start"]:s["end"]] for s in replay_spans] == ["21734"]
    assert "replay_texts" not in row
    # Without the replay the two recordings hash apart; with it, they hash alike (the token is masked).
    plain, other = _prepared(_with_random_token(base, b"21734")), _prepared(_with_random_token(base, b"999"))
    assert plain.rows[3]["content_hash"] != other.rows[3]["content_hash"]
    recorded = _with_random_token(base, b"999")
    for row, again in zip(recorded, replayed):
        row["replay_observations"] = [again["next_observation"]]
    second = _prepared(recorded)
    assert second.rows[3]["content_hash"] == prepared.rows[3]["content_hash"]
    # The next row's state is that observation: masked alike, so its hash does not carry the token either.
    assert second.rows[4]["content_hash"] == prepared.rows[4]["content_hash"]
    assert plain.rows[4]["content_hash"] != other.rows[4]["content_hash"]


def test_replays_are_read_from_parquet_and_jsonl_and_1_0_files_still_read_on_the_column_path(tmp_path):
    base = _two_episodes()[:20]
    recorded = _with_random_token(base, b"21734")
    for row, again in zip(recorded, _with_random_token(base, b"4410")):
        row["replay_observations"] = [again["next_observation"]]
    current = tmp_path / "current.parquet"
    pq.write_table(pa.Table.from_pylist(recorded, schema=TRANSITION_SCHEMA), current)
    old = tmp_path / "old.parquet"
    old_rows = [{k: v for k, v in row.items() if k != "replay_observations"} for row in base]
    pq.write_table(pa.Table.from_pylist(old_rows, schema=TRANSITION_SCHEMA_1_0), old)
    jsonl = tmp_path / "current.jsonl"

    def default(value):
        return value.decode() if isinstance(value, bytes) else value.isoformat()

    jsonl.write_text("".join(json.dumps(row, default=default) + "\n" for row in recorded))
    for path, replays in ((current, 1), (jsonl, 1), (old, 0)):
        items = [item for chunk in read_valid_chunks(str(path), count=False) for item in chunk]
        assert not [item for item in items if isinstance(item, Rejected)], path
        assert [len(row.get("replay_observations") or []) for _, _, row in items] == [replays] * 20
        prepared = prepare_chunk(items, dedupe.NearDupOptions(), keep_stand_ins=True)
        kinds = {s["kind"] for row in prepared.rows for s in row["next_volatile_spans"]}
        assert ("replay" in kinds) == bool(replays), path


def test_a_line_differing_in_many_places_is_marked_from_its_first_difference_to_its_last():
    # The audit's `file broken.tgz` on random bytes: two runs' descriptions share words by chance.
    text = ("broken.tgz: gzip compressed data, unknown method, was \"\", encrypted, from FAT filesystem (MS-DOS, OS/2,"
            " NT), original size modulo 2^32 678511057\ngood.tgz: gzip compressed data\n")
    replay = ("broken.tgz: gzip compressed data, reserved method, ASCII, has comment, from FAT filesystem (Unix),"
              " original size modulo 2^32 1158555706\ngood.tgz: gzip compressed data\n")
    [(start, end)] = replay_spans(text, [replay], max_changed_share=1.0)
    assert text[:start] == "broken.tgz: gzip compressed data, " and text[end:] == "\ngood.tgz: gzip compressed data\n"
    # Two values in a fixed frame stay two spans.
    assert spanned("[12:01:02] took 0.5s\n", replay_spans("[12:01:02] took 0.5s\n", ["[12:01:07] took 0.8s\n"])) == \
        ["02", "5s"]


def test_an_id_every_replay_shows_again_is_not_masked_and_one_a_replay_changes_is():
    # A git blob id of fixed content is the same on every run; a commit id made at the current time is not.
    text = "index 814f4a4..ddc897f 100644\n[main 3fa91c2] edit\nsession 8e4b2c1d-1f0a-4b7e-9c3d-2a6f5e7d8c90\n"
    replay = "index 814f4a4..ddc897f 100644\n[main 77b0e5a] edit\nsession 8e4b2c1d-1f0a-4b7e-9c3d-2a6f5e7d8c90\n"
    spans = [{"start": text.index(value), "end": text.index(value) + len(value), "kind": kind}
             for value, kind in (("814f4a4", "hex_id"), ("ddc897f", "hex_id"), ("3fa91c2", "hex_id"),
                                 ("8e4b2c1d-1f0a-4b7e-9c3d-2a6f5e7d8c90", "uuid"), ("100644", "pid"))]
    kept = without_reproduced_values(spans, text, replay_spans(text, [replay]))
    assert [text[s["start"]:s["end"]] for s in kept] == ["3fa91c2", "100644"]  # other kinds repeat by chance
    ranges = replay_spans(text, [replay])
    assert without_reproduced_values(spans[2:3], text, ranges) is not spans  # nothing left out...
    untouched = spans[2:3]
    assert without_reproduced_values(untouched, text, ranges) is untouched  # ...is the same list
    short = [{"start": 0, "end": 5, "kind": "hex_id"}]  # "index": too short to be a drawn id
    assert without_reproduced_values(short, text, []) is short


def test_a_replayed_row_keeps_ids_its_replay_changed_masked_and_unmasks_the_ones_it_reproduced():
    base = _two_episodes()[:20]
    recorded = _with_random_token(base, b"commit 3fa91c2e and blob 814f4a41")
    replayed = _with_random_token(base, b"commit 77b0e5a9 and blob 814f4a41")
    for row, again in zip(recorded, replayed):
        row["replay_observations"] = [again["next_observation"]]
    prepared = _prepared(recorded)
    row = prepared.rows[3]
    texts = {row["next_text"][s["start"]:s["end"]]: s["kind"] for s in row["next_volatile_spans"]}
    assert texts.get("3fa91c2e") == "hex_id" and "814f4a41" not in texts
    unreplayed = _prepared(_with_random_token(base, b"commit 3fa91c2e and blob 814f4a41")).rows[3]
    assert {unreplayed["next_text"][s["start"]:s["end"]] for s in unreplayed["next_volatile_spans"]} >= {
        "3fa91c2e", "814f4a41"}  # without replays the rule masks both


def test_unmasked_ids_are_counted_apart_from_the_replayed_rows():
    from transforms.stats import stats_from_counters
    replayed = stats_from_counters({"replayed": 3, "replayed|differs_beyond_rules": 1,
                                    "replayed|constant_ids_unmasked": 5})["replayed"]
    assert replayed == {"rows": 3, "differs_within_rule_spans": 0, "differs_beyond_rules": 1, "diverged": 0,
                        "constant_ids_unmasked": 5, "constant_sizes_unmasked": 0}
