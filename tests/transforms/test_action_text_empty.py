"""An action whose text is empty (a REPL's blank line, which closes a block) is that empty action in every stage;
only an action stored with no text (null) is shown as its arguments' JSON. The empty text used to be taken for a
missing one: curation wrote `{"line": ""}` as the action."""

import subprocess

import pyarrow.parquet as pq

from collectors.api import StepResult, Task
from collectors.command import plans_for
from collectors.runner import collect, episode_id_for, recorded_actions
from collectors.store import EpisodeStore
from schemas import Action, Observation
from schemas.layout import transitions_path
from schemas.validate import validate_transition
from tests.collectors.test_store_resume import ShellCollector
from transforms.prepare import curated_row, with_masks
from transforms.stages import build_stage_rows


class LineCollector(ShellCollector):
    """A line of shell per action, written as itself (the empty line too)."""

    def parse_action(self, spec):
        return Action("line", {"line": spec}, spec)

    def step(self, action):
        done = subprocess.run(["/bin/sh", "-c", action.arguments["line"]], capture_output=True, timeout=10)
        return StepResult(Observation(done.stdout.decode() + "$ ", done.stdout + b"$ ", "text"))


class UntextedCollector(LineCollector):
    """A plugin that never renders its actions: curation falls back to the arguments."""

    def parse_action(self, spec):
        return Action("line", {"line": spec})


def _collected(tmp_path, make) -> list[dict]:
    task = Task(id="blank", instruction="echo, then a blank line", actions=["echo hi", ""])
    out = tmp_path / make.__name__
    report = collect(lambda: make(tmp_path / "never"), plans_for([task]), out, domain="shelltest", progress=False)
    assert (report.completed, report.errored) == (1, 0)
    path = transitions_path(out, "shelltest", episode_id_for("shelltest", "blank", 0))
    return pq.read_table(path).to_pylist()


def _curated(rows: list[dict]) -> list[dict]:
    curated = [curated_row(validate_transition(row)) for row in rows]
    with_masks(curated)
    return curated


def test_an_empty_action_text_is_the_action_in_every_stage(tmp_path):
    rows = _collected(tmp_path, LineCollector)
    assert [row["action"]["text"] for row in rows] == ["echo hi", ""]
    curated = _curated(rows)
    assert [row["action_text"] for row in curated] == ["echo hi", ""]
    stage1, stage2, stage3 = build_stage_rows(curated[:1], curated[1], "trace")
    for text in (stage1["text"], stage2["messages"][-1]["content"], stage3["prompt"][-1]["content"]):
        assert '{"line": ""}' not in text
    assert stage2["messages"][-1]["content"].endswith("```\n\n```")


def test_an_action_without_text_is_stored_null_and_curated_as_its_arguments(tmp_path):
    rows = _collected(tmp_path, UntextedCollector)
    assert [row["action"]["text"] for row in rows] == [None, None]
    assert [row["action_text"] for row in _curated(rows)] == ['{"line": "echo hi"}', '{"line": ""}']


def test_a_stored_episode_replays_its_actions_texts_as_stored(tmp_path):
    for make, texts in ((LineCollector, ["echo hi", ""]), (UntextedCollector, [None, None])):
        _collected(tmp_path, make)
        episode_id = episode_id_for("shelltest", "blank", 0)
        table = EpisodeStore(tmp_path / make.__name__).read_transitions("shelltest", episode_id)
        assert [action.text for action in recorded_actions(table, episode_id)] == texts
