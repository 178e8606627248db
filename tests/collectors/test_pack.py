"""`worldline pack`: finished episodes move into pack files whole, nothing is lost or doubled, and a pack killed
between writing and deleting its members is finished by the next run."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq

from collectors.pack import _write_pack, pack_collection
from schemas.packs import is_pack, pack_members
from collectors.store import EpisodeStore
from schemas import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition
from schemas.layout import episode_path, transitions_path

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def write_episode(store, episode_id, steps, outcome="success", domain="terminal"):
    env, provenance = EnvInfo("docker-image", "img"), Provenance("test", "1")
    transitions = [Transition(episode_id, step, domain, env, "t", "do", Observation(f"s{step}", f"s{step}".encode()),
                              Action("keys", {"k": step}, f"k{step}"),
                              Observation(f"{episode_id} {step}", f"{episode_id} {step}".encode()),
                              Timings(T0, T0 + timedelta(seconds=1)), provenance) for step in range(steps)]
    store.write(Episode(episode_id, domain, env, "t", "do", "scripted", outcome, steps, "script_done", T0, T0,
                        provenance), transitions)


def all_rows(root):
    rows = []
    for path in sorted((root / "transitions").rglob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return sorted(rows, key=lambda r: (r["episode_id"], r["step"]))


def collection(root):
    store = EpisodeStore(root)
    for number, steps in enumerate((3, 5, 2, 4)):
        write_episode(store, f"ep{number}", steps)
    write_episode(store, "broken", 2, outcome="error")  # retried by the next collection run: not packed
    write_episode(store, "unfinished", 2)
    episode_path(root, "terminal", "unfinished").unlink()  # its commit marker never got written
    return store


def test_finished_episodes_are_packed_whole_and_nothing_is_lost(tmp_path):
    collection(tmp_path)
    before = all_rows(tmp_path)
    report = pack_collection(tmp_path, rows_per_group=6, rows_per_pack=100)
    assert (report.packs_written, report.episodes_packed, report.transitions_packed, report.left_unpacked) == \
        (1, 4, 14, 2)
    assert all_rows(tmp_path) == before
    folder = tmp_path / "transitions" / "terminal"
    assert sorted(p.name for p in folder.glob("*.parquet") if not is_pack(p)) == ["broken.parquet",
                                                                                  "unfinished.parquet"]
    [pack] = [p for p in folder.glob("*.parquet") if is_pack(p)]
    assert sorted(pack_members(pack)) == [f"ep{i}.parquet" for i in range(4)]
    parquet = pq.ParquetFile(pack)
    assert parquet.num_row_groups > 1
    seen_in = {}
    for group in range(parquet.num_row_groups):
        for episode_id in set(parquet.read_row_group(group, columns=["episode_id"]).column(0).to_pylist()):
            assert episode_id not in seen_in, "an episode was split across row groups"
            seen_in[episode_id] = group
    # Running it again finds nothing new to pack.
    assert pack_collection(tmp_path).packs_written == 0


def test_packs_are_cut_at_the_size_limit_without_splitting_episodes(tmp_path):
    collection(tmp_path)
    report = pack_collection(tmp_path, rows_per_pack=8)
    assert report.packs_written == 2 and report.transitions_packed == 14


def test_a_pack_killed_before_deleting_its_members_is_finished_next_time(tmp_path):
    collection(tmp_path)
    before = all_rows(tmp_path)
    folder = tmp_path / "transitions" / "terminal"
    members = [transitions_path(tmp_path, "terminal", f"ep{i}") for i in range(2)]
    _write_pack(folder, members, rows_per_group=100)  # the kill came here, before the members were deleted
    assert len(all_rows(tmp_path)) == len(before) + 8  # the doubled rows a reader would see right now
    report = pack_collection(tmp_path)
    assert report.leftovers_removed == 2
    assert all_rows(tmp_path) == before


def test_command_reports_what_it_did(tmp_path):
    collection(tmp_path)
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "pack", str(tmp_path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "packed 4 episodes (14 transitions) into 1 files" in result.stdout
    missing = subprocess.run([sys.executable, "-m", "pipelines.cli", "pack", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "is not a raw collection" in missing.stderr
    assert json.loads(episode_path(tmp_path, "terminal", "ep0").read_text())["episode_id"] == "ep0"


def test_episodes_written_in_schema_1_0_are_packed_with_the_newer_columns_null(tmp_path):
    from schemas.transition import TRANSITION_SCHEMA, TRANSITION_SCHEMA_1_0
    store = collection(tmp_path)
    old = transitions_path(tmp_path, "terminal", "ep1")
    table = pq.read_table(old)
    pq.write_table(table.select(TRANSITION_SCHEMA_1_0.names).cast(TRANSITION_SCHEMA_1_0), old)
    assert "replay_observations" not in pq.read_schema(old).names
    before = all_rows(tmp_path)
    report = pack_collection(store.root, rows_per_group=6, rows_per_pack=100)
    assert report.episodes_packed == 4
    after = all_rows(tmp_path)
    assert [row["replay_observations"] for row in after] == [None] * len(after)
    assert [row["task"]["group"] for row in after] == [None] * len(after)  # added in 1.2; its collector set none
    assert [{k: {"group": None, **v} if k == "task" else v for k, v in row.items() if k != "replay_observations"}
            for row in after] == \
        [{k: {"group": None, **v} if k == "task" else v for k, v in row.items() if k != "replay_observations"}
         for row in before]
    [pack] = [p for p in (tmp_path / "transitions" / "terminal").glob("*.parquet") if is_pack(p)]
    assert pq.read_schema(pack).remove_metadata().equals(TRANSITION_SCHEMA.remove_metadata())
