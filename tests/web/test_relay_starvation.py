"""What a process of Chromium's sandbox user (a renderer out of Chromium's own sandbox, or the GPU or network
process, which run outside it; a process entering the bwrap sandbox stands in for it) could still do to an episode
through the loopback relay before these fixes: fill the relay's connection cap with connections naming the episode's
own address and sending nothing (the host's site server waits for a request without a deadline), so the episode's
next page load failed with ERR_EMPTY_RESPONSE; take the DevTools pipe the relay agent inherited from Chromium's
launch (fds 3 and 4); and keep reaching an episode's port after `BrowserSession.close` when the context's close
failed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from sandboxes.bwrap import process_tree
from sandboxes.browser import RELAY_AGENT, RELAY_FOLDER
from sandboxes.browser_session import BrowserSession
from sandboxes.loopback_relay import MAX_CONNECTIONS, MAX_PER_ADDRESS, Relay
from tests.http_pages import serving
from tests.web.browser_helpers import running_browser
from tests.web.test_browser_netns import chromium_main
from tests.web.test_relay_containment import as_agent, connect, inside, upstream  # noqa: F401 (a fixture)

FLOOD = MAX_CONNECTIONS + 44


def page(path: str) -> bytes:
    return f"<title>page {path}</title><h1>page {path}</h1>".encode()


@pytest.fixture(scope="module")
def browser():
    with running_browser(start=False) as browser:
        yield browser


@pytest.fixture(scope="module")
def site():
    with serving(page) as url:
        yield url


@pytest.fixture(scope="module")
def other_site():
    with serving(page) as url:
        yield url


@contextmanager
def episode(browser, *origins: str):
    session = BrowserSession(browser, list(origins))
    session.open(origins[0] + "/first")
    try:
        yield session
    finally:
        session.close()


def loads(session, url: str) -> str:
    """The h1 of `url`, loaded in the episode's own context (a new one would reach the relay on new connections)."""
    session.page.goto(url, timeout=session.navigation_timeout_ms)
    return session.page.inner_text("h1")


@contextmanager
def flooding(browser, script: str, *args: str):
    flood = inside(browser, script, *args)
    try:
        assert flood.stdout.readline().startswith("holding"), flood.stdout.read()
        yield flood
    finally:
        flood.kill()
        flood.wait()


def spliced_to(browser, url: str) -> int:
    port = int(url.rsplit(":", 1)[1])
    return sum(address == ("127.0.0.1", port) for address in browser._relay._spliced.values())


# Straight to relay.sock with the episode's own address and no request: spliced to the site before, 256 held.
STARVE_SCRIPT = f"""
import socket, sys, time
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_UNIX)
    held.append(s)
    try:
        s.connect({RELAY_FOLDER!r} + "/relay.sock")
        s.sendall(sys.argv[2].encode() + b"\\n")
    except OSError:  # closed by the relay at once
        pass
print("holding", len(held), flush=True)
time.sleep(60)
"""


@pytest.mark.timeout(120)
def test_a_flood_of_connections_naming_the_episodes_address_does_not_fail_its_page(browser, site):
    with episode(browser, site) as session:
        with flooding(browser, STARVE_SCRIPT, str(FLOOD), f"127.0.0.1 {site.rsplit(':', 1)[1]}"):
            time.sleep(2)  # every flood connection has been accepted and named its address
            assert loads(session, site + "/during") == "page /during"
        refused = browser._relay.refused
        assert any(r.startswith("a relay connection from pid ") and "not the agent's" in r for r in refused), refused


# Through the agent's own listener in the namespace: the relay cannot tell these from Chromium's.
TCP_FLOOD_SCRIPT = """
import socket, sys, time
held = [socket.create_connection(("127.0.0.1", int(sys.argv[2]))) for _ in range(int(sys.argv[1]))]
print("holding", len(held), flush=True)
time.sleep(60)
"""


@pytest.mark.timeout(120)
def test_a_flood_through_the_agents_listener_holds_one_address_only_and_not_for_long(
        browser, site, other_site, monkeypatch):
    idle_s = 4
    browser.start()  # the relay is made with the launch
    monkeypatch.setattr(browser._relay, "idle_timeout_s", idle_s)
    with episode(browser, site, other_site) as session:
        closed_before = browser._relay.idle_closed
        with flooding(browser, TCP_FLOOD_SCRIPT, str(FLOOD), site.rsplit(":", 1)[1]) as flood:
            time.sleep(1.5)
            assert spliced_to(browser, site) == MAX_PER_ADDRESS
            assert loads(session, other_site + "/beside") == "page /beside"  # the other port keeps its share
            deadline = time.monotonic() + idle_s + 5
            while spliced_to(browser, site) and time.monotonic() < deadline:
                time.sleep(0.2)
            # The flooder still holds its ends: no byte either way for idle_s closed the collector's.
            assert spliced_to(browser, site) == 0 and flood.poll() is None
            assert browser._relay.idle_closed - closed_before >= MAX_PER_ADDRESS
            assert loads(session, site + "/after") == "page /after"
    assert f"over the cap of {MAX_PER_ADDRESS} live connections to 127.0.0.1:{site.rsplit(':', 1)[1]}" in \
        browser._relay.refused


@pytest.mark.timeout(60)
def test_keep_alive_connections_closed_idle_are_reopened_by_chromium(browser, monkeypatch):
    browser.start()  # the relay is made with the launch
    monkeypatch.setattr(browser._relay, "idle_timeout_s", 1)
    with serving(page, keep_alive=True) as url, episode(browser, url) as session:
        closed_before = browser._relay.idle_closed
        time.sleep(2.5)  # the first page's keep-alive connection idles past the timeout
        assert browser._relay.idle_closed > closed_before
        for n in range(3):
            assert loads(session, f"{url}/next{n}") == f"page /next{n}"


FD_PROBE = """
import ctypes, os, sys
agent = int(sys.argv[1])
try:
    print("list", sorted(os.listdir(f"/proc/{agent}/fd")))
except OSError as exc:
    print("list refused", exc.strerror)
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(agent)
for fd in (3, 4):
    got = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
    print("pidfd_getfd", fd, "got" if got >= 0 else "refused " + os.strerror(ctypes.get_errno()))
"""


def relay_agent(browser) -> int:
    """The agent: forked by the process that became Chromium's main one (bwrap's command line names it too)."""
    main = chromium_main(browser)
    for pid in process_tree(main):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if int(stat.rsplit(")", 1)[1].split()[1]) == main and \
                RELAY_AGENT.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
            return pid
    raise AssertionError(f"no relay agent under Chromium's main process {main}")


def namespace_pid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("NSpid:")[1].splitlines()[0].split()[-1])


def test_the_relay_agent_holds_no_devtools_pipe_and_its_descriptors_are_out_of_the_sandboxs_reach(browser, site):
    with episode(browser, site):
        agent, main = relay_agent(browser), chromium_main(browser)
        devtools = {os.readlink(f"/proc/{main}/fd/{fd}") for fd in (3, 4)}
        held = {fd: os.readlink(f"/proc/{agent}/fd/{fd}") for fd in os.listdir(f"/proc/{agent}/fd")}
        assert not devtools & set(held.values()), (devtools, held)
        assert all(held[fd] == "/dev/null" for fd in ("0", "1", "2")), held
        probe = inside(browser, FD_PROBE, str(namespace_pid(agent)))
        output, _ = probe.communicate(timeout=60)
        assert "list refused Permission denied" in output, output
        assert "pidfd_getfd 3 refused" in output and "pidfd_getfd 4 refused" in output, output


def test_close_forgets_the_relay_allowance_when_the_contexts_close_fails(browser, site):
    session = BrowserSession(browser, [site])
    session.open(site + "/first")
    try:
        context = session._context
        assert context in browser._relay._allowed
        browser._kill_driver()  # the close below then raises ("Connection closed") and no "close" event comes
        session.close()
        assert context not in browser._relay._allowed
    finally:
        browser.restart()


# -- the Relay alone ----------------------------------------------------------------------------------------------
@pytest.fixture
def relay(tmp_path):
    relay = Relay(str(tmp_path), None, idle_timeout_s=1)
    control = as_agent(relay)
    yield relay
    control.close()
    relay.close()


ANOTHER_PROCESS = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode())
    print(s.recv(10) or "closed")
except (BrokenPipeError, ConnectionResetError):  # closed before or with the request unread
    print("closed")
"""


def test_relay_connections_of_any_process_but_the_agents_are_refused(relay, upstream):
    port = upstream.getsockname()[1]
    relay.allow("episode", {("127.0.0.1", port)})
    other = subprocess.run(
        [sys.executable, "-c", ANOTHER_PROCESS,
         os.path.join(relay.folder, "relay.sock"), f"127.0.0.1 {port}\nGET / HTTP/1.0\r\n\r\n"],
        capture_output=True, text=True, timeout=30)
    assert other.stdout.strip() == "closed", other.stdout + other.stderr
    assert relay.refused[-1].startswith("a relay connection from pid ")
    assert relay.refused[-1].endswith(f", not the agent's ({os.getpid()})") and str(os.getpid()) not in \
        relay.refused[-1].split(",")[0], relay.refused
    upstream.settimeout(0.3)
    with pytest.raises(TimeoutError):
        upstream.accept()
    with connect(relay, f"127.0.0.1 {port}\nping".encode()):  # this process is the agent: relayed
        upstream.settimeout(5)
        held, _ = upstream.accept()
        assert held.recv(10) == b"ping"
        held.close()


def test_a_spliced_connection_is_closed_after_the_idle_timeout_only_when_no_byte_moves_either_way(relay, upstream):
    port = upstream.getsockname()[1]
    relay.allow("episode", {("127.0.0.1", port)})
    with connect(relay, f"127.0.0.1 {port}\n".encode()) as client:
        held, _ = upstream.accept()
        held.settimeout(5)
        for n in range(6):  # 3 s in all, a byte every 0.5 s, from one side then the other
            time.sleep(0.5)
            sender, receiver = (client, held) if n % 2 else (held, client)
            sender.sendall(b"x")
            assert receiver.recv(10) == b"x"
        started = time.monotonic()
        assert client.recv(10) == b"" and held.recv(10) == b""  # then silence: both ends closed
        assert 0.5 < time.monotonic() - started < 3
        while relay.idle_closed == 0 and time.monotonic() - started < 3:  # counted as its task ends
            time.sleep(0.05)
        assert relay.idle_closed == 1
        held.close()


def test_opening_a_session_again_closes_its_first_context_and_close_then_forgets_both(browser, site):
    session = BrowserSession(browser, [site])
    session.open(site + "/first")
    first = session._context
    session.open(site + "/again")
    assert loads(session, site + "/third") == "page /third"
    assert first not in browser._relay._allowed and first not in browser._browser.contexts
    session.close()
    assert browser._relay._allowed == {}
