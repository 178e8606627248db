"""The replay device through the real adb server and both real adb clients (the CLI and adbutils)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from adbutils import AdbError
from adbutils._utils import adb_path

from sandboxes.adb_replay import REPLAY_PROPERTY, RecordingError, load_recording
from sandboxes.adb_replay.recording import RECORDINGS_ENV

REPO = Path(__file__).resolve().parents[2]


def _adb(serial, *args, check=True):
    return subprocess.run([adb_path(), "-s", serial, *args], capture_output=True, text=True, timeout=30,
                          check=check)


def test_adb_cli_sees_a_replay_device_and_runs_shell_v2(adb, replay_device):
    serial = replay_device.serial
    listing = subprocess.run([adb_path(), "devices", "-l"], capture_output=True, text=True, timeout=30).stdout
    line = next(entry for entry in listing.splitlines() if entry.startswith(serial))
    assert "device" in line and "model:replay_pixel" in line
    assert "shell_v2" in adb.device(serial).get_features()
    assert _adb(serial, "shell", "getprop", REPLAY_PROPERTY).stdout.startswith("adb-replay/pixel 1080x2220")
    # shell v2 carries stderr and the exit status separately.
    missing = _adb(serial, "shell", "no_such_tool", check=False)
    assert missing.returncode == 127 and "no_such_tool: inaccessible or not found" in missing.stderr
    assert _adb(serial, "shell", "echo a && echo b || echo c").stdout == "a\nb\n"


def test_sync_pull_push_and_stat_over_the_wire(replay_device, tmp_path, recording):
    serial = replay_device.serial
    out = _adb(serial, "shell", "uiautomator", "dump", "/sdcard/d.xml").stdout
    assert out == "UI hierchary dumped to: /sdcard/d.xml\n"
    _adb(serial, "pull", "/sdcard/d.xml", str(tmp_path / "d.xml"))
    home = recording.screens[recording.profile("pixel").home].raw
    assert (tmp_path / "d.xml").read_bytes() == home
    blob = bytes(range(256)) * 700  # more than one sync chunk and more than one adb payload
    (tmp_path / "blob").write_bytes(blob)
    _adb(serial, "push", str(tmp_path / "blob"), "/data/local/tmp/blob")
    _adb(serial, "pull", "/data/local/tmp/blob", str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == blob
    failed = _adb(serial, "pull", "/sdcard/none.xml", str(tmp_path / "x"), check=False)
    assert failed.returncode != 0 and "does not exist" in failed.stdout + failed.stderr


def test_adbutils_shell_v1_v2_sync_and_inputs_follow_the_recordings(adb, replay_device, recording):
    device = adb.device(replay_device.serial)
    assert device.prop.model == "replay-pixel"
    assert device.window_size() == (1080, 2220)
    assert device.shell2("no_such_tool", v2=False).returncode == 127
    v2 = device.shell2("getprop ro.product.manufacturer; no_such_tool", v2=True)
    assert (v2.stdout, v2.returncode) == ("worldline\n", 127) and "not found" in v2.stderr
    device.click(138, 1503)  # the Settings icon on the recorded Pixel home screen
    settings = device.dump_hierarchy()
    assert 'package="com.android.settings"' in settings
    assert device.sync.stat("/data/local/tmp/uidump.xml").size == len(settings.encode())
    with pytest.raises(AdbError, match="No such file"):
        device.sync.read_bytes("/sdcard/none.xml")
    device.keyevent("KEYCODE_BACK")
    assert device.dump_hierarchy().encode() == recording.screens[recording.profile("pixel").home].raw
    replayed = [(r.command, r.replayed) for r in replay_device.phone.inputs]
    assert replayed[0][1] is not None and replayed[0][0] == "tap 138 1503"
    assert replayed[1] == ("key BACK", None)


def test_unrecorded_input_leaves_the_screen_and_is_logged(adb, replay_device):
    device = adb.device(replay_device.serial)
    before = device.dump_hierarchy()
    device.click(5, 5)
    assert device.dump_hierarchy() == before
    assert replay_device.phone.inputs[-1].replayed is None


@pytest.mark.parametrize("profile,launcher", [("vivo", "com.bbk.launcher2"), ("miui", "com.miui.home")])
def test_other_recorded_devices_start_on_their_launcher(adb, make_replay_device, profile, launcher):
    device = adb.device(make_replay_device(profile).serial)
    assert f'package="{launcher}"' in device.dump_hierarchy()
    assert device.prop.model == f"replay-{profile}"


def test_replay_device_as_its_own_process_as_documented(adb, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "sandboxes.adb_replay", "--port", "0", "--profile", "miui"],
                               cwd=REPO, stdout=subprocess.PIPE, text=True)
    serial = None
    try:
        line = process.stdout.readline()
        serial = line.rsplit(" ", 1)[-1].strip()
        assert line.startswith("replay device (miui) listening: adb connect 127.0.0.1:"), line
        assert "connected" in adb.connect(serial, timeout=10)
        assert _adb(serial, "shell", "wm", "size").stdout == "Physical size: 1080x2262\n"
    finally:
        if serial:
            adb.disconnect(serial)
        process.terminate()
        process.wait(10)


def test_garbage_on_the_wire_drops_only_that_connection(adb, replay_device):
    with socket.create_connection((replay_device.host, replay_device.port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(100) == b""  # closed without an answer
    assert adb.device(replay_device.serial).shell("echo still here") == "still here"


def test_missing_recordings_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(RECORDINGS_ENV, str(tmp_path))
    with pytest.raises(RecordingError, match="actions.json is missing"):
        load_recording()
