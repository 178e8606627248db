"""Which machine a container's /proc describes. Linux shows every container the host's memory, CPUs, uptime and load
in /proc/meminfo, /proc/uptime and the like, so `free`, `top` and `uptime` in a sandbox print facts of the machine
the collection ran on (24 GiB of RAM, up 12 days, the host's load), which differ between machines and say nothing
about the sandbox. lxcfs (a FUSE daemon, scripts/setup.d/15-lxcfs.sh) serves these files computed from the
container's own cgroups: its memory cap, its CPU quota and its own load (not its uptime: see PROC_FILES). The engine
allows binding exactly these paths over /proc for this purpose.

Used only when the engine runs on this machine (a bind's source is read on the engine's host) and the daemon
answers; otherwise the container keeps the host's view, and the episode records which one it had. The bubblewrap
sandboxes (MCP servers, Chromium: sandboxes/bwrap.py) bind the same files over their /proc (bwrap_args).

lxcfs computes each file from the reader's cgroups (those of its pid namespace's first process, which a sandbox's
group holds too): a sandbox in a capped group (sandboxes/cgroup.py) sees that cap, one in none its collector's
group's (the host's figures when that has no cap). The CPU count follows the CPU quota only when the reader's
cpuset cgroup is not the root one (cgroup v1, lxcfs 5.0.3), and a bwrap sandbox's group has no cpuset: it still
counts the host's CPUs.

Nor does a sandbox show the files that name the host itself (privacy audit PR7): its boot line (/proc/cmdline: the
host VM's init and its ports), its boot id (/proc/sys/kernel/random/boot_id: one per host boot, so every dataset
collected between two reboots would carry the same one) and, with no network, its name server (/etc/resolv.conf).
Docker's runc refuses binds under /proc but lxcfs's, so a container gets the first two masked by the engine (read
empty, as /proc/kcore is: masked_paths) and a resolv.conf naming only its own loopback (OFFLINE_DNS); bwrap binds
HOST_FILES' fixed texts (sandboxes/bwrap.py). The kernel release (uname, /proc/version) and the CPU model
(/proc/cpuinfo, lxcfs passes it on) stay the host's: no file over them changes what the kernel answers to uname(2)
or what cpuid tells a program."""

from __future__ import annotations

import os
import threading
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
# A fixed boot id rather than a random one per sandbox: a random one would make replays of the same episode read
# differently, and one per run or per machine would link the datasets it was read in; a constant links nothing.
BOOT_ID = "5d0c5a7e-77b1-4c55-9a0e-2f3a1b9c4d60"
# What a bwrap sandbox reads in place of the host's boot line (empty, as a container's masked one reads) and boot id,
# and what an offline one reads as its name servers.
HOST_FILES = {"/proc/cmdline": "", "/proc/sys/kernel/random/boot_id": f"{BOOT_ID}\n"}
OFFLINE_RESOLV = "nameserver 127.0.0.1\n"
# Docker's run options giving an offline container that same resolv.conf: `dns` replaces the host's servers, and a
# search list of "." drops the host's search domains (the engine copies both otherwise, network "none" or not).
# Nothing listens on the container's loopback, so a name fails as before: "Temporary failure in name resolution".
OFFLINE_DNS = {"dns": ["127.0.0.1"], "dns_search": ["."]}
# The /proc files of HOST_FILES a container gets masked: added to the engine's own masked paths (masked_paths).
DOCKER_MASKED = tuple(path for path in HOST_FILES if path.startswith("/proc/"))
_engine_masks: dict[str, list[str]] = {}
_engine_masks_lock = threading.Lock()


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


def lxcfs_files() -> dict[str, str]:
    """Each /proc file a sandbox shows from lxcfs, and the daemon's file to bind over it."""
    return {f"/proc/{name}": str(LXCFS_ROOT / "proc" / name) for name in PROC_FILES}


def proc_mounts(client) -> list:
    """Read-only binds of lxcfs's files over the container's /proc ones, or [] to keep the host's view."""
    if not engine_is_local(client) or not lxcfs_answers():
        return []
    from docker.types import Mount

    return [Mount(target=target, source=source, type="bind", read_only=True)
            for target, source in lxcfs_files().items()]


def bwrap_args() -> list[str]:
    """bubblewrap arguments binding lxcfs's files read-only over a sandbox's /proc ones (they must follow its
    `--proc /proc`, which would cover them), or [] to keep the host's view."""
    if not lxcfs_answers(LXCFS_ROOT):
        return []
    return [arg for target, source in lxcfs_files().items() for arg in ("--ro-bind", source, target)]


def bwrap_view() -> str:
    """Which view a bubblewrap sandbox started now gets (bwrap_args), for the record of one."""
    return LXCFS if lxcfs_answers(LXCFS_ROOT) else HOST


def masked_paths(client, image: str, labels: dict) -> list[str]:
    """The paths a container of `client`'s engine gets masked: the engine's defaults (its HostConfig.MaskedPaths when
    none are given, which naming any replaces) and DOCKER_MASKED. The defaults are read once per engine from a
    container created from `image` (with `labels`, so an interrupted run's leftover is an orphan like any other) and
    removed unstarted: they differ between engine versions, and a list of our own would unmask what a newer one adds."""
    key = client.api.base_url
    with _engine_masks_lock:
        if key not in _engine_masks:
            made = client.api.create_container(image, command=["true"], labels=labels, network_disabled=True,
                                               host_config=client.api.create_host_config(network_mode="none"))
            try:
                defaults = client.api.inspect_container(made["Id"])["HostConfig"].get("MaskedPaths") or []
            finally:
                client.api.remove_container(made["Id"], force=True)
            _engine_masks[key] = list(defaults)
        defaults = _engine_masks[key]
    return [*defaults, *(path for path in DOCKER_MASKED if path not in defaults)]
