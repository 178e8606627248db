"""An element without a name (no text, hint or description: a switch, an icon, a list view) whose class and resource id
no other row of its screen has is one element across two screens by that id only where it stays in its place or the
screens show one page (half the named rows of the fuller screen are on the other): an app puts 'switch_widget' or
'recycler_view' on many pages, so after Network & internet -> Internet the trace no longer says "[12] Switch with the
id 'switch_widget' (was [19]) moves" of Airplane mode's switch and Wi-Fi's. Built from the real dumps in
shared/data/android (AppAgent's recorded runs, which the replay device serves)."""

from __future__ import annotations

import re

from tests.transforms.android_screens import handed_lines as _handed
from tests.transforms.android_screens import phone_trace, screen
from transforms.reasoning.views import app, view

# Network & internet, then Internet: another page, whose one switch is Wi-Fi's, not Airplane mode's.
_WIFI = "task_system_2024-11-12_23-54-19"
# A page of source.android.com in Chrome, scrolled: the header's unnamed 'devsite-user' view goes up with the page.
_DOCS = "task_system_2024-05-14_22-02-59"


def _ids(lines: list[str]) -> list[str]:
    return [view(line).res.rsplit("/", 1)[-1] for line in lines]


def _line(text: str, res: str) -> str:
    return next(line for line in text.splitlines() if f'res="{res}"' in line)


def test_an_unnamed_element_on_another_page_is_gone_and_new_not_moved():
    state, after = screen(_WIFI, 3), screen(_WIFI, 4)
    handed = _handed(state, after)
    assert not {"switch_widget", "recycler_view"} & {view(old).res.rsplit("/", 1)[-1] for old, _ in handed["change"]}
    assert {"switch_widget", "recycler_view"} <= set(_ids(handed["disappear"])) & set(_ids(handed["appear"]))
    trace = phone_trace(state, after, "tap(6)")
    assert "(was [19]) moves" not in trace and "'recycler_view' (was [3])" not in trace
    # The page title is one element whose description changed: the only change left.
    assert trace.endswith("1 element changes: [1] FrameLayout is now described 'Internet' instead of 'Network & "
                          "internet'.")


def test_an_unnamed_element_of_a_page_that_scrolled_still_moves():
    state, after = screen(_DOCS, 2), screen(_DOCS, 3)
    changed = [(view(old).element, view(new).element) for old, new in _handed(state, after)["change"]
               if view(old).res == "devsite-user"]
    assert changed == [("[7]", "[4]")]
    assert "[4] View with the id 'devsite-user' (was [7]) moves and changes size" in \
        phone_trace(state, after, "swipe(up)")


def test_an_unnamed_element_in_its_place_is_one_element_whatever_the_page():
    """The Internet page with its switch where Airplane mode's stood: one switch, only its page around it changed."""
    state, after = screen(_WIFI, 3), screen(_WIFI, 4)
    airplane = _line(state, "android:id/switch_widget")
    bounds = re.search(r"bounds=\S+", airplane)[0]
    wifi = _line(after, "android:id/switch_widget")
    after = after.replace(wifi, re.sub(r"bounds=\S+", bounds, wifi) + " checked")
    pairs = [(view(old).res, view(new).bounds) for old, new in _handed(state, after)["change"]]
    assert ("android:id/switch_widget", view(airplane).bounds) in pairs


def test_an_unnamed_element_that_moved_on_its_own_page_is_one_element():
    """Network & internet under a new banner, every row 66 px down: the switch moved with its page."""
    state = screen(_WIFI, 3)
    lines = state.splitlines()
    shifted = [re.sub(r"bounds=\[(\d+),(\d+)\]\[(\d+),(\d+)\]",
                      lambda found: f"bounds=[{found[1]},{int(found[2]) + 66}][{found[3]},{int(found[4]) + 66}]", line)
               for line in lines]
    banner = '[ 0] | android.widget.TextView | text="Airplane mode is on" | bounds=[0,0][1080,66]'
    after = "\n".join([banner, *(re.sub(r"^\[ *(\d+)\]", lambda found: f"[{int(found[1]) + 1:>2}]", line)
                                 for line in shifted)])
    switches = [(view(old).element, view(new).element) for old, new in _handed(state, after)["change"]
                if view(old).res == "android:id/switch_widget"]
    assert switches == [("[19]", "[20]")]


def test_an_element_that_loses_its_name_on_another_page_is_not_the_same():
    """A unique id shown named on one page and unnamed at another place on the other (Wi-Fi's switch given a
    description): two elements."""
    state, after = screen(_WIFI, 3), screen(_WIFI, 4)
    airplane = _line(state, "android:id/switch_widget")
    state = state.replace(airplane, airplane.replace(" | bounds=", ' | desc="Airplane mode" | bounds='))
    handed = _handed(state, after)
    assert "switch_widget" not in {view(old).res.rsplit("/", 1)[-1] for old, _ in handed["change"]}


# A vivo phone's Settings, then Display & brightness: the page's title has a vivo framework id (vivo:id/main).
_VIVO = "task_system_2024-05-20_20-18-50"


def test_a_vendor_frameworks_ids_name_no_app():
    """The nodes of both vivo screens are com.android.settings's (their package="…"): the vivo:id/… ids are the
    vendor framework's, as android:id/… are Android's. The old reading said "brings vivo to the front"."""
    state, after = screen(_VIVO, 2), screen(_VIVO, 3)
    assert 'res="vivo:id/' in after
    assert app(state) == app(after) == "com.android.settings"
    assert phone_trace(state, after, "tap(14)").startswith("Tapping [14] TextView 'WLAN' changes the screen. ")
    assert app('[ 0] | android.widget.TextView | res="vivo:id/main" | text="设置" | bounds=[0,0][1,1]') is None
