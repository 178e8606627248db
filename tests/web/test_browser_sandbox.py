"""Chromium runs sandboxed as MCP servers are (prlimit + bubblewrap): its processes see only the system paths and a
private /tmp, none of the host's folders or the collector's environment, run capped (and, when the collector is
root, as a user of their own), and the watchdog's kill takes the whole sandbox down."""

import os
import re
import time
from pathlib import Path

import pytest

from sandboxes.browser import (FILE_SIZE_LIMIT_BYTES, MEMORY_LIMIT_BYTES, OPEN_FILES_LIMIT, PROCESS_LIMIT,
                               Browser, BrowserDied)
from sandboxes.bwrap import process_tree
from schemas.processes import alive as running
from tests.web.browser_helpers import require_chromium, running_browser

ROOT = Path(__file__).resolve().parents[2]
# Array buffers of this size, never written: each costs address space (which RLIMIT_DATA counts), not memory.
BUFFER_BYTES = 256 << 20


@pytest.fixture
def browser():
    with running_browser() as browser:
        yield browser


def chromium_processes(browser: Browser) -> list[int]:
    """The processes of the browser's tree that run Chromium's binary (main, zygotes, renderers, utilities)."""
    pids = []
    for pid in process_tree(browser.pid):
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "chromium":
                pids.append(pid)
        except OSError:
            continue
    assert pids, f"no Chromium process under {browser.pid}"
    return pids


def test_chromium_sees_no_host_folders_and_runs_under_caps(browser):
    host_mounts, host_users = os.readlink("/proc/self/ns/mnt"), os.readlink("/proc/self/ns/user")
    for pid in chromium_processes(browser):
        assert os.readlink(f"/proc/{pid}/ns/mnt") != host_mounts
        # Chromium's own sandbox (its zygote and renderers, in a user namespace of their own) chroots them to a
        # folder that is gone; capabilities there are over that namespace only.
        in_chromium_sandbox = os.readlink(f"/proc/{pid}/ns/user") != host_users
        root = f"/proc/{pid}/root"
        assert in_chromium_sandbox or os.path.isdir(f"{root}/usr/lib/chromium")
        for hidden in ("/work", "/root", str(ROOT), str(Path.home())):
            assert not os.path.exists(root + hidden), f"process {pid} sees {hidden}"
        limits = Path(f"/proc/{pid}/limits").read_text()
        for name, value in (("Max data size", MEMORY_LIMIT_BYTES), ("Max file size", FILE_SIZE_LIMIT_BYTES),
                            ("Max open files", OPEN_FILES_LIMIT)):
            assert re.search(rf"{name}\s+{value}\s+{value}\s", limits), (name, limits)
        if os.geteuid() == 0:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            assert status["Uid"].split()[0] == str(browser.uid) != "0"
            assert in_chromium_sandbox or int(status["CapEff"], 16) == 0
            assert re.search(rf"Max processes\s+{PROCESS_LIMIT}\s+{PROCESS_LIMIT}\s", limits)


def test_a_page_cannot_open_host_files(browser, tmp_path):
    from playwright.sync_api import Error as PlaywrightError
    secret = tmp_path / "secret.html"  # in the host's /tmp: the sandbox has a /tmp of its own
    secret.write_text("<p>host secret</p>")
    # A context without routing: only the sandbox stands between the page and the disk.
    context = browser.new_context()
    page = context.new_page()
    try:
        for path in (secret, ROOT / "pyproject.toml"):
            with pytest.raises(PlaywrightError, match="ERR_FILE_NOT_FOUND"):
                page.goto(path.as_uri())
    finally:
        context.close()


def test_a_page_cannot_reserve_more_memory_than_the_cap(browser):
    context = browser.new_context()
    page = context.new_page()
    try:
        reserved = page.evaluate("""([size, count]) => {
            const kept = [];
            try { for (let i = 0; i < count; i++) kept.push(new ArrayBuffer(size)); return 'reserved'; }
            catch (e) { return `${e.name} after ${kept.length}`; } }""",
                                 [BUFFER_BYTES, MEMORY_LIMIT_BYTES // BUFFER_BYTES + 4])
        assert reserved.startswith("RangeError after "), reserved
        assert int(reserved.rsplit(" ", 1)[1]) < MEMORY_LIMIT_BYTES // BUFFER_BYTES
        assert page.evaluate("1 + 1") == 2  # the page itself survives the failed allocation
    finally:
        context.close()


def test_the_watchdog_kills_the_whole_sandbox_and_a_restart_works(browser):
    # The pid the watchdog kills is the sandbox's outer process; Chromium runs in a pid namespace under it.
    chromium = chromium_processes(browser)
    assert os.readlink(f"/proc/{chromium[0]}/ns/pid") != os.readlink(f"/proc/{browser.pid}/ns/pid")
    old_tree = process_tree(browser.pid)
    context = browser.new_context()
    page = context.new_page()
    with pytest.raises(BrowserDied, match="hung"):
        with browser.watchdog(1):
            page.evaluate("() => { for (;;) {} }")
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in old_tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in old_tree), "a process of the killed sandbox still runs"
    browser.restart()
    assert browser.pid not in old_tree and chromium_processes(browser)
    page = browser.new_context().new_page()
    page.set_content("<h1>back</h1>")
    assert page.inner_text("h1") == "back"


def test_chromium_gets_none_of_the_collectors_environment(monkeypatch):
    require_chromium()
    monkeypatch.setenv("WORLDLINE_TEST_SECRET", "s3cret-token")  # before the Playwright driver starts
    browser = Browser()
    try:
        browser.start()
        # Chromium's child processes write their titles over their environment; the main process keeps it.
        main = [pid for pid in chromium_processes(browser)
                if b"--type=" not in Path(f"/proc/{pid}/cmdline").read_bytes()]
        environ = Path(f"/proc/{main[0]}/environ").read_bytes().split(b"\0")
        assert not any(b"s3cret-token" in variable for variable in environ)
        assert b"HOME=/tmp" in environ and b"PATH=/usr/bin:/bin" in environ
    finally:
        browser.close()


def test_pages_share_one_memory_cap(monkeypatch):
    """Each renderer stays under the per-process data cap; together they stop at the cgroup's total: the kernel kills
    a renderer (its page crashes) and the browser lives on."""
    from playwright.sync_api import Error as PlaywrightError

    from sandboxes import browser as browser_module
    monkeypatch.setattr(browser_module, "TOTAL_MEMORY_BYTES", 1 << 30)
    fill = """(size) => { const kept = new Uint8Array(size); for (let i = 0; i < size; i += 4096) kept[i] = 1;
                          window.kept = kept; return 'filled'; }"""
    with running_browser() as browser:
        assert browser.sandbox_record()["total"] == {"cgroup": browser._group.version, "memory_bytes": 1 << 30,
                                                     "processes": PROCESS_LIMIT, "cpus": browser_module.TOTAL_CPUS}
        assert set(chromium_processes(browser)) <= set(browser._group.members())
        context = browser.new_context()
        pages = [context.new_page() for _ in range(4)]
        for page in pages:  # 4 x 400 MiB, each far under the 2 GiB data cap
            try:
                page.evaluate(fill, 400 << 20)
            except PlaywrightError as exc:  # the kernel may pick the page that is filling
                assert "crashed" in str(exc), exc
        # The kernel kills the largest renderers when the next one fills its share: earlier pages crash.
        alive = []
        for page in pages:
            try:
                alive.append(page.evaluate("window.kept.length") == 400 << 20)
            except PlaywrightError as exc:
                assert "crashed" in str(exc), exc
                alive.append(False)
        assert 0 < alive.count(True) < 4 and browser._group.oom_kills() > 0, alive
        assert browser._group.peak_memory_bytes() <= 1 << 30
        assert context.new_page().evaluate("1 + 1") == 2  # the browser itself is alive
        folders = browser._group.folders
    assert not any(folder.exists() for folder in folders), "closing the browser removes its cgroup"
