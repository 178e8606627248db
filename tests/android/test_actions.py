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
    ('open_app("not a package")', "not an Android package name"),
    # Unquoted, the spaces make it no call at all: call syntax reads bare words one name at a time.
    ("open_app(not a package)", r"not of the form kind\(arguments\)"),
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


@pytest.mark.parametrize("spec,arguments,text", [
    ('type("a, b")', {"text": "a, b"}, 'type("a, b")'),
    ("type('a, b')", {"text": "a, b"}, 'type("a, b")'),  # single quotes are call syntax too
    ('type("x), y")', {"text": "x), y"}, 'type("x), y")'),
    ('tap({"text": "OK, go"})', {"selector": {"text": "OK, go"}}, 'tap({"text": "OK, go"})'),
    ('swipe(3, "up")', {"element": 3, "direction": "up"}, "swipe(3, up)"),
    ('key("back")', {"key": "back"}, "key(back)"),
])
def test_quoted_commas_stay_inside_their_argument(spec, arguments, text):
    action = parse_action(spec)
    assert (action.arguments, action.text) == (arguments, text)
    assert parse_action(action.text).arguments == arguments


@pytest.mark.parametrize("spec,message", [
    # Read as one argument, the whole quoted text is named, with the selector form that taps by text.
    ('tap("OK, go")', r"""got 'OK, go'; to tap an element by its text write tap\({"text": "OK, go"}\)"""),
    ('type("a", "b")', r"type: expected one argument, got 2 in 'type\(\"a\", \"b\"\)'"),
    ("tap(3, 4, 5)", r"expected one argument \(or two: x, y\), got 3"),
    ("tap(x=1)", "takes no keyword arguments"),
    ("type(hello)", "double-quoted string, got the bare word hello"),
    ("tap({text: OK})", "argument {text: OK} is not a literal"),
])
def test_call_syntax_mistakes_name_the_argument(spec, message):
    with pytest.raises(AndroidActionError, match=message):
        parse_action(spec)
