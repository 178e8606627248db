"""Breaking out of the sandbox defaults from inside, against the real Docker engine and Chromium."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from sandboxes.attached_exec import SandboxError
from sandboxes.docker_sandbox import DockerSandbox
from sandboxes.limits import Limits
from sandboxes.terminal_tmux import SessionEnded, TmuxError, TmuxTerminal
from tests.http_pages import serving

CAP_NET_RAW, CAP_MKNOD, CAP_SYS_CHROOT, CAP_SETFCAP = 13, 27, 18, 31


def test_root_keeps_only_the_capabilities_a_shell_needs(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        status = sandbox.exec("grep CapEff /proc/self/status").stdout.split()
        effective = int(status[1], 16)
        for cap in (CAP_NET_RAW, CAP_MKNOD, CAP_SYS_CHROOT, CAP_SETFCAP):
            assert not effective & (1 << cap), f"capability {cap} is still effective ({status[1].decode()})"
        assert sandbox.exec("mknod /tmp/null c 1 3").exit_code != 0
        raw = sandbox.exec(["python3", "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)"])
        assert raw.exit_code != 0 and b"Operation not permitted" in raw.output
        # What a root shell does every day still works.
        assert sandbox.exec("touch /work/f && chown nobody:nogroup /work/f && chmod 600 /work/f").exit_code == 0
        assert sandbox.exec("su nobody -s /bin/sh -c 'id -un'").stdout == b"nobody\n"


def test_open_files_and_core_dumps_are_capped_whatever_the_engine_default(base_image, prefix):
    with DockerSandbox(base_image, Limits(open_files=1024), name_prefix=prefix) as sandbox:
        assert sandbox.exec("ulimit -n; ulimit -c").stdout.split() == [b"1024", b"0"]
        many = sandbox.exec(["python3", "-c", "import os\nfor _ in range(2000): os.open('/dev/null', os.O_RDONLY)"])
        assert many.exit_code != 0 and b"Too many open files" in many.output


def test_a_timed_out_command_leaves_no_process_that_escaped_its_group(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        sandbox.exec("sleep 1000 </dev/null >/dev/null 2>&1 &")  # an earlier command's background job: it stays
        result = sandbox.exec("setsid sh -c 'trap \"\" TERM; while :; do :; done' & "
                              "(setsid sleep 999 &) ; sleep 100", timeout=1)
        assert result.timed_out
        left = sandbox.exec("ps -eo args").stdout.decode().splitlines()
        assert not [line for line in left if "while" in line or line in ("sleep 999", "sleep 100")], left
        assert "sleep 1000" in left


def test_a_container_that_died_is_reported_as_gone_not_as_a_failed_command(base_image, prefix):
    # The disk quota keeps files from OOM-killing the container (tests/sandboxes/test_disk_quota.py), but something
    # else may still kill it (the engine, an operator, init OOM-killed): the caller must hear that the sandbox is gone.
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        sandbox.client.api.kill(sandbox.container_id)
        with pytest.raises(SandboxError, match="stopped with exit code"):
            sandbox.exec("echo alive")


def test_a_dead_container_is_an_error_for_the_terminal_not_a_shell_that_exited(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        terminal = TmuxTerminal(sandbox)
        terminal.start()
        terminal.wait_for_prompt()
        sandbox.client.api.kill(sandbox.container_id)
        with pytest.raises(TmuxError, match="stopped with exit code") as caught:
            terminal.state()
        assert not isinstance(caught.value, SessionEnded)
        terminal.close()


# ---- the browser: page JS must not reach anything but the allowed origins ----

@pytest.fixture(scope="module")
def browser():
    from tests.web.browser_helpers import running_browser
    with running_browser(start=False) as browser:
        yield browser


@pytest.fixture
def site():
    with serving(lambda path: b"<html><body><h1>allowed</h1></body></html>") as url:
        yield url


@pytest.fixture
def listener():
    """A TCP and a UDP socket on other host ports; `hits` records whatever reaches them."""
    hits: list = []
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))

    def accept():
        while True:
            try:
                conn, _ = tcp.accept()
            except OSError:
                return
            hits.append(("tcp", conn.recv(100)))
            conn.close()

    def receive():
        while True:
            try:
                hits.append(("udp", udp.recvfrom(100)[0]))
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    threading.Thread(target=receive, daemon=True).start()
    yield tcp.getsockname()[1], udp.getsockname()[1], hits
    tcp.close()
    udp.close()


def test_page_script_reaches_no_other_port_by_fetch_websocket_or_webrtc(browser, site, listener):
    from sandboxes.browser_session import BrowserSession
    tcp_port, udp_port, hits = listener
    session = BrowserSession(browser, [site])
    try:
        session.open(site + "/")
        page = session.page
        fetched = page.evaluate(f"fetch('http://127.0.0.1:{tcp_port}/f').then(() => 'ok', () => 'blocked')")
        socket_result = page.evaluate(f"""new Promise(r => {{
            const ws = new WebSocket('ws://127.0.0.1:{tcp_port}/?leak=1');
            ws.onopen = () => r('open'); ws.onerror = () => r('error'); ws.onclose = () => r('closed');
            setTimeout(() => r('pending'), 3000); }})""")
        rtc = page.evaluate(f"""new Promise(r => {{
            if (typeof RTCPeerConnection !== 'function') return r('no webrtc');
            const pc = new RTCPeerConnection({{iceServers: [{{urls: 'stun:127.0.0.1:{udp_port}'}}]}});
            pc.createDataChannel('x'); pc.createOffer().then(o => pc.setLocalDescription(o));
            setTimeout(() => r('tried'), 2000); }})""")
        time.sleep(0.3)
        assert fetched == "blocked" and socket_result in ("error", "closed") and rtc == "no webrtc"
        assert hits == [], f"page script reached another port: {hits}"
        assert f"ws://127.0.0.1:{tcp_port}/?leak=1" in session.blocked
    finally:
        session.close()
