"""A control group that caps what all the processes of one sandbox use together: memory (and swap), the number
of processes and, when asked, CPU time per wall second. prlimit's caps (sandboxes/bwrap.Limits) hold per process, so
thirty Chromium renderers or a server's forked workers could each stay under theirs and still take the machine; a
cgroup counts them as one. (prlimit's CPU cap is seconds in all, per process: it ends a runaway but cannot stop
eight busy workers from holding every core meanwhile; the CPU bandwidth cap can.)

A group is made under the collector's own cgroup, so whatever cap the collector runs under still holds above it.
Both hierarchies are handled: cgroup v1 (one folder under the memory and one under the pids controller) and the
unified v2. Making a group needs write access to the cgroup filesystem (root, or a delegated subtree); when that
is missing the sandbox runs with its per-process caps only and `record()` says why, so the data never claims a
cap that was not there.

A group is named for the process that made it (sandboxes/leftovers.py: its pid and start time). A collector that is
SIGKILLed never closes its groups; making a group removes the empty groups beside it whose maker is gone. A group
that still holds processes cannot be removed (rmdir fails with EBUSY): it is left, and goes with the first group made
beside it after its last process ends."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandboxes import leftovers
from schemas.processes import alive

_names = itertools.count()
PREFIX = "worldline-"
# Names from before the maker's start time was part of them: "worldline-<purpose>-<pid>-<n>".
_UNTIMED = re.compile(rf"^{PREFIX}.+-(?P<pid>[0-9]+)-[0-9]+$")


class Unavailable(Exception):
    """No cgroup can be made here; the message says why."""


@dataclass
class Group:
    """One cgroup (a folder per hierarchy) with its caps set, empty until a program joins it through wrap()."""

    version: str  # "v1" or "v2"
    folders: list[Path]
    memory_bytes: int
    processes: int
    cpus: float | None = None  # the CPU bandwidth cap in cores, None when there is none
    _closed: bool = field(default=False, repr=False)

    def wrap(self, argv: list[str]) -> list[str]:
        """argv, run by a shell that first moves itself into the group: every process the program starts is then
        born inside it, with no moment outside (a process moved after it started could fork first)."""
        joins = " && ".join(f"echo $$ > {shlex.quote(str(folder / 'cgroup.procs'))}" for folder in self.folders)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh", *argv]

    def members(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.folders[0] / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def peak_memory_bytes(self) -> int | None:
        """The most memory the group held at once, where the kernel keeps it (v1; v2 from Linux 5.19)."""
        memory = self.folders[0]
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            try:
                return int((memory / name).read_text())
            except (OSError, ValueError):
                continue
        return None

    def cpu_throttled(self) -> int:
        """How many scheduling periods the group ran out of its CPU quota in (0 without a CPU cap)."""
        for folder in self.folders:
            for line in _read(folder / "cpu.stat").splitlines():
                key, _, value = line.partition(" ")
                if key == "nr_throttled":
                    return int(value)
        return 0

    def oom_kills(self) -> int:
        """How many of its processes the kernel killed for going over the memory cap."""
        for name in ("memory.events", "memory.oom_control"):
            try:
                for line in (self.folders[0] / name).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
            except (OSError, ValueError):
                continue
        return 0

    def close(self, wait_s: float = 5.0) -> None:
        """Kill what is left inside and remove the folders (a group can only be removed once it is empty)."""
        if self._closed:
            return
        deadline = time.monotonic() + wait_s
        while members := self.members():
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        for folder in reversed(self.folders):
            try:
                folder.rmdir()
            except OSError:
                pass  # still busy; the kernel frees an emptied group's memory anyway
        self._closed = True

    def record(self) -> dict:
        """What the data says about the total caps this sandbox ran under."""
        return {"cgroup": self.version, "memory_bytes": self.memory_bytes, "processes": self.processes,
                "cpus": self.cpus}

    def usage(self) -> dict:
        """What the group's processes met of its caps so far: the kernel's OOM kills, the most memory held at once
        (None where the kernel keeps no peak) and the scheduling periods spent throttled."""
        return {"oom_kills": self.oom_kills(), "peak_memory_bytes": self.peak_memory_bytes(),
                "cpu_throttled_periods": self.cpu_throttled()}


def _cgroups(pid: int | str = "self") -> dict[str, str]:
    """controller (or "" for v2) -> the cgroup path of `pid` (default: this process), from /proc/<pid>/cgroup."""
    paths = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _mounts() -> dict[str, tuple[Path, str]]:
    """controller (or "" for v2) -> (where its hierarchy is mounted, which of its cgroups is the mount's root), from
    /proc/self/mountinfo: inside a container the mount's root may be the container's own cgroup."""
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        fields, tail = fields.split(), tail.split()
        if tail[0] == "cgroup2":
            mounts.setdefault("", (Path(fields[4]), fields[3]))
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                mounts.setdefault(option, (Path(fields[4]), fields[3]))
    return mounts


def _folder(controller: str, paths: dict[str, str], mounts: dict[str, tuple[Path, str]]) -> Path:
    """Where the cgroup `paths` (one process's, from _cgroups) names for `controller` shows under this process's
    mount of that hierarchy."""
    if controller not in paths or controller not in mounts:
        raise Unavailable(f"no {controller or 'cgroup v2'} hierarchy is mounted")
    mountpoint, root = mounts[controller]
    relative = os.path.relpath(paths[controller], root)
    if relative.startswith(".."):
        raise Unavailable(f"the {controller or 'v2'} cgroup {paths[controller]} is not under the mount {mountpoint}")
    return (mountpoint / relative).resolve()


def _make_v1(name: str, memory_bytes: int, processes: int, cpus: float | None, own: dict[str, str],
             mounts: dict) -> Group:
    folders = []
    try:
        # A cpuset group of its own (the parent's CPUs): lxcfs counts a reader's CPUs by its quota only then, and
        # a sandbox's /proc/cpuinfo showed the host's 2 under a 1-CPU cap.
        cpuset = ("cpuset",) if cpus and "cpuset" in mounts and "cpuset" in own else ()
        for controller in ("memory", "pids") + (("cpu",) if cpus else ()) + cpuset:
            parent = _folder(controller, own, mounts)
            remove_dead_groups(parent)
            folder = parent / name
            folder.mkdir()
            folders.append(folder)
            if controller == "cpuset":  # a new cpuset is empty, and no process can join an empty one
                for key in ("cpuset.cpus", "cpuset.mems"):
                    (folder / key).write_text((parent / key).read_text())
        memory, pids = folders[:2]
        (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: no way around the cap via swap
            (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
        (pids / "pids.max").write_text(str(processes))
        if cpus:
            (folders[2] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (folders[2] / "cpu.cfs_quota_us").write_text(str(_quota_us(cpus)))
    except (OSError, Unavailable) as exc:
        for folder in reversed(folders):
            folder.rmdir()
        raise Unavailable(str(exc)) from exc
    return Group("v1", folders, memory_bytes, processes, cpus)


# The scheduler's default period: a quota is spent within each 100 ms, so a capped group waits at most that long.
CPU_PERIOD_US = 100_000


def _quota_us(cpus: float) -> int:
    return max(1000, round(cpus * CPU_PERIOD_US))  # the kernel's least quota is 1 ms


def _make_v2(name: str, memory_bytes: int, processes: int, cpus: float | None, own: dict[str, str],
             mounts: dict) -> Group:
    # v2 forbids a group with controllers to hold processes itself, so the collector's own group (it is in it) can
    # rarely get children with caps; the nearest ancestor that already hands memory and pids to its children can
    # (under systemd, a slice). Its own caps still hold above the new group. The cpu controller is asked of the same
    # ancestor, not searched for: a group that has no CPU cap records cpus None.
    folder = _folder("", own, mounts)
    mountpoint = mounts[""][0].resolve()
    while not {"memory", "pids"} <= set(_read(folder / "cgroup.subtree_control").split()):
        if folder == mountpoint:
            raise Unavailable(f"cgroup v2: no group from {_folder('', own, mounts)} up hands the memory and "
                              "pids controllers to its children")
        folder = folder.parent
    remove_dead_groups(folder)
    group = folder / name
    try:
        group.mkdir()
        (group / "memory.max").write_text(str(memory_bytes))
        if (group / "memory.swap.max").exists():
            (group / "memory.swap.max").write_text("0")
        (group / "pids.max").write_text(str(processes))
        if cpus and (group / "cpu.max").exists():
            (group / "cpu.max").write_text(f"{_quota_us(cpus)} {CPU_PERIOD_US}")
        else:
            cpus = None
    except OSError as exc:
        if group.is_dir():
            group.rmdir()
        raise Unavailable(f"cgroup v2: cannot make a group with caps under {folder}: {exc}") from exc
    return Group("v2", [group], memory_bytes, processes, cpus)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _maker(name: str) -> tuple[int, int | None] | None:
    """(pid, start time or None) of the process that made the group `name`; None for a folder not made here."""
    if not name.startswith(PREFIX):
        return None
    if tagged := leftovers.owner_of(name):
        return tagged
    untimed = _UNTIMED.match(name)
    return (int(untimed["pid"]), None) if untimed else None


def remove_dead_groups(parent: Path) -> list[Path]:
    """Remove the groups in `parent` whose maker has ended and that hold no process (nor group) any more; a busy one
    fails to go and is left. Returns what was removed."""
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        maker = _maker(folder.name)
        if maker is None or alive(*maker):
            continue
        try:
            folder.rmdir()
        except OSError:
            continue  # EBUSY: processes still in it; ENOENT: another collector removed it first
        removed.append(folder)
    return removed


def make_group(purpose: str, memory_bytes: int, processes: int, cpus: float | None = None) -> Group:
    """A new group named after `purpose` and this process holding at most memory_bytes (RAM + swap) and `processes`
    processes and threads in all, and using at most `cpus` cores' worth of CPU time (None: no CPU cap). Empty groups
    beside it whose maker has ended are removed first. Unavailable when this machine or user cannot make one."""
    name = f"{PREFIX}{purpose}-{leftovers.owner_tag()}-{next(_names)}"
    try:
        own, mounts = _cgroups(), _mounts()
        if "memory" in mounts:
            return _make_v1(name, memory_bytes, processes, cpus, own, mounts)
        return _make_v2(name, memory_bytes, processes, cpus, own, mounts)
    except Unavailable:
        raise
    except OSError as exc:
        raise Unavailable(f"cannot read or write the cgroup filesystem: {exc}") from exc


def group_of(pid: int, memory_bytes: int, processes: int, cpus: float | None) -> Group:
    """The cgroup another maker put `pid` in (a container's, made by its engine), where this process's mounts show
    it: its memory and cpu folders on v1, its one folder on v2. The caps are the ones that maker was given: the
    Group records them and reads usage() but does not own the group, so it is never close()d from here.
    Unavailable when `pid` has ended or its group is not under this process's cgroup mounts."""
    try:
        paths, mounts = _cgroups(pid), _mounts()
    except OSError as exc:
        raise Unavailable(f"cannot read the cgroup of process {pid}: {exc}") from exc
    controllers = ("memory", "cpu") if "memory" in paths else ("",)
    folders = [_folder(controller, paths, mounts) for controller in controllers]
    return Group("v1" if controllers[0] else "v2", folders, memory_bytes, processes, cpus)


def unavailable_record(reason: str) -> dict:
    return {"cgroup": None, "why": reason}
