"""`worldline curate --history-steps N|all` on the command line, in a real run's rows, stats.json and card, and in
the job Dataflow's workers get; a value that is not a number of steps stops the command in one line."""

import inspect
import json
import subprocess
import sys

import duckdb
import pytest
from apache_beam.internal import pickler
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2
from click.testing import CliRunner

from collectors.store import EpisodeStore
from pipelines.cli import build_cli
from pipelines.commands.curate import curate_command, history_steps_of
from pipelines.curate import build_pipeline, run_curation
from tests.pipelines.curation_raw_collection import _episode, write_raw_collection
from tests.pipelines.test_dataflow_translation import DATAFLOW_ARGS
from tests.pipelines.test_user_errors_curate import curate, one_error_line
from transforms.curate import CurateOptions, FinishFn
from transforms.stages import ALL_HISTORY, HISTORY_STEPS


def _rows(folder, name) -> list[dict]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / name}/*.parquet') ORDER BY ALL").to_arrow_table() \
        .to_pylist()


def _turns(messages: list[dict]) -> list[int]:
    return [int(m["content"].split("\n", 1)[0].removeprefix("### Turn ")) for m in messages if m["role"] == "user"]


@pytest.mark.parametrize("value", ["-1", "abc", "2.5", ""])
def test_a_value_that_is_not_a_number_of_steps_is_refused_in_one_line(raw_collection, tmp_path, value):
    line = one_error_line(curate(raw_collection[0], tmp_path / "shards", f"--history-steps={value}"))
    assert line == f"Error: --history-steps {value}: give the number of earlier steps a row shows (0 or more), or all"
    assert not (tmp_path / "shards").exists()


def test_help_shows_the_option_and_its_values_agree_with_the_stage_builder():
    result = CliRunner().invoke(build_cli(), ["curate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--history-steps N|all" in result.output
    assert inspect.signature(curate_command).parameters["history_steps"].default.default == str(HISTORY_STEPS)
    assert history_steps_of(str(HISTORY_STEPS)) == CurateOptions().history_steps == HISTORY_STEPS
    assert history_steps_of(ALL_HISTORY) is None and history_steps_of("0") == 0 and history_steps_of(" 7 ") == 7


def test_a_run_with_the_whole_episode_records_it_and_changes_only_the_stage_rows(tmp_path):
    raw, out, default = tmp_path / "raw", tmp_path / "all", tmp_path / "default"
    write_raw_collection(raw)
    # A REPL's definition printed six steps later.
    _episode(EpisodeStore(raw), "terminal", "repl", [("x = 6 * 7", ">>> ")] + [
        (f"y{step} = {step}", ">>> ") for step in range(1, 6)] + [("print('hello', x)", "hello 42\n>>> ")])
    run_curation(str(raw), str(default))
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                             str(out), "--history-steps", "all"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["settings"]["history_steps"] == ALL_HISTORY
    assert json.loads((default / "stats.json").read_text())["settings"]["history_steps"] == HISTORY_STEPS
    for name in ("transitions", "dedupe", "dead_letter"):
        assert _rows(out, name) == _rows(default, name), name
    for folder, turns in ((out, [1, 2, 3, 4, 5, 6, 7]), (default, [3, 4, 5, 6, 7])):
        chat = {row["id"]: row["messages"] for row in _rows(folder, "stage2")}["repl:6"]
        assert _turns(chat) == turns
        assert ("x = 6 * 7" in chat[1]["content"]) == (folder == out)
    card = (out / "README.md").read_text()
    assert card.count("The window is every earlier step of the row's episode (`worldline curate --history-steps "
                      "all`)") == 2
    assert "keep each episode's last row" in card


def test_a_window_of_one_step_is_what_the_rows_show(raw_collection, tmp_path):
    out = tmp_path / "one"
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw_collection[0]),
                             "--output", str(out), "--history-steps", "1"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((out / "stats.json").read_text())["settings"]["history_steps"] == 1
    assert {row["id"]: _turns(row["messages"]) for row in _rows(out, "stage2")}["term-a:2"] == [2, 3]
    assert {row["id"]: _turns(row["prompt"]) for row in _rows(out, "stage3")}["term-a:2"] == [2, 3]
    text = {row["id"]: row["text"] for row in _rows(out, "stage1")}["term-a:2"]
    assert text.count("\n\nAction:\n") == 2 and "Action:\nls\n" in text and "Action:\ndate" not in text


def test_the_option_reaches_the_workers_in_the_translated_dataflow_job():
    """Dataflow's workers run the DoFns pickled into the job: Finish's carries the window with its CurateOptions."""
    args = [arg for arg in DATAFLOW_ARGS if not arg.startswith("--setup_file")]  # no sdist: not what is checked
    for window in (None, 0):
        pipeline = build_pipeline("gs://worldline-test-raw/collection", "gs://worldline-test-out/shards",
                                  CurateOptions(history_steps=window), args)
        pipeline.run()
        finishes = []
        for transform in pipeline.runner.proto_pipeline.components.transforms.values():
            if transform.spec.urn == common_urns.primitives.PAR_DO.urn:
                payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
                fn = pickler.loads(payload.do_fn.payload)[0]
                if isinstance(fn, FinishFn):
                    finishes.append(fn)
        assert len(finishes) == 1 and finishes[0].options.history_steps == window
