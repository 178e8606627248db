"""Chromium runs with its own sandbox inside worldline's (no --no-sandbox): its zygote makes a user namespace as the
browser sandbox's user, and each renderer runs there in a pid namespace of its own and a network namespace with no
interface, under Chromium's seccomp-bpf policy stacked on ours. A compromised renderer then cannot see the browser
process or the relay agent, let alone take their descriptors (docs/web.md, "Process sandbox")."""

from __future__ import annotations

import fcntl
import os
import re
import struct
from pathlib import Path

import pytest

from sandboxes.browser import Browser
from sandboxes.browser_session import BrowserSession
from sandboxes.bwrap import process_tree
from tests.http_pages import serving
from tests.web.browser_helpers import running_browser

# ioctl on a namespace descriptor: the uid owning a user namespace (linux/nsfs.h, _IO(0xb7, 0x4)).
NS_GET_OWNER_UID = 0xB704


@pytest.fixture
def browser():
    with running_browser() as browser:
        yield browser


def chrome_sandbox_rows(browser: Browser) -> dict[str, str]:
    """chrome://sandbox's status table, row name -> value, read through a page as a user would see it."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto("chrome://sandbox")
        page.get_by_text("Seccomp-BPF sandbox", exact=True).wait_for()
        return dict(re.findall(r"^([^\t\n]+)\t([^\t\n]+)$", page.inner_text("body"), re.M))
    finally:
        context.close()


def test_chrome_sandbox_page_reports_the_namespace_and_seccomp_layers(browser):
    rows = chrome_sandbox_rows(browser)
    assert rows.get("Layer 1 Sandbox") == "Namespace", rows
    for layer in ("PID namespaces", "Network namespaces", "Seccomp-BPF sandbox", "Seccomp-BPF sandbox supports TSYNC"):
        assert rows.get(layer) == "Yes", (layer, rows)


def namespace(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def user_namespace_owner(pid: int) -> int:
    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    try:
        return struct.unpack("I", fcntl.ioctl(fd, NS_GET_OWNER_UID, bytes(4)))[0]
    finally:
        os.close(fd)


def renderers(browser: Browser) -> list[int]:
    """The browser tree's renderer processes (Chromium rewrites their command line into one string: a substring)."""
    found = []
    for pid in process_tree(browser.pid):
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_a_renderer_has_user_pid_and_network_namespaces_of_its_own(browser):
    with serving(lambda path: b"<html><body><h1>rendered</h1></body></html>") as url:
        session = BrowserSession(browser, [url])
        try:
            session.open(url + "/")
            assert session.page.inner_text("h1") == "rendered"
            main = browser.pid  # bwrap's outer process: the host's namespaces
            browser_process = next(pid for pid in process_tree(main)
                                   if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "chromium")
            pages = renderers(browser)
            assert pages, f"no renderer under {main}"
            for pid in pages:
                for kind in ("user", "pid", "net"):
                    assert namespace(pid, kind) not in (namespace(browser_process, kind), namespace(main, kind)), \
                        (pid, kind)
                # Pid 1 of its own namespace: the browser process and the relay agent are not there to signal.
                status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
                assert status["NSpid"].split()[-1] == "1", (pid, status["NSpid"])
                if browser.uid is not None:
                    assert user_namespace_owner(pid) == browser.uid
        finally:
            session.close()
