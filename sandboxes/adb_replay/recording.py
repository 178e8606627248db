"""Recorded screens and the recorded actions between them, as the replay device serves them.

The source is real data: Untergang1/AppAgent (MIT) task runs, where every `<run>_<k>.xml` is a genuine
`adb shell uiautomator dump` taken on a real phone or emulator before step k, and `actions.json` (written by the
data gatherer, see SOURCES.md beside it) names the action between consecutive dumps and the node it hit.
Screens are grouped into device profiles (one per recorded device: its screen size and launcher), because a replay
device plays one device at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from schemas.home import PACKAGES_ROOT, is_checkout

RECORDINGS_ENV = "WORLDLINE_ANDROID_RECORDINGS"
# Beside a checkout on the build machines (CI keeps a read-only copy of shared/ beside the clone).
SHARED_RECORDINGS = ("shared", "data", "android", "Untergang1__AppAgent")
SOURCE = "Untergang1/AppAgent@5999f9c2a559 (MIT)"
# Launcher package -> profile name; the profile's screen size comes from the dumps themselves.
LAUNCHERS = {"com.google.android.apps.nexuslauncher": "pixel", "com.bbk.launcher2": "vivo",
             "com.miui.home": "miui"}
_ROOT_BOUNDS = re.compile(rb'bounds="\[0,0\]\[(\d+),(\d+)\]"')
_PACKAGE = re.compile(rb'package="([^"]+)"')
_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")


class RecordingError(FileNotFoundError):
    pass


def default_recordings_dir(environ: Mapping[str, str] = os.environ, root: Path = PACKAGES_ROOT) -> Path:
    """The AppAgent folder of the shared Android data: $WORLDLINE_ANDROID_RECORDINGS, else, run from a checkout
    `root`, the build machines' shared/ beside it. Not under WORLDLINE_HOME: nothing installs the recordings there
    (they are gathered by hand, docs/android.md), so an installed worldline, whose packages' folder sits in a
    Python's lib/, has no default and says which variable to set."""
    configured = environ.get(RECORDINGS_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
    elif is_checkout(root):
        path = root.parent.joinpath(*SHARED_RECORDINGS)
    else:
        raise RecordingError(f"recorded Android screens not found: worldline is installed ({root} is not a "
                             f"checkout), so there is no shared/data/android beside a repository to read them from; "
                             f"set {RECORDINGS_ENV} to the Untergang1__AppAgent folder (docs/android.md)")
    if not (path / "actions.json").is_file():
        raise RecordingError(f"recorded Android screens not found: {path}/actions.json is missing. The replay device "
                             f"reads the real dumps from shared/data/android beside the repository; set "
                             f"{RECORDINGS_ENV} to the Untergang1__AppAgent folder if it lives elsewhere.")
    return path


Bounds = tuple[int, int, int, int]


def parse_bounds(text: str) -> Bounds:
    match = _BOUNDS.fullmatch(text)
    if not match:
        raise RecordingError(f"bounds {text!r} are not [x1,y1][x2,y2]")
    return tuple(int(v) for v in match.groups())  # type: ignore[return-value]


def inside(bounds: Bounds, x: int, y: int) -> bool:
    return bounds[0] <= x < bounds[2] and bounds[1] <= y < bounds[3]


@dataclass(frozen=True)
class Target:
    """The node an action hit, identified as uiautomator shows it."""
    cls: str
    res: str
    text: str
    desc: str
    bounds: Bounds


@dataclass(frozen=True)
class Screen:
    key: str
    raw: bytes
    file: str
    package: str
    targets: frozenset[Target]
    focused: frozenset[Target]

    @property
    def keyboard_expected(self) -> bool:
        # The dump holds only the app window, not the IME; a focused text field is when Android shows the keyboard.
        return any("EditText" in t.cls for t in self.focused)


def _screen(path: Path) -> Screen:
    raw = path.read_bytes()
    root = ET.fromstring(raw)
    targets, focused = set(), set()
    for node in root.iter("node"):
        try:
            bounds = parse_bounds(node.get("bounds", ""))
        except RecordingError:
            continue
        target = Target(node.get("class", ""), node.get("resource-id", ""), node.get("text", ""),
                        node.get("content-desc", ""), bounds)
        targets.add(target)
        if node.get("focused") == "true":
            focused.add(target)
    package = _PACKAGE.search(raw)
    return Screen(hashlib.sha1(raw).hexdigest(), raw, path.name, package.group(1).decode() if package else "",
                  frozenset(targets), frozenset(focused))


@dataclass(frozen=True)
class Step:
    """One recorded action: on screen `before`, doing `kind` led to screen `after`."""
    before: str
    after: str
    kind: str  # tap | swipe | text
    source: str  # run and step number, for the replay log
    target: Target | None = None
    direction: str = ""
    text: str = ""


@dataclass
class Profile:
    name: str
    size: tuple[int, int]
    launcher: str
    home: str = ""
    screens: set[str] = field(default_factory=set)
    steps: list[Step] = field(default_factory=list)


@dataclass
class Recording:
    screens: dict[str, Screen]
    profiles: dict[str, Profile]
    source: str = SOURCE

    def profile(self, name: str) -> Profile:
        if name not in self.profiles:
            raise KeyError(f"no replay profile {name!r}; recorded devices: {sorted(self.profiles)}")
        return self.profiles[name]


def _target(entry: dict) -> Target | None:
    if not entry:
        return None
    return Target(entry.get("class", ""), entry.get("resource-id", ""), entry.get("text", ""),
                  entry.get("content-desc", ""), parse_bounds(entry["bounds"]))


def load_recording(folder: Path | None = None) -> Recording:
    folder = Path(folder) if folder else default_recordings_dir()
    if not (folder / "actions.json").is_file():
        raise RecordingError(f"recorded Android screens not found: {folder}/actions.json is missing (pass the "
                             "Untergang1__AppAgent folder of shared/data/android)")
    runs = json.loads((folder / "actions.json").read_text())["tasks"]
    files = {p.name: p for p in folder.rglob("*.xml")}
    screens: dict[str, Screen] = {}
    by_file: dict[str, str] = {}

    def screen_of(name: str) -> Screen:
        if name not in by_file:
            if name not in files:
                raise RecordingError(f"{folder}/actions.json names {name}, which is not in the folder")
            screen = _screen(files[name])
            screens.setdefault(screen.key, screen)
            by_file[name] = screen.key
        return screens[by_file[name]]

    profiles: dict[tuple[int, int], Profile] = {}
    for run, steps in sorted(runs.items()):
        pairs = [s for s in steps if s.get("after_xml") and s.get("executed")]
        if not pairs:
            continue
        first = screen_of(pairs[0]["before_xml"])
        size_match = _ROOT_BOUNDS.search(first.raw)
        if not size_match:
            continue  # a run that starts inside a dialog does not say which device it ran on
        size = (int(size_match.group(1)), int(size_match.group(2)))
        profile = profiles.get(size)
        if profile is None:
            profile = profiles[size] = Profile(f"{size[0]}x{size[1]}", size, "")
        for entry in pairs:
            before, after = screen_of(entry["before_xml"]), screen_of(entry["after_xml"])
            profile.screens.update((before.key, after.key))
            if before.package in LAUNCHERS:
                profile.launcher = before.package
            action = entry["action"]
            source = f"{run} step {entry['step']}"
            if action["name"] == "tap":
                profile.steps.append(Step(before.key, after.key, "tap", source, _target(entry.get("target"))))
            elif action["name"] == "swipe":
                profile.steps.append(Step(before.key, after.key, "swipe", source, _target(entry.get("target")),
                                          direction=action["direction"]))
            elif action["name"] == "text":
                profile.steps.append(Step(before.key, after.key, "text", source, text=action["text"]))
    named: dict[str, Profile] = {}
    for profile in profiles.values():
        profile.name = LAUNCHERS.get(profile.launcher, profile.name)
        launcher_screens = Counter(s.before for s in profile.steps if screens[s.before].package == profile.launcher)
        # Home is the launcher screen the recordings left from most often: the best-connected start.
        profile.home = launcher_screens.most_common(1)[0][0] if launcher_screens else profile.steps[0].before
        named[profile.name] = profile
    return Recording(screens, named)
