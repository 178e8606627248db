"""`worldline score`: a model's completions scored against a real curation's stage-3 rows (tests/formats/
stage3_collection.py), several samples per row and conversational completions too; the mean reward and pass@n per
domain printed, per-sample scores written; bad prediction files and --output paths refused naming them."""

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


def _summary(stdout: str) -> list[list[str]]:
    """The summary table's rows: domain, rows, samples, mean reward, pass@n."""
    return [[cell.strip() for cell in line.split("│")[1:6]] for line in stdout.splitlines() if line.startswith("│")]


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
    share = f"{(len(ids) - 1) / len(ids):.3f}"
    expected = [str(len(ids)), str(len(ids)), share, share]
    assert _summary(result.stdout) == [["terminal", *expected], ["all", *expected]]
    assert f"scored {len(ids)} of {len(ids)} stage-3 rows of {stage3_curated} ({len(ids)} samples" in result.stdout
    assert "did not match" not in result.stdout  # --output holds the reasons
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in written] == ids
    assert written[0] == {"line": 1, "id": wrong, "domain": "terminal", "rubric_id": "worldline/terminal/v1",
                          "reward": 0.0, "matched": False,
                          "reason": "the prediction goes on after the reference's end: '!'"}
    assert all(line["reward"] == 1.0 and line["reason"] == "" for line in written[1:])
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary file left


def test_several_samples_per_row_give_mean_reward_and_pass_at_n(stage3_curated, references, tmp_path):
    # a GRPO group or pass@k samples: the first row never matches, the second on its second sample
    first, second, *rest = references
    lines = [(first, "!"), (second, "!"), (first, "?"), (second, ""), *((record, "") for record in rest)]
    predictions = tmp_path / "predictions.jsonl"
    _write(predictions, [{"id": record, "completion": _answer(references[record] + extra)} for record, extra in lines])
    output = tmp_path / "scores.jsonl"
    result = _score(stage3_curated, predictions, "--output", str(output))
    assert result.exit_code == 0, result.output
    rows, samples = len(references), len(lines)
    expected = [str(rows), str(samples), f"{(samples - 3) / samples:.3f}", f"{(rows - 1) / rows:.3f}"]
    assert _summary(result.stdout) == [["terminal", *expected], ["all", *expected]]
    assert f"scored {rows} of {rows} stage-3 rows" in result.stdout
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(line["line"], line["id"], line["matched"]) for line in written[:4]] == [
        (1, first, False), (2, second, False), (3, first, False), (4, second, True)]


def test_unscored_rows_are_counted_and_failures_point_to_output(stage3_curated, references, tmp_path):
    right, wrong = list(references)[:2]
    predictions = tmp_path / "predictions.jsonl"
    _write(predictions, [{"id": right, "completion": _answer(references[right])},
                         {"id": wrong, "completion": _answer(references[wrong] + "!")}])
    result = _score(stage3_curated, predictions)
    assert result.exit_code == 0, result.output
    assert f"scored 2 of {len(references)} stage-3 rows of {stage3_curated} (2 samples from {predictions})" \
        in result.stdout
    assert "1 of 2 samples did not match: --output FILE writes each sample's reason." in result.stdout


def test_conversational_completions_are_read_as_trl_reward_reads_them(stage3_curated, references, tmp_path):
    # TRL's conversational form: the last message is the model's; its content may be a list of text parts
    plain, parts = list(references)[:2]
    predictions = tmp_path / "predictions.jsonl"
    _write(predictions, [
        {"id": plain, "completion": [{"role": "assistant", "content": _answer(references[plain])}]},
        {"id": parts, "completion": [{"role": "assistant", "content": [
            {"type": "text", "text": _answer(references[parts])[:20]},
            {"type": "text", "text": _answer(references[parts])[20:]}]}]}])
    output = tmp_path / "scores.jsonl"
    result = _score(stage3_curated, predictions, "--output", str(output))
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["reward"] for line in output.read_text().splitlines()] == [1.0, 1.0]


@pytest.mark.parametrize("name, message", [
    ("folder", "--output {path} is a folder: name a file to write the scores to"),
    ("/proc/worldline-scores.jsonl", "--output {path}: cannot write a file in /proc ("),
])
def test_an_output_that_cannot_be_written_is_refused_in_one_line(stage3_curated, references, tmp_path, name,
                                                                 message):
    path = tmp_path / name  # an absolute name replaces tmp_path: /proc refuses new files, even root's
    if name == "folder":
        path.mkdir()
    predictions = tmp_path / "predictions.jsonl"
    record = next(iter(references))
    _write(predictions, [{"id": record, "completion": _answer(references[record])}])
    result = _score(stage3_curated, predictions, "--output", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()] and message.format(path=path) in result.stderr


@pytest.mark.parametrize("lines, message", [
    ([{"id": "rw-a:0", "completion": "x"}, "{not json"], "predictions.jsonl:2: not JSON (Expecting property name "
                                                          "enclosed in double quotes at column 2)"),
    (['{"id": "rw-a:0", "completion": "no closing quote'], "predictions.jsonl:1: not JSON (a string is not closed "
                                                            "before the line ends at column 49)"),
    (['{"id": "rw-a:0", "completion": "\x01"}'],
     "predictions.jsonl:1: not JSON (Invalid control character at column 33)"),
    ([{"id": "rw-a:0", "completion": ["x"]}], "predictions.jsonl:1: expected {\"id\": \"<stage-3 id>\", "
                                             "\"completion\": \"...\"}, the completion a string or a list of messages"),
    ([{"id": "rw-a:0", "completion": "x"}, {"id": "nope:3", "completion": "x"}],
     "predictions.jsonl:2: id 'nope:3' is not a stage-3 row of"),
    ([{"id": "rw-a:0", "text": "x"}], "predictions.jsonl:1: expected {\"id\": \"<stage-3 id>\", \"completion\": "
                                      "\"...\"}, the completion a string"),
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
