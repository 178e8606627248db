"""`python -m sandboxes.adb_replay --port 5599 --profile pixel`: run a replay device until interrupted, then
`adb connect 127.0.0.1:5599`. Prints the serial to use."""

import argparse
import threading

from sandboxes.adb_replay import RecordingError, load_recording, start_replay_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--profile", default="pixel", help="recorded device to play (pixel, vivo, miui)")
    parser.add_argument("--settle-dumps", type=int, default=0, help="dumps that show a screen still sliding in")
    parser.add_argument("--recordings", default=None, help="Untergang1__AppAgent folder (default: ../shared)")
    args = parser.parse_args()
    try:
        recording = load_recording(args.recordings)
    except RecordingError as exc:
        parser.exit(2, f"error: {exc}\n")
    device = start_replay_device(args.profile, args.host, args.port, args.settle_dumps, recording)
    print(f"replay device ({args.profile}) listening: adb connect {device.serial}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        device.stop()


if __name__ == "__main__":
    main()
