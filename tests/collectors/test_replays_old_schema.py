"""`collect --replays N` over a collection recorded by an older worldline (raw schema 1.0 or 1.1: no task.group)
rewrites each episode's transitions file in the current schema. Its version must stay true: collect knows the group
of the task it replayed (the task's own `group:`, else the collector's task_group), so the rows get that group and
version 1.2; rows whose group is not known keep their own version, which curation counts as grouped by task id
(compat finding V5: they became "1.2" with a null group). Real collectors (in-memory SQLite) and real files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.api import Task
from collectors.runner import EpisodePlan, collect, episode_id_for
from collectors.store import EpisodeStore
from schemas import SCHEMA_VERSION, transition_errors
from schemas.transition import TRANSITION_SCHEMA_1_0, TRANSITION_SCHEMA_1_1
from tests.plugin_example.sqlite_demo.collector import SqliteCollector

DOMAIN = SqliteCollector.domain
SETUP = ["CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (1), (2)"]
ACTIONS = ["SELECT count(*) FROM t", "INSERT INTO t VALUES (3)", "SELECT sum(x) FROM t"]


class ShardedSqlite(SqliteCollector):
    """A collector whose tasks share environments: its group is the task's `db` option, not the task id."""

    def task_group(self, task: Task) -> str:
        return f"db-{task.options['db']}"


def _plans(replays: int = 0) -> list[EpisodePlan]:
    tasks = [Task("count-own-group", "Count rows.", DOMAIN, setup=SETUP, actions=ACTIONS, options={"db": "a"},
                  group="shared-db"),
             Task("count-collector-group", "Count rows.", DOMAIN, setup=SETUP, actions=ACTIONS, options={"db": "b"})]
    return [EpisodePlan(task, replays=replays) for task in tasks]


EXPECTED_GROUPS = {"count-own-group": "shared-db", "count-collector-group": "db-b"}


def _path(root: Path, task_id: str) -> Path:
    return root / "transitions" / DOMAIN / f"{episode_id_for(DOMAIN, task_id, 0)}.parquet"


def _as_written_by(path: Path, version: str) -> None:
    """The file as that version's collect wrote it: no task.group (1.1), nor replay_observations (1.0)."""
    rows = pq.read_table(path).to_pylist()
    for row in rows:
        del row["task"]["group"]
        row["schema_version"] = version
        if version == "1.0":
            del row["replay_observations"]
    schema = {"1.0": TRANSITION_SCHEMA_1_0, "1.1": TRANSITION_SCHEMA_1_1}[version]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _recorded(path: Path) -> list[dict]:
    """What the recording holds, apart from the replays, the version and the group a rewrite may add."""
    return [{**{k: v for k, v in row.items() if k not in ("replay_observations", "schema_version", "task")},
             "task": {k: v for k, v in row["task"].items() if k != "group"}}
            for row in pq.read_table(path).to_pylist()]


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_replays_added_to_an_older_file_backfill_its_group_and_make_it_a_true_current_file(tmp_path, version):
    report = collect(ShardedSqlite, _plans(), tmp_path, domain=DOMAIN, progress=False)
    assert report.completed == 2 and report.errored == 0
    for task_id in EXPECTED_GROUPS:
        _as_written_by(_path(tmp_path, task_id), version)
    before = {task_id: _recorded(_path(tmp_path, task_id)) for task_id in EXPECTED_GROUPS}
    records = {p: p.read_bytes() for p in (tmp_path / "episodes" / DOMAIN).glob("*.json")}

    again = collect(ShardedSqlite, _plans(replays=1), tmp_path, domain=DOMAIN, progress=False)
    assert again.replays_added == 2 and again.replays_failed == 0, again.replay_errors

    for task_id, group in EXPECTED_GROUPS.items():
        rows = pq.read_table(_path(tmp_path, task_id)).to_pylist()
        assert [row["schema_version"] for row in rows] == [SCHEMA_VERSION] * len(ACTIONS)
        assert [row["task"]["group"] for row in rows] == [group] * len(ACTIONS), task_id
        assert [len(row["replay_observations"]) for row in rows] == [1] * len(ACTIONS)
        assert all(transition_errors(row) == [] for row in rows)
        assert _recorded(_path(tmp_path, task_id)) == before[task_id], "the recording must come back unchanged"
    # The group is what a fresh collect of the same task records.
    fresh = tmp_path / "fresh"
    collect(ShardedSqlite, _plans(), fresh, domain=DOMAIN, progress=False)
    for task_id in EXPECTED_GROUPS:
        assert ({row["task"]["group"] for row in pq.read_table(_path(fresh, task_id)).to_pylist()}
                == {row["task"]["group"] for row in pq.read_table(_path(tmp_path, task_id)).to_pylist()})
    assert {p: p.read_bytes() for p in records} == records, "episode records are not rewritten"


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_rows_whose_group_is_not_known_keep_their_own_version(tmp_path, version):
    collect(ShardedSqlite, _plans(), tmp_path, domain=DOMAIN, progress=False)
    path = _path(tmp_path, "count-collector-group")
    _as_written_by(path, version)
    store = EpisodeStore(tmp_path)
    episode_id = path.stem
    table = store.read_transitions(DOMAIN, episode_id)
    replay = [{**row, "text": row["text"] + " again"} for row in table.column("next_observation").to_pylist()]

    # No group given, and a group given for another task only: neither says what this episode's group is.
    store.add_replays(DOMAIN, episode_id, table, [replay])
    rows = pq.read_table(path).to_pylist()
    assert [row["schema_version"] for row in rows] == [version] * len(ACTIONS)
    assert [row["task"]["group"] for row in rows] == [None] * len(ACTIONS)
    assert [len(row["replay_observations"]) for row in rows] == [1] * len(ACTIONS)
    assert all(transition_errors(row) == [] for row in rows)

    store.add_replays(DOMAIN, episode_id, store.read_transitions(DOMAIN, episode_id), [replay],
                      {"some-other-task": "db-z"})
    rows = pq.read_table(path).to_pylist()
    assert [(row["schema_version"], row["task"]["group"]) for row in rows] == [(version, None)] * len(ACTIONS)
    assert [len(row["replay_observations"]) for row in rows] == [2] * len(ACTIONS)

    record = json.loads((tmp_path / "episodes" / DOMAIN / f"{episode_id}.json").read_text())
    store.add_replays(DOMAIN, episode_id, store.read_transitions(DOMAIN, episode_id), [replay],
                      {record["task"]["id"]: "db-b"})
    rows = pq.read_table(path).to_pylist()
    assert [(row["schema_version"], row["task"]["group"]) for row in rows] == [(SCHEMA_VERSION, "db-b")] * len(ACTIONS)
