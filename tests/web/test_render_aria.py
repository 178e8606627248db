"""Aria snapshots (Playwright's YAML) and bare CDP accessibility trees, taken from a page in real Chromium, rendered
to the web renderer's lines: ids that Playwright resolves back to the element, the same elements in both trees."""

import json

import pytest

from sandboxes.browser import Browser
from schemas.render import RenderError, render

PAGE = """<html><head><title>Shop</title></head><body>
<header><h1>Northwind <em>Shop</em></h1><nav><a href="/cart">Cart (2)</a> <a href="/help">Help</a></nav></header>
<main><div><div><p>Welcome back, Ada.</p></div></div>
<form><label>Name <input name=n value="ada"></label>
<label><input type=checkbox checked> Agree "to" terms</label>
<select><option>Red</option><option selected>Blue</option></select>
<textarea placeholder="Say it"></textarea>
<button disabled>Buy</button><button>Update</button></form>
<ul><li>One</li><li>Two <b>bold</b></li></ul>
<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Aero 13</td><td>1</td></tr></table>
</main></body></html>"""
CONTROLS = {"button", "link", "checkbox", "textbox", "option"}


@pytest.fixture(scope="module")
def page():
    browser = Browser()
    page = browser.new_context().new_page()
    page.set_content(PAGE)
    yield page
    browser.close()


def _controls(lines: list[str]) -> set[tuple[str, str]]:
    """(role, name) of the form controls and links a rendering shows."""
    found = set()
    for line in lines:
        words = line.strip().split("] ", 1)[-1]
        role, _, rest = words.partition(" ")
        if role in CONTROLS:
            found.add((role, rest.split("'")[1] if "'" in rest else ""))
    return found


def test_an_aria_snapshot_renders_like_the_cdp_tree(page):
    lines = render("aria-yaml", page.locator("body").aria_snapshot().encode(), {}).splitlines()
    for expected in ("\theading 'Northwind Shop', level=1", "\ttextbox 'Name', value='ada'",
                     "\tcheckbox 'Agree \"to\" terms', checked=true", "\t\toption 'Blue', selected=true",
                     "\tbutton 'Buy', disabled=true", "\tStaticText 'Welcome back, Ada.'"):
        assert expected in lines, "\n".join(lines)
    # The paragraph wrapper is dropped for its text, and the heading's text is not said twice.
    assert not any("paragraph" in line or line.strip() == "StaticText 'Northwind'" for line in lines)
    cdp = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")
    cdp_lines = render("cdp-axtree-json", json.dumps(cdp).encode(), {}).splitlines()
    assert _controls(lines) == _controls(cdp_lines) == {
        ("link", "Cart (2)"), ("link", "Help"), ("textbox", "Name"), ("checkbox", 'Agree "to" terms'),
        ("option", "Red"), ("option", "Blue"), ("textbox", "Say it"), ("button", "Buy"), ("button", "Update")}


def test_ai_snapshot_refs_are_ids_playwright_resolves(page):
    lines = render("aria-yaml", page.aria_snapshot(mode="ai").encode(), {}).splitlines()
    ids = {line.strip().split("] ", 1)[1]: line.strip()[1:].split("]", 1)[0] for line in lines
           if line.strip().startswith("[")}
    element = {line: page.locator(f"aria-ref={ref}") for line, ref in ids.items()}
    assert element["textbox 'Name', value='ada'"].input_value() == "ada"
    assert element["button 'Buy', disabled=true"].text_content() == "Buy"
    assert element["link 'Help'"].get_attribute("href") == "/help"


def test_cdp_ids_are_backend_node_ids_unless_meta_maps_them(page):
    cdp = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")
    raw = json.dumps(cdp["nodes"]).encode()  # the node list alone is accepted too
    [button] = [node for node in cdp["nodes"] if (node.get("name") or {}).get("value") == "Update"
                and node["role"]["value"] == "button"]
    backend = str(button["backendDOMNodeId"])
    assert f"[{backend}] button 'Update'" in render("cdp-axtree-json", raw, {}).replace("\t", "")
    assert "[b7] button 'Update'" in render("cdp-axtree-json", raw, {"bids": {backend: "b7"}}).replace("\t", "")


@pytest.mark.parametrize("raw, reason", [
    (b"- [unclosed", "not a YAML aria snapshot"),
    (b"banner: x", "not a list of entries"),
    (b"- button 'single quotes'", "is not `role \"name\" [attrs]`"),
    (b"- {a: 1, b: 2}", "neither"),
    ("".join("  " * depth + "- group:\n" for depth in range(3000)).encode(), "not a YAML aria snapshot"),
])
def test_bad_aria_snapshots_are_render_errors(raw, reason):
    with pytest.raises(RenderError, match=reason.replace("[", r"\[")):
        render("aria-yaml", raw, {})


def test_yaml_scalars_stay_text():
    # A YAML 1.1 reader would make these a bool and a float.
    assert render("aria-yaml", b"- listitem: yes\n- cell: 1.0\n- text: null", {}).splitlines() == [
        "listitem ''", "\tStaticText 'yes'", "cell ''", "\tStaticText '1.0'", "StaticText 'null'"]
