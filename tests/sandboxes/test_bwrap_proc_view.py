"""bwrap.command shows a sandbox lxcfs's /proc files (sandboxes/proc_view.py) over the /proc its caller mounts, as
the Docker sandboxes get them: before, MCP servers and Chromium read the host's memory, CPUs and load."""

import re
import subprocess

import pytest

from sandboxes import bwrap, cgroup, proc_view

LIMITS = bwrap.Limits(data_bytes=256 << 20, file_size_bytes=1 << 20, open_files=64, processes=32)
CAP_BYTES = 512 << 20


def chromium_like_mounts() -> list[str]:
    """Chromium's order (sandboxes/browser.py _mounts): /proc, then a tmpfs after it."""
    return [*bwrap.bind_args(list(bwrap.SYSTEM_PATHS), set()), "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp"]


def mem_total_bytes(meminfo: str) -> int:
    return int(re.search(r"^MemTotal:\s+(\d+) kB$", meminfo, re.M).group(1)) * 1024


def sandboxed_meminfo(mounts: list[str]) -> str:
    """/proc/meminfo as a sandbox in a group capped at CAP_BYTES reads it."""
    try:
        group = cgroup.make_group("proc-view-test", CAP_BYTES, LIMITS.processes)
    except cgroup.Unavailable as exc:
        pytest.skip(f"no cgroup here: {exc}")
    uid = bwrap.take_sandbox_uid()
    try:
        argv = group.wrap(bwrap.command(["cat", "/proc/meminfo"], mounts, LIMITS, network=False, uid=uid))
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    finally:
        bwrap.release_sandbox_uid(uid)
        group.close()


def test_a_sandbox_in_a_capped_group_sees_the_cap_as_its_memory():
    assert proc_view.lxcfs_answers(), "lxcfs is not serving /var/lib/lxcfs: run scripts/setup.d/15-lxcfs.sh"
    assert mem_total_bytes(sandboxed_meminfo(chromium_like_mounts())) == CAP_BYTES
    assert mem_total_bytes(open("/proc/meminfo").read()) > CAP_BYTES  # (else the host's figure would pass too)
    assert proc_view.bwrap_view() == proc_view.LXCFS


def test_the_binds_follow_the_proc_mount_and_only_when_there_is_one():
    assert proc_view.lxcfs_answers(), "lxcfs is not serving /var/lib/lxcfs: run scripts/setup.d/15-lxcfs.sh"
    mounts = chromium_like_mounts()
    shown = bwrap.with_proc_view(mounts)
    at = shown.index("--proc")
    assert shown[at + 2:at + 5] == ["--ro-bind", str(proc_view.LXCFS_ROOT / "proc" / "cpuinfo"), "/proc/cpuinfo"]
    assert shown[-2:] == ["--tmpfs", "/tmp"]
    no_proc = bwrap.bind_args(list(bwrap.SYSTEM_PATHS), set())
    assert bwrap.with_proc_view(no_proc) == no_proc  # binding onto a /proc that is not there would fail


def test_without_lxcfs_a_sandbox_keeps_the_hosts_view_and_says_so(monkeypatch, tmp_path):
    (tmp_path / "proc").mkdir()  # the mount point of a daemon that is not running
    monkeypatch.setattr(proc_view, "LXCFS_ROOT", tmp_path)
    mounts = chromium_like_mounts()
    assert bwrap.with_proc_view(mounts) == mounts and proc_view.bwrap_view() == proc_view.HOST
    assert mem_total_bytes(sandboxed_meminfo(mounts)) == mem_total_bytes(open("/proc/meminfo").read())
