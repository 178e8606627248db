"""List rows that share a class and resource id (android:id/title, android:id/summary of a Settings list) pair by their
name, else their place on the screen, so an android trace does not tell one row as another with a new text: after
Network & internet -> Internet the row that showed 'SIMs' is gone and 'Network preferences' is a new row, not "[14]
TextView shows 'Network preferences' instead of 'SIMs'". An element no other row shares the key of still reads as
changed. Built from the real dumps in shared/data/android (AppAgent's recorded runs, which the replay device serves)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.transforms.android_screens import TASKS, phone_trace, screen
from tests.transforms.android_screens import handed_lines as _handed
from transforms.reasoning.views import view, view_sentences

# Network & internet, then Internet (Wi-Fi switched on): the list is laid out anew.
_WIFI = "task_system_2024-11-12_23-54-19"
# Network & internet, then Airplane mode switched on: rows keep their places, two summaries change.
_NETWORK = "task_system_2024-11-12_23-49-19"
# A vivo phone's Settings, then Display & brightness: the page's title (vivo:id/main, one on each screen) changes.
_VIVO = "task_system_2024-05-20_20-18-50"


def _texts(lines: list[str]) -> list[str]:
    return [view(line).text for line in lines]


def test_a_list_row_that_gives_way_to_another_is_gone_not_renamed():
    state, after = screen(_WIFI, 3), screen(_WIFI, 4)
    handed = _handed(state, after)
    changed = [(view(old).text, view(new).text) for old, new in handed["change"]]
    assert ("SIMs", "Network preferences") not in changed
    assert ("T-Mobile", "Wi\u2011Fi turns back on automatically") not in changed
    assert "SIMs" in _texts(handed["disappear"]) and "Network preferences" in _texts(handed["appear"])
    trace = phone_trace(state, after, "tap(6)")
    assert "instead of 'SIMs'" not in trace and "instead of 'T-Mobile'" not in trace
    assert trace.startswith("Tapping [6] TextView 'Internet' changes the screen. 22 elements appear: ")


def test_a_summary_that_changes_in_its_place_is_still_one_row_changed():
    """'T-Mobile' is shown by three summaries before and by one after (the SIMs row's, only disabled): the two that
    changed in their places are told as changed, and the one that kept its text is not taken for either."""
    state, after = screen(_NETWORK, 3), screen(_NETWORK, 4)
    changed = {(view(old).element, view(old).text, view(new).text) for old, new in _handed(state, after)["change"]}
    assert {("[7]", "T-Mobile", "Airplane mode is on"),
            ("[11]", "T-Mobile", "T-Mobile (Temporarily unavailable)"),
            ("[15]", "T-Mobile", "T-Mobile")} <= changed
    assert phone_trace(state, after, "tap(19)").startswith(
        "Tapping [19] Switch with the id 'switch_widget' changes the screen. 7 elements change: [7] TextView shows "
        "'Airplane mode is on' instead of 'T-Mobile' and changes size; [11] TextView shows 'T-Mobile (Temporarily "
        "unavailable)' instead of 'T-Mobile' and changes size; ")


def test_an_element_no_other_row_shares_the_key_of_still_reads_as_changed():
    state, after = screen(_VIVO, 2), screen(_VIVO, 3)
    changed = [(view(old).res, view(old).text, view(new).text) for old, new in _handed(state, after)["change"]]
    assert ("vivo:id/main", "设置", "显示与亮度") in changed
    assert "[0] TextView (was [1]) shows '显示与亮度' instead of '设置'" in phone_trace(state, after, "tap(14)")


def _rows(text: str, res: str) -> list[str]:
    return [line for line in text.splitlines() if f'res="{res}"' in line]


def test_rows_without_a_name_pair_by_their_place():
    """The seven icons of Network & internet (android:id/icon, no text) each disabled, under a banner that took id 0
    (every id one up): one icon each, by its place. On the old pairing each icon had seven partners of its class and
    resource id, none surer, and all seven were told as gone and seven as new."""
    icons = _rows(screen(_NETWORK, 3), "android:id/icon")
    assert len(icons) == 7
    disabled = [f"[{view(line).element[1:-1]:>2}] | {line.split(' | ', 1)[1]} | disabled" for line in icons]
    disabled = [re.sub(r"^\[ *(\d+)\]", lambda found: f"[{int(found[1]) + 1:>2}]", line) for line in disabled]
    banner = '[ 0] | android.widget.TextView | text="Airplane mode is on" | bounds=[0,0][1080,66]'
    handed = _handed("\n".join(icons), "\n".join([banner, *disabled]))
    assert handed["change"] == list(zip(icons, disabled)) and handed["appear"] == [banner]
    assert not handed.get("disappear")


def test_a_row_that_moved_pairs_with_its_text_not_with_the_row_now_in_its_place():
    """A row inserted above 'SIMs' takes its place: 'SIMs' moves down, the new row appears."""
    titles = _rows(screen(_NETWORK, 3), "android:id/title")
    sims = next(line for line in titles if 'text="SIMs"' in line)
    internet = next(line for line in titles if 'text="Internet"' in line)
    inserted = sims.replace('text="SIMs"', 'text="Hotspot & tethering"')
    below = sims.replace("[14]", "[15]").replace("[198,1032][322,1106]", "[198,1247][322,1321]")
    handed = _handed(f"{internet}\n{sims}", f"{internet}\n{inserted}\n{below}")
    assert handed["change"] == [(sims, below)] and handed["appear"] == [inserted]
    assert view_sentences(handed["appear"], [], handed["change"]) == [
        "1 element appears: [14] TextView 'Hotspot & tethering'.",
        "1 element changes: [15] TextView 'SIMs' (was [14]) moves."]


def _steps(run) -> list[str]:
    files = sorted(run.glob("*.xml"), key=lambda path: int(path.stem.rsplit("_", 1)[1]))
    return [screen(run.name, int(path.stem.rsplit("_", 1)[1])) for path in files]


@pytest.mark.parametrize("run", sorted(path.name for path in TASKS.iterdir()))
def test_no_row_is_told_as_another_whose_text_is_still_shown(run):
    """Over every step of every recorded run: a changed element of a key other rows share never shows a text in
    place of one that as many rows of its key still show, nor one as many of its rows showed before (the old pairing
    told Settings' 'Unterphone' as now showing 'On', which the row below had shown all along)."""
    screens = _steps(TASKS / run)
    for state, after in zip(screens, screens[1:]):
        before_views = [view(line) for line in state.splitlines()]
        after_views = [view(line) for line in after.splitlines()]
        shown_before = Counter((v.cls, v.res, v.text) for v in before_views if v)
        shown_after = Counter((v.cls, v.res, v.text) for v in after_views if v)
        keys_before = Counter((v.cls, v.res) for v in before_views if v)
        keys_after = Counter((v.cls, v.res) for v in after_views if v)
        for old, new in _handed(state, after).get("change", []):
            was, now = view(old), view(new)
            if was.text == now.text or max(keys_before[(was.cls, was.res)], keys_after[(was.cls, was.res)]) < 2:
                continue
            assert shown_after[(was.cls, was.res, was.text)] < shown_before[(was.cls, was.res, was.text)], (old, new)
            assert shown_before[(now.cls, now.res, now.text)] < shown_after[(now.cls, now.res, now.text)], (old, new)
