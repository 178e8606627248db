"""Real servers from the servers file: started sandboxed in their own working directory, always stopped."""

import json
import os
import re

import pytest

from tests.mcp.mcp_helpers import result_of
from sandboxes.mcp_sandbox import ServerStartError
from sandboxes.mcp_server_spec import PAGES_URL, ServerFileError, load_servers
from sandboxes.mcp_servers import ServerConnection


def test_every_shipped_server_is_a_complete_entry(servers):
    assert {"git", "time", "fetch", "filesystem", "memory", "everything", "everything-http", "search-world",
            "search-packages"} <= set(servers)
    assert servers["search-world"].domain == "search" and servers["git"].domain == "mcp"


def test_server_runs_in_its_own_workdir_and_is_stopped(servers):
    conn = ServerConnection(servers["filesystem"])
    with conn:
        base = conn.base
        listing, _ = conn.request("tools/call", {"name": "list_directory", "arguments": {"path": "/tmp/workspace"}})
        assert "notes" in result_of(listing)["content"][0]["text"]  # the prepare step ran in this workdir
        outside, _ = conn.request("tools/call", {"name": "read_text_file", "arguments": {"path": "/etc/hostname"}})
        assert result_of(outside)["isError"] is True
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and str(base) in _cmdline(p)]
        assert pids, "the sandboxed server process should be running"
        server_pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and "server-filesystem" in _cmdline(p)
                       and "bwrap" not in _cmdline(p) and _is_descendant(int(p), pids)]
        assert server_pids
        limits = open(f"/proc/{server_pids[0]}/limits").read()
        assert re.search(r"Max file size\s+1073741824", limits) and re.search(r"Max data size\s+4294967296", limits)
        assert re.search(r"Max cpu time\s+600\s+600\s", limits)
    assert not base.exists()
    assert all(not os.path.exists(f"/proc/{pid}") or str(base) not in _cmdline(str(pid)) for pid in pids)


def _is_descendant(pid: int, ancestors: list[int]) -> bool:
    while pid > 1:
        if pid in ancestors:
            return True
        try:
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_sandbox_has_no_network_unless_asked(servers, host_page):
    # The reference server's gzip tool downloads a URL: with no network namespace it cannot reach the host's pages.
    with ServerConnection(servers["everything"], call_timeout_s=20) as conn:
        fetched, _ = conn.request("tools/call", {"name": "gzip-file-as-resource",
                                                 "arguments": {"name": "x.gz", "data": host_page}})
        assert result_of(fetched).get("isError") is True
        assert "fetch failed" in result_of(fetched)["content"][0]["text"]


def test_git_server_on_a_real_repository(servers):
    with ServerConnection(servers["git"]) as conn:
        status, _ = conn.request("tools/call", {"name": "git_status", "arguments": {"repo_path": "/tmp/workspace/repo"}})
        assert "calc.py" in result_of(status)["content"][0]["text"]
        log, _ = conn.request("tools/call", {"name": "git_log", "arguments": {"repo_path": "/tmp/workspace/repo"}})
        assert "Initial commit" in result_of(log)["content"][0]["text"]


def test_fetch_server_reads_local_pages(servers):
    with ServerConnection(servers["fetch"], call_timeout_s=60) as conn:
        page, _ = conn.request("tools/call", {"name": "fetch", "arguments": {"url": PAGES_URL + "/menu.html"}})
        assert "Almond croissant" in result_of(page)["content"][0]["text"]


def test_streamable_http_transport(servers):
    with ServerConnection(servers["everything-http"]) as conn:
        assert conn.initialize.delivered.result["serverInfo"]["name"]
        echo, _ = conn.request("tools/call", {"name": "echo", "arguments": {"message": "over http"}})
        assert result_of(echo)["content"][0]["text"] == "Echo: over http"
        process = conn._process
    assert process is None or process.poll() is not None


def test_an_http_server_gets_a_clean_environment_not_the_collectors(servers, monkeypatch):
    monkeypatch.setenv("WORLDLINE_TEST_SECRET", "s3cret-token")
    with ServerConnection(servers["everything-http"]) as conn:
        environ = open(f"/proc/{conn._process.pid}/environ", "rb").read().split(b"\0")
    values = dict(entry.split(b"=", 1) for entry in environ if b"=" in entry)
    assert b"WORLDLINE_TEST_SECRET" not in values and b"PATH" in values
    # HOME is the working directory as the server sees it, not the host's temporary folder (not in its sandbox, and
    # a random name in observations).
    assert values[b"HOME"] == b"/tmp/workspace"


def test_raw_result_is_the_servers_json(servers):
    with ServerConnection(servers["time"]) as conn:
        exchange, _ = conn.request("tools/call", {"name": "get_current_time", "arguments": {"timezone": "UTC"}})
        raw = exchange.raw(exchange.delivered)
        assert json.loads(raw) == exchange.original.result
        assert raw.startswith(b'{"content":[{') and b" " not in raw.split(b'"text"')[0]  # compact, wire order


@pytest.mark.parametrize("entry, message", [
    ({"args": ["x"]}, "'command' is missing"),
    ({"command": "x", "colour": 1}, "unknown keys ['colour']"),
    ({"command": "{venv}/bin/x"}, "bad placeholder"),
    ({"command": "x", "transport": "sse"}, "transport must be"),
    ({"command": "x", "args": "--flag"}, "'args' must be a list"),
])
def test_bad_server_entries_are_named(tmp_path, entry, message):
    path = tmp_path / "servers.yaml"
    path.write_text(json.dumps({"servers": {"broken": entry}}))
    with pytest.raises(ServerFileError, match=r"server 'broken'.*" + message.replace("[", r"\[").replace("]", r"\]")):
        load_servers(path)


def test_a_server_that_cannot_start_says_why(tmp_path):
    path = tmp_path / "servers.yaml"
    path.write_text(json.dumps({"servers": {"gone": {"command": "/nonexistent/server"},
                                            "bad-prepare": {"command": "true", "prepare": ["exit 3"]},
                                            "dies": {"command": "true", "startup_timeout_s": 2}}}))
    servers = load_servers(path)
    with pytest.raises(ServerStartError, match="server 'gone': command '/nonexistent/server' is not an executable"):
        ServerConnection(servers["gone"], call_timeout_s=5).__enter__()
    with pytest.raises(ServerStartError, match="prepare command 'exit 3' failed"):
        ServerConnection(servers["bad-prepare"]).__enter__()
    with pytest.raises(ServerStartError, match="server 'dies' did not start: MCPError: Connection closed"):
        ServerConnection(servers["dies"]).__enter__()


def test_a_shipped_http_twin_explores_with_its_stdio_twins_hints():
    # search-world-http had none: --explore then opened made-up page ids ("no page with id ...") on 3 of 4 steps.
    servers = load_servers(os.path.join(os.path.dirname(__file__), "..", "..", "tasks", "mcp_servers.yaml"))
    for name, spec in servers.items():
        twin = servers.get(name.removesuffix("-http"))
        if spec.transport == "http" and twin is not None and twin is not spec:
            assert spec.hints == twin.hints, name
