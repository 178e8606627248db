"""What a process inside Chromium's sandbox (a compromised renderer stands for it: the test enters the sandbox's
namespaces as its user) can do with the loopback relay: not write its folder (it was a host /tmp folder chowned to
the sandbox, 1100 MiB written past every cap), not pose as the agent, and not hold the collector's descriptors with
connections that never name an address (1100 held 1006 fds until the collector got EMFILE). The relay's own rules
(strict headers, a closed context's connections closed) are tested on a Relay alone."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sandboxes.browser import RELAY_FOLDER
from sandboxes.browser_session import BrowserSession
from sandboxes.loopback_relay import MAX_CONNECTIONS, AgentGone, Relay
from tests.http_pages import serving
from tests.web.browser_helpers import running_browser
from tests.web.test_browser_netns import chromium_main

FLOOD = MAX_CONNECTIONS + 44


@pytest.fixture(scope="module")
def site():
    with serving(lambda path: f"<title>page {path}</title><h1>page {path}</h1>".encode()) as url:
        yield url


@pytest.fixture
def sandbox(site):
    """(browser, session) with a page of `site` open in a loopback-only episode."""
    with running_browser(start=False) as browser:
        session = BrowserSession(browser, [site])
        session.open(site + "/first")
        try:
            yield browser, session
        finally:
            session.close()


def inside(browser, script: str, *args: str) -> subprocess.Popen:
    """`python3 -c script` in the namespaces of Chromium's main process, as its user, with no capabilities."""
    if browser.uid is None:
        pytest.fail("entering the sandbox as its user needs a root collector (the sandbox has its own uid then)")
    main = chromium_main(browser)
    return subprocess.Popen(
        ["nsenter", "-t", str(main), "-m", "-n", "-p", "-i", "-u", "-r", "-w", "setpriv", f"--reuid={browser.uid}",
         f"--regid={browser.uid}", "--clear-groups", "--inh-caps=-all", "/usr/bin/python3", "-u", "-c", script,
         *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


TRY_THE_FOLDER = f"""
import os, socket
folder = {RELAY_FOLDER!r}
def attempt(name, action):
    try:
        action()
        print(name, "done")
    except OSError as exc:
        print(name, "refused", exc.strerror)
attempt("write", lambda: open(folder + "/fill", "wb").write(b"x" * (1 << 20)))
attempt("mkdir", lambda: os.mkdir(folder + "/sub"))
attempt("link", lambda: os.symlink("/var/run/docker.sock", folder + "/link"))
attempt("rename", lambda: os.rename(folder + "/control.sock", folder + "/moved"))
control = socket.socket(socket.AF_UNIX)
control.settimeout(5)
control.connect(folder + "/control.sock")
try:
    control.sendall(b"listen 127.0.0.1 47811\\n")
    answer = control.recv(100) or b"closed"
except (ConnectionResetError, BrokenPipeError):  # closed before or with the command unread
    answer = b"closed"
print("second control connection", answer)
"""


def test_the_sandbox_can_neither_write_the_relay_folder_nor_pose_as_the_agent(sandbox, site):
    browser, session = sandbox
    probe = inside(browser, TRY_THE_FOLDER)
    output, _ = probe.communicate(timeout=60)
    for name in ("write", "mkdir", "link", "rename"):
        assert f"{name} refused Read-only file system" in output, output
    assert "second control connection b'closed'" in output, output
    assert "a second control connection" in browser._relay.refused
    assert sorted(os.listdir(browser._relay.folder)) == ["control.sock", "relay.sock"]
    session.open(site + "/after")  # the relay still carries the site
    assert session.page.inner_text("h1") == "page /after"


FLOOD_SCRIPT = f"""
import socket, sys, time
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_UNIX)
    s.connect({RELAY_FOLDER!r} + "/relay.sock")  # and never a header
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(float(sys.argv[2]))
"""


def live(browser) -> int:
    return len(browser._relay._connections)


@pytest.mark.timeout(120)
def test_a_flood_of_headerless_connections_from_the_sandbox_holds_none_of_the_collectors_descriptors(sandbox, site):
    browser, session = sandbox
    flood = inside(browser, FLOOD_SCRIPT, str(FLOOD), "30")
    try:
        assert flood.stdout.readline().strip() == f"holding {FLOOD}"
        time.sleep(2)
        # Not the agent's connections: closed at once, before the header deadline or the cap come into it.
        assert live(browser) == 0 and browser._relay.over_cap == 0 and flood.poll() is None
        session.open(site + "/during")
        assert session.page.inner_text("h1") == "page /during"
    finally:
        flood.kill()
        flood.wait()
    assert any(r.startswith("a relay connection from pid ") for r in browser._relay.refused), browser._relay.refused


# -- the Relay alone ----------------------------------------------------------------------------------------------
@pytest.fixture
def upstream():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    yield server
    server.close()


def as_agent(relay) -> socket.socket:
    """Connect as the relay's agent: relay.sock then takes this process's connections (and no other's)."""
    control = socket.socket(socket.AF_UNIX)
    control.connect(os.path.join(relay.folder, "control.sock"))
    deadline = time.monotonic() + 5
    while relay._agent_pid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return control


@pytest.fixture
def relay(tmp_path):
    relay = Relay(str(tmp_path), None)
    control = as_agent(relay)
    yield relay
    control.close()
    relay.close()


def connect(relay, header: bytes) -> socket.socket:
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(5)
    client.connect(os.path.join(relay.folder, "relay.sock"))
    if header:  # sending nothing to a connection the relay closed at once (over the cap) fails with EPIPE
        client.sendall(header)
    return client


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("spell", [lambda port: f"0{port}", lambda port: str(port).translate(ARABIC_INDIC)],
                         ids=["leading zero", "arabic-indic digits"])
def test_a_header_port_must_be_plain_ascii_decimal(relay, upstream, spell):
    # Both named the allowed port before (int() takes them): harmless, but the header is no longer ambiguous.
    port = upstream.getsockname()[1]
    relay.allow("episode", {("127.0.0.1", port)})
    with connect(relay, f"127.0.0.1 {spell(port)}\n".encode()) as client:
        assert client.recv(10) == b""
    upstream.settimeout(0.3)
    with pytest.raises(TimeoutError):
        upstream.accept()
    assert relay.refused[-1] == f"127.0.0.1 {spell(port)}"


def test_closing_a_context_closes_the_connections_only_it_allowed(relay, upstream):
    port = upstream.getsockname()[1]
    relay.allow("first", {("127.0.0.1", port)})
    relay.allow("second", {("127.0.0.1", port)})
    with connect(relay, f"127.0.0.1 {port}\nping".encode()) as client:
        held, _ = upstream.accept()
        held.settimeout(5)
        assert held.recv(10) == b"ping"
        relay.forget("first")
        held.sendall(b"pong")
        assert client.recv(10) == b"pong"  # the second context still allows it
        relay.forget("second")
        assert client.recv(10) == b""  # closed, not left relaying for contexts that are gone
        assert held.recv(10) == b""
        held.close()


def test_the_cap_closes_new_connections_unread_and_warns_once_a_minute(tmp_path, caplog):
    relay = Relay(str(tmp_path), None, max_connections=4, header_timeout_s=30)
    clients = [as_agent(relay)]
    try:
        with caplog.at_level(logging.WARNING, logger="sandboxes.loopback_relay"):
            for _ in range(10):
                clients.append(connect(relay, b""))
            for late in clients[5:]:
                assert late.recv(10) == b""
            assert len(relay._connections) == 4 and relay.over_cap == 6
            clients[1].sendall(b"\n")  # a bad header: its place frees, and the next connection is accepted
            assert clients[1].recv(10) == b""
            time.sleep(0.1)
            clients.append(connect(relay, b""))
            time.sleep(0.3)
            clients.append(connect(relay, b""))
            assert clients[-1].recv(10) == b""  # a second burst, within the minute: no second warning
        warnings = [r.getMessage() for r in caplog.records if "the cap: closed" in r.getMessage()]
        assert warnings == [f"loopback relay {tmp_path}: 4 connections live, the cap: closed 1 new one(s) unread "
                            "since the last warning (at most one warning a minute)"], warnings
        assert relay.over_cap == 7 and relay.refused[-1] == "over the cap of 4 live connections", relay.refused
    finally:
        for client in clients:
            client.close()
        relay.close()


def test_an_agent_connection_that_names_no_address_is_closed_at_the_header_deadline(tmp_path):
    relay = Relay(str(tmp_path), None, header_timeout_s=0.5)
    control = as_agent(relay)
    try:
        with connect(relay, b"") as client:
            started = time.monotonic()
            assert client.recv(10) == b""
            assert 0.3 < time.monotonic() - started < 3
        assert relay.refused[-1] == "no header within 0.5 s"
    finally:
        control.close()
        relay.close()


def test_the_sandbox_gets_the_folder_to_search_only_and_the_sockets_to_connect(tmp_path):
    relay = Relay(str(tmp_path), None)
    try:
        assert Path(tmp_path).stat().st_mode & 0o777 == 0o711
        for name in ("control.sock", "relay.sock"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    finally:
        relay.close()


def test_the_first_control_connection_is_the_agent_and_the_next_launch_takes_a_new_one(tmp_path):
    relay = Relay(str(tmp_path), None)
    path = os.path.join(relay.folder, "control.sock")
    agent, intruder = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
    agent.connect(path)
    intruder.connect(path)
    intruder.settimeout(5)
    assert intruder.recv(10) == b""  # closed: the agent connected first
    answers = threading.Thread(target=lambda: agent.sendall(b"ok\n" if agent.recv(100) else b""))
    answers.start()
    relay.listen({("127.0.0.1", 8000)}, timeout_s=5)
    answers.join()
    relay.new_agent()  # a relaunch: the old agent's connection is closed, the next one is the new agent's
    agent.settimeout(5)
    assert agent.recv(10) == b""
    with pytest.raises(AgentGone, match="did not answer .* within 0.3 s"):
        relay.listen({("127.0.0.1", 8000)}, timeout_s=0.3)
    agent.close()
    intruder.close()
    relay.close()
