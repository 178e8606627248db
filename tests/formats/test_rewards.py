"""transforms.rewards, the stage-3 rubric's scorer, on the rows of a real curation (tests/formats/
stage3_collection.py): references score 1.0, other values of each format span's kind too; a changed exact character,
a value of another kind or, for a timestamp, date or duration, of another form, missing tags and added text score 0
with a reason naming the span."""

from __future__ import annotations

import json
import re
import time
import uuid

import duckdb
import pytest

from transforms import masking
from transforms.rewards import Score, compute_score, extract_prediction, same_form, score, trl_reward
from transforms.stages import split_spans

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@pytest.fixture(scope="module")
def rows(stage3_curated):
    found = duckdb.sql(f"SELECT id, reference, exact_spans, format_spans, rubric_id FROM "
                       f"read_parquet('{stage3_curated}/stage3/*.parquet') ORDER BY step").fetchall()
    return [dict(zip(("id", "reference", "exact_spans", "format_spans", "rubric_id"), row)) for row in found]


def _score(prediction, row) -> Score:
    return score(prediction, row["reference"], row["exact_spans"], row["format_spans"], row["rubric_id"])


def _replaced(text: str, span: dict, value: str) -> str:
    return text[:span["start"]] + value + text[span["end"]:]


def _other_value(kind: str, value: str) -> str:
    """Another value of the kind, as another run would print it: another pid in the same column width, the clock a
    minute later, another uuid, the next day's name, a last digit changed, other replay text."""
    if kind == "pid":
        other = "977" if value.strip() != "977" else "4242"
        return other.rjust(len(value)) if value.startswith(" ") else other
    if kind == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, value))
    if kind == "timestamp" and (clock := re.search(r"([0-9]{2}):([0-9]{2})", value)):
        minute = f"{(int(clock[2]) + 1) % 60:02d}"
        return value[:clock.start(2)] + minute + value[clock.end(2):]
    if kind == "date" and value in DAYS:
        return DAYS[(DAYS.index(value) + 1) % 7]
    if kind == "replay":
        return "another word"
    last = max(index for index, char in enumerate(value) if char.isdigit())
    return value[:last] + str((int(value[last]) + 1) % 10) + value[last + 1:]


def test_the_curation_has_a_format_span_of_every_kind(rows):
    kinds = {span["kind"] for row in rows for span in row["format_spans"]}
    assert kinds == {"timestamp", "date", "pid", "usage", "uuid", "temp_path", "port", "duration", "byte_size",
                     "hex_id", "replay"}


def test_every_reference_scores_1(rows):
    for row in rows:
        assert _score(row["reference"], row) == Score(1.0, True, ""), row["id"]


def test_another_value_of_each_format_span_kind_scores_1(rows):
    for row in rows:
        every = row["reference"]
        for span in reversed(row["format_spans"]):
            value = row["reference"][span["start"]:span["end"]]
            other = _other_value(span["kind"], value)
            assert other != value
            one = _replaced(row["reference"], span, other)
            result = _score(one, row)
            # A day's name and the date it names move together (rewards' relations): one alone contradicts the other.
            assert result.matched or " is not the weekday of " in result.reason, (row["id"], span, other, result.reason)
            every = _replaced(every, span, other)
        assert _score(every, row).reward == 1.0, (row["id"], every)


def test_the_examples_of_the_rubric(rows):
    by_id = {row["id"]: row for row in rows}
    first = by_id["rw-a:0"]
    assert first["reference"].startswith("Wed Nov 25 12:00:01 UTC 2026\npid 4312\n")
    assert _score("Wed Nov 25 12:01:01 UTC 2026\npid 977\n$ ", first).matched
    assert _score("Thu Nov 26 09:30:59 UTC 2026\npid 55\n$ ", first).matched
    uuids = by_id["rw-a:2"]
    assert _score(f"{uuid.uuid4()}\n/tmp/tmp.Qz81bC2\n$ ", uuids).matched


def test_one_changed_character_in_an_exact_span_scores_0_naming_it(rows):
    checked = 0
    for row in rows:
        replay_ends = {span["end"] for span in row["format_spans"] if span["kind"] == "replay"}
        for index, span in enumerate(row["exact_spans"]):
            middle = (span["start"] + span["end"]) // 2
            char = row["reference"][middle]
            changed = _replaced(row["reference"], {"start": middle, "end": middle + 1}, "y" if char == "x" else "x")
            result = _score(changed, row)
            assert result.reward == 0.0 and not result.matched, (row["id"], span)
            if result.reason.startswith("format span ") and "in the predicted text's context" in result.reason:
                # The change broke what a rule reads a value before it by (uptime's "load average:"): the first
                # span that fails is that value's.
                continue
            if span["end"] - span["start"] >= 3:  # no format value next to it that the change could break first
                prefix = f"exact span {index} [{span['start']},{span['end']}): expected "
                assert result.reason.startswith(prefix), result.reason
                if span["start"] in replay_ends:  # where the replay text ends is unknown: the span is searched
                    assert result.reason.endswith("found nowhere")
                    checked += 1
                    continue
                quoted = repr(row["reference"][middle:min(span["end"], middle + 40)])
                assert result.reason.startswith(f"{prefix}{quoted} at reference offset {middle}, got "), result.reason
                assert result.reason.split(", got ", 1)[1][1] == "x"
                checked += 1
    assert checked >= len(rows)


def test_a_value_of_another_kind_scores_0(rows):
    first = next(row for row in rows if row["id"] == "rw-a:0")
    pid = first["format_spans"][1]
    result = _score(_replaced(first["reference"], pid, "0.42s"), first)
    assert result == Score(0.0, False, "format span 1 [33,37) kind pid: '0.42s' is not a pid (the masker reads a "
                                       "duration there)")
    result = _score(_replaced(first["reference"], first["format_spans"][0], "yesterday"), first)
    assert result.reason == "format span 0 [0,28) kind timestamp: 'yesterday' is not a timestamp"
    for row in rows:
        for span in row["format_spans"]:
            if span["kind"] != "replay":
                result = _score(_replaced(row["reference"], span, "zz"), row)
                assert result.reward == 0.0 and result.reason.startswith("format span "), (row["id"], span)


def test_a_replay_span_may_hold_any_text_but_not_swallow_what_follows(rows):
    row = next(row for row in rows if any(span["kind"] == "replay" for span in row["format_spans"]))
    replay = next(span for span in row["format_spans"] if span["kind"] == "replay")
    for text in ("", "x", "two\nlines", "total 4\n"):
        assert _score(_replaced(row["reference"], replay, text), row).matched, text
    after = row["reference"][replay["end"]:]
    result = _score(row["reference"][:replay["start"]] + "zz" + after.replace("total", "tota1"), row)
    assert not result.matched and result.reason.startswith("exact span ") and "found nowhere" in result.reason


def _masked_row(reference: str) -> dict:
    """A stage-3 row of reference as curation builds one: the masker's spans, the text around them exact."""
    exact, formats = split_spans(reference, masking.mask(reference)[0], "ls-row")
    return {"reference": reference, "exact_spans": exact, "format_spans": formats,
            "rubric_id": "worldline/terminal/v1"}


LS = "-rw-r--r-- 1 root root   10 Nov 27 03:04 notes.txt\ndrwxr-xr-x 2 root root 4096 Nov  7 23:13 build\n$ "


def test_a_timestamp_must_keep_the_form_the_tool_prints():
    row = _masked_row(LS)
    assert [span["kind"] for span in row["format_spans"]] == ["timestamp", "timestamp"]
    # Another time in ls's form, the day padded either way, scores 1.0; an ISO time, a timestamp too, scores 0.
    assert _score(LS.replace("Nov 27 03:04", "Dec  1 14:59").replace("Nov  7 23:13", "Jan 12 09:15"), row).matched
    result = _score(LS.replace("Nov 27 03:04", "2026-11-27T03:04:34Z"), row)
    assert result == Score(0.0, False, "format span 0 [28,40) kind timestamp: '2026-11-27T03:04:34Z' is a "
                                       "timestamp, but not in the reference's form 'Nov 27 03:04'")
    assert not _score(LS.replace("Nov  7 23:13", "Nov  7 2026"), row).matched  # ls's form for an old file


def test_the_date_and_duration_forms_and_identifiers_of_any_form(rows):
    by_id = {row["id"]: row for row in rows}
    first = by_id["rw-a:0"]
    assert first["reference"].startswith("Wed Nov 25 12:00:01 UTC 2026\npid 4312\n")
    assert not _score("2026-11-25T12:00:01Z\npid 4312\n$ ", first).matched  # date(1) prints another form
    assert _score("Wed Nov 25 12:00:01 UTC 2026\npid 7\n$ ", first).matched  # a pid is any pid
    weekday = next(row for row in rows if row["reference"].startswith("Wednesday 2026-11-25"))
    assert _score("Saturday 2026-11-28\n$ ", weekday).matched
    assert not _score("Sat 2026-11-28\n$ ", weekday).reward
    timed = next(row for row in rows if "real\t0m0.003s" in row["reference"])
    assert _score(timed["reference"].replace("0m0.003s", "0m12.250s"), timed).matched
    result = _score(timed["reference"].replace("0m0.003s", "0m0.0031s"), timed)
    assert not result.matched and "not in the reference's form '0m0.003s'" in result.reason


@pytest.mark.parametrize(("kind", "reference", "value", "same"), [
    ("timestamp", "9:04:01 AM", "10:04:01 PM", True),  # the hour's digits may be 1 or 2
    ("timestamp", "11:19:39 PM", "11:19:39 pm", False),  # letters keep their case
    ("timestamp", "1764212674", "176421267", False),  # longer runs keep their length
    ("timestamp", "Fri Nov 27 2026 23:19:31 GMT", "Sat Dec 05 2027 01:02:03 GMT", True),
    ("date", "Friday", "Wednesday", True),  # a full name for a full name
    ("date", "Friday", "Sat", False),
    ("date", "May", "Jun", True),
    ("duration", "0.06s", "12.34s", True),  # any whole seconds, the same decimals
    ("duration", "0.06s", "60ms", False),
])
def test_same_form(kind, reference, value, same):
    assert same_form(kind, reference, value) is same


def test_missing_tags_and_added_text_score_0(rows):
    row = rows[0]
    completion = f"<think>it prints the date</think>\n{row['reference']}"
    assert extract_prediction(completion) is None
    assert _score(None, row) == Score(0.0, False, "no complete <predicted_observation>...</predicted_observation> "
                                                  "in the completion")
    assert extract_prediction(f"<predicted_observation>{row['reference']}") is None
    assert _score(row["reference"] + "\nmore", row).reason == \
        "the prediction goes on after the reference's end: '\\nmore'"


def test_the_last_complete_answer_is_the_prediction():
    assert extract_prediction("<predicted_observation>a</predicted_observation> then "
                              "<predicted_observation>b</predicted_observation>") == "b"
    assert extract_prediction("<predicted_observation>a</predicted_observation> <predicted_observation>b") == "a"
    assert extract_prediction("<predicted_observation>\n a \n</predicted_observation>") == "\n a \n"


def test_an_observation_showing_the_tags_is_read_back_from_its_target():
    reference = "page: use <predicted_observation>X</predicted_observation> and </predicted_observation> here\n"
    target = f"<think>it shows the doc</think>\n<predicted_observation>{reference}</predicted_observation>"
    assert extract_prediction(target, reference) == reference
    exact = [{"start": 0, "end": len(reference), "kind": "exact"}]
    assert score(extract_prediction(target, reference), reference, exact, [], "worldline/web/v1").reward == 1.0
    assert trl_reward([target], [reference], [exact], [[]], ["worldline/web/v1"]) == [1.0]
    assert compute_score("worldline/web/v1", target, {"reference": reference, "exact_spans": exact,
                                                      "format_spans": []}) == 1.0
    # A draft before the answer is still not read, and a block with too few opening tags is not stretched.
    assert extract_prediction(f"<predicted_observation>draft</predicted_observation> {target}", reference) == reference
    assert extract_prediction("<predicted_observation>X</predicted_observation>", reference) is None


def test_bad_rows_raise_naming_the_problem(rows):
    row = rows[0]
    with pytest.raises(ValueError, match="unknown rubric id 'worldline/terminal/v2'"):
        score(row["reference"], row["reference"], row["exact_spans"], row["format_spans"], "worldline/terminal/v2")
    with pytest.raises(ValueError, match=r"format span 0 \[0,28\) has kind 'colour'"):
        score("", row["reference"], row["exact_spans"], [dict(row["format_spans"][0], kind="colour"),
                                                          row["format_spans"][1]], row["rubric_id"])
    with pytest.raises(ValueError, match=r"exact span 0 \[28,33\) does not continue the spans before it at offset 0"):
        score("", row["reference"], row["exact_spans"], [], row["rubric_id"])


def test_trl_and_verl_adapters(rows):
    answer = [f"<think>t</think>\n<predicted_observation>{row['reference']}</predicted_observation>" for row in rows]
    columns = {name: [row[name] for row in rows] for name in ("reference", "exact_spans", "format_spans", "rubric_id")}
    assert trl_reward(answer, **columns, prompts=[None] * len(rows)) == [1.0] * len(rows)
    conversational = [[{"role": "assistant", "content": text}] for text in answer]
    conversational[0] = [{"role": "assistant", "content": "no tags"}]
    assert trl_reward(conversational, **columns) == [0.0] + [1.0] * (len(rows) - 1)
    row = rows[1]
    truth = {name: row[name] for name in ("reference", "exact_spans", "format_spans")}
    assert compute_score(row["rubric_id"], answer[1], truth) == 1.0
    assert compute_score(row["rubric_id"], answer[1].replace("root", "rook"), json.dumps(truth)) == 0.0
    # As verl's reward loop and its config's reward_kwargs call it.
    assert compute_score(row["rubric_id"], answer[1], truth, extra_info={"index": 1}, reward_router_address=None,
                         reward_model_tokenizer=None, strict=True) == 1.0


def test_placing_many_replay_spans_is_bounded():
    # 300 replay spans, each followed by "\n", over a prediction of 5000 newlines that cannot match (no "end"):
    # every split of the newlines among the spans would be tried without a bound.
    reference = "r\n" * 300 + "end"
    exact = [{"start": 2 * k + 1, "end": 2 * k + 2, "kind": "exact"} for k in range(300)]
    exact.append({"start": 600, "end": 603, "kind": "exact"})
    replays = [{"start": 2 * k, "end": 2 * k + 1, "kind": "replay"} for k in range(300)]
    started = time.perf_counter()
    result = score("\n" * 5000, reference, exact, replays, "worldline/terminal/v1")
    assert time.perf_counter() - started < 10
    assert not result.matched and result.reason.startswith("more than 10000 ways to place the replay spans")
    assert score("\n" * 300 + "end", reference, exact, replays, "worldline/terminal/v1").matched
