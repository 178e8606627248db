"""The state of the replay device: which recorded screen is up, and how inputs move it along recorded steps.

Rules (documented in docs/android.md, because they are where a replay differs from a phone):
- tap / swipe move to the recorded `after` screen of a recorded step whose target node is on the current screen at
  the same place (exactly this screen first, then any screen of the profile showing the same node) and contains
  the touch point (for swipes: the start point, and the same direction). `input text` follows a recorded text step
  from exactly this screen with exactly this text.
- Anything else leaves the screen as it is (a real device would do *something*); each input is logged with the
  step it replayed or `None`.
- BACK returns to the screen before the last change, HOME to the profile's home screen, launching a package to
  the screen the recordings reached by tapping its icon on a launcher.
- After a change, `settle_dumps` dumps show the new screen still sliding in (bounds shifted), the way a dump taken
  during an animation does, so collectors must wait for two equal dumps.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from sandboxes.adb_replay.recording import Recording, Step, inside

KEYCODES = {"KEYCODE_HOME": 3, "KEYCODE_BACK": 4, "KEYCODE_ENTER": 66, "KEYCODE_DEL": 67, "KEYCODE_TAB": 61,
            "KEYCODE_MENU": 82, "KEYCODE_APP_SWITCH": 187, "KEYCODE_SEARCH": 84, "KEYCODE_ESCAPE": 111}
_BOUNDS_ATTR = re.compile(rb'bounds="\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]"')
_ROTATION = re.compile(rb'<hierarchy rotation="(\d)"')
DUMP_FAILURE = "ERROR: could not get idle state."
LONG_PRESS_MS = 500
REPLAY_PROPERTY = "ro.worldline.replay_device"  # a phone never has it; the android collector looks for it


@dataclass
class InputRecord:
    command: str
    before: str
    after: str
    replayed: str | None  # the recorded step that was followed, or None when the screen stayed


class ReplayPhone:
    def __init__(self, recording: Recording, profile: str = "pixel", settle_dumps: int = 0):
        self.recording = recording
        self.profile = recording.profile(profile)
        self.settle_dumps = settle_dumps
        self.current = self.profile.home
        self.history: list[str] = []
        self.files: dict[str, tuple[bytes, int]] = {}
        self.inputs: list[InputRecord] = []
        self.dumps = 0
        # Fault injection for tests: the next N dumps fail the way uiautomator does, or write an empty file.
        self.fail_next_dumps = 0
        self.empty_next_dumps = 0
        self._settle_left = 0
        self.lock = threading.RLock()

    # --- what the device reports about itself -------------------------------------------------------------------
    def properties(self, serial: str) -> dict[str, str]:
        w, h = self.profile.size
        return {
            "ro.product.manufacturer": "worldline",
            "ro.product.brand": "worldline",
            "ro.product.name": "adb_replay",
            "ro.product.device": "adb_replay",
            "ro.product.model": f"replay-{self.profile.name}",
            "ro.build.characteristics": "replay",
            "ro.serialno": serial,
            REPLAY_PROPERTY: f"adb-replay/{self.profile.name} {w}x{h} of {self.recording.source}",
        }

    @property
    def screen(self):
        return self.recording.screens[self.current]

    # --- screen changes -------------------------------------------------------------------------------------------
    def _go(self, command: str, after: str | None, step: Step | None, push: bool = True) -> None:
        before = self.current
        if after is not None and after != before:
            if push:
                self.history.append(before)
            self.current = after
            self._settle_left = self.settle_dumps
        self.inputs.append(InputRecord(command, before, self.current, step.source if step else None))

    def _candidates(self, kind: str, x: int, y: int) -> list[Step]:
        here = [s for s in self.profile.steps if s.kind == kind and s.target and inside(s.target.bounds, x, y)]
        exact = [s for s in here if s.before == self.current]
        same_node = [s for s in here if s.before != self.current and s.target in self.screen.targets]
        # The innermost node under the finger is the one Android delivers the touch to.
        return sorted(exact, key=_area) + sorted(same_node, key=_area)

    def tap(self, x: int, y: int) -> None:
        with self.lock:
            steps = self._candidates("tap", x, y)
            self._go(f"tap {x} {y}", steps[0].after if steps else None, steps[0] if steps else None)

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None:
        with self.lock:
            if abs(x2 - x1) + abs(y2 - y1) < 10:
                if duration_ms >= LONG_PRESS_MS:  # `input swipe x y x y 800` is how adb long-presses
                    self._go(f"long_press {x1} {y1}", None, None)
                else:
                    self.tap(x1, y1)
                return
            if abs(y2 - y1) >= abs(x2 - x1):
                direction = "up" if y2 < y1 else "down"
            else:
                direction = "left" if x2 < x1 else "right"
            steps = [s for s in self._candidates("swipe", x1, y1) if s.direction == direction]
            self._go(f"swipe {direction} from {x1} {y1}", steps[0].after if steps else None,
                     steps[0] if steps else None)

    def type_text(self, text: str) -> None:
        with self.lock:
            steps = [s for s in self.profile.steps if s.kind == "text" and s.before == self.current
                     and s.text == text]
            self._go(f"text {text!r}", steps[0].after if steps else None, steps[0] if steps else None)

    def key(self, code: int) -> None:
        with self.lock:
            if code == KEYCODES["KEYCODE_HOME"]:
                self._go("key HOME", self.profile.home, None, push=False)
                self.history.clear()
            elif code == KEYCODES["KEYCODE_BACK"] and self.history:
                self._go("key BACK", self.history.pop(), None, push=False)
            else:
                self._go(f"key {code}", None, None)

    def launch(self, package: str) -> bool:
        """Open `package` the way its launcher icon did in the recordings; False if no recording opened it."""
        with self.lock:
            launchers = [s for s in self.profile.steps
                         if self.recording.screens[s.before].package == self.profile.launcher
                         and self.recording.screens[s.after].package == package]
            if not launchers:
                self._go(f"launch {package}", None, None)
                return False
            launchers.sort(key=lambda s: s.before != self.profile.home)
            self.history = [self.profile.home]
            self._go(f"launch {package}", launchers[0].after, launchers[0], push=False)
            return True

    def force_stop(self, package: str) -> None:
        with self.lock:
            if self.screen.package == package:
                self._go(f"force-stop {package}", self.profile.home, None, push=False)
                self.history.clear()

    # --- observing ------------------------------------------------------------------------------------------------
    def dump(self) -> bytes | None:
        """The bytes `uiautomator dump` writes, or None when the dump fails."""
        with self.lock:
            self.dumps += 1
            if self.fail_next_dumps:
                self.fail_next_dumps -= 1
                return None
            if self.empty_next_dumps:
                self.empty_next_dumps -= 1
                return b""
            raw = self.screen.raw
            if self._settle_left:
                shift = self._settle_left * self.profile.size[1] // (self.settle_dumps + 1)
                self._settle_left -= 1
                return _slide(raw, shift)
            return raw

    def rotation(self) -> int:
        match = _ROTATION.search(self.screen.raw)
        return int(match.group(1)) if match else 0

    def focus_line(self) -> str:
        package = self.screen.package
        # The recordings do not say which activity was on top, so only the window's package is reported.
        return f"  mCurrentFocus=Window{{5eed u0 {package}}}\n  mFocusedApp=null\n"

    def input_method_lines(self) -> str:
        shown = "true" if self.screen.keyboard_expected else "false"
        return f"  mInputShown={shown}\n  mShowRequested={shown}\n"

    def write_file(self, path: str, data: bytes) -> None:
        with self.lock:
            self.files[path] = (data, int(time.time()))


def _area(step: Step) -> int:
    x1, y1, x2, y2 = step.target.bounds
    return (x2 - x1) * (y2 - y1)


def _slide(raw: bytes, dy: int) -> bytes:
    def shifted(match: re.Match) -> bytes:
        x1, y1, x2, y2 = (int(v) for v in match.groups())
        return b'bounds="[%d,%d][%d,%d]"' % (x1, y1 + dy, x2, y2 + dy)
    return _BOUNDS_ATTR.sub(shifted, raw)
