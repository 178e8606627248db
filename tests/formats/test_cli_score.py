"""`worldline score`: a model's completions scored against a real curation's stage-3 rows (tests/formats/
stage3_collection.py), the mean reward per domain printed, per-row scores written; bad prediction files refused
naming the line."""

from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import build_cli


@pytest.fixture(scope="module")
def references(stage3_curated):
    return dict(duckdb.sql(f"SELECT id, reference FROM read_parquet('{stage3_curated}/stage3/*.parquet') "
                           "ORDER BY id").fetchall())


def _answer(text: str) -> str:
    return f"<think>it runs</think>\n<predicted_observation>{text}</predicted_observation>"


def _score(shards, predictions, *extra):
    return CliRunner().invoke(build_cli(), ["score", "--shards", str(shards), "--predictions", str(predictions),
                                            *extra], catch_exceptions=False)


def _write(path, lines: list) -> None:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))


def test_scores_every_prediction_and_writes_them(stage3_curated, references, tmp_path):
    ids = list(references)
    wrong = ids[0]
    predictions = tmp_path / "predictions.jsonl"
    _write(predictions, [{"id": record, "completion": _answer(references[record] + ("!" if record == wrong else ""))}
                         for record in ids])
    output = tmp_path / "scores.jsonl"
    result = _score(stage3_curated, predictions, "--output", str(output))
    assert result.exit_code == 0, result.output
    summary = [line.split("│")[1:5] for line in result.stdout.splitlines() if line.startswith("│")]
    expected = [str(len(ids)), str(len(ids) - 1), f"{(len(ids) - 1) / len(ids):.3f}"]
    assert [[cell.strip() for cell in row] for row in summary] == [["terminal", *expected], ["all", *expected]]
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in written] == ids
    assert written[0] == {"id": wrong, "domain": "terminal", "rubric_id": "worldline/terminal/v1", "reward": 0.0,
                          "matched": False, "reason": "the prediction goes on after the reference's end: '!'"}
    assert all(line["reward"] == 1.0 and line["reason"] == "" for line in written[1:])
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary file left


@pytest.mark.parametrize("lines, message", [
    ([{"id": "rw-a:0", "completion": "x"}, "{not json"], "predictions.jsonl:2: not JSON (Expecting property name "
                                                          "enclosed in double quotes at column 2)"),
    ([{"id": "rw-a:0", "completion": "x"}, {"id": "rw-a:1", "completion": "x"}, {"id": "rw-a:0", "completion": "y"}],
     "predictions.jsonl:3: id 'rw-a:0' again (first on line 1)"),
    ([{"id": "rw-a:0", "completion": "x"}, {"id": "nope:3", "completion": "x"}],
     "predictions.jsonl:2: id 'nope:3' is not a stage-3 row of"),
    ([{"id": "rw-a:0", "text": "x"}], "predictions.jsonl:1: expected {\"id\": \"<stage-3 id>\", \"completion\": "
                                      "\"...\"} with string values"),
])
def test_bad_prediction_files_are_refused_naming_the_line(stage3_curated, tmp_path, lines, message):
    predictions = tmp_path / "predictions.jsonl"
    _write(predictions, lines)
    output = tmp_path / "scores.jsonl"
    result = _score(stage3_curated, predictions, "--output", str(output))
    assert result.exit_code == 2 and message in " ".join(result.stderr.split()), result.stderr
    assert not output.exists()


def test_a_folder_without_stage3_shards_is_refused(tmp_path):
    predictions = tmp_path / "predictions.jsonl"
    _write(predictions, [{"id": "rw-a:0", "completion": "x"}])
    result = _score(tmp_path, predictions)
    assert result.exit_code == 2 and "has no stage-3 shards" in result.stderr, result.stderr


def test_a_line_that_is_not_utf8_is_refused_naming_it(stage3_curated, tmp_path):
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_bytes(b'{"id": "rw-a:0", "completion": "x"}\n{"id": "rw-a:1", "completion": "\xff"}\n')
    result = _score(stage3_curated, predictions)
    assert result.exit_code == 2 and "predictions.jsonl:2: not UTF-8 text" in result.stderr, result.stderr
