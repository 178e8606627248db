"""transforms.rewards on stage-3 rows curated by older masking rules: a format span today's masker no longer reads
(git diff's `index 4693ad3..08b1076` blob ids were hex_ids until 50540e2) passes when the prediction holds the
reference's own value there, and only then; every other value in that place is judged by today's rules."""

from __future__ import annotations

import re

import pytest

from transforms import masking
from transforms.rewards import Score, score
from transforms.stages import split_spans

# An MCP git_diff_unstaged result as a 1.0-era shard holds it (compat audit, shards10_old, row
# mcp-git-commit-change-s0-f288f222:1).
GIT_DIFF = ("Unstaged changes:\ndiff --git a/calc.py b/calc.py\nindex 4693ad3..08b1076 100644\n--- a/calc.py\n"
            "+++ b/calc.py\n@@ -1,2 +1,4 @@\n def add(a, b):\n     return a + b\n+def sub(a, b):\n"
            "+    return a - b")
# The rule the masker had before 50540e2: the blob ids of a diff's index line.
_OLD_INDEX_RULE = re.compile(r"^index ([0-9a-f]{7,})\.\.([0-9a-f]{7,})", re.MULTILINE)


def _old_row(reference: str, extra: list[dict] = (), rubric: str = "worldline/mcp/v1") -> dict:
    """A stage-3 row as the older curation built it: today's spans, the old index rule's and extra spans on top."""
    spans = list(masking.mask(reference)[0]) + list(extra)
    for found in _OLD_INDEX_RULE.finditer(reference):
        spans += [{"start": found.start(group), "end": found.end(group), "kind": "hex_id"} for group in (1, 2)]
    exact, formats = split_spans(reference, spans, "old-rules-row")
    return {"reference": reference, "exact_spans": exact, "format_spans": formats, "rubric_id": rubric}


def _score(prediction: str, row: dict) -> Score:
    return score(prediction, row["reference"], row["exact_spans"], row["format_spans"], row["rubric_id"])


@pytest.fixture(scope="module")
def diff_row():
    row = _old_row(GIT_DIFF)
    # The row is one today's masker would not write, or this tests nothing.
    assert masking.mask(GIT_DIFF)[0] == []
    assert [(span["start"], span["end"], span["kind"]) for span in row["format_spans"]] == [
        (55, 62, "hex_id"), (64, 71, "hex_id")]
    return row


def test_the_reference_of_a_row_masked_by_older_rules_scores_1(diff_row):
    assert _score(GIT_DIFF, diff_row) == Score(1.0, True, "")


def test_another_value_where_todays_rules_read_none_still_scores_0(diff_row):
    result = _score(GIT_DIFF.replace("4693ad3", "5a7c9e1"), diff_row)
    assert result == Score(0.0, False, "format span 0 [55,62) kind hex_id: '5a7c9e1' is not a hex_id")
    result = _score(GIT_DIFF.replace("08b1076", "08b107"), diff_row)  # one digit short: the value changed
    assert not result.matched and result.reason.startswith("format span 1 [64,71) kind hex_id: "), result.reason


def test_one_changed_character_around_the_old_values_still_scores_0(diff_row):
    for span in diff_row["exact_spans"]:
        for offset in (span["start"], (span["start"] + span["end"]) // 2, span["end"] - 1):
            char = GIT_DIFF[offset]
            changed = GIT_DIFF[:offset] + ("y" if char == "x" else "x") + GIT_DIFF[offset + 1:]
            assert not _score(changed, diff_row).matched, (span, offset)


def test_todays_values_in_the_same_row_are_judged_as_before():
    reference = "Date: Fri, 27 Nov 2026 03:04:05 GMT\n" + GIT_DIFF
    row = _old_row(reference)
    assert [span["kind"] for span in row["format_spans"]] == ["date", "date", "timestamp", "hex_id", "hex_id"]
    assert _score(reference, row).matched
    assert _score(reference.replace("Fri, 27 Nov 2026 03:04:05", "Sat, 28 Nov 2026 11:59:00"), row).matched
    result = _score(reference.replace("03:04:05", "3:04:05"), row)  # the padding lost: not the server's form
    assert not result.matched and "not in the reference's form '03:04:05'" in result.reason, result.reason


def test_a_value_older_rules_read_shorter_than_todays_masker():
    # Today's masker reads `1.25s` as a duration; a row whose older rule read `1.25` (the unit exact text) gives
    # the masker's value a form the reference's does not have, and only the reference's own value may end there.
    reference = "took 1.25s\n"
    row = _old_row(reference, [{"start": 5, "end": 9, "kind": "duration"}])
    row["format_spans"] = [span for span in row["format_spans"] if span["end"] == 9]
    row["exact_spans"] = [{"start": 0, "end": 5, "kind": "exact"}, {"start": 9, "end": 11, "kind": "exact"}]
    assert _score(reference, row) == Score(1.0, True, "")
    result = _score("took 2.50s\n", row)  # another value: today's rules say its form is not the reference's
    assert result == Score(0.0, False, "format span 0 [5,9) kind duration: '2.50s' is a duration, but not in the "
                                       "reference's form '1.25'")


def test_a_value_older_rules_read_after_a_replay_span_is_placed():
    # Where a replay span's text ends is searched: at values of the next span's kind today's masker reads, then at
    # the reference's own value, which today's masker does not read as one.
    reference = "zz4693ad3..08b1076\n"
    spans = [{"start": 0, "end": 2, "kind": "replay"}, {"start": 2, "end": 9, "kind": "hex_id"}]
    row = _old_row(reference, spans, rubric="worldline/terminal/v1")
    assert [(span["start"], span["kind"]) for span in row["format_spans"]] == [
        (0, "replay"), (2, "hex_id"), (11, "hex_id")]
    assert _score(reference, row).matched
    assert _score("another run4693ad3..08b1076\n", row).matched
    assert _score("another run4693ad3..5a7c9e1\n", row).matched  # today's hex_id: any of its kind
    assert not _score("another run5a7c9e1..08b1076\n", row).matched  # not the reference's, not read today
