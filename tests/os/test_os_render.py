"""The atspi-json renderer: which nodes are kept, how cells are written, focus header, bad input."""

import json
from pathlib import Path

import pytest

from schemas.render import RenderError, render
from schemas.render.os import HEADER, is_shown, render_atspi, walk

# A real dump: galculator at start-up, recorded by the os collector from the desktop image (task calc-multiply).
GALCULATOR = Path(__file__).parent / "data" / "galculator.json"


def node(id, role, name="", states=("showing", "visible", "enabled"), position=(10, 20), size=(30, 40), **extra):
    out = {"id": id, "role": role, "name": name, "states": list(states)}
    if position is not None:
        out["position"], out["size"] = list(position), list(size)
    out.update(extra)
    return out


def dump_of(*children, focused=None, active=None):
    frame = node(1, "frame", "Editor", states=("showing", "visible", "active"), children=list(children))
    app = node(0, "application", "mousepad", states=(), position=None, children=[frame])
    return json.dumps({"apps": [app], "focused_id": focused, "active_window": active}).encode()


def lines(raw):
    return render_atspi(raw, {}).splitlines()


def test_keeps_visible_named_interactive_nodes_in_id_order():
    raw = dump_of(node(2, "push button", "Save"), node(3, "menu item", "Open"), node(4, "text", text="hello"))
    out = lines(raw)
    assert out[2] == HEADER
    assert out[3] == '[2]\tpush-button\tSave\t""\t\t\t(10, 20)\t(30, 40)\t'
    assert out[4].startswith("[3]\tmenu-item\tOpen\t")
    assert out[5].startswith("[4]\ttext\t\thello\t")


@pytest.mark.parametrize("hidden", [
    node(2, "push button", "Hidden", states=("visible", "enabled")),            # not showing
    node(2, "push button", "Hidden", states=("showing", "enabled")),            # not visible
    node(2, "push button", ""),                                                   # no name, no text
    node(2, "push button", "Off", position=(-2147483648, -2147483648)),          # hidden widget's extents
    node(2, "push button", "Zero", size=(0, 0)),
    node(2, "filler", "Layout"),                                                  # a role OSWorld drops
])
def test_drops_nodes_a_user_cannot_see_or_use(hidden):
    assert len(lines(dump_of(hidden))) == 3  # the two focus lines and the header only


def test_gtk2_menu_items_found_on_screen_by_the_dumper_are_kept():
    item = node(2, "check menu item", "Show Hidden", states=("visible", "enabled"), shown_by_extents=True)
    closed = node(3, "menu item", "Reload", states=("visible", "enabled"))
    out = lines(dump_of(item, closed))
    assert len(out) == 4 and out[3].startswith("[2]\tcheck-menu-item\tShow Hidden\t")


def test_cells_stay_on_one_line_and_quotes_follow_osworld():
    raw = dump_of(node(2, "text", "Body", text='say "hi"\tnow\nnext line\n\n\n'))
    row = lines(raw)[3].split("\t")
    assert row[3] == '"say ""hi""\\tnow\\nnext line"'


def test_salient_states_and_disabled_are_shown():
    # A check box is kept while disabled (OSWorld keeps `checkable` nodes), and says so.
    raw = dump_of(node(2, "check box", "Wrap", states=("showing", "visible", "enabled", "checked", "focused")),
                  node(3, "check box", "Undo", states=("showing", "visible", "checkable")))
    out = lines(raw)
    assert out[3].endswith("\tfocused,checked")
    assert out[4].endswith("\tdisabled")


def test_greyed_out_buttons_are_dropped_as_osworld_does():
    # OSWorld's judge_node keeps a node only when it is enabled, editable, expandable or checkable: galculator's
    # memory buttons are greyed out until something is stored, so they are on screen but not in the text.
    raw = GALCULATOR.read_bytes()
    nodes = {n["name"]: n for n, _app in walk(json.loads(raw)) if n.get("role") == "toggle button"}
    memory = [nodes["MR"], nodes["M+"]]
    assert all(is_shown(n) and n["size"][0] > 0 and "enabled" not in n["states"] for n in memory)
    out = lines(raw)
    assert not [line for line in out if "\tMR\t" in line or "\tM+\t" in line]
    assert f"[{nodes['7']['id']}]\ttoggle-button\t7\t" in "\n".join(out)


def test_focus_header_names_window_and_element():
    raw = dump_of(node(2, "text", "Body", text="x"), focused=2,
                  active={"id": 1, "role": "frame", "name": "notes.txt - Mousepad", "app": "mousepad"})
    out = lines(raw)
    assert out[0] == "focused window: [1] frame 'notes.txt - Mousepad' (mousepad)"
    assert out[1] == "focused element: [2] text 'Body'"


def test_registered_under_atspi_json():
    raw = dump_of(node(2, "push button", "Save"))
    assert render("atspi-json", raw, "{}") == render_atspi(raw, {})


@pytest.mark.parametrize("raw, reason", [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "'apps' list"),
    (json.dumps({"apps": [{"role": "frame"}]}).encode(), "without an id"),
])
def test_bad_input_is_a_clear_error(raw, reason):
    with pytest.raises(RenderError, match=reason):
        render_atspi(raw, {})
