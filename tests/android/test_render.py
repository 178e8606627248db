"""The flattened view list, on the real dumps in shared/data/android."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from schemas.render import RenderError, render
from schemas.render.android import flatten_uiautomator

LINE = re.compile(r'^\[ *(\d+)\] \| [\w.$?]+( \| (res|text|hint|desc)=".*")* '
                  r'\| bounds=\[\d+,\d+\]\[\d+,\d+\]( \| [a-z -]+)?$')
SETTINGS_HOME = "Untergang1__AppAgent/tasks/task_system_2024-11-12_23-49-19/task_system_2024-11-12_23-49-19_2.xml"
# A MIUI launcher whose list is 123 lines long.
MIUI_HOME = "Untergang1__AppAgent/tasks/task_system_2024-05-21_13-11-20/task_system_2024-05-21_13-11-20_1.xml"


def _genuine(android_data):
    return [p for p in sorted(android_data.rglob("*.xml")) if p.name != "ui_home.xml"]


def test_every_real_dump_renders_one_wellformed_line_per_kept_node(android_data):
    dumps = _genuine(android_data)
    assert len(dumps) >= 160
    for path in dumps:
        raw = path.read_bytes()
        text = render("uiautomator-xml", raw)
        lines = text.splitlines()
        assert lines, f"{path}: nothing rendered"
        assert len(lines) <= len(ET.fromstring(raw).findall(".//node")), path
        for number, line in enumerate(lines):
            assert LINE.match(line), f"{path}: {line!r}"
            assert int(line[1:line.index("]")]) == number


def test_known_screen_renders_the_elements_an_agent_acts_on(android_data):
    text = render("uiautomator-xml", (android_data / SETTINGS_HOME).read_bytes())
    lines = text.splitlines()
    assert lines[0] == ('[ 0] | android.widget.ScrollView | res="com.android.settings:id/settings_homepage_container" '
                        '| bounds=[0,66][1080,2154] | scrollable')
    assert '[ 8] | android.widget.TextView | res="android:id/title" | text="Network & internet" ' \
           '| bounds=[198,794][651,868]' in lines
    assert '[ 6] | android.widget.LinearLayout | bounds=[0,737][1080,979] | clickable' in lines
    # The root FrameLayout and the bare containers around the list carry nothing and are gone.
    assert "FrameLayout" not in text


def test_card_views_are_containers_and_dropped(android_data):
    # The search bar is a CardView (a FrameLayout with a raised background) around the clickable bar itself: the
    # card has an id but no text, description or interaction, so it is layout only.
    lines = render("uiautomator-xml", (android_data / SETTINGS_HOME).read_bytes()).splitlines()
    assert not [line for line in lines if "CardView" in line]
    assert lines[3] == ('[ 3] | android.view.ViewGroup | res="com.android.settings:id/search_action_bar" '
                        '| bounds=[44,550][1036,693] | clickable')


def test_hints_are_shown_and_an_empty_fields_placeholder_is_not_its_text(android_data):
    messages = render("uiautomator-xml", (android_data / "IgorGanapolsky__mac-yolo-safeguards/window_dump_test.xml")
                      .read_bytes()).splitlines()
    # The dump says text="RCS message" hint="RCS message": the compose box is empty and shows its placeholder.
    assert ('[20] | android.widget.EditText | res="com.google.android.apps.messaging:id/compose_message_text" '
            '| hint="RCS message" | bounds=[168,2103][576,2271] | clickable long-clickable') in messages
    router = render("uiautomator-xml", (android_data / "IgorGanapolsky__mac-yolo-safeguards/window_dump.xml")
                    .read_bytes()).splitlines()
    assert ('[21] | android.widget.Button | res="com.tplink.tpm5:id/client_list_cl" | hint="Activate to view details" '
            '| desc="12 Online Clients" | bounds=[48,1885][1032,2254] | clickable') in router


def test_ids_are_padded_to_two_places_however_long_the_screen(android_data):
    # The spec's `[ 3] | ...`: a screen of more than a hundred elements must not re-pad every line.
    lines = render("uiautomator-xml", (android_data / MIUI_HOME).read_bytes()).splitlines()
    assert len(lines) > 100
    assert lines[3].startswith("[ 3] | android.widget.ImageView | ")
    assert lines[99].startswith("[99] | ") and lines[100].startswith("[100] | ")


def test_zero_size_and_layout_only_nodes_are_dropped(android_data):
    dropped_zero = dropped_layout = 0
    for path in _genuine(android_data):
        raw = path.read_bytes()
        kept = {(n.cls, n.bounds, n.text, n.desc, n.res) for n in flatten_uiautomator(raw)}
        for node in ET.fromstring(raw).iter("node"):
            x1, y1, x2, y2 = map(int, re.findall(r"-?\d+", node.get("bounds")))
            key = (node.get("class"), (x1, y1, x2, y2), node.get("text"), node.get("content-desc"),
                   node.get("resource-id"))
            if x2 <= x1 or y2 <= y1:
                assert key not in kept, f"{path}: zero-size node kept: {key}"
                dropped_zero += 1
            elif (node.get("class", "").endswith("Layout") and not node.get("text") and not node.get("content-desc")
                  and all(node.get(f) != "true" for f in ("clickable", "scrollable", "long-clickable", "checkable",
                                                          "focused", "selected"))):
                assert key not in kept, f"{path}: layout-only node kept: {key}"
                dropped_layout += 1
    assert dropped_zero > 0 and dropped_layout > 100


def test_quotes_and_newlines_stay_on_one_escaped_line(android_data):
    path = android_data / "IgorGanapolsky__mac-yolo-safeguards" / "window_dump_test.xml"
    raw = path.read_bytes()
    assert b"&#10;" in raw
    text = render("uiautomator-xml", raw)
    assert len(text.splitlines()) == len(flatten_uiautomator(raw))
    assert "\\n" in text


def test_malformed_dump_is_an_error_not_an_empty_screen(android_data):
    bad = android_data / "wuchenxiaodao__short-drama-player" / "ui_home.xml"
    with pytest.raises(RenderError, match="not well-formed XML"):
        render("uiautomator-xml", bad.read_bytes())
    with pytest.raises(RenderError, match="empty"):
        render("uiautomator-xml", b"")
    with pytest.raises(RenderError, match="no <node>"):
        render("uiautomator-xml", b"<?xml version='1.0' ?><hierarchy rotation=\"0\"></hierarchy>")
    with pytest.raises(RenderError, match="expected <hierarchy>"):
        render("uiautomator-xml", b"<html/>")


def test_invisible_nodes_are_dropped_and_numbering_skips_them():
    # The attribute set of newer builds (visible-to-user appears in `uiautomator dump` on some OEM builds).
    raw = (b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><hierarchy rotation=\"1\">"
           b'<node class="android.widget.FrameLayout" text="" resource-id="" bounds="[0,0][2400,1080]">'
           b'<node class="android.widget.Button" text="Hidden" visible-to-user="false" bounds="[0,0][10,10]"/>'
           b'<node class="android.widget.Button" text="Off" enabled="false" clickable="true" bounds="[0,0][0,10]"/>'
           b'<node class="android.widget.Button" text="OK" enabled="false" clickable="true" bounds="[5,5][50,50]"/>'
           b"</node></hierarchy>")
    expected = '[ 0] | android.widget.Button | text="OK" | bounds=[5,5][50,50] | clickable disabled'
    assert render("uiautomator-xml", raw) == expected
