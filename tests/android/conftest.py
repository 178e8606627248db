"""Fixtures: the shared real dumps, and a replay device reached through the real adb server (port 5037).

The adb server is a shared singleton: each test device gets its own free port, and only its own serial is
disconnected afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path

import adbutils
import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_ANDROID = REPO.parent / "shared" / "data" / "android"


@pytest.fixture(scope="session")
def android_data() -> Path:
    if not (SHARED_ANDROID / "SOURCES.md").is_file():
        pytest.fail(f"the real Android dumps are missing: expected {SHARED_ANDROID}/SOURCES.md "
                    f"(CI keeps a read-only copy of shared/ beside the clone)")
    return SHARED_ANDROID


@pytest.fixture(scope="session")
def recording(android_data):
    from sandboxes.adb_replay import load_recording
    return load_recording(android_data / "Untergang1__AppAgent")


@pytest.fixture(scope="session")
def adb() -> adbutils.AdbClient:
    client = adbutils.AdbClient()
    client.server_version()  # starts the server with adbutils' adb if none is running
    return client


def _connect(adb, device) -> None:
    answer = adb.connect(device.serial, timeout=10)
    assert "connected" in answer, answer
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(d.serial == device.serial and d.get_state() == "device" for d in adb.device_list()):
            return
        time.sleep(0.05)
    raise AssertionError(f"the adb server did not bring {device.serial} online")


@pytest.fixture
def make_replay_device(adb, recording):
    """Start replay devices connected to the adb server; disconnect and stop exactly those afterwards."""
    from sandboxes.adb_replay import ReplayDevice, ReplayPhone
    started = []

    def make(profile: str = "pixel", settle_dumps: int = 0) -> ReplayDevice:
        device = ReplayDevice(ReplayPhone(recording, profile, settle_dumps)).start()
        started.append(device)
        _connect(adb, device)
        return device

    yield make
    for device in started:
        try:
            adb.disconnect(device.serial)
        except adbutils.AdbError:
            pass
        device.stop()


@pytest.fixture
def replay_device(make_replay_device):
    return make_replay_device()
