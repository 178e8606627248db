"""Action parsing (BrowserGym syntax through ast) and perturbation specs, without a browser."""

import pytest

from sandboxes.web_actions import ACTIONS, ActionError, format_call, parse_call
from sandboxes.web_perturb import PerturbationError, parse_perturbation

BROWSERGYM_ACTIONS = {"noop", "click", "dblclick", "hover", "fill", "select_option", "keyboard_press", "keyboard_type",
                      "scroll", "goto", "go_back", "go_forward", "new_tab", "tab_focus", "tab_close", "mouse_move",
                      "mouse_click", "mouse_down", "mouse_up", "send_msg_to_user", "report_infeasible"}


def test_the_browsergym_action_set_is_there():
    assert BROWSERGYM_ACTIONS <= set(ACTIONS)


@pytest.mark.parametrize("text, name, arguments, canonical", [
    ('click("a12")', "click", {"bid": "a12", "button": "left", "modifiers": []}, 'click("a12")'),
    ("click('7', button='right')", "click", {"bid": "7", "button": "right", "modifiers": []}, 'click("7", "right")'),
    ('click("7", modifiers=["Shift"])', "click", {"bid": "7", "button": "left", "modifiers": ["Shift"]},
     'click("7", modifiers=["Shift"])'),
    ('fill("5", "hello world")', "fill", {"bid": "5", "value": "hello world"}, 'fill("5", "hello world")'),
    ("scroll(0, 250.5)", "scroll", {"delta_x": 0, "delta_y": 250.5}, "scroll(0, 250.5)"),
    ('select_option("9", ["a", "b"])', "select_option", {"bid": "9", "options": ["a", "b"]},
     'select_option("9", ["a", "b"])'),
    ("click(12)", "click", {"bid": "12", "button": "left", "modifiers": []}, 'click("12")'),
    ("go_back()", "go_back", {}, "go_back()"),
])
def test_parse_and_canonical_text(text, name, arguments, canonical):
    assert parse_call(text) == (name, arguments)
    assert format_call(name, arguments) == canonical
    assert parse_call(canonical) == (name, arguments)


@pytest.mark.parametrize("text, reason", [
    ("click()", "missing a required argument: 'bid'"),
    ('__import__("os").system("id")', "expected a single call"),
    ('eval("1")', "unknown action 'eval'"),
    ("click(bid)", "must be literals"),
    ('click("1"); click("2")', "not a call expression"),
    ('fill("1", "x", "y")', "too many positional arguments"),
    ("", "expected a call"),
    # Actions are recorded as JSON: a set or bytes literal could not be stored as written.
    ('fill("1", {"a"})', "argument {'a'} holds a set value"),
    ('fill("1", b"a")', "holds a bytes value"),
    ('click(*["1"])', r"\*arguments are not allowed"),
    # ast.parse lets a repeated keyword through; the last one used to win silently.
    ('click("1", button="left", button="right")', "keyword argument repeated: button"),
])
def test_bad_actions_are_refused_with_the_reason(text, reason):
    with pytest.raises(ActionError, match=reason):
        parse_call(text)


def test_perturbation_specs():
    slow = parse_perturbation("slow:/search*:1500")
    assert (slow.kind, slow.path_glob, slow.arg) == ("slow", "/search*", 1500)
    assert slow.matches("http://127.0.0.1:9/search?q=x") and not slow.matches("http://127.0.0.1:9/cart")
    assert parse_perturbation("http_500:/cart").matches("http://h/cart")
    for bad, reason in [("explode:/x", "unknown kind"), ("http_500:cart", "must start with '/'"),
                        ("truncate:/x:2", "fraction"), ("slow:/x:soon", "not a number"), (5, "expected a string")]:
        with pytest.raises(PerturbationError, match=reason):
            parse_perturbation(bad)
