"""Android traces name an element briefly, "[19] Switch with the id 'switch_widget' is now checked", as desktop traces
do, not by its whole line of the view list (bounds, resource ids, flags); and the opening says which app came to the
front. Built from the real dumps in shared/data/android (AppAgent's recorded Settings and Chrome runs)."""

from __future__ import annotations

import random
import re

import pytest

from tests.formats.test_reasoning import _reference_line_diff
from tests.transforms.android_screens import phone_trace, screen
from transforms.reasoning._linediff import line_diff, renumbered
from transforms.reasoning.views import app, changed, view, view_sentences

# settings-network on the pixel: the launcher, Settings, Network & internet, then Airplane mode switched on.
_NETWORK = "task_system_2024-11-12_23-49-19"
# Network & internet, then Internet, where Wi-Fi is switched on.
_WIFI = "task_system_2024-11-12_23-54-19"
# Chrome's url bar before and after "weather tomorrow" is typed.
_CHROME = "task_system_2024-11-12_23-45-06"






def _line(text: str, element: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"[{element:>2}] | "))


def test_a_changed_element_is_named_by_its_class_and_text_and_told_by_what_changed():
    before, after = screen(_NETWORK, 3), screen(_NETWORK, 4)
    trace = phone_trace(before, after, "tap(19)")
    # Airplane mode on: the switch is checked, the SIM rows are disabled, the summary says so.
    assert trace == (
        "Tapping [19] Switch with the id 'switch_widget' changes the screen. 7 elements change: [7] TextView shows "
        "'Airplane mode is on' instead of 'T-Mobile' and changes size; [11] TextView shows 'T-Mobile (Temporarily "
        "unavailable)' instead of 'T-Mobile' and changes size; [12] LinearLayout is now disabled and 4 more.")
    # The switch is one of the 4 more: as line_diff hands it over, it is one element changed.
    assert changed(_line(before, "19"), _line(after, "19")) == "[19] Switch with the id 'switch_widget' is now checked"
    for raw in ("bounds=", "res=", " | ", "android.widget.", "android:id/"):
        assert raw not in trace


def test_a_checkbox_that_moves_or_resizes_is_told_so_without_its_coordinates():
    line = _line(screen(_NETWORK, 3), "19")
    checkbox = line.replace("android.widget.Switch", "android.widget.CheckBox").replace(
        'res="android:id/switch_widget"', 'res="android:id/checkbox" | text="Wi-Fi"')
    assert view(checkbox).text == "Wi-Fi" and view(checkbox).cls == "CheckBox"
    checked = checkbox.replace("| checkable", "| checkable checked")
    moved = checkbox.replace("[882,1218][1036,1350]", "[882,1418][1036,1550]")
    resized = checkbox.replace("[882,1218][1036,1350]", "[882,1218][1080,1350]")
    assert changed(checkbox, checked) == "[19] CheckBox 'Wi-Fi' is now checked"
    assert changed(checkbox, moved) == "[19] CheckBox 'Wi-Fi' moves"
    assert changed(checkbox, resized) == "[19] CheckBox 'Wi-Fi' changes size"
    assert changed(checked.replace("[19]", "[ 5]"), checkbox) == "[19] CheckBox 'Wi-Fi' (was [5]) is no longer checked"
    # Listed, an element says its state; a checkable one that is not checked says so.
    assert view_sentences([checked], [checkbox.replace("[19]", "[ 3]")], []) == [
        "1 element appears: [19] CheckBox 'Wi-Fi' (checked).",
        "1 element disappears: [3] CheckBox 'Wi-Fi' (not checked)."]


def test_a_text_holding_the_separator_or_quotes_is_read_whole():
    line = '[ 3] | android.widget.TextView | text="a | b \\"c\\"" | desc="d" | bounds=[0,0][10,10] | clickable'
    assert view(line) == ("[3]", "TextView", "", 'a | b "c"', "", "d", (0, 0, 10, 10), ("clickable",))
    again = line.replace("| clickable", "| clickable selected")
    # The line diff pairs the two as one element (its head: the class and the text), and the text is quoted whole.
    assert phone_trace(line, again, "wait(1)") == ("While waiting, the screen changes. 1 element changes: "
                                              "[3] TextView 'a | b \"c\"' is now selected.")
    assert view("[ 3] | android.widget.TextView | text=\"unclosed | bounds=[0,0][1,1]") is None
    assert view("plain text") is None and view("[3] link 'x'") is None


_COUNT = re.compile(r"(\d+) elements? (appears?|disappears?|changes?)")


@pytest.mark.parametrize("run,steps", [(_NETWORK, (1, 2, 3, 4)), (_WIFI, (1, 2, 3, 4, 5)),
                                       (_CHROME, (1, 2, 3, 4, 5))])
def test_the_counts_are_the_line_diffs_and_every_listed_element_is_a_line_of_itsscreen(run, steps):
    screens = [screen(run, step) for step in steps]
    for state, after in zip(screens, screens[1:]):
        handed = {}

        def keep(added, removed, pairs):
            handed.update(appear=added, disappear=removed, change=pairs)
            return view_sentences(added, removed, pairs)

        numbered, _ = renumbered(state, after)
        told, new_text = line_diff(numbered, after, "element", None, keep)
        counts = {verb.rstrip("s"): int(count) for count, verb in _COUNT.findall(" ".join(told))}
        assert counts == {verb: len(lines) for verb, lines in handed.items() if lines}
        # The lines the diff tells as new are those that appeared and the new sides of the changed.
        assert new_text.splitlines() == sorted([*handed["appear"], *(new for _, new in handed["change"])],
                                               key=after.splitlines().index)
        for verb in ("appear", "disappear"):
            for line in handed[verb][:3]:
                named = re.escape(re.sub(r"\[\s*(\d+)\]", r"[\1]", line.split(" | ", 2)[0])) + " " + \
                    re.escape(view(line).cls)
                assert re.search(named, " ".join(told)), (line, told)


def test_the_opening_says_which_app_came_to_the_front():
    home, settings, network = (screen(_NETWORK, step) for step in (1, 2, 3))
    assert app(home) == "com.google.android.apps.nexuslauncher" and app(settings) == "com.android.settings"
    assert phone_trace(home, settings, "tap(4)").startswith(
        "Tapping [4] TextView 'Settings' brings com.android.settings to the front in place of "
        "com.google.android.apps.nexuslauncher. ")
    assert phone_trace(network, home, "key(home)").startswith(
        "Pressing the home key brings com.google.android.apps.nexuslauncher to the front in place of "
        "com.android.settings. ")
    assert phone_trace(home, settings, "wait(2)").startswith(
        "While waiting, the app com.android.settings comes to the front in place of "
        "com.google.android.apps.nexuslauncher. ")
    # A call the collector does not write still gets the app that came to the front.
    assert phone_trace(home, settings, "pinch(3)").startswith("The app com.android.settings comes to the front in place "
                                                         "of com.google.android.apps.nexuslauncher. 30 elements ")
    # Within one app, the screen changes; Settings' rows carry the framework's ids (android:id/title), no app's.
    assert phone_trace(settings, network, "tap(8)").startswith("Tapping [8] TextView 'Network & internet' changes the "
                                                          "screen. ")
    assert app('[ 0] | android.widget.TextView | res="android:id/title" | text="x" | bounds=[0,0][1,1]') is None
    tie = ('[ 0] | android.widget.TextView | res="com.a:id/t" | bounds=[0,0][1,1]\n'
           '[ 1] | android.widget.TextView | res="com.b:id/t" | bounds=[0,0][1,1]')
    assert app(tie) is None and not phone_trace(home, tie, "tap(4)").startswith("Tapping [4] TextView 'Settings' brings")


# Texts as the renderer writes them (JSON): one holding the separator, one an escaped quote.
_TEXTS = ("x", "a | b", "T-Mobile", 'q\\"r')


def _mutated(lines: list[str], rng: random.Random) -> str:
    """A screen of real view lines with some flags toggled, texts changed, lines dropped or added, ids shifted."""
    out = []
    for line in lines:
        roll = rng.random()
        if roll < 0.1:
            continue
        if roll < 0.2:
            line = line + (" checked" if " | " in line.rsplit("]", 1)[-1] else " | checked")
        elif roll < 0.3:
            text = rng.choice(_TEXTS)
            line = re.sub(r'text="[^"]*"', lambda _: f'text="{text}"', line)
        elif roll < 0.35:
            line = re.sub(r"\[(-?\d+),", lambda found: f"[{int(found[1]) + 7},", line, count=1)
        out.append(line)
        if rng.random() < 0.05:
            out.append(rng.choice(lines))
    return "\n".join(re.sub(r"^\[\s*\d+\]", f"[{number:>2}]", line) for number, line in enumerate(out))


def test_the_compiled_pairing_of_view_lines_matches_the_reference():
    """tests/formats/test_reasoning.py's reference reads a view line's head as _linediff.c does: the padded id, the
    class and the field after it."""
    rng = random.Random(212)
    lines = [line for run, steps in ((_NETWORK, (1, 2, 3, 4)), (_CHROME, (2, 4, 5)))
             for step in steps for line in screen(run, step).splitlines()]
    for _ in range(300):
        sample = rng.sample(lines, rng.randint(1, 30))
        state, after = _mutated(sample, rng), _mutated(sample, rng)
        assert line_diff(state, after, "element") == _reference_line_diff(state, after, "element"), (state, after)
