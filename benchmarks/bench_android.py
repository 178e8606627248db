"""Android step time through the real adb server against the replay device, side by side with the raw adbutils
calls a step is made of. The replay device answers instantly, so these are the costs of adb and of the collector,
not of a phone (a real `uiautomator dump` takes 0.5-2 s on a device)."""

from __future__ import annotations

import statistics
import time

import adbutils

from collectors.android.actions import parse_action
from collectors.android.collector import AndroidCollector
from collectors.api import Task
from sandboxes.adb_replay import start_replay_device
from schemas.render.android import render_uiautomator

ROUNDS = 40
# Gmail inbox -> Compose -> Navigate up -> inbox: every step changes the screen, as recorded.
COMPOSE, NAVIGATE_UP = (828, 1901), (77, 154)


def _timed(fn, rounds: int = ROUNDS) -> list[float]:
    times = []
    for i in range(rounds):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _row(name: str, times: list[float]) -> None:
    times = sorted(times)
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"{name:<52} {statistics.median(times):8.2f} {p90:8.2f} {len(times):6d}")


def main() -> None:
    device = start_replay_device("pixel")
    adb = adbutils.AdbClient()
    try:
        collector = AndroidCollector(device.serial, settle_s=0)
        collector.reset(Task(id="bench", instruction="bench", setup=[{"tap": {"desc": "Gmail"}}]))
        raw_device = adb.device(device.serial)
        raw = raw_device.dump_hierarchy().encode()
        print(f"{'operation (replay device, real adb server)':<52} {'median':>8} {'p90':>8} {'n':>6}   [ms]")
        _row("adb server host query (no device involved)", _timed(lambda i: adb.server_version()))
        _row("adbutils shell: input tap", _timed(lambda i: raw_device.click(*(COMPOSE if i % 2 == 0
                                                                                else NAVIGATE_UP))))
        _row("adbutils dump_hierarchy (shell dump + sync read)", _timed(lambda i: raw_device.dump_hierarchy()))
        _row("adbutils tap + one dump (unchecked)", _timed(lambda i: (
            raw_device.click(*(COMPOSE if i % 2 == 0 else NAVIGATE_UP)), raw_device.dump_hierarchy())))
        _row("render_uiautomator (flattened view list)", _timed(lambda i: render_uiautomator(raw, {}), 200))
        actions = [parse_action({"tap": COMPOSE}), parse_action({"tap": NAVIGATE_UP})]
        steps = []

        def step(i):
            steps.append(collector.step(actions[i % 2]))
        _row("collector.step: tap + stable dump + focus/keyboard", _timed(step))
        assert all(s.observation.meta["settled"] and s.error is None for s in steps)
        dumps = statistics.mean(s.observation.meta["dumps"] for s in steps)
        print(f"dumps per collector step: {dumps:.1f} (two must agree); screens seen: "
              f"{len({s.observation.raw for s in steps})}")
    finally:
        adb.disconnect(device.serial)
        device.stop()


if __name__ == "__main__":
    main()
