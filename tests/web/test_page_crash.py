"""A page whose renderer dies (chrome://crash, a renderer killed, the kernel's OOM killer at the browser's memory cap)
costs that tab only: it is reopened in the same browser at its last URL, and the step records `page crashed: ...`
with the `page_crash` label. A browser that died itself still gets the full restart. Before, every page crash
restarted the driver and the browser (`browser restarted: browser crashed: ... Target crashed`)."""

import os
import signal
import threading
import time

import pytest

from collectors.api import Task
from collectors.web import WebCollector, resolve_reference
from sandboxes import browser as browser_module
from sandboxes.browser import PageCrashed
from sandboxes.browser_session import BrowserSession
from sandboxes.bwrap import process_tree
from tests.web.browser_helpers import require_chromium, running_browser
from tests.http_pages import serving

STEP_DEADLINE_S = 12
# Replacing a tab (new page, load, observation) on this shared 2-core machine: well under a restart's seconds.
PAGE_RECOVERY_BOUND_S = 5


def act(web, text):
    return web.step(web.parse_action(text))


def click(web, reference, observation_text):
    return act(web, f'click("{resolve_reference(reference, observation_text)}")')


def renderers(browser) -> list[int]:
    """The sandbox's page renderers (not the one of Chromium's own UI). Chromium rewrites its children's command
    lines into one string, so the switch is looked for in the whole line."""
    found = []
    for pid in process_tree(browser.pid):
        try:
            line = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"--type=renderer" in line and b"--top-chrome-webui" not in line:
            found.append(pid)
    return found


@pytest.fixture
def web():
    require_chromium()
    collector = WebCollector(step_deadline_s=STEP_DEADLINE_S, action_timeout_ms=2000)
    yield collector
    collector.close()


@pytest.mark.timeout(150)
def test_a_crashed_page_is_reopened_at_its_last_url_in_the_same_browser(web):
    first = web.reset(Task("crash", "read the forum", options={"site": "forum"}))
    general = click(web, "link 'General'", first.text)
    assert "Title: General - Commons Forum" in general.observation.text
    browser, driver = web.browser.pid, web.browser.driver_pid

    started = time.monotonic()
    crashed = act(web, 'goto("chrome://crash")')
    assert time.monotonic() - started < PAGE_RECOVERY_BOUND_S
    assert crashed.error.startswith("page crashed: ") and "crashed" in crashed.error[len("page crashed: "):]
    assert crashed.perturbations == ["page_crash"]
    assert crashed.observation.meta["page_crashes"] == 1 and crashed.observation.meta["browser_restarts"] == 0
    assert (web.browser.pid, web.browser.driver_pid, web.browser.restarts) == (browser, driver, 0)
    # The crashed page's last http document, not the episode's start page.
    assert "Title: General - Commons Forum" in crashed.observation.text
    assert "Error: page crashed: " in crashed.observation.text

    for pid in renderers(web.browser):  # the renderer dies under a step that only reads the page
        os.kill(pid, signal.SIGKILL)
    killed = act(web, "scroll(0, 200)")
    assert killed.error.startswith("page crashed: ") and killed.perturbations == ["page_crash"]
    assert killed.observation.meta["page_crashes"] == 2 and web.browser.restarts == 0
    boards = click(web, "link 'Boards'", killed.observation.text)
    assert boards.error is None and "Title: Boards - Commons Forum" in boards.observation.text

    # The browser itself dying is not a page crash: driver and browser are restarted as before.
    os.killpg(web.browser.pid, signal.SIGKILL)
    dead = act(web, "scroll(0, 200)")
    assert dead.error.startswith("browser restarted: ") and dead.perturbations == ["browser_restart"]
    assert web.browser.restarts == 1 and web.browser.pid != browser
    assert dead.observation.meta["browser_restarts"] == 1 and "Title: Boards - Commons Forum" in dead.observation.text


@pytest.mark.timeout(150)
def test_a_crashed_tab_is_replaced_in_its_place_and_the_other_tabs_stay(web):
    first = web.reset(Task("tabs", "read the forum", options={"site": "forum"}))
    base = first.text.split("URL: ", 1)[1].split("\n", 1)[0].rstrip("/")
    act(web, "new_tab()")
    act(web, f'goto("{base}/search?q=release")')
    act(web, "new_tab()")
    crashed = act(web, 'goto("chrome://crash")')  # tab 2 crashes; tab 1 is not touched
    assert crashed.error.startswith("page crashed: ") and web.browser.restarts == 0
    tabs = [line for line in crashed.observation.text.splitlines() if line.startswith("Tabs:")][0]
    # Tab 2 had no http page yet: it is reopened at the episode's start URL, in its place, still active.
    assert tabs.count("Boards - Commons Forum") == 2 and tabs.index("[2] Boards") > tabs.index("[1]"), tabs
    assert tabs.endswith("(active)"), tabs
    focused = act(web, "tab_focus(1)")
    assert focused.error is None and "URL: " + base + "/search?q=release" in focused.observation.text


# A page that holds more and more memory (64 MiB steps) until something stops it. It remembers in the context's
# localStorage that it did, so the tab reopened after its crash does not grow again.
GROW = b"""<title>grow</title><p id=state>growing</p><script>
window.kept = [];
const step = () => {
  try { const a = new Uint8Array(64 << 20); for (let i = 0; i < a.length; i += 4096) a[i] = 1; kept.push(a); }
  catch (e) { document.getElementById('state').textContent = 'refused: ' + e; return; }
  setTimeout(step, 20);
};
if (localStorage.getItem('grown')) document.getElementById('state').textContent = 'grown before';
else { localStorage.setItem('grown', '1'); step(); }
</script>"""


# Big enough that the observation's CDP read of the AX tree takes over a second (1.7 s measured).
BIG = b"<title>big</title><div>" + b"<p><a href=#>link</a> text <button>b</button></p>" * 1500 + b"</div>"


@pytest.fixture
def site():
    with serving(lambda path: {"/grow": GROW, "/big": BIG}.get(path.split("?")[0],
                                                              b"<title>home</title><p>home</p>")) as url:
        yield url


@pytest.mark.timeout(60)
def test_a_crash_under_a_pending_cdp_read_fails_it_at_once(site):
    """Playwright never answers a CDP call pending on a page whose renderer dies: the observation waited for the
    watchdog, which then restarted the browser. Closing the crashed page fails the call."""
    with running_browser() as browser:
        session = BrowserSession(browser, [site])
        with browser.watchdog(STEP_DEADLINE_S):
            session.open(site + "/big")
            session.observe()  # bids set: the next observation's time is the CDP reads
        killer = threading.Timer(0.4, lambda: [os.kill(pid, signal.SIGKILL) for pid in renderers(browser)])
        started = time.monotonic()
        killer.start()
        with pytest.raises(PageCrashed), browser.watchdog(STEP_DEADLINE_S):
            session.observe()
        assert time.monotonic() - started < PAGE_RECOVERY_BOUND_S
        with browser.watchdog(STEP_DEADLINE_S):
            assert session.replace_crashed_pages() == [site + "/big"]
            bundle, _ = session.observe()
        assert bundle["title"] == "big" and len(bundle["tabs"]) == 1 and browser.restarts == 0


@pytest.mark.timeout(150)
def test_a_background_tab_the_oom_killer_takes_at_the_memory_cap_is_reopened_alone(monkeypatch, site):
    """The kernel kills the largest renderer when the browser's cgroup reaches its memory total (lowered here): a
    background tab's, while the agent works in another tab."""
    require_chromium()
    monkeypatch.setattr(browser_module, "TOTAL_MEMORY_BYTES", 768 << 20)
    web = WebCollector(step_deadline_s=STEP_DEADLINE_S, action_timeout_ms=2000)
    try:
        web.reset(Task("oom", "grow", options={"url": f"{site}/home"}))
        if web.browser.sandbox_record()["total"].get("cgroup") is None:
            pytest.fail(f"no cgroup for the browser's memory total: {web.browser.sandbox_record()['total']}")
        browser = web.browser.pid
        steps = [act(web, "new_tab()"), act(web, f'goto("{site}/grow?tab=1")'), act(web, "tab_focus(0)")]
        for _ in range(20):  # the tab grows in the background: its crash shows in a later step
            if steps[-1].error:
                break
            steps.append(act(web, "noop(500)"))
        result = steps[-1]
        assert result.error and result.error.startswith("page crashed: "), result.error
        assert web.browser.oom_kills() > 0
        # Each step records the kills it saw; the kill shows in the crash's step or (caught mid-step) the one before.
        assert sum(step.observation.meta["oom_kills"] for step in steps) == web.browser.oom_kills()
        labels = [step.perturbations for step in steps[-2:]]
        assert result.perturbations[0] == "page_crash" and any("memory_cap" in label for label in labels), labels
        assert (web.browser.pid, web.browser.restarts) == (browser, 0)
        assert "Tabs: [0] home (active)" in result.observation.text and "Title: home" in result.observation.text
        grown = act(web, "tab_focus(1)")
        assert grown.error is None and f"URL: {site}/grow?tab=1" in grown.observation.text
        assert "grown before" in grown.observation.text
    finally:
        web.close()
