"""A complete episode whose stored files are damaged (a record that is not JSON, a transitions file cut short) is
named and collected again on resume, where it had crashed the run with a JSONDecodeError naming no file, or stayed
"already complete" forever. One whose transitions are in a pack is named and left: a new recording would put it in
the collection twice."""

import json

import pyarrow.parquet as pq

from collectors.api import Task
from collectors.command import plans_for
from collectors.pack import pack_collection
from collectors.runner import collect, episode_id_for
from schemas.layout import episode_path, transitions_path
from tests.collectors.test_store_resume import ShellCollector
from tests.collectors.test_terminal_runs import run_collect, write_tasks

DOMAIN = "shelltest"


def run(tmp_path, out, tasks):
    return collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks), out, domain=DOMAIN, progress=False)


def paths(out, task):
    episode_id = episode_id_for(DOMAIN, task.id, 0)
    return episode_path(out, DOMAIN, episode_id), transitions_path(out, DOMAIN, episode_id)


def test_damaged_episodes_are_named_and_collected_again(tmp_path, caplog):
    tasks = [Task(id=f"t{i}", instruction="echo", actions=[f"echo {i}", "echo again"]) for i in range(3)]
    out = tmp_path / "out"
    run(tmp_path, out, tasks)
    record, _ = paths(out, tasks[0])
    record.write_text("{broken")
    _, cut = paths(out, tasks[1])
    cut.write_bytes(cut.read_bytes()[:100])

    report = run(tmp_path, out, tasks)
    assert (report.completed, report.skipped_complete, len(report.recollected_damaged)) == (2, 1, 2)
    named = " ".join(caplog.messages)
    assert f"{record} is not a readable episode record (Expecting property name" in named, named
    assert f"{cut} is not readable Parquet" in named, named
    assert json.loads(record.read_text())["steps"] == 2
    assert pq.read_table(cut).num_rows == 2
    assert run(tmp_path, out, tasks).skipped_complete == 3


def test_a_packed_episode_with_a_damaged_record_is_named_not_collected_twice(tmp_path, caplog):
    tasks = [Task(id="t0", instruction="echo", actions=["echo 0"])]
    out = tmp_path / "out"
    run(tmp_path, out, tasks)
    assert pack_collection(out).episodes_packed == 1
    record, own = paths(out, tasks[0])
    record.write_text("[]")
    report = run(tmp_path, out, tasks)
    assert (report.completed, report.skipped_complete) == (0, 1)
    assert not own.exists()
    assert f"{record} is not a readable episode record (a JSON list, not an object); not collected again, as its " \
           "transitions are in a pack" in caplog.messages


def test_the_cli_resumes_past_a_damaged_record(tmp_path, base_image, prefix):
    tasks, out = write_tasks(tmp_path / "tasks.yaml", 2, pause_s=0.05), tmp_path / "out"
    assert run_collect(tasks, out, prefix).returncode == 0
    [record, _] = sorted((out / "episodes" / "terminal").glob("*.json"))
    record.write_text("{broken")
    again = run_collect(tasks, out, prefix)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    message = " ".join(again.stderr.split())
    assert f"{record} is not a readable episode record" in message, message
    assert "1 episode collected" in message and "1 already complete" in message, message
    assert "1 stored episode found damaged (each named above): collected again like new ones" in message, message
    assert json.loads(record.read_text())["outcome"] != "error"
