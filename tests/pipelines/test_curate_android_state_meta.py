"""A curated android row keeps its state's meta (state_meta_json) beside the next observation's, so a trace can tell
what was in front before the step: also at an episode's first step, where no curated row holds it otherwise.

The collection is made through the real adb server from the replay device (sandboxes/adb_replay), a stand-in for a
phone, not a phone: its dumps name the package alone (no activity), so its traces tell no activity change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from collectors.android.collector import AndroidCollector
from collectors.runner import EpisodePlan, collect
from collectors.tasks import load_tasks
# The replay device and the shared adb server, as the android tests reach them.
from tests.android.conftest import adb, android_data, make_replay_device, recording, replay_device  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = "com.google.android.apps.nexuslauncher"
SETTINGS = "com.android.settings"


def test_a_curated_android_row_keeps_its_states_meta(replay_device, tmp_path):
    task = next(t for t in load_tasks(REPO / "tasks" / "android.yaml") if t.id == "settings-network")
    raw, out = tmp_path / "raw", tmp_path / "curated"
    report = collect(lambda: AndroidCollector(replay_device.serial, settle_s=0), [EpisodePlan(task)], raw,
                     domain="android", progress=False)
    assert report.transitions == 4
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output", str(out),
                           "--keep-stand-ins", "--runner=FnApiRunner"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    recorded = {row["step"]: row for path in (raw / "transitions" / "android").glob("*.parquet")
                for row in pq.read_table(path).to_pylist()}
    curated = {row["step"]: row for row in pq.read_table(out / "transitions").to_pylist()}
    assert pq.read_schema(next((out / "transitions").glob("*.parquet"))).names[-1] == "state_meta_json"
    assert sorted(curated) == sorted(recorded) == [0, 1, 2, 3]
    for step, row in curated.items():
        assert row["state_meta_json"] == recorded[step]["state"]["meta_json"], step
    # The first step's state is the launcher, which only that row holds; a later one's is the step before's next.
    assert json.loads(curated[0]["state_meta_json"])["package"] == LAUNCHER
    assert json.loads(curated[0]["next_meta_json"])["package"] == SETTINGS
    assert [json.loads(curated[step]["state_meta_json"]) for step in (1, 2, 3)] == \
        [json.loads(curated[step]["next_meta_json"]) for step in (0, 1, 2)]
    # In no stage text: the meta's keys (dumps, settled) are nowhere in stages 1 to 3.
    for stage in ("stage1", "stage2", "stage3"):
        text = json.dumps(pq.read_table(out / stage).to_pylist(), default=str)
        assert '\\"settled\\"' not in text and '\\"dumps\\"' not in text, stage
    # The stand-in records no activity, and the opening names both apps already: no foreground sentence.
    targets = [row["target"] for row in pq.read_table(out / "stage2").to_pylist()]
    assert len(targets) == 4 and not any("The foreground" in target for target in targets)
