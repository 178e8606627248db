"""Each episode records the environment its task ran in (task.group) and curation carries it to `transitions`, so a
held-out split can hold out whole environments (audit 7, F2: tasks of one site, app, server or repository see
near-copies of one another's observations, and a task split left them on both sides)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
import yaml
from typer.testing import CliRunner

from collectors.android.collector import AndroidCollector
from collectors.api import Task
from collectors.mcp import DEFAULT_SERVERS_FILE, McpCollector
from collectors.os_desktop import DesktopCollector
from collectors.runner import EpisodePlan, run_episode
from collectors.store import EpisodeStore
from collectors.swe import SweCollector
from collectors.tasks import TaskFileError, load_tasks
from collectors.web import WebCollector
from pipelines.curate import run_curation
from sandboxes.mcp_server_spec import load_servers
from schemas import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition
from schemas.transition import TRANSITION_SCHEMA_1_1
from tests.pipelines.curation_raw_collection import T0
from tests.plugin_example.sqlite_demo.collector import collect_command

ROOT = Path(__file__).resolve().parents[2]
SERVERS = load_servers(DEFAULT_SERVERS_FILE)


def _stored(out: Path, collector, task: Task) -> tuple[dict, list[dict]]:
    """Play `task` once on the live collector, store it, and read back its episode record and transition rows."""
    episode, transitions = run_episode(collector, EpisodePlan(task))
    assert episode.outcome != "error", episode.end_reason
    EpisodeStore(out).write(episode, transitions)
    record = json.loads((out / "episodes" / episode.domain / f"{episode.episode_id}.json").read_text())
    rows = pq.read_table(out / "transitions" / episode.domain / f"{episode.episode_id}.parquet").to_pylist()
    return record, rows


def _groups(record: dict, rows: list[dict]) -> set:
    return {record["task"]["group"], *(row["task"]["group"] for row in rows)}


def test_a_web_episode_records_its_site(tmp_path):
    web = WebCollector(step_deadline_s=12, action_timeout_ms=2000)
    try:
        task = Task("forum-look", "Look at the forum.", "web", options={"site": "forum"}, actions=["noop()"])
        assert _groups(*_stored(tmp_path, web, task)) == {"forum"}
    finally:
        web.close()


def test_an_mcp_episode_records_its_server(tmp_path):
    mcp = McpCollector(SERVERS)
    try:
        task = Task("what-time", "Ask the time.", "mcp", options={"server": "time"},
                    actions=[{"tool": "get_current_time", "arguments": {"timezone": "Europe/Paris"}}])
        assert _groups(*_stored(tmp_path, mcp, task)) == {"time"}
    finally:
        mcp.close()


def test_a_terminal_episode_keeps_its_task_id_as_group(tmp_path, base_image):
    from collectors.terminal import TerminalCollector
    terminal = TerminalCollector(base_image, name_prefix=f"wltest-group-{uuid.uuid4().hex[:8]}")
    try:
        task = Task("say-hi", "Say hi.", "terminal", actions=[[{"keystrokes": "echo hi\n", "duration": 2}]])
        assert _groups(*_stored(tmp_path, terminal, task)) == {"say-hi"}
    finally:
        terminal.close()


def _shipped_groups() -> dict[tuple[str, str], str]:
    """(domain, task id) -> group, for every task of the shipped task files, as the runner records it."""
    hooks = {"web": object.__new__(WebCollector), "os": object.__new__(DesktopCollector),
             "swe": object.__new__(SweCollector), "mcp": McpCollector(SERVERS), "search": McpCollector(SERVERS),
             "android": object.__new__(AndroidCollector)}
    groups = {}
    for domain in ("web", "os", "swe", "mcp", "search", "android"):
        path = ROOT / "tasks" / f"{domain}.yaml"
        for task in load_tasks(path, domain=domain if domain != "search" else None):
            groups[(domain, task.id)] = task.group or hooks[domain].task_group(task)
    return groups


def test_shipped_tasks_that_share_an_environment_share_a_group():
    groups = _shipped_groups()
    assert groups[("web", "forum-truncated-thread")] == groups[("web", "forum-slow-search")] == "forum"
    assert groups[("os", "calc-multiply")] == groups[("os", "calc-scientific-mode")] == "galculator"
    # Launched from lxterminal, the calculator's windows are what it observes: the calculator tasks' group.
    assert groups[("os", "terminal-open-calculator")] == "galculator"
    assert groups[("android", "settings-network")] == groups[("android", "settings-from-launcher-intent")]
    assert groups[("search", "world7-q00")] == groups[("search", "world7-q07")] == "world7"
    assert groups[("search", "packages-parquet")] == "packages"
    # The same reference server over stdio and over HTTP answers alike: one group.
    assert groups[("mcp", "everything-tour")] == groups[("mcp", "everything-over-http")] == "everything"
    assert groups[("swe", "six-edit-errors")] == groups[("swe", "six-explore-history-and-tests")] == "six"
    assert groups[("swe", "toolz-planted-bug-by-hand")] == "toolz"


def test_a_task_files_group_wins_over_the_collectors(tmp_path):
    """Played by a shipped collector that derives a group (mcp: the server) and by a plugin that keeps the default
    (the task id): the task file's `group` is what the episode and its transitions record."""
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump([{"id": "what-time", "instruction": "Ask the time.", "options": {"server": "time"},
                                     "group": "clocks", "actions": [{"tool": "get_current_time",
                                                                     "arguments": {"timezone": "Europe/Paris"}}]}]))
    mcp = McpCollector(SERVERS)
    try:
        (task,) = load_tasks(path, domain="mcp")
        assert mcp.task_group(task) == "time"
        assert _groups(*_stored(tmp_path / "mcp", mcp, task)) == {"clocks"}
    finally:
        mcp.close()

    setup = ["CREATE TABLE fruit (name TEXT)"]
    path.write_text(yaml.safe_dump([
        {"id": "count-fruit", "instruction": "Count.", "group": "fruit-db", "setup": setup,
         "actions": ["SELECT count(*) FROM fruit"]},
        {"id": "list-fruit", "instruction": "List.", "setup": setup, "actions": ["SELECT name FROM fruit"]}]))
    app = typer.Typer()
    app.command()(collect_command)
    result = CliRunner().invoke(app, ["--tasks", str(path), "--out", str(tmp_path / "sqlite")])
    assert result.exit_code == 0, (result.stderr, result.exception)
    recorded = {}
    for record_path in (tmp_path / "sqlite" / "episodes" / "sqlite").glob("*.json"):
        record = json.loads(record_path.read_text())
        rows = pq.read_table(record_path.parents[2] / "transitions" / "sqlite" /
                             f"{record['episode_id']}.parquet").to_pylist()
        recorded[record["task"]["id"]] = _groups(record, rows)
    assert recorded == {"count-fruit": {"fruit-db"}, "list-fruit": {"list-fruit"}}


@pytest.mark.parametrize("value", [None, 7, ["galculator"]])  # blank strings: test_task_group_blank.py
def test_a_group_that_is_not_a_non_empty_string_is_refused(tmp_path, value):
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump([{"id": "calc", "instruction": "x", "group": value}]))
    with pytest.raises(TaskFileError) as error:
        load_tasks(path)
    assert str(error.value) == (f"{path} task #1 (task 'calc'): group must be a non-empty string (the environment "
                                f"group its episodes are recorded in), got {value!r}")


def test_explore_tasks_join_the_group_of_their_environment():
    from collectors.mcp import _explore_tasks
    from collectors.web import explore_tasks
    web, mcp = object.__new__(WebCollector), McpCollector(SERVERS)
    assert [web.task_group(task) for task in explore_tasks(["shop", "tracker"], 5)] == ["shop", "tracker"]
    explored = {task.id: mcp.task_group(task) for task in _explore_tasks(SERVERS, ["search-world-http", "git"])}
    assert explored == {"explore-search-world-http": "world7", "explore-git": "git"}
    url_task = Task("explore-url-1", "Explore.", "web", options={"url": "https://example.org:8443/a/b?c"})
    assert web.task_group(url_task) == "https://example.org:8443"
    # Android's explore task sets the group itself: its app, the group tasks/android.yaml gives the Settings tasks.
    from collectors.android.explore import explore_task
    assert explore_task("com.android.settings").group == "com.android.settings"


def _write_collection(root: Path) -> None:
    """Two web tasks on one site, and a terminal task with no group (as the runner writes it, through the store)."""
    store = EpisodeStore(root)
    env, provenance = EnvInfo("chromium", "chromium-1"), Provenance(collector="test", collector_version="1")
    for domain, task_id, group in (("web", "shop-buy", "shop"), ("web", "shop-search", "shop"),
                                   ("terminal", "say-hi", None)):
        episode_id, state, transitions = f"{domain}-{task_id}", Observation("start", b"start"), []
        for step in range(3):
            after = Observation(f"{task_id} step {step}", f"{task_id} step {step}".encode())
            transitions.append(Transition(episode_id, step, domain, env, task_id, f"do {task_id}", state,
                                          Action("keys", {}, f"act {step}"), after, Timings(T0, T0), provenance,
                                          task_group=group))
            state = after
        store.write(Episode(episode_id, domain, env, task_id, f"do {task_id}", "scripted", "success", 3,
                            "script_done", T0, T0, provenance, task_group=group), transitions)


def _as_written_before_groups(new: Path, old: Path) -> None:
    """`new` as collect wrote it before task.group existed: raw schema 1.1, records without the field."""
    shutil.copytree(new, old)
    for path in (old / "transitions").rglob("*.parquet"):
        table = pq.read_table(path)
        assert table.schema.field("task").type != TRANSITION_SCHEMA_1_1.field("task").type
        rows = table.to_pylist()
        for row in rows:
            del row["task"]["group"]
            row["schema_version"] = "1.1"
        pq.write_table(pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA_1_1), path)
    for path in (old / "episodes").rglob("*.json"):
        record = json.loads(path.read_text())
        del record["task"]["group"]
        path.write_text(json.dumps(record))


def _curated(out: Path, table: str = "transitions") -> list[dict]:
    return sorted(pq.read_table(out / table).to_pylist(), key=lambda row: row["id"])


def test_curation_carries_the_group_and_an_old_collection_gets_the_task_id(tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    _write_collection(new)
    _as_written_before_groups(new, old)
    for folder in (new, old):
        stats = run_curation(str(folder), str(folder.with_name(folder.name + "-curated")))
        assert stats["out"] == 9 and stats["dead_lettered"] == 0
    groups = {row["id"]: row["task_group"] for row in _curated(tmp_path / "new-curated")}
    assert groups == {**{f"web-shop-buy:{step}": "shop" for step in range(3)},
                      **{f"web-shop-search:{step}": "shop" for step in range(3)},
                      **{f"terminal-say-hi:{step}": "say-hi" for step in range(3)}}
    assert {row["id"]: row["task_group"] for row in _curated(tmp_path / "old-curated")} == \
        {row["id"]: row["task_id"] for row in _curated(tmp_path / "old-curated")}
    # The group is in no hash and no stage text: both collections give the same stage rows and content hashes.
    assert [row["content_hash"] for row in _curated(tmp_path / "new-curated")] == \
        [row["content_hash"] for row in _curated(tmp_path / "old-curated")]
    for stage in ("stage1", "stage2", "stage3"):
        new_rows, old_rows = (_curated(tmp_path / folder, stage) for folder in ("new-curated", "old-curated"))
        # Each stage row carries its transition's group, and nothing else differs.
        assert {row["id"]: row.pop("task_group") for row in new_rows} == groups
        assert {row["id"]: row.pop("task_group") for row in old_rows} == {row: row.rsplit(":", 1)[0].split("-", 1)[1]
                                                                          for row in groups}
        assert new_rows == old_rows
