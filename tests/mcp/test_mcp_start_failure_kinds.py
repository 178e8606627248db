"""A user's MCP server that cannot start because of its servers-file entry (a command that is not on PATH, a server
that exits before it answers initialize) is a task error naming the server, the command and the servers file: the
entry is wrong, and the environment would fail it the same way every time (note 22: it was an environment error).
A server that merely does not answer in time, or is killed by a signal, stays an environment error: under load a
rerun may find it in time. Real servers files, real processes, the real `worldline collect mcp`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sandboxes.mcp_sandbox import ServerStartError
from sandboxes.mcp_server_spec import load_servers
from sandboxes.mcp_servers import ServerConnection, ServerEntryError

MISSING = "wl-no-such-mcp-server-h171"
FAILS = "echo 'error: unknown option --frobnicate' >&2; exit 1"
ENTRIES = {
    "nocmd": {"command": MISSING, "args": ["--stdio"]},
    "exits1": {"command": "sh", "args": ["-c", FAILS]},
    "exits1-http": {"command": "sh", "args": ["-c", FAILS], "transport": "http"},
    # Not an entry's fault: a server slow to answer (under load), or one a signal ended.
    "silent": {"command": "sleep", "args": ["60"], "startup_timeout_s": 1},
    "killed-http": {"command": "sh", "args": ["-c", "kill -9 $$"], "transport": "http"},
}


@pytest.fixture
def servers_file(tmp_path) -> Path:
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump({"servers": ENTRIES}))
    return path


@pytest.mark.parametrize("name", ["nocmd", "exits1", "exits1-http"])
def test_a_start_failure_the_entry_causes_is_an_entry_error(servers_file, name):
    with pytest.raises(ServerEntryError):
        ServerConnection(load_servers(servers_file)[name]).__enter__()


@pytest.mark.parametrize("name", ["silent", "killed-http"])
def test_a_timeout_or_a_signal_is_not_the_entry_s_fault(servers_file, name):
    with pytest.raises(ServerStartError) as error:
        ServerConnection(load_servers(servers_file)[name]).__enter__()
    assert not isinstance(error.value, ServerEntryError), error.value


def test_collect_counts_entry_failures_as_task_errors_naming_server_command_and_servers_file(tmp_path, servers_file):
    tasks = tmp_path / "tasks.yaml"
    names = ("nocmd", "exits1", "exits1-http", "silent")
    tasks.write_text(yaml.safe_dump([{"id": f"call-{name}", "instruction": "call", "options": {"server": name},
                                      "actions": [{"tool": "x"}]} for name in names]))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "mcp", "--servers", str(servers_file),
                           "--tasks", str(tasks), "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    stderr = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stderr[-3000:]  # no episode succeeded
    assert "4 ended in an error (1 environment error, 3 task errors)" in stderr, done.stderr[-3000:]
    records = {json.loads(p.read_text())["task"]["id"]: json.loads(p.read_text())["end_reason"]
               for p in (out / "episodes" / "mcp").glob("*.json")}
    for name in ("nocmd", "exits1", "exits1-http"):
        reason = records[f"call-{name}"]
        first = reason.splitlines()[0]
        assert first.startswith("task error: ServerEntryTaskError: "), reason
        assert f"the entry of server {name!r} in servers file {servers_file}" in first, first
        assert f"command {ENTRIES[name]['command']!r}" in first, first
    assert f"command {MISSING!r} is not an executable on PATH" in records["call-nocmd"]
    assert "did not start: error: unknown option --frobnicate" in records["call-exits1"]
    assert "exited with 1 before listening" in records["call-exits1-http"]
    assert records["call-silent"].startswith("error: ServerStartError: server 'silent' did not answer initialize")
    # The summary names each: one line a reason, the servers file in it.
    assert stderr.count(str(servers_file)) >= 3, done.stderr[-3000:]
