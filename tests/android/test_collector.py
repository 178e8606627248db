"""The android collector against the replay device, through the real adb server."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collectors.android.actions import AndroidActionError, parse_action
from collectors.android.collector import AndroidCollector, DeviceError, DumpError
from collectors.runner import EpisodePlan, collect, run_episode
from collectors.tasks import load_tasks
from schemas import transition_errors
from schemas.render.android import flatten_uiautomator

TASKS = load_tasks(Path(__file__).resolve().parents[2] / "tasks" / "android.yaml")


def _task(task_id):
    return next(t for t in TASKS if t.id == task_id)


def test_replay_device_is_marked_as_a_stand_in(replay_device):
    collector = AndroidCollector(replay_device.serial, settle_s=0)
    env = collector.env_info()
    assert collector.stand_in.startswith("adb-replay/pixel")
    assert env.kind == "android-replay" and env.id == "adb-replay:replay-pixel"
    assert env.details["screen"] == [1080, 2220]


def test_scripted_task_records_the_recorded_screens(replay_device, recording, tmp_path):
    plans = [EpisodePlan(_task("settings-network"))]
    report = collect(lambda: AndroidCollector(replay_device.serial, settle_s=0), plans, tmp_path, domain="android",
                     progress=False)
    assert (report.completed, report.errored, report.transitions) == (1, 0, 4)
    episode = json.loads(next((tmp_path / "episodes" / "android").glob("*.json")).read_text())
    assert episode["provenance"]["stand_in"].startswith("adb-replay/pixel")
    assert episode["env"]["kind"] == "android-replay"
    rows = pq.read_table(next((tmp_path / "transitions" / "android").glob("*.parquet"))).to_pylist()
    for row in rows:
        assert transition_errors(row) == [], transition_errors(row)
        assert row["domain"] == "android" and row["provenance"]["stand_in"]
        assert row["next_observation"]["raw_format"] == "uiautomator-xml"
    # Selectors are recorded as the ids the observation shows; each raw dump is the real recorded file.
    assert [r["action"]["text"] for r in rows] == ["tap(4)", "tap(8)", "key(back)", "key(home)"]
    settings, network = (recording.screens[_key(recording, prefix)].raw for prefix in ("c76a8518", "0cf3934f"))
    assert rows[0]["next_observation"]["raw"] == settings
    assert rows[1]["next_observation"]["raw"] == network
    assert rows[2]["next_observation"]["raw"] == settings
    assert rows[1]["state"]["text"] == rows[0]["next_observation"]["text"]
    meta = json.loads(rows[0]["next_observation"]["meta_json"])
    assert meta["package"] == "com.android.settings" and meta["settled"] and meta["dumps"] == 2


def _key(recording, prefix):
    return next(k for k in recording.screens if k.startswith(prefix))


def test_screen_still_moving_is_dumped_until_two_agree(make_replay_device, recording):
    device = make_replay_device(settle_dumps=3)
    collector = AndroidCollector(device.serial, settle_s=0)
    collector.reset(_task("gmail-compose-and-back"))
    result = collector.step(parse_action({"tap": {"desc": "Gmail"}}))
    assert result.observation.meta["dumps"] == 5 and result.observation.meta["settled"]
    assert result.observation.raw == recording.screens[_key(recording, "5d139611")].raw
    impatient = AndroidCollector(device.serial, settle_s=0, max_dumps=3)
    moving = impatient.reset(_task("gmail-compose-and-back"))  # HOME sets the screen in motion again
    assert moving.meta["settled"] is False and moving.meta["dumps"] == 3


def test_keyboard_and_focused_element(replay_device):
    collector = AndroidCollector(replay_device.serial, settle_s=0)
    collector.reset(_task("chrome-search"))
    collector.step(parse_action({"tap": {"desc": "Chrome"}}))
    collector.step(parse_action({"tap": {"text": "OK"}}))
    observation = collector.step(parse_action({"tap": {"text": "Search or type web address"}})).observation
    assert observation.meta["keyboard_shown"] is True
    focused = observation.meta["focused"]
    assert focused["class"] == "android.widget.EditText" and focused["res"] == "com.android.chrome:id/url_bar"
    assert f"[{focused['index']:>2}] | android.widget.EditText" in observation.text
    typed = collector.step(parse_action('type("weather tomorrow")')).observation
    assert any(n.text.startswith("weather tomorrow") for n in flatten_uiautomator(typed.raw))


def test_failed_or_empty_dumps_are_errors_not_empty_screens(replay_device):
    collector = AndroidCollector(replay_device.serial, settle_s=0, dump_retries=2)
    replay_device.phone.fail_next_dumps = 1  # a transient failure is retried
    assert collector.observe().text
    replay_device.phone.fail_next_dumps = 3
    with pytest.raises(DumpError, match="could not get idle state"):
        collector.observe()
    replay_device.phone.empty_next_dumps = 3
    with pytest.raises(DumpError, match="the dump file is empty"):
        collector.observe()


def test_episode_with_a_broken_device_ends_in_error_and_keeps_what_was_recorded(replay_device):
    collector = AndroidCollector(replay_device.serial, settle_s=0, dump_retries=0)
    task = _task("settings-network")
    collector.reset(task)
    original = collector.step

    def failing_step(action):
        replay_device.phone.fail_next_dumps = 1 if "Network" in action.text else 0
        return original(action)

    collector.step = failing_step
    episode, transitions = run_episode(collector, EpisodePlan(task))
    assert episode.outcome == "error" and "DumpError" in episode.end_reason
    assert len(transitions) == 1


def test_bad_element_and_unknown_device(replay_device):
    collector = AndroidCollector(replay_device.serial, settle_s=0)
    collector.reset(_task("settings-network"))
    with pytest.raises(AndroidActionError, match=r"no element \[99\]"):
        collector.step(parse_action("tap(99)"))
    with pytest.raises(DeviceError, match="is not ready"):
        AndroidCollector("no-such-serial", settle_s=0)


def test_refused_actions_are_recorded_as_step_errors_and_waits_are_timed(replay_device):
    collector = AndroidCollector(replay_device.serial, settle_s=0)
    collector.reset(_task("settings-network"))
    refused = collector.step(parse_action("open_app(com.example.not_installed)"))
    assert "could not start the app" in refused.error and "No activities found" in refused.error
    assert refused.observation.meta["package"] == "com.google.android.apps.nexuslauncher"
    waited = collector.step(parse_action("wait(0.2)"))
    assert waited.error is None and waited.wait_ms == pytest.approx(200)
