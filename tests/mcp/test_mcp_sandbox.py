"""What the sandbox leaves a server: only the system paths and what its entry names (not the host's home folders,
the checkout or other runs' data), and a fresh process after a call it did not answer in time."""

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from collectors.api import Task
from collectors.mcp import McpCollector, parse_call
from sandboxes.mcp_proxy import parse_spec
from sandboxes.bwrap import SANDBOX_UID_BASE, process_tree
from sandboxes import mcp_sandbox
from sandboxes.mcp_sandbox import PROCESS_LIMIT
from sandboxes.mcp_server_spec import PROJECT_ROOT, server_from_dict
from sandboxes.mcp_servers import CallTimeout, ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

PROBE = ROOT / "tests" / "mcp" / "probe_server.py"


def probe_spec(**extra):
    return server_from_dict("probe", {"command": "{python}", "args": [str(PROBE)], **extra}, "test")


def call(conn, tool, **arguments):
    exchange, error = conn.request("tools/call", {"name": tool, "arguments": arguments})
    return exchange, error


def text(exchange) -> str:
    return result_of(exchange)["content"][0]["text"]


@pytest.fixture
def secrets():
    """Files in host folders no server entry names: one in the checkout, one in $HOME. Readable by anyone, so what
    hides them is the sandbox's file system, not their permissions."""
    folders = [Path(tempfile.mkdtemp(prefix="wl-secret-", dir=PROJECT_ROOT)),
               Path(tempfile.mkdtemp(prefix="wl-secret-", dir=Path.home()))]
    files = []
    for folder in folders:
        folder.chmod(0o755)
        (folder / "token.txt").write_text("s3cret-token")
        (folder / "token.txt").chmod(0o644)
        files.append(folder / "token.txt")
    yield files
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_server_sees_only_the_system_and_what_its_entry_names(secrets):
    for path in secrets:  # the host itself can read them
        assert path.read_text() == "s3cret-token"
    with ServerConnection(probe_spec(), call_timeout_s=30) as conn:
        for path in [*secrets, PROJECT_ROOT / ".git" / "HEAD", PROJECT_ROOT / "pyproject.toml", "/etc/shadow"]:
            exchange, _ = call(conn, "read", path=str(path))
            assert result_of(exchange)["isError"] is True, (path, result_of(exchange))
        for folder in {secrets[0].parent, secrets[1].parent}:
            listing, _ = call(conn, "listdir", path=str(folder))
            shown = result_of(listing).get("structuredContent", {}).get("result", [])
            assert not any(name.startswith("wl-secret-") for name in shown), shown
        etc, _ = call(conn, "listdir", path="/etc")
        assert "shadow" not in result_of(etc)["structuredContent"]["result"]
        # What it needs is there: its own script, the system, the packages of worldline's interpreter.
        own, _ = call(conn, "read", path=str(PROBE))
        assert "MCPServer" in text(own)
        assert "root:" in text(call(conn, "read", path="/etc/passwd")[0])
        written, _ = call(conn, "listdir", path="/tmp/workspace")
        assert result_of(written).get("isError") is not True


def test_prepare_runs_in_the_sandbox_with_network(secrets, host_page):
    port = host_page.split(":")[2].split("/")[0]
    spec = probe_spec(prepare=[f"cat {secrets[0]} > leaked.txt || echo hidden > leaked.txt",
                               "ls / > root.txt", f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo reached > net.txt"])
    with ServerConnection(spec, call_timeout_s=30) as conn:
        assert (conn.workdir / "leaked.txt").read_text() == "hidden\n"
        assert "usr" in (conn.workdir / "root.txt").read_text()
        assert (conn.workdir / "net.txt").read_text() == "reached\n"  # the host's network, for downloads
        # Its files are in the working directory the server then sees at /tmp/workspace.
        leaked, _ = call(conn, "read", path="/tmp/workspace/leaked.txt")
        assert text(leaked) == "hidden\n"


def test_a_read_only_entry_adds_a_host_path(secrets):
    # (The server runs as a user of its own, not root: what `read_only` names must be readable by any user.)
    with ServerConnection(probe_spec(read_only=[str(secrets[0].parent)]), call_timeout_s=30) as conn:
        shown, _ = call(conn, "read", path=str(secrets[0]))
        assert text(shown) == "s3cret-token"
        hidden, _ = call(conn, "read", path=str(secrets[1]))
        assert result_of(hidden)["isError"] is True


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat", "rb").read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def test_a_server_runs_unprivileged_with_a_process_cap():
    if os.geteuid() != 0:
        pytest.skip("the collector is not root: servers run as its own user")
    with ServerConnection(probe_spec(), call_timeout_s=60) as conn:
        status, _ = call(conn, "read", path="/proc/self/status")
        fields = dict(line.split(":", 1) for line in text(status).splitlines() if ":" in line)
        assert fields["Uid"].split()[0] == str(conn.uid) != "0" and int(fields["CapEff"], 16) == 0
        accounts, _ = call(conn, "read", path="/etc/passwd")
        assert f"mcp-server:x:{conn.uid}:{conn.uid}:" in text(accounts)
        # Another server gets a user of its own; the lowest free one, so a run sees the same ids each time: the id
        # `other` freed is taken again, or a lower one a server of another test (another xdist worker: ids are the
        # machine's) freed meanwhile.
        other = ServerConnection(probe_spec())  # (not started: the id is taken when the connection is made)
        other.close()
        again = ServerConnection(probe_spec())
        again.close()
        assert SANDBOX_UID_BASE <= conn.uid and other.uid != conn.uid
        assert SANDBOX_UID_BASE <= again.uid <= other.uid and again.uid != conn.uid
        limits, _ = call(conn, "read", path="/proc/self/limits")
        assert re.search(rf"Max processes\s+{PROCESS_LIMIT}\s", text(limits))
        assert os.stat(conn.workdir).st_uid == conn.uid
        # A fork bomb stops at the cap (threads count too: the server's own are part of the 256).
        started, _ = call(conn, "spawn", count=PROCESS_LIMIT + 50)
        assert 0 < int(text(started)) < PROCESS_LIMIT


def test_a_timed_out_call_restarts_the_server():
    with ServerConnection(probe_spec(), call_timeout_s=3) as conn:
        spawned, _ = call(conn, "spawn", count=3)  # children of the server, sleeping: part of its process tree
        assert text(spawned) == "3"
        old_pid = conn.server_pid()
        old_tree = process_tree(old_pid)
        assert len(old_tree) >= 6  # bwrap, the namespace's init, the server, its three children
        (conn.workdir / "kept.txt").write_text("files stay")
        started = time.monotonic()
        slow, error = call(conn, "sleep", seconds=60)
        assert slow.delivered is None and isinstance(error, CallTimeout)
        assert error.restart_s is not None and conn.restarts == 1
        assert time.monotonic() - started < 3 + 15
        assert not any(_alive(pid) for pid in old_tree), "the old server's whole process tree is gone"
        new_pid = conn.server_pid()
        assert new_pid is not None and new_pid not in old_tree
        # The next call works, on the same working directory.
        kept, error = call(conn, "read", path="/tmp/workspace/kept.txt")
        assert error is None and text(kept) == "files stay"
        quick, error = call(conn, "sleep", seconds=0)
        assert error is None and text(quick) == "slept 0.0"
    assert not _alive(new_pid)


def test_a_timeout_the_proxy_made_does_not_restart():
    # The server answered; the proxy held the answer back: nothing is left running, so nothing restarts.
    rules = parse_spec([{"kind": "timeout", "match": {"tool": "whoami"}}])
    with ServerConnection(probe_spec(), rules, call_timeout_s=2) as conn:
        pid = conn.server_pid()
        held, error = call(conn, "whoami")
        assert held.delivered is None and held.original is not None and isinstance(error, CallTimeout)
        assert error.restart_s is None and conn.restarts == 0 and conn.server_pid() == pid


def test_the_collector_records_the_restart():
    collector = McpCollector({"probe": probe_spec()}, call_timeout_s=3)
    try:
        collector.reset(Task(id="slow", instruction="sleep", domain="mcp", options={"server": "probe"}))
        result = collector.step(parse_call({"tool": "sleep", "arguments": {"seconds": 60}}))
        assert result.error == "timeout: no response within 3 s; server restarted"
        meta = result.observation.meta
        assert meta["source"] == "client" and meta["jsonrpc_error"] is True
        assert json.loads(result.observation.raw)["error"]["code"] == -32001
        after = collector.step(parse_call({"tool": "sleep", "arguments": {"seconds": 0}}))
        assert after.error is None and "slept 0.0" in after.observation.text
    finally:
        collector.close()


def test_an_http_server_restarts_on_its_port(servers):
    with ServerConnection(servers["everything-http"], call_timeout_s=2) as conn:
        old_tree = process_tree(conn.server_pid())
        slow, error = call(conn, "trigger-long-running-operation", duration=30, steps=3)
        assert slow.delivered is None and error.restart_s is not None
        assert not any(_alive(pid) for pid in old_tree)
        echo, error = call(conn, "echo", message="again")
        assert error is None and text(echo) == "Echo: again"


def test_a_servers_processes_share_one_memory_cap(monkeypatch):
    """prlimit caps each process; the cgroup caps them together, so a server forking workers cannot hold more than
    its total by staying under the per-process cap in each one."""
    monkeypatch.setattr(mcp_sandbox, "TOTAL_MEMORY_BYTES", 400 << 20)
    with ServerConnection(probe_spec(), call_timeout_s=60) as conn:
        assert conn.sandbox_record()["total"] == {"cgroup": conn._group.version, "memory_bytes": 400 << 20,
                                                   "processes": PROCESS_LIMIT, "cpus": mcp_sandbox.TOTAL_CPUS}
        # The server's processes are in every folder of the group, the CPU controller's too (v1 has one each).
        members = sorted(conn._group.members())
        assert members and all(sorted(map(int, (folder / "cgroup.procs").read_text().split())) == members
                               for folder in conn._group.folders)
        alone, _ = call(conn, "hold", count=1, mib=150)
        assert int(text(alone)) == 1 and conn._group.oom_kills() == 0  # one worker fits under the total
        holding, _ = call(conn, "hold", count=4, mib=150)  # 600 MiB: each under the per-process cap, not together
        assert int(text(holding)) < 4 and conn._group.oom_kills() > 0
        assert conn._group.peak_memory_bytes() <= 400 << 20
        folders = conn._group.folders
        assert all(folder.is_dir() for folder in folders)
    assert not any(folder.exists() for folder in folders), "closing the server removes its cgroup"
