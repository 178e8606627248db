"""A task whose scripted actions were edited after its episode was stored: the episode id (domain, task id, seed)
is the same, so collect keeps the old recording as complete, as before, but now warns once, naming the task and
the files to delete to record it again. It used to say nothing: `N already complete` and the old actions."""

import json
import logging

import pyarrow.parquet as pq
from rich.console import Console

from collectors import command
from collectors.api import ScriptedPolicy, Task
from collectors.command import plans_for, run_and_report
from collectors.pack import pack_collection
from collectors.runner import SCRIPT_KEY, collect, episode_id_for
from schemas.layout import episode_path, transitions_path
from tests.collectors.test_store_resume import ShellCollector

DOMAIN = "shelltest"


def _tasks(first: str, second: str = "echo b") -> list[Task]:
    return [Task(id="edited", instruction="echo", actions=[first]),
            Task(id="same", instruction="echo", actions=[second])]


def _collect(tmp_path, tasks, **plan_options):
    return collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks, **plan_options), tmp_path / "out",
                   domain=DOMAIN, progress=False)


def _warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelno == logging.WARNING and "other actions" in record.getMessage()]


def _stored_actions(out, task_id: str, seed: int = 0) -> list[str]:
    path = transitions_path(out, DOMAIN, episode_id_for(DOMAIN, task_id, seed))
    return [row["action"]["text"] for row in pq.read_table(path).to_pylist()]


def test_an_edited_task_is_named_once_and_recollected_after_its_files_are_deleted(tmp_path, caplog):
    out = tmp_path / "out"
    assert _collect(tmp_path, _tasks("echo 42"), seeds=2).completed == 4
    caplog.clear()

    report = _collect(tmp_path, _tasks("echo 48"), seeds=2)
    edited = [episode_id_for(DOMAIN, "edited", seed) for seed in (0, 1)]
    assert (report.completed, report.skipped_complete, report.script_changed) == (0, 4, edited)
    [warning] = _warnings(caplog)
    assert warning.startswith("Warning: 2 stored episodes of task edited kept as complete, though recorded from "
                              "other actions")
    assert "'same'" not in warning and "task same" not in warning
    assert "delete " + " ".join(f"{episode_path(out, DOMAIN, episode_id)} {transitions_path(out, DOMAIN, episode_id)}"
                                for episode_id in edited) + ", and run the same command again" in warning
    assert all(episode_id in warning for episode_id in edited)
    assert _stored_actions(out, "edited") == ["echo 42"]

    # Doing what the warning says records the new actions, and the warning is gone.
    for episode_id in edited:
        episode_path(out, DOMAIN, episode_id).unlink()
        transitions_path(out, DOMAIN, episode_id).unlink()
    caplog.clear()
    again = _collect(tmp_path, _tasks("echo 48"), seeds=2)
    assert (again.completed, again.skipped_complete, again.script_changed) == (2, 2, [])
    assert _stored_actions(out, "edited", 1) == ["echo 48"] and not _warnings(caplog)


def test_a_packed_episode_is_named_with_a_new_out_to_record_it_again(tmp_path, caplog):
    _collect(tmp_path, _tasks("echo 42"))
    assert pack_collection(tmp_path / "out").episodes_packed == 2
    caplog.clear()
    report = _collect(tmp_path, _tasks("echo 48"))
    assert report.script_changed == [episode_id_for(DOMAIN, "edited", 0)]
    [warning] = _warnings(caplog)
    assert "It is in packs (`worldline pack`)" in warning and "collect its task into a new --out" in warning
    assert "delete" not in warning


def test_only_scripted_plans_and_records_with_the_digest_are_checked(tmp_path, caplog):
    out = tmp_path / "out"
    _collect(tmp_path, _tasks("echo 42"))
    record = json.loads(episode_path(out, DOMAIN, episode_id_for(DOMAIN, "same", 0)).read_text())
    assert SCRIPT_KEY in json.loads(record["provenance"]["extra_json"])
    # The transitions' provenance is not touched: only the record carries the digest.
    rows = pq.read_table(transitions_path(out, DOMAIN, episode_id_for(DOMAIN, "same", 0))).to_pylist()
    assert json.loads(rows[0]["provenance"]["extra_json"]) == {}

    # A policy given as a factory function is not known to play the task's actions: not checked.
    assert _collect(tmp_path, _tasks("echo 48"), policy_factory=lambda: ScriptedPolicy()).script_changed == []
    # A record written before the digest existed is not checked either.
    path = episode_path(out, DOMAIN, episode_id_for(DOMAIN, "edited", 0))
    record = json.loads(path.read_text())
    record["provenance"]["extra_json"] = "{}"
    path.write_text(json.dumps(record))
    caplog.clear()
    assert _collect(tmp_path, _tasks("echo 48")).script_changed == [] and not _warnings(caplog)


def test_the_summary_counts_them(tmp_path, monkeypatch):
    _collect(tmp_path, _tasks("echo 42", "echo 43"))
    printed = Console(file=None, record=True, width=300)
    monkeypatch.setattr(command, "console", printed)
    run_and_report(lambda: ShellCollector(tmp_path / "never"), plans_for(_tasks("echo 48", "echo 49")),
                   tmp_path / "out", domain=DOMAIN)
    summary = printed.export_text()
    assert "2 already complete" in summary
    assert "2 stored episodes recorded from other actions than the task file now lists, kept as complete" in summary
