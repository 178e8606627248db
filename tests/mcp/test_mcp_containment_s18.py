"""Containment of MCP server sandboxes: an http server has no network but its own loopback (the client reaches it
through a forwarded unix socket), and a server's writable places hold at most their recorded caps in all."""

import os
import signal
import subprocess
import sys
import time

import pytest

from sandboxes import mcp_sandbox, mcp_servers
from sandboxes.bwrap import process_tree
from schemas.processes import alive as running
from sandboxes.mcp_sandbox import ServerStartError
from sandboxes.mcp_server_spec import server_from_dict
from sandboxes.mcp_servers import SOCKET_NAME, ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

PROBE = ROOT / "tests" / "mcp" / "probe_server.py"
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the working directory's cap is a mount: root only")


def interfaces(pid: int) -> list[str]:
    """The network interfaces of the namespace `pid` runs in."""
    with open(f"/proc/{pid}/net/dev") as handle:
        return sorted(line.split(":")[0].strip() for line in handle.readlines()[2:])


def search(conn, query: str) -> dict:
    exchange, error = conn.request("tools/call", {"name": "search", "arguments": {"query": query}})
    assert error is None, error
    return result_of(exchange)


def test_an_http_server_has_only_its_own_loopback_and_answers_as_over_stdio(servers):
    with ServerConnection(servers["search-world-http"]) as over_http:
        record = over_http.sandbox_record()
        server = process_tree(over_http.server_pid())[-1]
        assert interfaces(server) == ["lo"], "the http server shares a network with the host"
        assert interfaces(os.getpid()) != ["lo"]  # (the host's has more, or the check above proves nothing)
        # The socket is outside the working directory, whose listing servers return as observations.
        assert SOCKET_NAME not in os.listdir(over_http.workdir) and over_http.socket.is_socket()
        answers = [search(over_http, query) for query in ("river", "capital city")]
    assert record["network"] is False
    with ServerConnection(servers["search-world"]) as over_stdio:
        assert answers == [search(over_stdio, query) for query in ("river", "capital city")]


@pytest.mark.parametrize("folder", ["/tmp/workspace", "/tmp"])
def test_a_servers_writable_places_stop_at_their_recorded_cap(monkeypatch, folder):
    """Two files, each under the per-file cap (RLIMIT_FSIZE), together over the folder's: ENOSPC, from inside the
    sandbox (prepare commands run there)."""
    if folder == "/tmp/workspace" and os.geteuid() != 0:
        pytest.skip("the working directory's cap is a mount: root only")
    monkeypatch.setattr(mcp_sandbox, "WORKSPACE_BYTES", 8 << 20)
    monkeypatch.setattr(mcp_sandbox, "TMP_BYTES", 8 << 20)
    fill = f"head -c 5M /dev/zero > {folder}/a && head -c 5M /dev/zero > {folder}/b"
    spec = server_from_dict("probe", {"command": "{python}", "args": [str(PROBE)], "prepare": [fill]}, "test")
    conn = ServerConnection(spec)
    with pytest.raises(ServerStartError, match="No space left on device"):
        with conn:
            pass
    assert conn.sandbox_record()["disk"] == {"workspace_bytes": 8 << 20, "tmp_bytes": 8 << 20,
                                             "output_tail_bytes": mcp_servers.OUTPUT_TAIL_BYTES}


@root_only
def test_the_working_directory_is_capped_for_the_host_too_and_freed_at_close(monkeypatch):
    monkeypatch.setattr(mcp_sandbox, "WORKSPACE_BYTES", 4 << 20)
    spec = server_from_dict("probe", {"command": "{python}", "args": [str(PROBE)]}, "test")
    with ServerConnection(spec) as conn:
        with pytest.raises(OSError, match="No space left"):
            (conn.workdir / "big").write_bytes(b"\0" * (5 << 20))
        holder = conn._workspace.pid
    assert not running(holder)


@root_only
def test_a_sigkilled_collectors_mount_goes_and_its_folder_goes_at_the_next_start():
    """The working directory's tmpfs lives in a namespace held by a process that ends when the collector dies,
    however it dies, so nothing stays mounted holding memory; the folder it made is removed when another
    connection is made."""
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from sandboxes.mcp_server_spec import server_from_dict\n"
        "from sandboxes.mcp_servers import ServerConnection\n"
        f"conn = ServerConnection(server_from_dict('probe', {{'command': '{{python}}', 'args': ['{PROBE}']}}, 't'))\n"
        "print(conn._workspace.pid, conn.base, flush=True); time.sleep(600)")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        holder, base = child.stdout.readline().split()
        assert running(int(holder)) and os.path.isdir(base)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 5
    while running(int(holder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(int(holder))
    assert os.path.isdir(base)  # nobody removes it when its owner dies...
    ServerConnection(server_from_dict("other", {"command": "{python}", "args": [str(PROBE)]}, "test")).close()
    assert not os.path.exists(base)  # ...but the next connection made, of any server, does
