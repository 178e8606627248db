"""The collector gets past a browser or Playwright driver that stops answering: the watchdog kills the sandbox and
the driver, a restart starts both anew, and the episode (or the next one) goes on within a bounded time.

A stopped driver (SIGSTOP) is what Playwright 1.65 showed at the process cap: a pending call that nothing ever
answers, even after the sandbox was killed. The recovery tests here hung for good before the driver was killed and
restarted too (pytest-timeout turns such a hang into a failure). The last test runs the non-root sandbox, a path no
test had run."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collectors.api import Task
from collectors.runner import EpisodePlan, collect
from collectors.web import ScriptedWebPolicy, WebCollector, resolve_reference
from sandboxes.browser import CLOSE_TIMEOUT_S, DRIVER_GRACE_S, Browser
from sandboxes.bwrap import process_tree
from schemas.processes import alive as running
from tests.web.browser_helpers import require_chromium
from tests.http_pages import serving

ROOT = Path(__file__).resolve().parents[2]
STEP_DEADLINE_S = 6
# A restart (new driver, new browser, the last page reopened) on this shared 2-core machine: seconds, not minutes.
RESTART_BOUND_S = 40
# Low enough that a handful of tabs reach it (about 68 threads idle and 11 more per tab, docs/web.md), high enough
# that the episode after the restarts opens one: with Chromium's own sandbox (its zygote) 120 was reached at the 2nd
# or 3rd tab and once at the next episode's first (CI); 150 at the 4th or 5th.
LOW_PROCESS_LIMIT = 150


def driver_of(browser: Browser) -> int:
    """The Playwright driver: the parent of the sandbox's outer process (read from /proc, not from Browser)."""
    stat = Path(f"/proc/{browser.pid}/stat").read_bytes()
    return int(stat.rsplit(b")", 1)[1].split()[1])


def forum_task(task_id: str) -> Task:
    return Task(task_id, "read the forum", options={"site": "forum"})


def act(collector, text):
    return collector.step(collector.parse_action(text))


@pytest.fixture
def collector():
    require_chromium()
    web = WebCollector(step_deadline_s=STEP_DEADLINE_S, action_timeout_ms=2000)
    drivers = []
    web.reset(forum_task("first"))
    drivers.append(driver_of(web.browser))
    yield web, drivers
    for pid in drivers:  # a driver a test stopped must not hold the teardown
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    web.close()


@pytest.mark.timeout(150)
def test_a_driver_that_never_answers_is_restarted_and_the_episode_goes_on(collector):
    web, drivers = collector
    old_driver, old_sandbox = drivers[0], process_tree(web.browser.pid)
    os.kill(old_driver, signal.SIGSTOP)
    started = time.monotonic()
    hung = act(web, "scroll(0, 200)")
    assert time.monotonic() - started < STEP_DEADLINE_S + RESTART_BOUND_S
    assert hung.error.startswith("browser restarted: hung for more than")
    assert "browser_restart" in hung.perturbations and hung.observation.meta["browser_restarts"] == 1
    assert "Title: Boards - Commons Forum" in hung.observation.text  # the last page, reopened
    assert not running(old_driver) and not any(running(pid) for pid in old_sandbox)
    assert driver_of(web.browser) != old_driver
    general = resolve_reference("link 'General'", hung.observation.text)
    after = act(web, f'click("{general}")')
    assert after.error is None and "Title: General - Commons Forum" in after.observation.text
    # The next episode starts clean on the new browser; the run's restarts are in its env details.
    first = web.reset(forum_task("next"))
    assert first.meta["browser_restarts"] == 0 and "Commons Forum" in first.text
    assert web.env_info().details["browser_restarts_total"] == 1


@pytest.mark.timeout(150)
def test_reset_and_close_are_bounded_when_the_driver_never_answers(collector):
    web, drivers = collector
    os.kill(drivers[0], signal.SIGSTOP)
    started = time.monotonic()
    # Closing the last episode's context waits on the driver: the step deadline bounds it, then a restart.
    first = web.reset(forum_task("next"))
    assert time.monotonic() - started < STEP_DEADLINE_S + RESTART_BOUND_S
    assert first.meta["browser_restarts"] == 0 and "Title: Boards - Commons Forum" in first.text
    assert web.browser.restarts == 1 and not running(drivers[0])
    drivers.append(driver_of(web.browser))
    sandbox = process_tree(web.browser.pid)
    os.kill(drivers[1], signal.SIGSTOP)
    started = time.monotonic()
    web.close()
    assert time.monotonic() - started < STEP_DEADLINE_S + CLOSE_TIMEOUT_S + 2 * DRIVER_GRACE_S + 10
    assert not running(drivers[1]) and not any(running(pid) for pid in sandbox)


def tabs_until_restart(web) -> tuple[int, object]:
    """Open tabs until the browser is restarted; each step must end within the deadline and a restart."""
    for tab in range(1, 20):
        started = time.monotonic()
        result = act(web, "new_tab()")
        assert time.monotonic() - started < STEP_DEADLINE_S + RESTART_BOUND_S, f"tab {tab}"
        if result.error and result.error.startswith("browser restarted"):
            return tab, result
    pytest.fail(f"19 tabs fit under a cap of {LOW_PROCESS_LIMIT} processes and threads")


@pytest.mark.timeout(300)
def test_tabs_past_a_lowered_process_cap_restart_the_browser_and_the_next_episode_works():
    # At the cap the new tab's call either fails as a crash or is never answered (about half the time here): three
    # rounds make it unlikely that none of them is a hang.
    require_chromium()
    web = WebCollector(step_deadline_s=STEP_DEADLINE_S, action_timeout_ms=2000, process_limit=LOW_PROCESS_LIMIT)
    try:
        for round_ in range(3):
            web.reset(forum_task(f"tabs-{round_}"))
            assert web.browser.sandbox_record()["limits"]["processes"] == LOW_PROCESS_LIMIT
            tab, result = tabs_until_restart(web)
            # Usually at the 4th-5th tab (4, 4, 5 here), but once in CI at the 13th (why is not known: Chromium's
            # processes and threads vary), so only tabs_until_restart's 19 bounds it from above.
            assert tab >= 2, f"the cap was reached at tab {tab}"
            assert "browser_restart" in result.perturbations
            assert "Tabs: [0] Boards - Commons Forum (active)" in result.observation.text  # reopened, one tab
        first = web.reset(forum_task("after"))
        assert first.meta["browser_restarts"] == 0 and "Commons Forum" in first.text
        assert act(web, "new_tab()").error is None
        assert web.env_info().details["browser_restarts_total"] == 3
    finally:
        web.close()


# Opens tabs on load: every time the page is (re)opened it takes the browser past the lowered cap again.
TAB_STORM = b"""<title>storm</title><script>
for (let i = 0; i < 40; i++) window.open('/leaf?' + i, '_blank', 'noopener');
</script>"""


# The runner's worker thread holds the collector: only the thread method ends a hang there (it ends pytest).
@pytest.mark.timeout(300, method="thread")
def test_an_episode_that_breaks_the_browser_every_time_is_stored_as_an_error_and_the_run_goes_on(tmp_path):
    require_chromium()
    with serving(lambda path: TAB_STORM if path == "/" else b"<title>leaf</title><p>leaf</p>") as url:
        plans = [EpisodePlan(Task("storm", "open the page", options={"url": f"{url}/"}, actions=["noop()"]), 0,
                             ScriptedWebPolicy),
                 EpisodePlan(Task("after", "read the forum", options={"site": "forum"}, actions=["noop()"]), 0,
                             ScriptedWebPolicy)]
        started = time.monotonic()
        report = collect(lambda: WebCollector(step_deadline_s=STEP_DEADLINE_S, process_limit=LOW_PROCESS_LIMIT),
                         plans, tmp_path, domain="web", progress=False)
    # The first episode and its reopen each cost at most a deadline, the driver's grace and a restart.
    assert time.monotonic() - started < 2 * (STEP_DEADLINE_S + RESTART_BOUND_S)
    assert (report.completed, report.errored, report.transitions) == (2, 1, 1), report.errors
    assert "web-storm-" in report.errors[0]
    after = pq.read_table(next((tmp_path / "transitions" / "web").glob("*after*.parquet"))).to_pylist()
    assert after[0]["error"] is None and "Commons Forum" in after[0]["next_observation"]["text"]


NON_ROOT_SCRIPT = """
import json, os, sys
from sandboxes.browser import Browser, BrowserDied
browser = Browser()
try:
    browser.start()
    page = browser.new_context().new_page()
    page.set_content("<h1>as nobody</h1>")
    seen = {"text": page.inner_text("h1"), "pid": browser.pid, "record": browser.sandbox_record(),
            "euid": os.geteuid()}
    print(json.dumps(seen), flush=True)
    sys.stdin.readline()  # the test reads the sandbox's processes meanwhile
    try:
        with browser.watchdog(1):
            page.evaluate("() => { for (;;) {} }")
    except BrowserDied as exc:
        seen["died"] = str(exc)
    browser.restart()
    page = browser.new_context().new_page()
    page.set_content("<h1>back</h1>")
    seen["after_restart"] = page.inner_text("h1")
    print(json.dumps(seen), flush=True)
finally:
    browser.close()
"""


@pytest.mark.timeout(150)
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_the_browser_sandbox_runs_for_a_collector_that_is_not_root():
    """When the collector is not root, Chromium keeps the collector's user in a user namespace of its own (no
    setpriv, no process cap): the path a non-root install takes."""
    require_chromium()
    nobody = 65534
    home = tempfile.TemporaryDirectory(prefix="wl-nobody-")  # pytest's tmp_path is under a folder only root enters
    os.chmod(home.name, 0o777)
    env = {"PATH": os.environ["PATH"], "HOME": home.name, "LANG": "C.UTF-8"}
    child = subprocess.Popen(["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups",
                              "--inh-caps=-all", sys.executable, "-c", NON_ROOT_SCRIPT],
                             cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(child.stdout.readline() or "null") or pytest.fail(child.stderr.read())
        assert first["euid"] == nobody and first["text"] == "as nobody"
        assert first["record"]["processes_capped"] is False
        chromium = [pid for pid in process_tree(first["pid"])
                    if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "chromium"]
        assert chromium
        bwrap_users = os.readlink(f"/proc/{chromium[0]}/ns/user")  # the browser process's, first in the tree
        for pid in chromium:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            assert status["Uid"].split()[0] == str(nobody)
            # Chromium's zygote keeps CAP_SYS_ADMIN in the user namespace it made, nested in bwrap's: over it alone.
            assert int(status["CapEff"], 16) == 0 or os.readlink(f"/proc/{pid}/ns/user") != bwrap_users
            assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
            assert not os.path.exists(f"/proc/{pid}/root/work")
        assert any(os.readlink(f"/proc/{pid}/ns/user") != bwrap_users for pid in chromium), "no Chromium sandbox"
        sandbox = process_tree(first["pid"])
        child.stdin.write("\n")
        child.stdin.flush()
        second = json.loads(child.stdout.readline() or "null") or pytest.fail(child.stderr.read())
        assert second["died"].startswith("hung") and second["after_restart"] == "back"
        assert not any(running(pid) for pid in sandbox)
        assert child.wait(timeout=60) == 0, child.stderr.read()
    finally:
        child.kill()
        home.cleanup()
