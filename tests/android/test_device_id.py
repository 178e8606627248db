"""The device serial (a persistent hardware id, or a LAN HOST:PORT) is recorded nowhere: episodes, rows, env and
observation meta name the device by a keyed id (collectors.host_id, privacy audit PR13), the same on every run of
this machine; episodes recorded with the raw serial in env.id are still taken as this device's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collectors.android.collector import AndroidCollector, DumpError
from collectors.host_id import keyed_id
from collectors.runner import EpisodePlan, _same_environment, collect
from collectors.tasks import load_tasks

TASKS = load_tasks(Path(__file__).resolve().parents[2] / "tasks" / "android.yaml")
DEVICE = re.compile(r"device-[0-9a-f]{12}")


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def test_no_record_holds_the_serial(replay_device, config_home, tmp_path):
    plans = [EpisodePlan(next(t for t in TASKS if t.id == "settings-network"))]
    report = collect(lambda: AndroidCollector(replay_device.serial, settle_s=0), plans, tmp_path / "raw",
                     domain="android", progress=False)
    assert report.completed == 1
    episode = next((tmp_path / "raw" / "episodes" / "android").glob("*.json")).read_text()
    rows = pq.read_table(next((tmp_path / "raw" / "transitions" / "android").glob("*.parquet"))).to_pylist()
    stored = episode + json.dumps(rows, default=str)
    host, port = replay_device.serial.rsplit(":", 1)
    assert replay_device.serial not in stored and f"{host}:{port}" not in stored
    details = json.loads(rows[0]["env"]["details_json"])
    assert "serial" not in details and DEVICE.fullmatch(details["device"])
    assert details["device"] == keyed_id(replay_device.serial, "device-")
    meta = json.loads(rows[0]["next_observation"]["meta_json"])
    assert "serial" not in meta and meta["device"] == details["device"]


def test_a_real_device_is_named_by_its_keyed_id_and_older_records_still_match(replay_device, config_home):
    collector = AndroidCollector(replay_device.serial, settle_s=0)
    collector.stand_in = None  # as a phone: the replay device is the only device here, and says it is a stand-in
    try:
        current = collector.env_info().to_row()
    finally:
        collector.close()
    device = keyed_id(replay_device.serial, "device-")
    assert current["kind"] == "android-device" and current["id"] == f"worldline/replay-pixel/{device}"
    # The same serial on the same machine (a later run) is the same device; another key names it otherwise.
    again = AndroidCollector(replay_device.serial, settle_s=0)
    again.close()
    assert again.device_id == device
    older = {**current, "id": f"worldline/replay-pixel/{replay_device.serial}"}
    assert collector.recorded_id_matches(older, current)
    for other in ({**older, "id": "worldline/replay-pixel/SOMEOTHER"}, {**older, "digest": "0" * 16},
                  {**older, "kind": "android-replay"}):
        assert not collector.recorded_id_matches(other, current)


def test_a_dump_error_names_the_device_by_its_keyed_id(replay_device, config_home):
    collector = AndroidCollector(replay_device.serial, settle_s=0, dump_retries=0)
    replay_device.phone.fail_next_dumps = 1
    with pytest.raises(DumpError) as caught:
        collector.observe()
    assert replay_device.serial not in str(caught.value) and collector.device_id in str(caught.value)


def test_older_serial_records_are_the_same_environment_to_the_runner(replay_device, tmp_path, monkeypatch):
    # The runner asks the collector when only the id differs: a record with the raw serial gets replays.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    collector = AndroidCollector(replay_device.serial, settle_s=0)
    collector.stand_in = None
    current = collector.env_info().to_row()
    older = {**current, "id": f"worldline/replay-pixel/{replay_device.serial}"}
    assert _same_environment(collector, older, current)
    assert not _same_environment(collector, {**older, "id": "worldline/replay-pixel/OTHER"}, current)
    assert not _same_environment(collector, {**older, "digest": "other"}, current)
    collector.close()
