"""A replay device: a process that speaks the adb device protocol and serves REAL recorded uiautomator dumps.

It exists because no Android device or emulator can run on the machines that test worldline. It is a stand-in, not
a phone: its properties (ro.worldline.replay_device, ro.product.model=replay-*) say so, and the android collector
marks everything recorded from it (provenance.stand_in, env.kind "android-replay").
"""

from sandboxes.adb_replay.phone import REPLAY_PROPERTY, ReplayPhone
from sandboxes.adb_replay.recording import Recording, RecordingError, default_recordings_dir, load_recording
from sandboxes.adb_replay.server import ReplayDevice


def start_replay_device(profile: str = "pixel", host: str = "127.0.0.1", port: int = 0, settle_dumps: int = 0,
                        recording: Recording | None = None) -> ReplayDevice:
    phone = ReplayPhone(recording or load_recording(), profile, settle_dumps)
    return ReplayDevice(phone, host, port).start()


__all__ = ["REPLAY_PROPERTY", "Recording", "RecordingError", "ReplayDevice", "ReplayPhone", "default_recordings_dir",
           "load_recording", "start_replay_device"]
