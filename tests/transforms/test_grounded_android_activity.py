"""An android trace tells a change of the foreground activity (or package) between the state and the next
observation, as the collector recorded both in meta from dumpsys and curation keeps them (state_meta_json,
next_meta_json), and nothing where it did not change or a side does not say.

The screens are real dumps (shared/data/android, AppAgent's settings-network run on a Pixel emulator). Those
recordings hold no dumpsys output, so the meta is written here as collectors/android/collector.py writes it: the
package and the activity as `mCurrentFocus` names them (`.Settings`, short for a class of the package). The replay
device (sandboxes/adb_replay) is a stand-in, not a device: it reports the package alone, as the last cases do."""

from __future__ import annotations

import json

from tests.transforms.android_screens import screen
from transforms.reasoning import ReasoningError
from transforms.reasoning.grounded import GroundedSynthesizer, grounded_trace
from transforms.reasoning.llm import LLMSynthesizer

# The launcher, Settings, Network & internet, then Airplane mode switched on.
_NETWORK = "task_system_2024-11-12_23-49-19"
_LAUNCHER = {"package": "com.google.android.apps.nexuslauncher", "activity": ".NexusLauncherActivity"}
_SETTINGS = {"package": "com.android.settings", "activity": ".Settings"}
_NETWORK_PAGE = {"package": "com.android.settings", "activity": ".Settings$NetworkDashboardActivity"}
# What the replay stand-in records: its dumps do not say which activity was on top.
_STAND_IN_LAUNCHER = {"package": "com.google.android.apps.nexuslauncher", "activity": None}
_STAND_IN_SETTINGS = {"package": "com.android.settings", "activity": None}


def _meta_json(meta: dict) -> str:
    return json.dumps({"device": "device-0123456789ab", **meta, "keyboard_shown": False})


def _row(step: int, action: str, after_meta: dict, before_meta: dict | None,
         episode: str = "android-settings-network-s0") -> dict:
    """The curated row of the run's step `step` (screen step + 1 -> step + 2), with both observations' meta (None:
    an output curated before state_meta_json existed)."""
    row = {"id": f"{episode}:{step}", "episode_id": episode, "step": step, "domain": "android",
           "action_text": action, "state_text": screen(_NETWORK, step + 1), "next_text": screen(_NETWORK, step + 2),
           "next_meta_json": _meta_json(after_meta)}
    if before_meta is not None:
        row["state_meta_json"] = _meta_json(before_meta)
    return row


def _episode() -> list[dict]:
    return [_row(0, "tap(4)", _SETTINGS, _LAUNCHER), _row(1, "tap(8)", _NETWORK_PAGE, _SETTINGS),
            _row(2, "tap(19)", _NETWORK_PAGE, _NETWORK_PAGE)]


_OPENED = ("Tapping [4] TextView 'Settings' brings com.android.settings to the front in place of "
           "com.google.android.apps.nexuslauncher. The foreground activity changes from "
           "com.google.android.apps.nexuslauncher/.NexusLauncherActivity to com.android.settings/.Settings. "
           "30 elements appear: ")


def test_an_activity_change_in_the_app_is_told_after_the_opening():
    first, network, airplane = GroundedSynthesizer().traces(_episode())
    assert network.startswith(
        "Tapping [8] TextView 'Network & internet' changes the screen. The foreground activity of "
        "com.android.settings changes from .Settings to .Settings$NetworkDashboardActivity. 34 elements appear: ")
    # Airplane mode switched on the same page: the activity stays, nothing is said of it.
    assert "foreground" not in airplane and airplane.startswith("Tapping [19] Switch with the id 'switch_widget'")
    # The episode's first step, the launcher -> app tap: its state's meta is its own row's.
    assert first.startswith(_OPENED)


def test_an_app_coming_to_the_front_names_both_components_as_dumpsys_writes_them():
    assert grounded_trace(_row(0, "tap(4)", _SETTINGS, _LAUNCHER)).startswith(_OPENED)
    # A class of the package written whole is the activity dumpsys shortens: no change.
    whole = {"package": "com.android.settings", "activity": "com.android.settings.Settings$NetworkDashboardActivity"}
    assert "foreground" not in grounded_trace(_row(1, "tap(8)", _NETWORK_PAGE, whole))


def test_a_row_reads_its_state_meta_from_itself_whatever_its_batch():
    first, second, third = _episode()
    # Alone in its batch, after its step before was deduplicated (no row 1), or after another episode's row.
    assert "from .Settings to .Settings$NetworkDashboardActivity" in GroundedSynthesizer().traces([second])[0]
    assert GroundedSynthesizer().traces([third, first])[1].startswith(_OPENED)
    other = _row(1, "tap(8)", _NETWORK_PAGE, _SETTINGS, episode="android-other-s0")
    assert "from .Settings to .Settings$NetworkDashboardActivity" in GroundedSynthesizer().traces([third, other])[1]
    # A row of an output curated before state_meta_json: the step before's row does not stand in for it.
    old = [_row(0, "tap(4)", _SETTINGS, None), _row(1, "tap(8)", _NETWORK_PAGE, None)]
    assert all("foreground" not in trace for trace in GroundedSynthesizer().traces(old))
    # A broken state meta is that row's error, naming the column; the rows around it are told as usual.
    broken = {**second, "state_meta_json": '{"package": '}
    before, error, after = GroundedSynthesizer().traces([first, broken, third])
    assert isinstance(error, ReasoningError) and error.row_id == "android-settings-network-s0:1"
    assert "state_meta_json is not JSON" in error.reason
    assert before.startswith(_OPENED) and after.startswith("Tapping [19] Switch")


def test_the_llm_synthesizers_facts_tell_the_change():
    # Its facts are grounded_trace of the one row it asks about: a first step's state meta is in that row.
    request = LLMSynthesizer(model="m", base_url="http://127.0.0.1:9/v1").request(_episode()[0])
    assert f"Facts from the difference:\n{_OPENED}" in request["messages"][1]["content"]


def test_nothing_is_told_where_a_side_does_not_say_or_the_opening_said_it():
    # Same package, an activity missing on a side: no change can be told.
    assert "foreground" not in grounded_trace(_row(1, "tap(8)", _NETWORK_PAGE, _STAND_IN_SETTINGS))
    assert "foreground" not in grounded_trace(_row(1, "tap(8)", _STAND_IN_SETTINGS, _SETTINGS))
    # No package on a side.
    assert "foreground" not in grounded_trace(_row(0, "tap(4)", _SETTINGS, {"activity": ".NexusLauncherActivity"}))
    # The stand-in's launcher -> Settings: the opening names the same two apps from the screens' resource ids.
    opened = grounded_trace(_row(0, "tap(4)", _STAND_IN_SETTINGS, _STAND_IN_LAUNCHER))
    assert opened == grounded_trace(_row(0, "tap(4)", _STAND_IN_SETTINGS, None))
    assert "brings com.android.settings to the front in place of com.google.android.apps.nexuslauncher" in opened


def test_a_package_change_the_screens_do_not_show_is_told_from_meta():
    # A window of another app took the focus over the same Settings page (both screens' ids name Settings).
    dialog = {"package": "com.google.android.permissioncontroller", "activity": None}
    trace = grounded_trace(_row(2, "tap(19)", dialog, _NETWORK_PAGE))
    assert trace.startswith("Tapping [19] Switch with the id 'switch_widget' changes the screen. The foreground "
                            "package changes from com.android.settings to com.google.android.permissioncontroller. ")
