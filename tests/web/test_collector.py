"""The web collector in real headless Chromium on the real sites."""

import json
import time
from pathlib import Path

import pyarrow.parquet as pq

from collectors.api import Task
from collectors.runner import EpisodePlan, collect
from collectors.tasks import load_tasks
from collectors.web import ExplorePolicy, ScriptedWebPolicy, WebCollector, elements, resolve_reference, state_key
from schemas import validate_transition
from schemas.render import render
from sandboxes.browser import MEMORY_LIMIT_BYTES as BROWSER_DATA_BYTES

TASKS = {t.id: t for t in load_tasks(Path(__file__).resolve().parents[2] / "tasks" / "web.yaml")}


def by_name(observation, role, name):
    return resolve_reference(f"{role} {name!r}", observation.text)


def act(collector, text):
    return collector.step(collector.parse_action(text))


def test_task_file_has_enough_tasks_on_every_site():
    assert len(TASKS) >= 12
    assert {t.options["site"] for t in TASKS.values()} == {"shop", "forum", "tracker", "form"}


def test_bids_in_the_observation_name_the_elements_actions_reach(collector):
    first = collector.reset(Task("bids", "check bids", options={"site": "shop", "start": "/product/3"}))
    qty, add = by_name(first, "spinbutton", "Quantity"), by_name(first, "button", "Add to cart")
    filled = act(collector, f'fill("{qty}", "4")')
    assert filled.error is None
    # Same page: every element keeps its bid, and the filled one now shows the value.
    assert [(e.bid, e.role, e.name) for e in elements(first.text)] == \
           [(e.bid, e.role, e.name) for e in elements(filled.observation.text)]
    assert f"[{qty}] spinbutton 'Quantity', value='4'" in filled.observation.text
    clicked = act(collector, f'click("{add}")')
    assert "/cart" in json.loads(clicked.observation.raw)["url"]
    assert "Added 4 x Forge 14 to your cart." in clicked.observation.text
    assert by_name(clicked.observation, "link", "Cart (4)")
    # The rendered text is exactly what the renderer derives from raw, so transforms can recompute it.
    assert render("web-json", clicked.observation.raw, clicked.observation.meta) == clicked.observation.text
    assert clicked.wait_ms >= 0 and clicked.observation.meta["wait_ms"] == round(clicked.wait_ms, 2)
    missing = act(collector, 'click("99999")')
    assert missing.error == "no element with bid '99999' on this page"
    assert "Error: no element with bid '99999'" in missing.observation.text


def test_episodes_are_isolated_and_other_origins_blocked(collector):
    collector.reset(Task("a", "fill a cart", options={"site": "shop", "start": "/product/1"}))
    act(collector, 'click("' + by_name(collector.reset(Task("a", "x", options={"site": "shop", "start": "/product/1"})),
                                       "button", "Add to cart") + '")')
    again = collector.reset(Task("b", "new episode", options={"site": "shop"}))
    assert by_name(again, "link", "Cart (0)")  # fresh cookies and a fresh database
    blocked = act(collector, 'goto("http://example.com/")')
    assert "ERR_BLOCKED_BY_CLIENT" in blocked.error
    assert "http://example.com/" in blocked.observation.meta["blocked_requests"]


def test_perturbations_fire_and_are_labelled(collector):
    task = Task("p", "broken checkout", options={"site": "shop", "start": "/cart"},
                perturbations=["http_500:/checkout", "asset_fail:/static/*"])
    first = collector.reset(task)
    assert first.meta["perturbations"] == ["asset_fail:/static/*"]  # the stylesheet of the first page
    result = act(collector, 'goto("/checkout")')
    assert result.perturbations == ["http_500:/checkout"]  # the 500 page loads no stylesheet
    assert "heading '500'" in result.observation.text
    assert first.text != result.observation.text


def test_slow_and_truncated_responses(collector):
    collector.reset(Task("s", "slow search", options={"site": "forum"},
                         perturbations=["slow:/search*:700", "truncate:/user/*:0.05"]))
    start = time.perf_counter()
    slow = act(collector, 'goto("/search?q=tomato")')
    assert time.perf_counter() - start >= 0.7 and slow.perturbations == ["slow:/search*:700"]
    assert "Tomatoes splitting after rain" in slow.observation.text
    cut = act(collector, 'goto("/user/alice")')
    assert cut.perturbations == ["truncate:/user/*:0.05"]
    assert "Recent posts" not in cut.observation.text  # the end of the page never arrived


def test_an_observation_is_read_from_one_document_when_a_navigation_starts_late(collector):
    # A navigation that starts after the action returned (Enter in a form submits in a task posted after the key
    # event) may commit while the observation is read. Once `make run` recorded the old page's bids with the new
    # page's one-node AX tree, and the scripted task after it found no link. Navigations are started here at delays
    # that land before, during and after the read; every observation must be of one document.
    for delay_ms in range(0, 100, 5):
        first = collector.reset(Task("late", "late navigation", options={"site": "shop"}))
        assert by_name(first, "searchbox", "Search products")
        collector.session.page.evaluate(f"setTimeout(() => {{ location.href = '/search?q=buds'; }}, {delay_ms})")
        bundle, _ = collector.session.observe()
        ax_names = {(node.get("name") or {}).get("value") for node in bundle["ax_tree"]}
        assert bundle["bids"] and len(bundle["ax_tree"]) > 20, delay_ms
        assert bundle["title"] in ax_names, delay_ms  # the RootWebArea of the document the title was read from
        on_results = bundle["url"].endswith("/search?q=buds")
        assert ("Echo Buds" in ax_names) == on_results == ('link "Echo Buds"' in bundle["aria_snapshot"]), delay_ms


def test_tabs(collector):
    collector.reset(Task("tabs", "tabs", options={"site": "tracker"}))
    act(collector, "new_tab()")
    opened = act(collector, 'goto("/project/OPS")')
    assert "Tabs: [0] Dashboard - Trackline | [1] Operations issues - Trackline (active)" in opened.observation.text
    back = act(collector, "tab_focus(0)")
    assert "Title: Dashboard - Trackline" in back.observation.text
    act(collector, "tab_focus(1)")
    closed = act(collector, "tab_close()")
    assert "Tabs: [0] Dashboard - Trackline (active)" in closed.observation.text


def test_a_hung_page_restarts_the_browser_and_the_episode_goes_on(collector):
    collector.reset(Task("hang", "hang", options={"site": "form"}))
    pid = collector.browser.pid
    act(collector, 'goto("data:text/html,<button onclick=\'while(true){}\'>Hang</button>")')
    hung = act(collector, 'click("1")')
    assert hung.error.startswith("browser restarted: hung")
    assert "browser_restart" in hung.perturbations and hung.observation.meta["browser_restarts"] == 1
    assert collector.browser.pid != pid
    assert "Title: Home - City Permits" in hung.observation.text  # reopened the last site page
    after = act(collector, 'click("' + by_name(hung.observation, "link", "Check status") + '")')
    assert after.error is None and "Application status" in after.observation.text


def test_scripted_tasks_and_exploration_write_valid_episodes(tmp_path):
    plans = [EpisodePlan(TASKS["form-complete-application"], 0, ScriptedWebPolicy),
             EpisodePlan(TASKS["forum-truncated-thread"], 0, ScriptedWebPolicy),
             EpisodePlan(Task("explore-shop", "explore", options={"site": "shop"}, max_steps=12), 3,
                         lambda: ExplorePolicy(12))]
    # The runner builds the collector in its worker thread: Playwright objects belong to the thread that made them.
    report = collect(WebCollector, plans, tmp_path, domain="web", progress=False)
    assert (report.completed, report.errored) == (3, 0), report.errors
    rows = {p.stem: pq.read_table(p).to_pylist() for p in (tmp_path / "transitions" / "web").glob("*.parquet")}
    application = next(r for k, r in rows.items() if "form-complete" in k)
    assert len(application) == len(TASKS["form-complete-application"].actions)
    assert "PRM-1003: Street event for Kim Berg in Tallinn is submitted." in \
        application[-1]["next_observation"]["text"]
    truncated = next(r for k, r in rows.items() if "truncated" in k)
    assert truncated[1]["perturbations"] == ["truncate:/thread/*:0.4"]
    explored = next(r for k, r in rows.items() if "explore" in k)
    assert len(explored) == 12
    assert len({state_key(r["next_observation"]["text"]) for r in explored}) >= 8
    for episode in rows.values():
        for row in episode:
            validate_transition(row)
            assert row["domain"] == "web" and row["next_observation"]["raw_format"] == "web-json"
            sandbox = json.loads(row["env"]["details_json"])["sandbox"]
            assert sandbox["kind"] == "bwrap" and sandbox["limits"]["data_bytes"] == BROWSER_DATA_BYTES
            # The loopback sites' episodes: a boolean, as mcp and terminal store theirs.
            assert sandbox["network"] is False and sandbox["network_detail"].startswith("own namespace")
            bundle = json.loads(row["next_observation"]["raw"])
            assert bundle["aria_snapshot"] and bundle["ax_tree"] and bundle["bids"]
