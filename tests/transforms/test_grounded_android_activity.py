"""An android trace tells a change of the foreground activity (or package) between the state and the next
observation, as the collector recorded both in meta from dumpsys, and nothing where it did not change or a side does
not say.

The screens are real dumps (shared/data/android, AppAgent's settings-network run on a Pixel emulator). Those
recordings hold no dumpsys output, so the meta is written here as collectors/android/collector.py writes it: the
package and the activity as `mCurrentFocus` names them (`.Settings`, short for a class of the package). The replay
device (sandboxes/adb_replay) is a stand-in, not a device: it reports the package alone, as the last cases do."""

from __future__ import annotations

import json

from tests.transforms.android_screens import screen
from transforms.reasoning import ReasoningError
from transforms.reasoning.grounded import GroundedSynthesizer, grounded_trace

# The launcher, Settings, Network & internet, then Airplane mode switched on.
_NETWORK = "task_system_2024-11-12_23-49-19"
_LAUNCHER = {"package": "com.google.android.apps.nexuslauncher", "activity": ".NexusLauncherActivity"}
_SETTINGS = {"package": "com.android.settings", "activity": ".Settings"}
_NETWORK_PAGE = {"package": "com.android.settings", "activity": ".Settings$NetworkDashboardActivity"}
# What the replay stand-in records: its dumps do not say which activity was on top.
_STAND_IN_LAUNCHER = {"package": "com.google.android.apps.nexuslauncher", "activity": None}
_STAND_IN_SETTINGS = {"package": "com.android.settings", "activity": None}


def _row(step: int, action: str, after_meta: dict, episode: str = "android-settings-network-s0") -> dict:
    """The curated row of the run's step `step` (screen step + 1 -> step + 2), with the next observation's meta."""
    return {"id": f"{episode}:{step}", "episode_id": episode, "step": step, "domain": "android",
            "action_text": action, "state_text": screen(_NETWORK, step + 1), "next_text": screen(_NETWORK, step + 2),
            "next_meta_json": json.dumps({"device": "device-0123456789ab", **after_meta, "keyboard_shown": False})}


def _episode() -> list[dict]:
    return [_row(0, "tap(4)", _SETTINGS), _row(1, "tap(8)", _NETWORK_PAGE), _row(2, "tap(19)", _NETWORK_PAGE)]


def test_an_activity_change_in_the_app_is_told_after_the_opening_from_the_step_before():
    first, network, airplane = GroundedSynthesizer().traces(_episode())
    # Step 1's state is step 0's next observation: its meta says .Settings.
    assert network.startswith(
        "Tapping [8] TextView 'Network & internet' changes the screen. The foreground activity of "
        "com.android.settings changes from .Settings to .Settings$NetworkDashboardActivity. 34 elements appear: ")
    # Airplane mode switched on the same page: the activity stays, nothing is said of it.
    assert "foreground" not in airplane and airplane.startswith("Tapping [19] Switch with the id 'switch_widget'")
    # The episode's first step: its state's meta is in no row, so nothing is said.
    assert "foreground" not in first


def test_an_app_coming_to_the_front_names_both_components_as_dumpsys_writes_them():
    trace = grounded_trace(_row(0, "tap(4)", _SETTINGS), _LAUNCHER)
    assert trace.startswith(
        "Tapping [4] TextView 'Settings' brings com.android.settings to the front in place of "
        "com.google.android.apps.nexuslauncher. The foreground activity changes from "
        "com.google.android.apps.nexuslauncher/.NexusLauncherActivity to com.android.settings/.Settings. "
        "30 elements appear: ")
    # A class of the package written whole is the activity dumpsys shortens: no change.
    whole = {"package": "com.android.settings", "activity": "com.android.settings.Settings$NetworkDashboardActivity"}
    assert "foreground" not in grounded_trace(_row(1, "tap(8)", _NETWORK_PAGE), whole)


def test_a_row_reads_its_state_from_the_step_before_in_its_batch_only():
    first, second, third = _episode()
    assert "from .Settings to .Settings$NetworkDashboardActivity" in GroundedSynthesizer().traces([first, second])[1]
    # Not from a batch before: on a worker that may be another file's, and the trace would follow the scheduling.
    synthesizer = GroundedSynthesizer()
    synthesizer.traces([first])
    assert "foreground" not in synthesizer.traces([second, third])[0]
    # Only the step before of the same episode stands for the state: another episode's, or a gap, says nothing.
    other = {**second, "episode_id": "android-other-s0", "id": "android-other-s0:1"}
    assert "foreground" not in GroundedSynthesizer().traces([first, other])[1]
    assert "foreground" not in GroundedSynthesizer().traces([first, third])[1]
    # A step whose meta is broken is that row's error, naming it; the next row is told without its state's meta.
    broken = {**second, "next_meta_json": '{"package": '}
    _, error, after = GroundedSynthesizer().traces([first, broken, third])
    assert isinstance(error, ReasoningError) and error.row_id == "android-settings-network-s0:1"
    assert isinstance(after, str) and after.startswith("Tapping [19] Switch") and "foreground" not in after


def test_nothing_is_told_where_a_side_does_not_say_or_the_opening_said_it():
    # Same package, an activity missing on a side: no change can be told.
    assert "foreground" not in grounded_trace(_row(1, "tap(8)", _NETWORK_PAGE), _STAND_IN_SETTINGS)
    assert "foreground" not in grounded_trace(_row(1, "tap(8)", _STAND_IN_SETTINGS), _SETTINGS)
    # No package on a side.
    assert "foreground" not in grounded_trace(_row(0, "tap(4)", _SETTINGS), {"activity": ".NexusLauncherActivity"})
    # The stand-in's launcher -> Settings: the opening names the same two apps from the screens' resource ids.
    opened = grounded_trace(_row(0, "tap(4)", _STAND_IN_SETTINGS), _STAND_IN_LAUNCHER)
    assert opened == grounded_trace(_row(0, "tap(4)", _STAND_IN_SETTINGS))
    assert "brings com.android.settings to the front in place of com.google.android.apps.nexuslauncher" in opened


def test_a_package_change_the_screens_do_not_show_is_told_from_meta():
    # A window of another app took the focus over the same Settings page (both screens' ids name Settings).
    dialog = {"package": "com.google.android.permissioncontroller", "activity": None}
    trace = grounded_trace(_row(2, "tap(19)", dialog), _NETWORK_PAGE)
    assert trace.startswith("Tapping [19] Switch with the id 'switch_widget' changes the screen. The foreground "
                            "package changes from com.android.settings to com.google.android.permissioncontroller. ")

