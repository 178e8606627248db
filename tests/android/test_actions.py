"""Android actions: task-file forms, their text rendering, and the adb input commands they become."""

from __future__ import annotations

import pytest

from collectors.android.actions import AndroidActionError, input_command, parse_action, resolve_element
from schemas.render.android import ViewNode

BUTTON = ViewNode(3, "android.widget.Button", "com.app", "com.app:id/ok", "OK", "", (40, 100, 140, 300),
                  ("clickable",), True)
LIST = ViewNode(4, "android.widget.ListView", "com.app", "", "", "", (0, 300, 1080, 1500), ("scrollable",), True)
SCREEN = (1080, 2220)


@pytest.mark.parametrize("spec,text,command", [
    ("tap(3)", "tap(3)", "input tap 90 200"),
    ({"tap": 3}, "tap(3)", "input tap 90 200"),
    ({"tap": [12, 34]}, "tap(12, 34)", "input tap 12 34"),
    ("long_press(3)", "long_press(3)", "input swipe 90 200 90 200 800"),
    ("swipe(up)", "swipe(up)", "input swipe 540 1110 540 370 300"),
    ("scroll(4, down)", "scroll(4, down)", "input swipe 540 900 540 500 300"),
    ({"scroll": {"direction": "up", "element": 4}}, "scroll(4, up)", "input swipe 540 900 540 1300 300"),
    ('type("a b\'c")', 'type("a b\'c")', "input text 'a%sb'\"'\"'c'"),
    ("key(back)", "key(back)", "input keyevent KEYCODE_BACK"),
    ({"key": "ENTER"}, "key(enter)", "input keyevent KEYCODE_ENTER"),
    ("open_app(com.android.settings)", "open_app(com.android.settings)",
     "monkey -p com.android.settings -c android.intent.category.LAUNCHER 1"),
    ("wait(1.5)", "wait(1.5)", None),
])
def test_action_text_and_adb_command(spec, text, command):
    action = parse_action(spec)
    assert action.text == text
    assert parse_action(action.text).arguments == action.arguments  # the text form parses back
    node = resolve_element(action, [BUTTON, BUTTON, BUTTON, BUTTON, LIST])
    assert input_command(action, node, SCREEN) == command


def test_selector_resolves_on_the_current_screen():
    action = parse_action({"tap": {"text": "OK"}})
    assert resolve_element(action, [LIST, BUTTON]) is BUTTON
    with pytest.raises(AndroidActionError, match="no element on this screen matches"):
        resolve_element(parse_action({"tap": {"desc": "Nope"}}), [LIST, BUTTON])


@pytest.mark.parametrize("spec,message", [
    ("tap()", "expected one argument"),
    ("fly(3)", "unknown android action 'fly'"),
    ("tap(x)", "must be an integer"),
    ("swipe(sideways)", "direction must be one of"),
    ("key(banana)", "unknown key"),
    ("open_app(not a package)", "not an Android package name"),
    ("wait(99)", "within 0..30"),
    ("type(hello)", "double-quoted string"),
    ({"tap": 1, "key": "back"}, "one-key mapping"),
    ({"tap": {"color": "red"}}, "selector uses keys"),
])
def test_bad_actions_name_the_problem(spec, message):
    with pytest.raises(AndroidActionError, match=message):
        parse_action(spec)


def test_missing_element_and_non_ascii_text_are_errors():
    with pytest.raises(AndroidActionError, match=r"no element \[7\]"):
        resolve_element(parse_action("tap(7)"), [BUTTON])
    with pytest.raises(AndroidActionError, match="ASCII only"):
        input_command(parse_action('type("héllo")'), None, SCREEN)
