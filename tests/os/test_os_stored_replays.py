"""Replays added after the fact to a stored os episode, whose stored actions hold where they landed (`resolved`)."""

from __future__ import annotations

import json
import uuid

import pyarrow.parquet as pq

from collectors.api import ScriptedPolicy
from collectors.os_desktop import DesktopCollector
from collectors.runner import EpisodePlan, StoredReplays, replay_stored, run_episode
from collectors.store import EpisodeStore
from schemas.layout import transitions_path
from tests.os.test_os_desktop import TASKS, display


def test_a_stored_episode_is_replayed_from_its_actions_as_stored_resolved_points_and_all(tmp_path, desktop_image):
    plan = EpisodePlan(TASKS["calc-multiply"], 0, ScriptedPolicy, replays=1)
    store = EpisodeStore(tmp_path)
    with DesktopCollector(desktop_image, name_prefix=f"wltest-os-{uuid.uuid4().hex[:8]}") as collector:
        episode, transitions = run_episode(collector, plan)
        assert episode.outcome != "error", episode.end_reason
        store.write(episode, transitions)
        path = transitions_path(tmp_path, "os", episode.episode_id)
        actions = [row["arguments_json"] for row in pq.read_table(path).column("action").to_pylist()]
        assert all("resolved" in json.loads(arguments) for arguments in actions)

        # A stored `resolved` sent back to the collector was an unknown argument: the replay broke at step 0.
        assert replay_stored(collector, store, StoredReplays(plan, episode.episode_id, 1))

    rows = pq.read_table(path).to_pylist()
    assert [len(row["replay_observations"]) for row in rows] == [1] * 4
    assert display(rows[-1]["replay_observations"][0]["text"]) == "42"
    assert [row["action"]["arguments_json"] for row in rows] == actions
