"""Containment of MCP servers, session 20 (S2): what a server writes to stdout/stderr costs the host no disk and
the collector at most OUTPUT_TAIL_BYTES of memory, and a start failure still quotes the server's last lines. They
used to go to `<base>/server.log`, a host file capped only by RLIMIT_FSIZE (1 GiB) and read whole on a failure."""

import json
import os
import subprocess
import sys

from sandboxes.mcp_server_spec import server_from_dict
from sandboxes.mcp_servers import OUTPUT_TAIL_BYTES, ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

PROBE = ROOT / "tests" / "mcp" / "probe_server.py"
FLOOD = "head -c {mib}M /dev/zero | tr '\\0' x >&{fd}"

# In a process of its own, so that its peak RSS (ru_maxrss) is this start's and not an earlier test's. The host
# disk is what the connection's folder holds when the start has failed, before close() removes it.
FAILING_START = r"""
import json, os, resource, sys
from sandboxes.mcp_sandbox import ServerStartError
from sandboxes.mcp_server_spec import server_from_dict
from sandboxes.mcp_servers import ServerConnection

spec = server_from_dict("flood", json.loads(sys.argv[1]), "test")
conn = ServerConnection(spec)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
try:
    conn.start()
    error = None
except ServerStartError as exc:
    error = str(exc)
disk = sum(os.lstat(os.path.join(folder, name)).st_blocks * 512
           for folder, _, names in os.walk(conn.base) for name in names)
conn.close()
print(json.dumps({"error": error, "disk": disk, "record": conn.sandbox_record()["disk"],
                  "rss_growth": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10) - before}))
"""


def failing_start(entry: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", FAILING_START, json.dumps(entry)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def folder_bytes(folder) -> int:
    return sum(os.lstat(os.path.join(path, name)).st_blocks * 512
               for path, _, names in os.walk(folder) for name in names)


def test_a_flooding_server_that_fails_to_start_costs_no_disk_and_no_memory_and_its_last_line_is_quoted():
    script = f"echo first-line >&2; {FLOOD.format(mib=300, fd=2)}; echo 'wl-last: giving up' >&2; exit 3"
    seen = failing_start({"command": "bash", "args": ["-c", script]})
    assert seen["error"] is not None and "did not start" in seen["error"]
    assert seen["error"].endswith("wl-last: giving up\n") and "first-line" not in seen["error"]
    assert seen["disk"] < 1 << 20, seen  # was 300 MiB of server.log
    assert seen["rss_growth"] < 32 << 20, seen  # was the whole log, read at once
    assert seen["record"]["output_tail_bytes"] == OUTPUT_TAIL_BYTES


def test_an_http_server_and_its_forwarder_write_to_the_same_capped_output():
    """stdout too (an http server's is not the protocol), and the 'exited before listening' message."""
    script = f"{FLOOD.format(mib=50, fd=1)}; echo 'wl-last: no port' >&2; exit 4"
    seen = failing_start({"command": "bash", "args": ["-c", script], "transport": "http"})
    assert "exited with 4 before listening" in seen["error"] and seen["error"].endswith("wl-last: no port\n")
    assert seen["disk"] < 1 << 20, seen


def test_a_server_flooding_its_stderr_is_never_held_back_and_serves():
    """The collector drains what the server writes and drops what is over the tail: 200 MiB before it starts do
    not block it (a full pipe would, until the start timed out), and take no disk."""
    script = f"{FLOOD.format(mib=200, fd=2)}; echo ready-to-serve >&2; exec \"$0\" \"$1\""
    spec = server_from_dict("flood-then-serve", {"command": "bash", "args": ["-c", script, "{python}", str(PROBE)],
                                                 "startup_timeout_s": 120}, "test")
    with ServerConnection(spec) as conn:
        exchange, error = conn.request("tools/call", {"name": "whoami", "arguments": {}})
        assert error is None and not result_of(exchange)["isError"]
        assert folder_bytes(conn.base) < 1 << 20
        output = conn.stderr()
        assert "ready-to-serve" in output and len(output) <= OUTPUT_TAIL_BYTES
