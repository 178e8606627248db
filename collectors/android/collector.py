"""The android collector: drives any device the adb server sees (USB, emulator, `adb connect host:port`).

Observation = the raw `uiautomator dump` XML (taken until two dumps in a row agree), its flattened view list, and in
`meta` the foreground package/activity, whether the keyboard is up, and the focused element.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import adbutils

from collectors.android.actions import input_command, parse_action, resolve_element
from collectors.api import Collector, StepResult, Task
from collectors.host_id import keyed_id
from schemas import Action, EnvInfo, Observation
from schemas.render import RenderError
from schemas.render.android import flatten_uiautomator, render_uiautomator, rotation

DUMP_PATH = "/data/local/tmp/worldline_dump.xml"
REPLAY_PROPERTY = "ro.worldline.replay_device"  # set only by sandboxes.adb_replay; a phone never has it
# A device is recorded by this and an HMAC of its adb serial under the collecting machine's key (collectors.host_id):
# the serial is a persistent hardware id (or a LAN address), the keyed id names the device to this machine alone.
DEVICE_PREFIX = "device-"
_FOCUS = re.compile(r"mCurrentFocus=Window\{\S+ \S+ ([^/\s}]+)(?:/([^\s}]+))?\}")
_FOCUSED_APP = re.compile(r"ActivityRecord\{\S+ \S+ ([^/\s]+)/(\S+)")
_PROPS = ("ro.product.manufacturer", "ro.product.model", "ro.product.device", "ro.build.version.release",
          "ro.build.version.sdk", "ro.build.fingerprint", REPLAY_PROPERTY)


class DeviceError(RuntimeError):
    pass


class DumpError(DeviceError):
    pass


class AndroidCollector(Collector):
    name = "android"
    domain = "android"
    version = "1"

    def __init__(self, serial: str, *, settle_s: float = 0.5, max_dumps: int = 6, dump_retries: int = 2,
                 adb_host: str = "127.0.0.1", adb_port: int = 5037):
        self.serial = serial
        self.device_id = keyed_id(serial, DEVICE_PREFIX)
        self.settle_s, self.max_dumps, self.dump_retries = settle_s, max_dumps, dump_retries
        self.adb = adbutils.AdbClient(host=adb_host, port=adb_port)
        self.device = self._attach()
        self.props = {name: self.device.getprop(name) for name in _PROPS}
        size = self.device.window_size()
        self.screen = (size.width, size.height)
        # A replay device says so; then everything recorded here is marked as coming from a stand-in.
        self.stand_in = self.props[REPLAY_PROPERTY] or None
        self._nodes: list = []

    def _attach(self) -> adbutils.AdbDevice:
        states = {d.serial: d.get_state() for d in self.adb.device_list()}
        if self.serial not in states and ":" in self.serial:
            answer = self.adb.connect(self.serial, timeout=10)
            if "connected" not in answer:
                raise DeviceError(f"adb connect {self.serial} failed: {answer}")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                states = {d.serial: d.get_state() for d in self.adb.device_list()}
                if states.get(self.serial) == "device":
                    break
                time.sleep(0.1)
        if states.get(self.serial) != "device":
            seen = ", ".join(f"{s} ({st})" for s, st in states.items()) or "none"
            raise DeviceError(f"android device {self.serial!r} is not ready; the adb server sees: {seen}")
        return self.adb.device(self.serial)

    # --- Collector API --------------------------------------------------------------------------------------------
    def env_info(self) -> EnvInfo:
        p = self.props
        if self.stand_in:
            kind, ident = "android-replay", f"adb-replay:{p['ro.product.model']}"
        else:
            kind, ident = "android-device", self._device_env_id(self.device_id)
        fingerprint = p["ro.build.fingerprint"] or p[REPLAY_PROPERTY]
        return EnvInfo(kind=kind, id=ident, digest=hashlib.sha256(fingerprint.encode()).hexdigest()[:16],
                       details={"device": self.device_id, "screen": list(self.screen),
                                **{k: v for k, v in p.items() if v}})

    def _device_env_id(self, device: str) -> str:
        return f"{self.props['ro.product.manufacturer']}/{self.props['ro.product.model']}/{device}"

    def recorded_id_matches(self, recorded: dict, current: dict) -> bool:
        """Whether an episode recorded on a real device before devices were keyed (its env.id ends with the raw
        serial) ran on this device: same kind and digest, and its id is this device's with the serial in place of
        the keyed id. Asked by the runner when the ids differ (replays of older episodes)."""
        return (recorded["kind"] == current["kind"] == "android-device" and recorded["digest"] == current["digest"]
                and current["id"] == self._device_env_id(self.device_id)
                and recorded["id"] == self._device_env_id(self.serial))

    def reset(self, task: Task) -> Observation:
        for package in task.options.get("stop_apps", []):
            self._shell(f"am force-stop {package}")
        self._perform(parse_action("key(home)"))
        for spec in task.setup:
            action = parse_action(spec)
            if {"element", "selector"} & set(action.arguments):
                self.observe()  # element ids refer to the screen as it is now
            if error := self._perform(action)[0]:
                raise DeviceError(f"task {task.id}: setup action failed: {error}")
        return self.observe()

    def parse_action(self, spec: Any) -> Action:
        return parse_action(spec)

    def step(self, action: Action) -> StepResult:
        error, waited_s = self._perform(action)
        t0 = time.perf_counter()
        observation = self.observe()
        return StepResult(observation, error=error, wait_ms=waited_s * 1000,
                          observe_latency_ms=(time.perf_counter() - t0) * 1000)

    # --- acting ---------------------------------------------------------------------------------------------------
    def _perform(self, action: Action) -> tuple[str | None, float]:
        """Run an action: (the device's complaint if it refused it, seconds waited before observing)."""
        node = resolve_element(action, self._nodes)
        if node is not None and "selector" in action.arguments:
            # Record what was actually tapped, as the observation numbers it.
            action.arguments = {**action.arguments, "element": node.index}
            action.text = f"{action.kind}({node.index})" if action.kind in ("tap", "long_press") else action.text
        command = input_command(action, node, self.screen)
        if command is None:
            time.sleep(action.arguments["seconds"])
            return None, action.arguments["seconds"]
        result = self.device.shell2(command, v2=True, timeout=60)
        error = None
        if action.kind == "open_app" and "Events injected" not in result.output:
            error = f"{action.text}: could not start the app: {result.output.strip()[:300]}"
        elif result.returncode != 0:
            error = f"{action.text}: `{command}` exited {result.returncode}: {result.output.strip()[:300]}"
        time.sleep(self.settle_s)
        return error, self.settle_s

    def _shell(self, command: str) -> str:
        return self.device.shell(command, timeout=60)

    # --- observing ------------------------------------------------------------------------------------------------
    def _dump_once(self) -> bytes:
        failures = []
        for _ in range(self.dump_retries + 1):
            output = self._shell(f"rm -f {DUMP_PATH}; uiautomator dump {DUMP_PATH}")
            if "dumped to" not in output or "ERROR" in output:
                failures.append(output.strip()[:200] or "no output")
                continue
            raw = self.device.sync.read_bytes(DUMP_PATH)
            if not raw.strip():
                failures.append("the dump file is empty")
                continue
            return raw
        raise DumpError(f"android {self.device_id}: uiautomator dump failed {len(failures)} times: "
                        f"{'; '.join(failures)}")

    def stable_dump(self) -> tuple[bytes, int, bool]:
        """Dump until two dumps in a row agree: (raw, dumps taken, settled)."""
        previous = self._dump_once()
        for dumps in range(2, self.max_dumps + 1):
            raw = self._dump_once()
            if raw == previous:
                return raw, dumps, True
            previous = raw
        return previous, self.max_dumps, False

    def _foreground(self) -> tuple[str | None, str | None, bool]:
        text = self._shell("dumpsys window | grep -E 'mCurrentFocus|mFocusedApp'; "
                           "dumpsys input_method | grep mInputShown")
        focus = _FOCUS.search(text)
        package, activity = (focus.group(1), focus.group(2)) if focus else (None, None)
        if activity is None and (app := _FOCUSED_APP.search(text)):
            package, activity = package or app.group(1), app.group(2)
        return package, activity, "mInputShown=true" in text

    def observe(self) -> Observation:
        raw, dumps, settled = self.stable_dump()
        try:
            nodes = flatten_uiautomator(raw)
        except RenderError as exc:
            raise DumpError(f"android {self.device_id}: unusable dump: {exc}") from exc
        package, activity, keyboard = self._foreground()
        focused = next((n for n in reversed(nodes) if n.has("focused")), None)
        meta = {
            "device": self.device_id, "package": package, "activity": activity, "keyboard_shown": keyboard,
            "focused": None if focused is None else {"index": focused.index, "class": focused.cls,
                                                     "res": focused.res, "text": focused.text},
            "rotation": rotation(raw), "screen": list(self.screen), "dumps": dumps, "settled": settled,
        }
        self._nodes = nodes
        return Observation(render_uiautomator(raw, meta), raw, "uiautomator-xml", meta)

    def close(self) -> None:
        # The device stays connected: it belongs to whoever runs it; only our dump file is ours to remove.
        try:
            self._shell(f"rm -f {DUMP_PATH}")
        except Exception:
            pass
