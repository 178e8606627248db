"""An MCP server's /proc describes its sandbox (lxcfs, scripts/setup.d/15-lxcfs.sh), not the machine the collection
ran on: it read the host's MemTotal (24 GB under its 4 GiB cap, so a tool sizing itself by it is OOM-killed) and the
host's load and thread count, which vary with the host and ended up in recorded observations."""

import os
import re

import pytest

from collectors.api import Task
from collectors.mcp import McpCollector
from sandboxes import mcp_sandbox, proc_view
from sandboxes.mcp_server_spec import server_from_dict
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

PROBE = ROOT / "tests" / "mcp" / "probe_server.py"


def probe_spec():
    return server_from_dict("probe", {"command": "{python}", "args": [str(PROBE)]}, "test")


def read(conn: ServerConnection, path: str) -> str:
    exchange, error = conn.request("tools/call", {"name": "read", "arguments": {"path": path}})
    assert error is None, error
    return result_of(exchange)["content"][0]["text"]


def mem_total_bytes(meminfo: str) -> int:
    return int(re.search(r"^MemTotal:\s+(\d+) kB$", meminfo, re.M).group(1)) * 1024


@pytest.fixture
def probe():
    assert proc_view.lxcfs_answers(), "lxcfs is not serving /var/lib/lxcfs: run scripts/setup.d/15-lxcfs.sh"
    with ServerConnection(probe_spec()) as conn:
        if conn.sandbox_record()["total"].get("cgroup") is None:
            pytest.skip("no cgroup here: lxcfs shows the server its collector's cgroup")
        yield conn


def test_a_server_sees_its_cgroups_memory_cap_and_its_own_threads_not_the_hosts(probe):
    host_total = mem_total_bytes(open("/proc/meminfo").read())
    assert host_total > mcp_sandbox.TOTAL_MEMORY_BYTES  # (else the host's figure would pass too)
    assert mem_total_bytes(read(probe, "/proc/meminfo")) == mcp_sandbox.TOTAL_MEMORY_BYTES
    # loadavg's 4th field, running/threads: the sandbox's handful, not the host's hundreds.
    threads = int(read(probe, "/proc/loadavg").split()[3].split("/")[1])
    host_threads = int(open("/proc/loadavg").read().split()[3].split("/")[1])
    assert threads < 20 < host_threads


def test_the_servers_proc_files_are_lxcfss_and_read_only(probe):
    mounts = {}
    for line in read(probe, "/proc/self/mountinfo").splitlines():
        fields, _, after = line.partition(" - ")
        mounts[fields.split()[4]] = (after.split()[0], fields.split()[5].split(","))
    for name in proc_view.PROC_FILES:
        fstype, options = mounts[f"/proc/{name}"]
        assert fstype == "fuse.lxcfs" and "ro" in options, (name, fstype, options)


def test_a_server_counts_the_cpus_its_cgroup_allows(probe):
    """lxcfs counts CPUs by the quota only for a reader in a cpuset cgroup of its own (cgroup v1): the server counted
    the host's until sandboxes/cgroup.py made one."""
    if (os.cpu_count() or 1) <= mcp_sandbox.TOTAL_CPUS:
        pytest.skip("the host has no more CPUs than the cap: both counts agree")
    assert read(probe, "/proc/cpuinfo").count("processor\t:") == mcp_sandbox.TOTAL_CPUS


def test_env_details_record_the_view_the_server_had():
    assert proc_view.lxcfs_answers(), "lxcfs is not serving /var/lib/lxcfs: run scripts/setup.d/15-lxcfs.sh"
    collector = McpCollector({"probe": probe_spec()})
    try:
        collector.reset(Task(id="proc", instruction="read /proc", domain="mcp", options={"server": "probe"}))
        details = collector.env_info().details
    finally:
        collector.close()
    assert details["sandbox"]["proc_view"] == proc_view.LXCFS
    assert "keyctl" in details["sandbox"]["seccomp_denied"]  # the record says the filter was on
