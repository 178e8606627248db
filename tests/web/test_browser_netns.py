"""Chromium's sandbox has a network namespace of its own (only `lo`) while its episodes allow only loopback origins:
the served sites still load through the loopback relay (sandboxes/loopback_relay.py), and page JS that got past
both containment layers (a context with no routing and no proxy stands in for a compromised renderer) reaches no
host port, no LAN address, no metadata service and no DNS. An episode allowing an origin elsewhere gets the host's
namespace, and the record says which one the browser had."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from collectors.api import Task
from collectors.web import WebCollector, resolve_reference
from sandboxes.browser import NETWORK_DETAIL
from sandboxes.browser_session import BrowserSession
from sandboxes.bwrap import process_tree
from schemas.processes import alive as running
from tests.http_pages import serving
from tests.web.browser_helpers import running_browser

@pytest.fixture
def browser():  # one Playwright driver per thread at a time: tests that make their own need this one closed
    with running_browser(start=False) as browser:
        yield browser


@pytest.fixture(scope="module")
def site():
    def page(path: str) -> bytes:
        return f"<html><body><h1>site {path}</h1><a href='/next'>next</a></body></html>".encode()

    with serving(page) as url:
        yield url


@pytest.fixture
def listener():
    """A port on all the host's addresses that no episode allows; `hits` gets every connection's peer."""
    hits: list = []
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(20)

    def accept():
        while True:
            try:
                conn, peer = server.accept()
            except OSError:
                return
            hits.append(peer)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], hits
    server.close()


def lan_address() -> str:
    """The host's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return probe.getsockname()[0]


def chromium_main(browser) -> int:
    for pid in process_tree(browser.pid):
        try:
            if (os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "chromium"
                    and b"--type=" not in Path(f"/proc/{pid}/cmdline").read_bytes()):
                return pid
        except OSError:
            continue
    raise AssertionError(f"no Chromium main process under {browser.pid}")


def interfaces(pid: int) -> list[str]:
    lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def relay_agent(browser) -> int:
    agents = [pid for pid in process_tree(browser.pid)
              if b"loopback_relay.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
              and os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("python")]
    assert len(agents) == 1, agents
    return agents[0]


def test_an_episode_on_a_loopback_site_runs_in_a_namespace_with_only_lo(browser, site):
    session = BrowserSession(browser, [site])
    try:
        session.open(site + "/first")
        assert session.page.inner_text("h1") == "site /first"
        # Chromium calls a namespace with only lo offline; the allowed sites load, so pages are told online.
        assert session.page.evaluate("navigator.onLine") is True
        main = chromium_main(browser)
        assert os.readlink(f"/proc/{main}/ns/net") != os.readlink("/proc/self/ns/net")
        assert interfaces(main) == ["lo"]
        # A boolean, as mcp and terminal record it (episodes of every domain share the JSON type); words apart.
        assert browser.sandbox_record()["network"] is False
        assert browser.sandbox_record()["network_detail"].startswith("own namespace (only lo)")
        # Chromium's /proc/meminfo is lxcfs's (which answers for the reader's cgroup: the browser's cap, not the
        # host's memory), and the record says so.
        assert browser.sandbox_record()["proc_view"] == "lxcfs"
        assert browser.sandbox_record()["chromium_sandbox"] is True  # and its seccomp filter under Chromium's
        assert "keyctl" in browser.sandbox_record()["seccomp_denied"]
        mounts = {line.split(" - ")[0].split()[4]: line.split(" - ")[1].split()[0]
                  for line in Path(f"/proc/{main}/mountinfo").read_text().splitlines()}
        assert mounts["/proc/meminfo"] == "fuse.lxcfs"
    finally:
        session.close()


def test_a_page_past_both_layers_reaches_nothing_on_the_host_or_beyond(browser, site, listener):
    port, hits = listener
    browser.use_network_for([site])
    browser.start()
    # No routing, and a proxy bypassed for every host: direct connections, as a compromised renderer would make.
    context = browser._browser.new_context(proxy={"server": browser.dead_proxy, "bypass": "<-loopback>,*"})
    errors = {}
    try:
        page = context.new_page()
        for url in (f"http://127.0.0.1:{port}/loopback", f"http://localhost:{port}/name",
                    f"http://{lan_address()}:{port}/lan", "http://169.254.169.254/latest/meta-data/",
                    "http://pypi.org/simple/"):
            try:
                page.goto(url, timeout=5000)
                errors[url] = "loaded"
            except Exception as exc:
                errors[url] = str(exc).split(" at ")[0].rsplit(" ", 1)[-1]
    finally:
        context.close()
    assert hits == [], f"a page reached the host's listener from {hits}"
    loopback, elsewhere = list(errors.values())[:2], list(errors.values())[2:]
    assert loopback == ["net::ERR_CONNECTION_REFUSED"] * 2, errors
    # No route anywhere: Chromium sees no interface but lo and fails at once, DNS included.
    assert set(elsewhere) <= {"net::ERR_INTERNET_DISCONNECTED", "net::ERR_ADDRESS_UNREACHABLE",
                              "net::ERR_NAME_NOT_RESOLVED"}, errors


def test_the_relay_refuses_an_address_no_live_context_allows(browser, site, listener, monkeypatch):
    port, hits = listener
    session = BrowserSession(browser, [site])
    try:
        session.open(site)  # the relay runs, and allows the site alone
        # As the agent would (relay.sock takes its connections alone): the address is what is refused here.
        monkeypatch.setattr(browser._relay, "_agent_pid", os.getpid())
        with socket.socket(socket.AF_UNIX) as forged:
            forged.settimeout(5)
            forged.connect(os.path.join(browser._relay.folder, "relay.sock"))
            forged.sendall(f"127.0.0.1 {port}\nGET / HTTP/1.0\r\n\r\n".encode())
            assert forged.recv(100) == b""  # closed without a byte
    finally:
        session.close()
    time.sleep(0.2)
    assert hits == [] and f"127.0.0.1 {port}" in browser._relay.refused


def test_restarts_and_parallel_contexts_keep_the_site_and_the_agent_dies_with_the_sandbox(browser, site):
    first, second = BrowserSession(browser, [site]), BrowserSession(browser, [site])
    try:
        first.open(site + "/one")
        second.open(site + "/two")
        assert second.page.inner_text("h1") == "site /two"
        agent = relay_agent(browser)
        # One thread: the agent costs one process of the sandbox's process cap however many connections it carries.
        assert "Threads:\t1\n" in Path(f"/proc/{agent}/status").read_text()
        browser.restart()
        deadline = time.monotonic() + 5
        while running(agent) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(agent), "the relay agent outlived its sandbox"
        first.reopen()
        assert first.page.inner_text("h1") == "site /one"
        first.page.click("a")
        first.page.wait_for_url("**/next")
        assert first.page.inner_text("h1") == "site /next"
        assert interfaces(chromium_main(browser)) == ["lo"] and relay_agent(browser) != agent
    finally:
        first.close()
        second.close()


def test_an_episode_allowing_another_origin_gets_the_host_namespace_and_the_next_one_its_own(site):
    with running_browser(start=False) as browser:
        wide = BrowserSession(browser, [site, "https://example.com"])
        wide.open(site + "/wide")
        assert wide.page.inner_text("h1") == "site /wide"
        assert os.readlink(f"/proc/{chromium_main(browser)}/ns/net") == os.readlink("/proc/self/ns/net")
        assert browser.sandbox_record()["network"] is True
        assert browser.sandbox_record()["network_detail"] == NETWORK_DETAIL[True]
        with pytest.raises(RuntimeError, match="context\\(s\\) open"):
            BrowserSession(browser, [site]).open(site)
        wide.close()
        narrow = BrowserSession(browser, [site])
        narrow.open(site + "/narrow")
        assert narrow.page.inner_text("h1") == "site /narrow"
        assert interfaces(chromium_main(browser)) == ["lo"]
        assert browser.sandbox_record()["network"] is False and browser.restarts == 0
        narrow.close()


def test_a_served_site_works_through_the_relay_forms_and_navigation():
    collector = WebCollector(step_deadline_s=20, action_timeout_ms=3000)
    try:
        first = collector.reset(Task("netns-shop", "buy", options={"site": "shop", "start": "/product/3"}))
        sandbox = json.loads(collector.env_info().to_row()["details_json"])["sandbox"]
        assert sandbox["network"] is False and sandbox["network_detail"] == NETWORK_DETAIL[False]
        quantity = resolve_reference("spinbutton 'Quantity'", first.text)
        assert collector.step(collector.parse_action(f'fill("{quantity}", "2")')).error is None
        add = resolve_reference("button 'Add to cart'", first.text)
        posted = collector.step(collector.parse_action(f'click("{add}")'))  # a form POST, then a redirect
        assert posted.error is None and "Added 2 x Forge 14 to your cart." in posted.observation.text
        cart = resolve_reference("link 'Cart (2)'", posted.observation.text)
        assert collector.step(collector.parse_action(f'click("{cart}")')).error is None
        assert interfaces(chromium_main(collector.browser)) == ["lo"]
    finally:
        collector.close()


RELAY_CLOSED_WITH_A_CONNECTION_OPEN = """
import os, socket, sys, tempfile, time
from sandboxes.loopback_relay import Relay
server = socket.create_server(("127.0.0.1", 0))
port = server.getsockname()[1]
folder = tempfile.mkdtemp()
relay = Relay(folder, None)
relay.allow("episode", {("127.0.0.1", port)})
agent = socket.socket(socket.AF_UNIX)  # relay.sock takes the agent's connections alone: this process is it
agent.connect(os.path.join(folder, "control.sock"))
while relay._agent_pid is None:
    time.sleep(0.01)
client = socket.socket(socket.AF_UNIX)
client.connect(os.path.join(folder, "relay.sock"))
client.sendall(f"127.0.0.1 {port}\\n".encode())
held, _ = server.accept()  # the connection is through: its tasks wait on both ends
relay.close()
"""


def test_closing_the_relay_with_a_connection_open_prints_nothing():
    # Chromium keeps connections alive; the relay's close cancelled their tasks without waiting for them, and Python
    # printed "Task was destroyed but it is pending!" for each at exit (dozens in a `make run`).
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", RELAY_CLOSED_WITH_A_CONNECTION_OPEN], cwd=root, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Task was destroyed" not in done.stderr, done.stderr[-2000:]


def test_a_connection_whose_client_closes_first_lives_until_upstream_closes_and_is_closed_with_the_relay(
        tmp_path, caplog):
    # Chromium often closes its end first while the site keeps its end open. The relay's task was then referenced by
    # nothing: Python collected it pending ("Task was destroyed but it is pending!", ~16 per `make run`) and the
    # host connection was never closed, not even by the relay's close.
    import gc
    import logging
    from sandboxes.loopback_relay import Relay
    from tests.web.test_relay_containment import as_agent
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    relay = Relay(str(tmp_path), None)
    agent = as_agent(relay)
    try:
        relay.allow("episode", {("127.0.0.1", port)})
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(tmp_path / "relay.sock"))
        client.sendall(f"127.0.0.1 {port}\nGET / HTTP/1.1\r\n\r\n".encode())
        held, _ = server.accept()
        held.settimeout(5)
        assert held.recv(100).startswith(b"GET /")
        client.close()
        assert held.recv(100) == b""  # the client's close is passed on as a half-close
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(3):
                gc.collect()
                time.sleep(0.05)
        assert "Task was destroyed" not in caplog.text
        held.sendall(b"HTTP/1.1 200 OK\r\n\r\nlate")  # the site still answers: nothing breaks on the host side
    finally:
        agent.close()
        relay.close()
    assert held.recv(100) == b""  # the relay's close ended the host connection too
    held.close()
    server.close()
