"""Which machine a container's /proc describes. Linux shows every container the host's memory, CPUs, uptime and load
in /proc/meminfo, /proc/uptime and the like, so `free`, `top` and `uptime` in a sandbox print facts of the machine
the collection ran on (24 GiB of RAM, up 12 days, the host's load), which differ between machines and say nothing
about the sandbox. lxcfs (a FUSE daemon, scripts/setup.d/15-lxcfs.sh) serves these files computed from the
container's own cgroups: its memory cap, its CPU quota and its own load (not its uptime: see PROC_FILES). The engine
allows binding exactly these paths over /proc for this purpose.

Used only when the engine runs on this machine (a bind's source is read on the engine's host) and the daemon
answers; otherwise the container keeps the host's view, and the episode records which one it had."""

from __future__ import annotations

import os
from pathlib import Path

LXCFS_ROOT = Path(os.environ.get("WORLDLINE_LXCFS_ROOT", "/var/lib/lxcfs"))
# The files lxcfs serves that container tools read (swaps: free's Swap line; diskstats: iostat/vmstat). Not
# uptime: a process's start time in /proc/PID/stat counts from the host's boot, which lxcfs cannot change, and ps
# takes ages and CPU shares from uptime minus that start, so under a container's uptime `ps -o etime` printed
# `441077233-05:48:16` and `ps aux` 0.0 %CPU for a busy loop (lxc/lxcfs#164). `uptime` shows the host's. The line
# of ps itself still reads `441077234-00:18:40` in ~2% of runs, on the host as well: procps-ng 4.0.2 (bookworm) leaves
# the age of a process less than one clock tick old unset, which no /proc file changes.
PROC_FILES = ("cpuinfo", "diskstats", "loadavg", "meminfo", "stat", "swaps")
LXCFS, HOST = "lxcfs", "host"


def engine_is_local(client) -> bool:
    """Whether the engine reads bind sources from this machine: reached over a unix socket (docker-py names it
    http+docker://localhost), not over TCP (http://host:port) or SSH (http+docker://ssh) to another host."""
    return client.api.base_url == "http+docker://localhost"


def lxcfs_answers(root: Path = LXCFS_ROOT) -> bool:
    """Whether the daemon serves every file: a daemon that died leaves its mount answering ENOTCONN."""
    for name in PROC_FILES:
        try:
            with open(root / "proc" / name, "rb") as handle:
                handle.read(1)
        except OSError:
            return False
    return True


def proc_mounts(client) -> list:
    """Read-only binds of lxcfs's files over the container's /proc ones, or [] to keep the host's view."""
    if not engine_is_local(client) or not lxcfs_answers():
        return []
    from docker.types import Mount

    return [Mount(target=f"/proc/{name}", source=str(LXCFS_ROOT / "proc" / name), type="bind", read_only=True)
            for name in PROC_FILES]
