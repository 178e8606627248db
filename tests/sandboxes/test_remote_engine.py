"""A DOCKER_HOST pointing at another engine works unchanged: here the engine is reached over TCP through a proxy,
so nothing may rely on the local unix socket, on host paths or on host pids of the container's processes."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from sandboxes.docker_sandbox import DockerSandbox
from sandboxes.terminal_tmux import TmuxTerminal

ENGINE_SOCKET = "/var/run/docker.sock"


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
        target.shutdown(socket.SHUT_WR)  # pass half-closes on: exec stdin EOF travels this way
    except OSError:
        pass


@pytest.fixture
def tcp_engine():
    """tcp://127.0.0.1:PORT forwarding to the local engine's unix socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(ENGINE_SOCKET)
            for a, b in ((client, engine), (engine, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{port}"
    listener.close()


def test_sandbox_and_tmux_work_through_docker_host(monkeypatch, tcp_engine, base_image, prefix):
    monkeypatch.setenv("DOCKER_HOST", tcp_engine)
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        assert sandbox.client.api.base_url.startswith("http://127.0.0.1:")
        assert sandbox.exec(["cat"], stdin=b"over tcp").stdout == b"over tcp"
        assert sandbox.exec("sleep 20", timeout=0.5).timed_out
        terminal = TmuxTerminal(sandbox)
        terminal.start()
        before = terminal.wait_for_prompt()
        terminal.send_keys("echo remote-ok\n")
        deadline = time.monotonic() + 10
        while terminal.state().prompts == before.prompts:
            assert time.monotonic() < deadline, "no prompt after the command"
        _, screen = terminal.observe(escapes=False)
        assert b"\nremote-ok\n" in screen
        terminal.close()


def test_no_output_is_lost_when_it_comes_with_the_exec_response(monkeypatch, tcp_engine, base_image, prefix):
    # Through the proxy, a quick command's first frames often share a packet with the engine's 101 response; the
    # HTTP client buffers them along with the headers (about 4 execs in 100 lost their whole output before).
    monkeypatch.setenv("DOCKER_HOST", tcp_engine)
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        outputs = [sandbox.attach(["echo", f"out-{i}"]).read_line(time.monotonic() + 10) for i in range(200)]
    assert outputs == [f"out-{i}".encode() for i in range(200)]
