"""Curating records older than task groups (raw schema 1.0 and 1.1, whose task has no `group`): their task_group is
their task id, so a split by group may put one site or server in both parts. The real `worldline curate` counts
those rows per domain in stats.json, says so in one `Note:` line and in the card's Splitting section, and records
the raw schema versions it read; a collection of today's schema alone gets none of it. `worldline query` over an
output curated before task_group existed says to curate again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.pack import pack_collection
from collectors.store import EpisodeStore
from pipelines.curate import run_curation
from schemas import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition
from schemas.transition import TRANSITION_SCHEMA_1_0, TRANSITION_SCHEMA_1_1
from schemas.version import SCHEMA_VERSION
from tests.pipelines.curation_raw_collection import T0

# (domain, task id, group as today's collectors record it, raw schema the episode is rewritten to)
EPISODES = (("web", "shop-buy", "shop", "1.0"), ("mcp", "git-commit", "git", "1.1"),
            ("web", "shop-search", "shop", SCHEMA_VERSION),
            ("terminal", "say-hi", "say-hi", SCHEMA_VERSION))  # terminal's group is its id by design: not counted
STEPS = 3


def _write_collection(root: Path) -> None:
    store = EpisodeStore(root)
    env, provenance = EnvInfo("chromium", "chromium-1"), Provenance(collector="test", collector_version="1")
    for domain, task_id, group, _ in EPISODES:
        episode_id, state, transitions = f"{domain}-{task_id}", Observation("start", b"start"), []
        for step in range(STEPS):
            text = f"{task_id} step {step}: " + " ".join(f"{task_id}-w{step}-{i}" for i in range(10))
            after = Observation(text, text.encode())
            transitions.append(Transition(episode_id, step, domain, env, task_id, f"do {task_id}", state,
                                          Action("keys", {}, f"act {task_id} {step}"), after, Timings(T0, T0),
                                          provenance, task_group=group))
            state = after
        store.write(Episode(episode_id, domain, env, task_id, f"do {task_id}", "scripted", "success", STEPS,
                            "script_done", T0, T0, provenance, task_group=group), transitions)


def _as_recorded_by_older_worldlines(root: Path) -> None:
    """Each episode of EPISODES older than today's schema rewritten as that version's collect wrote it: a 1.1 file's
    task has no group, a 1.0 file has no replay_observations either (schemas/transition.py)."""
    schemas = {"1.0": TRANSITION_SCHEMA_1_0, "1.1": TRANSITION_SCHEMA_1_1}
    for domain, task_id, _, version in EPISODES:
        if version == SCHEMA_VERSION:
            continue
        path = root / "transitions" / domain / f"{domain}-{task_id}.parquet"
        rows = pq.read_table(path).to_pylist()
        for row in rows:
            del row["task"]["group"]
            row["schema_version"] = version
            if version == "1.0":
                del row["replay_observations"]
        pq.write_table(pa.Table.from_pylist(rows, schema=schemas[version]), path)
        record = root / "episodes" / domain / f"{domain}-{task_id}.json"
        fields = json.loads(record.read_text())
        del fields["task"]["group"]
        fields["schema_version"] = version
        record.write_text(json.dumps(fields))


def curate(raw: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                           str(out)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def collections(tmp_path_factory):
    """(today's collection, the same with older episodes, those curated by the command: its stderr)."""
    base = tmp_path_factory.mktemp("groups")
    new, old = base / "new", base / "old"
    _write_collection(new)
    shutil.copytree(new, old)
    _as_recorded_by_older_worldlines(old)
    for raw in (new, old):
        result = curate(raw, raw.with_name(f"{raw.name}-curated"))
        assert result.returncode == 0, result.stderr[-3000:]
        (raw.with_name(f"{raw.name}-stderr.txt")).write_text(result.stderr)
    return base


def _stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def test_rows_older_than_groups_are_counted_per_domain_with_the_input_versions(collections):
    stats = _stats(collections / "old-curated")
    # 1.0 web and 1.1 mcp; the 1.2 web rows have their group, and the 1.2 terminal rows' group is their id.
    assert stats["task_group_from_task_id"] == {"rows": 2 * STEPS, "domains": {"mcp": STEPS, "web": STEPS}}
    assert stats["input_schema_versions"] == {"1.0": STEPS, "1.1": STEPS, SCHEMA_VERSION: 2 * STEPS}
    # What the rows hold is unchanged: the old ones' task_group is their task id.
    transitions = pq.read_table(collections / "old-curated" / "transitions").to_pylist()
    assert {row["task_id"]: row["task_group"] for row in transitions} == {
        "shop-buy": "shop-buy", "git-commit": "git-commit", "shop-search": "shop", "say-hi": "say-hi"}


def test_curate_prints_one_note_saying_what_to_do(collections):
    notes = [line for line in (collections / "old-stderr.txt").read_text().splitlines()
             if line.startswith("Note:")]
    assert len(notes) == 1, notes
    note = notes[0]
    assert f"{2 * STEPS} rows of the input (mcp {STEPS}, web {STEPS})" in note
    assert "task_group is their task id" in note and "both splits" in note
    assert "into a new --out to record their groups" in note


def test_the_card_says_what_the_input_was_and_why_a_split_may_leak(collections):
    card = (collections / "old-curated" / "README.md").read_text()
    assert (f"(raw schema {SCHEMA_VERSION}; this run's input rows by raw schema: {STEPS} of 1.0, {STEPS} of 1.1, "
            f"{2 * STEPS} of {SCHEMA_VERSION})") in card
    splitting = card[card.index("## Splitting"):card.index("## Rewards")]
    assert f"{2 * STEPS} rows of this run's input (mcp {STEPS}, web {STEPS})" in splitting
    assert "in both train and test" in splitting and "collect those tasks again into a new `--out`" in splitting


def test_a_collection_of_todays_schema_gets_only_its_version_count(collections):
    stats = _stats(collections / "new-curated")
    assert stats["input_schema_versions"] == {SCHEMA_VERSION: len(EPISODES) * STEPS}
    assert "task_group_from_task_id" not in stats
    assert "Note:" not in (collections / "new-stderr.txt").read_text()
    card = (collections / "new-curated" / "README.md").read_text()
    assert f"(raw schema {SCHEMA_VERSION}) from real environment transitions" in card
    assert "Rows without an environment group" not in card


def test_a_pack_of_old_and_new_episodes_counts_each_row_by_its_own_version(collections, tmp_path):
    # `worldline pack` writes 1.0 and 1.2 rows into one file of today's schema: the version is per row there.
    packed = tmp_path / "packed"
    shutil.copytree(collections / "old", packed)
    pack_collection(packed)
    assert len(list((packed / "transitions" / "web").glob("*.parquet"))) == 1
    stats = run_curation(str(packed), str(tmp_path / "packed-curated"))
    old = _stats(collections / "old-curated")
    assert stats["task_group_from_task_id"] == old["task_group_from_task_id"]
    assert stats["input_schema_versions"] == old["input_schema_versions"]


def _query(folder: Path, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(folder), sql], capture_output=True,
                          text=True, timeout=120)


def test_query_of_an_output_curated_before_task_group_says_to_curate_again(collections, tmp_path):
    before = tmp_path / "before-groups"
    shutil.copytree(collections / "new-curated", before)
    for shard in (before / "transitions").glob("*.parquet"):  # as curate wrote it before the column existed
        table = pq.read_table(shard)
        pq.write_table(table.drop_columns(["task_group"]), shard)
    result = _query(before, "SELECT task_group, count(*) FROM transitions GROUP BY 1")
    assert result.returncode == 1
    assert 'column "task_group" not found' in result.stderr
    assert "Hint:" in result.stderr and "curate its raw collection again" in result.stderr
    # A raw collection's transitions have no task_group column: no hint there.
    result = _query(collections / "new", "SELECT task_group FROM raw_transitions")
    assert result.returncode == 1 and "not found" in result.stderr and "Hint:" not in result.stderr
    # A current output's stage tables carry it (schemas/stages.py).
    result = _query(collections / "new-curated", "SELECT count(task_group) FROM stage2")
    assert result.returncode == 0, result.stderr
    # Stage tables curated before they had the column (session 23 and earlier) get the hint too, naming them.
    stages_before = tmp_path / "before-stage-groups"
    shutil.copytree(collections / "new-curated", stages_before)
    for stage in ("stage1", "stage2", "stage3"):
        for shard in (stages_before / stage).glob("*.parquet"):
            pq.write_table(pq.read_table(shard).drop_columns(["task_group"]), shard)
    result = _query(stages_before, "SELECT task_group FROM stage2")
    assert result.returncode == 1 and "its stage1, stage2, stage3 tables had a task_group column" in result.stderr
    # dedupe never has one: a current output gets no hint for it.
    result = _query(collections / "new-curated", "SELECT task_group FROM dedupe")
    assert result.returncode == 1 and "not found" in result.stderr and "Hint:" not in result.stderr


def test_query_of_an_output_curated_before_state_meta_json_says_to_curate_again(collections, tmp_path):
    before = tmp_path / "before-state-meta"
    shutil.copytree(collections / "new-curated", before)
    for shard in (before / "transitions").glob("*.parquet"):  # as curate wrote it before session 28
        pq.write_table(pq.read_table(shard).drop_columns(["state_meta_json"]), shard)
    result = _query(before, "SELECT state_meta_json FROM transitions")
    assert result.returncode == 1
    assert "its transitions table had a state_meta_json column: curate its raw collection again" in result.stderr
    # The stage tables never carry it: no hint for them.
    result = _query(collections / "new-curated", "SELECT state_meta_json FROM stage2")
    assert result.returncode == 1 and "not found" in result.stderr and "Hint:" not in result.stderr
