"""pyautogui-style actions: parsing, canonical text, and the xdotool command lines they become."""

import pytest

from sandboxes.desktop.actions import ActionError, keysym, parse, xdotool_commands


@pytest.mark.parametrize("spec, commands", [
    # A button event after a pointer move waits for desktopd's settle-pointer (the app has taken the move in).
    ("click(100, 200)", [["xdotool", "mousemove", "100", "200"], ["settle-pointer"],
                         ["xdotool", "mousedown", "1", "mouseup", "1"]]),
    ("right_click(5.6, 7)", [["xdotool", "mousemove", "6", "7"], ["settle-pointer"],
                             ["xdotool", "mousedown", "3", "mouseup", "3"]]),
    ("double_click(1, 2)", [["xdotool", "mousemove", "1", "2"], ["settle-pointer"],
                            ["xdotool", "mousedown", "1", "mouseup", "1", "mousedown", "1", "mouseup", "1"]]),
    ("move(3, 4)", [["xdotool", "mousemove", "3", "4"]]),
    ("drag(1, 2, 30, 40)", [["xdotool", "mousemove", "1", "2"], ["settle-pointer"],
                            ["xdotool", "mousedown", "1", "mousemove", "30", "40", "mouseup", "1"]]),
    ('type("a -b\\n")', [["xdotool", "type", "--delay", "8", "--", "a -b\n"]]),
    ('press("enter")', [["xdotool", "key", "--", "Return"]]),
    ('hotkey("ctrl", "shift", "s")', [["xdotool", "key", "--", "ctrl+shift+s"]]),
    ("scroll(-3)", [["xdotool", "click", "--repeat", "3", "--delay", "10", "5"]]),
    ("scroll(2, 50, 60)", [["xdotool", "mousemove", "50", "60"], ["settle-pointer"],
                           ["xdotool", "click", "--repeat", "2", "--delay", "10", "4"]]),
    ("wait(0.5)", [["sleep", "0.5"]]),
])
def test_actions_become_xdotool_commands(spec, commands):
    assert xdotool_commands(parse(spec)) == commands


def test_element_click_lands_on_the_given_point():
    action = parse("click(element=12)")
    assert action.targets_element
    assert xdotool_commands(action, (40.4, 50.6)) == [["xdotool", "mousemove", "40", "51"], ["settle-pointer"],
                                                       ["xdotool", "mousedown", "1", "mouseup", "1"]]


def test_text_form_round_trips_and_mappings_are_accepted():
    for spec in ['click(name="Save", role="push-button")', 'hotkey("ctrl", "s")', 'type("x \\"y\\"")',
                 'type("a, b")', 'click(name="Save, close", app="gedit")']:
        assert parse(parse(spec).text()).text() == parse(spec).text()
    assert parse({"kind": "click", "args": [1, 2]}).text() == "click(1, 2)"


@pytest.mark.parametrize("key, sym", [("esc", "Escape"), ("PageDown", "Next"), ("f5", "F5"), ("a", "a"),
                                      ("Return", "Return"), ("-", "minus")])
def test_key_names(key, sym):
    assert keysym(key) == sym


@pytest.mark.parametrize("spec, reason", [
    ("launch_rockets()", "unknown desktop action"),
    ("click(1)", "takes"),
    ("click()", "needs coordinates"),
    # Python's own words from binding the call to the action's signature, then the action's usage.
    ("click(element=3, colour=2)", r"unexpected keyword argument 'colour'; click takes \(x, y\), element=ID"),
    ("type(42)", "one string"),
    ('press("enter", "tab")', r'too many positional arguments; press takes one key name, e.g. press\("enter"\)'),
    ('hotkey("ctrl", 3)', "3 is not a key name"),
    ('click(element="3")', "element is the id \\(an integer\\) of an element of the observation, got '3'"),
    ("click(1, 2, element=3)", "do not go together"),
    ('click(name=["Save"])', "name must be a string"),
    ("move(x=1, y=2)", "'x' parameter is positional only"),
    ("drag(1, 2, 3)", "missing a required argument: 'y2'"),
    ("scroll(1, 2)", "the point to scroll at is two numbers"),
    ("scroll(1e999)", "clicks must be a whole number, got inf"),
    ("click({1, 2}, 3)", "holds a set value"),
    ('type(hello)', "argument hello is not a literal"),
    ({"kind": "click", "args": [1, 2], "kwargs": {"element": 3}}, "do not go together"),
    ('press("no-such-key")', "unknown key"),
    ("scroll(1.5)", "scroll takes"),
    ("wait(99)", "between 0 and 10"),
    ("click(1, 2", "cannot parse"),
    ("os.system('x')", "cannot parse"),
    (42, "a string like"),
])
def test_bad_actions_are_clear_errors(spec, reason):
    with pytest.raises(ActionError, match=reason):
        parse(spec)
