"""The web renderer on hand-built CDP bundles: what it keeps, what it drops, and how it refuses bad input."""

import json

import pytest

from schemas.render import RenderError, render


def node(node_id, role, name="", children=(), parent=None, backend=None, ignored=False, props=None, value=None):
    n = {"nodeId": str(node_id), "role": {"type": "role", "value": role}, "ignored": ignored,
         "childIds": [str(c) for c in children]}
    if name:
        n["name"] = {"type": "computedString", "value": name}
    if parent is not None:
        n["parentId"] = str(parent)
    if backend is not None:
        n["backendDOMNodeId"] = backend
    if props:
        n["properties"] = [{"name": k, "value": {"type": "boolean", "value": v}} for k, v in props.items()]
    if value is not None:
        n["value"] = {"type": "string", "value": value}
    return n


def bundle(**extra):
    nodes = [
        node(1, "RootWebArea", "Cart", children=[2, 3], props={"focused": True}),
        node(2, "generic", children=[4, 7], parent=1, backend=20),           # unnamed wrapper: dropped
        node(3, "none", children=[], parent=1, ignored=True),
        node(4, "button", "Remove Kettle", children=[5], parent=2, backend=40),
        node(5, "StaticText", "Remove Kettle", parent=4, backend=50),      # repeats its parent: dropped
        node(7, "textbox", "Email", children=[8], parent=2, backend=70, value="a@b.c",
             props={"required": True, "invalid": False}),
        node(8, "StaticText", "Enter a valid email", parent=7, backend=80),
    ]
    data = {"url": "http://127.0.0.1:5000/cart", "title": "Cart", "tabs": [{"url": "u", "title": "Cart"}],
            "active_tab": 0, "focused_bid": "7", "last_action_error": None, "aria_snapshot": "",
            "ax_tree": nodes, "bids": {"20": "2", "40": "4", "50": "5", "70": "7", "80": "8"}}
    data.update(extra)
    return json.dumps(data).encode()


def test_renders_header_and_tree_like_browsergym():
    text = render("web-json", bundle(), {})
    assert text.splitlines() == [
        "URL: http://127.0.0.1:5000/cart",
        "Title: Cart",
        "Tabs: [0] Cart (active)",
        "Focused: [7] textbox 'Email', value='a@b.c', required=true",
        "RootWebArea 'Cart', focused",
        "\t[4] button 'Remove Kettle'",
        "\t[7] textbox 'Email', value='a@b.c', required=true",
        "\t\t[8] StaticText 'Enter a valid email'",
    ]


def test_last_action_error_is_shown():
    text = render("web-json", bundle(last_action_error="no element with bid '99' on this page"), {})
    assert "Error: no element with bid '99' on this page" in text.splitlines()


@pytest.mark.parametrize("raw, reason", [(b"{not json", "not valid JSON"), (b'{"url": "x"}', "no 'ax_tree'")])
def test_bad_raw_is_refused_with_the_reason(raw, reason):
    with pytest.raises(RenderError, match=reason):
        render("web-json", raw, {})
