"""A server that cannot start (e.g. a checkout whose .mcp-servers/ was never installed) is one console line per
server, with the reason and the setup script to run, not node's stderr once per episode; the episodes are still
recorded as errors and keep the server's stderr in their end_reason, and the run exits 1 (no episode succeeded)."""

import json
import subprocess
import sys

import yaml

from collectors.mcp import SETUP_SCRIPT, start_failure_headline


def test_failing_server_is_one_line_with_reason_and_hint(tmp_path):
    servers = tmp_path / "servers.yaml"
    # A module under {node_modules} (what the setup script installs) that is not there: the hint names the script.
    servers.write_text(yaml.safe_dump({"servers": {"broken": {"command": "node",
                                                              "args": ["{node_modules}/nonexistent.js"]}}}))
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump([{"id": f"t{i}", "instruction": "call", "options": {"server": "broken"},
                                      "actions": [{"tool": "x"}]} for i in range(3)]))
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "mcp", "--servers", str(servers),
                           "--tasks", str(tasks), "--out", str(tmp_path / "out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]  # every episode failed
    assert "3 ended in an error (3 environment errors)" in " ".join(done.stderr.split()), done.stderr[-3000:]
    reason = "server 'broken' did not start: Error: Cannot find module '/opt/worldline/node_modules/nonexistent.js'"
    mentions = [line for line in done.stderr.splitlines() if "broken" in line or "nonexistent" in line]
    # One live warning the first time it fails, one line in the summary: not one (or a stack) per episode.
    assert len(mentions) == 2 and all(reason in line and SETUP_SCRIPT in line for line in mentions), done.stderr
    assert "3 episodes" in mentions[1]
    assert "Module._resolveFilename" not in done.stderr and "MODULE_NOT_FOUND" not in done.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "out" / "episodes" / "mcp").glob("*.json")]
    assert len(records) == 3 and {r["outcome"] for r in records} == {"error"}
    for record in records:  # the server's stderr is still in the record
        assert record["end_reason"].startswith(f"error: ServerStartError: {reason}")
        assert "stderr: node:internal/modules/cjs/loader" in record["end_reason"]
        assert "Module._resolveFilename" in record["end_reason"]


def test_headline_takes_the_error_line_of_the_stderr():
    python = ("server 'p' did not start: MCPError: Connection closed; stderr: Traceback (most recent call last):\n"
              "  File \"x.py\", line 1, in <module>\nModuleNotFoundError: No module named 'mcp_server_time'\n")
    assert start_failure_headline(python).startswith(
        "server 'p' did not start: ModuleNotFoundError: No module named 'mcp_server_time' (")
    missing = "server 'x': command 'y' is not an executable on PATH (run `worldline setup mcp-servers`)"
    assert start_failure_headline(missing) == missing  # it already names the command
