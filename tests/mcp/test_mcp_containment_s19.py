"""Containment of MCP servers, session 19: an http server's socket is the collector's (no host folder in the sandbox
to fill or to plant a symlink in), the collector never follows a link to a host socket, and OOM kills in a server's
cgroup are recorded per step."""

import asyncio
import os
import socket
import tempfile
import threading
import time

import httpx2
import pytest

from collectors.api import Task
from collectors.mcp import McpCollector, parse_call
from sandboxes import mcp_sandbox
from sandboxes.mcp_server_spec import server_from_dict
from sandboxes.mcp_servers import ServerConnection
from sandboxes.unix_socket_http import unix_socket_transport
from tests.mcp.mcp_helpers import ROOT, result_of

SHELL = ROOT / "tests" / "mcp" / "shell_http_server.py"
PROBE = ROOT / "tests" / "mcp" / "probe_server.py"
OLD_SOCKET_FOLDER = "/opt/worldline/socket"  # where the sandbox used to see the host's socket folder


def shell_spec():
    return server_from_dict("shell-http", {"command": "{python}", "args": [str(SHELL), "--port", "{port}"],
                                           "transport": "http"}, "test")


def call(conn, tool: str, **arguments):
    exchange, error = conn.request("tools/call", {"name": tool, "arguments": arguments})
    assert error is None, error
    return result_of(exchange)


def sh(conn, command: str) -> str:
    return call(conn, "sh", cmd=command)["content"][0]["text"]


class Canary:
    """A host unix socket that records every connection made to it and answers nothing."""

    def __init__(self, path):
        self.path, self.accepted = str(path), []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self):
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def canary(tmp_path):
    canary = Canary(tmp_path / "canary.sock")
    yield canary
    canary.close()


def test_an_http_server_writes_only_capped_tmpfs_and_nothing_in_the_socket_folder():
    """The repro's fill, small: the host's socket folder was a writable bind (host disk, 1.5 GB written with no
    error while the record said 512 + 512 MiB)."""
    with ServerConnection(shell_spec()) as conn:
        mounts = call(conn, "writable_mounts")["structuredContent"]["result"]
        assert [point for point, kind in mounts if kind != "tmpfs"] == []
        assert "rc=0" not in sh(conn, f"head -c 8M /dev/zero > {OLD_SOCKET_FOLDER}/fill")
        folder = conn.socket.parent
        assert os.listdir(folder) == ["mcp.sock"] and folder.stat().st_mode & 0o777 == 0o700
        assert sh(conn, "echo still answering") == "rc=0\nstill answering\n"


def test_a_symlink_planted_by_the_server_leads_the_collector_to_no_host_socket(canary):
    """The repro: swap mcp.sock for a link to a host socket and end the forwarder; the collector's next connection
    used to follow the link on the host (the canary got `POST /mcp`)."""
    swap = (f"cd {OLD_SOCKET_FOLDER} && ln -s {canary.path} evil && mv -T evil mcp.sock && "
            "fwd=$(grep -l mcp_forward /proc/[0-9]*/cmdline | head -1 | cut -d/ -f3) && "
            "(setsid sh -c \"sleep 1; kill -9 $fwd\" >/dev/null 2>&1 &)")
    with ServerConnection(shell_spec(), call_timeout_s=5) as conn:
        # Asserted on after the canary: through the link, the calls themselves (their connections) went astray.
        calls = [conn.request("tools/call", {"name": "sh", "arguments": {"cmd": swap}})]
        time.sleep(2)
        calls.append(conn.request("tools/call", {"name": "sh", "arguments": {"cmd": "echo second call"}}))
    assert canary.accepted == []
    (swapped, error), (second, second_error) = calls
    assert error is None and "No such file or directory" in result_of(swapped)["content"][0]["text"]
    assert second_error is None and result_of(second)["content"][0]["text"] == "rc=0\nsecond call\n"


def test_the_client_refuses_a_socket_swapped_for_a_symlink(tmp_path, canary):
    (tmp_path / "socket").mkdir()
    path = tmp_path / "socket" / "mcp.sock"
    path.symlink_to(canary.path)

    async def get():
        async with httpx2.AsyncClient(transport=unix_socket_transport(str(path)), timeout=2) as client:
            await client.get("http://127.0.0.1/mcp")

    with pytest.raises(httpx2.ConnectError, match=f"{path}: .*not a socket"):
        asyncio.run(get())
    assert canary.accepted == []


def test_an_http_server_starts_under_a_temporary_folder_too_long_for_a_socket_address(tmp_path, monkeypatch):
    """sun_path holds 107 bytes: the socket is bound and reached through /proc/self/fd/N instead (this used to be
    a start error asking for a shorter TMPDIR)."""
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    with ServerConnection(shell_spec()) as conn:
        assert len(str(conn.socket)) > 107
        assert sh(conn, "echo deep") == "rc=0\ndeep\n"


def test_an_oom_kill_in_the_servers_cgroup_is_recorded_on_its_step(monkeypatch):
    monkeypatch.setattr(mcp_sandbox, "TOTAL_MEMORY_BYTES", 192 << 20)
    spec = server_from_dict("probe", {"command": "{python}", "args": [str(PROBE)]}, "test")
    collector = McpCollector({"probe": spec}, call_timeout_s=60)
    try:
        collector.reset(Task(id="hog", instruction="hold memory", domain="mcp", options={"server": "probe"}))
        if collector.connection.oom_kills() is None:
            pytest.skip("no cgroup on this machine: nothing counts OOM kills")
        light = collector.step(parse_call({"tool": "hold", "arguments": {"count": 1, "mib": 16}}))
        heavy = collector.step(parse_call({"tool": "hold", "arguments": {"count": 1, "mib": 400}}))
        after = collector.step(parse_call({"tool": "whoami", "arguments": {}}))
    finally:
        collector.close()
    assert light.observation.meta["oom_kills"] == 0 and "memory_cap" not in light.perturbations
    assert heavy.observation.meta["oom_kills"] >= 1 and "memory_cap" in heavy.perturbations
    assert after.observation.meta["oom_kills"] == 0 and after.error is None
