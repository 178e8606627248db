"""Container limits: `Limits` (memory, pids, CPUs, and the writable space that has to fit under the memory cap) and
the Docker size strings they are written in (`parse_size`, `format_size`).

Files in a container's tmpfs count against its memory cap, so `Limits` checks that budget when it is made and raises
LimitsError naming what to change. sandboxes.docker_sandbox applies limits to a container, and re-exports `Limits`
and `LimitsError` for collectors (its `__all__`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from docker import utils as docker_utils

MIB = 2**20
PAGE = 4096
# Docker mounts /dev as a 64 MiB tmpfs (fixed in the engine's default runtime spec; replacing it drops /dev/pts,
# /dev/shm and /dev/mqueue) that root in the container can write to: it is memory-backed space like the others.
DEV_TMPFS = 64 * MIB
SHM_MAX_DEFAULT = 64 * MIB


class LimitsError(ValueError):
    """Limits that cannot hold: e.g. writable space that, filled, would leave the processes no memory."""


def parse_size(value, what: str) -> int:
    """'512m', '1g', '4096' or an int -> bytes (Docker's units: k, m, g are powers of 1024)."""
    try:
        size = docker_utils.parse_bytes(value if isinstance(value, int) else str(value))
    except Exception as exc:
        raise LimitsError(f"Limits: {what}={value!r} is not a size (write it like '256m' or '1g')") from exc
    if not isinstance(size, int) or size <= 0:
        raise LimitsError(f"Limits: {what}={value!r} must be a positive size (write it like '256m' or '1g')")
    return size


def format_size(size: int) -> str:
    """Bytes -> the shortest exact Docker size: '256m', '1g', '43688k', or plain bytes."""
    for unit, factor in (("g", 2**30), ("m", MIB), ("k", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


@dataclass
class Limits:
    """What one container may use. Files written to its writable paths live in memory (tmpfs), and tmpfs pages count
    against the memory cap, so the writable space is a share of `memory`, not something beside it:

      memory = processes (at least a quarter of memory, `process_headroom`)
             + disk (the TOTAL of the writable paths) + shm (/dev/shm) + Docker's own /dev tmpfs (64m).

    Filling every writable path then fails the writes with ENOSPC ("No space left on device") while the processes
    keep the memory they need; without the budget the files would fill the memory cap and the OOM killer would take
    whichever process it picks (the container's init too), killing the container. Limits that break the budget
    raise LimitsError when they are made (dataclasses.replace too), naming the values and what to change.
    """

    memory: str = "512m"
    pids: int = 256
    cpus: float = 1.0
    # TOTAL writable space of the container, split over `writable_paths`: the others share half of it equally, the
    # first (/work) gets the rest (256m: /work 130m; /tmp, /root, /var/tmp 42m each); see tmpfs_sizes().
    # None: all that the budget leaves once shm is taken (memory 512m -> 256m, 1g -> 640m, 128m -> 24m).
    disk: str | None = None
    # /dev/shm (POSIX shared memory, counted in the same budget). None: a quarter of the budget, at most 64m.
    shm: str | None = None
    action_timeout_s: float = 30.0
    network: bool = False
    # Root is read-only so the only writable space is the size-capped tmpfs below: that is the disk quota.
    read_only_root: bool = True
    writable_paths: tuple[str, ...] = ("/work", "/tmp", "/root", "/var/tmp")
    # Open files per process: set here, not left to the engine's default (which a remote engine may raise).
    open_files: int = 16384

    def __post_init__(self) -> None:
        self._check()

    # Properties, not fields: dataclasses.replace re-derives them, and asdict / Limits(**limits.__dict__) still work.
    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory, "memory")

    @property
    def process_headroom(self) -> int:
        """Memory kept for processes: what the writable space may never take, even when it is full."""
        return self.memory_bytes // 4

    @property
    def file_budget(self) -> int:
        """Memory the files of all memory-backed filesystems may take together (disk + shm + Docker's /dev)."""
        return self.memory_bytes - self.process_headroom - DEV_TMPFS

    @property
    def shm_bytes(self) -> int:
        if self.shm is not None:
            return parse_size(self.shm, "shm")
        return max(PAGE, min(SHM_MAX_DEFAULT, self.file_budget // 4 // PAGE * PAGE))

    @property
    def disk_bytes(self) -> int:
        if self.disk is not None:
            return parse_size(self.disk, "disk")
        return (self.file_budget - self.shm_bytes) // PAGE * PAGE

    def record(self) -> dict:
        """The limits as recorded in env details: the sizes the container got, not None for "what fits" (a reader
        of the record cannot work those out)."""
        return {**asdict(self), "disk": format_size(self.disk_bytes), "shm": format_size(self.shm_bytes),
                "tmpfs": self.tmpfs_sizes()}

    def tmpfs_sizes(self) -> dict[str, str]:
        """The size of each writable path's tmpfs (they add up to `disk`): the others share half of it equally
        (rounded down to whole MiB, or pages), the first gets the rest."""
        paths = list(self.writable_paths)
        if not paths:
            return {}
        total = self.disk_bytes
        other = total // 2 // (len(paths) - 1) if len(paths) > 1 else 0
        other = other // MIB * MIB if other >= MIB else other // PAGE * PAGE  # whole MiB when there are some
        return {paths[0]: format_size(total - other * (len(paths) - 1)),
                **{path: format_size(other) for path in paths[1:]}}

    def _check(self) -> None:
        memory, headroom = self.memory_bytes, self.process_headroom
        names = f"Limits(memory={self.memory!r}, disk={self.disk!r}, shm={self.shm!r})"
        explained = (f"files in tmpfs count against memory, and memory {format_size(memory)} allows "
                     f"{format_size(max(memory - headroom, 0))} of them once a quarter ({format_size(headroom)}) is "
                     f"kept for processes")
        least = 2 * PAGE * max(len(self.writable_paths), 1)  # every tmpfs gets at least a page (size=0: no limit)
        if (self.disk is None or self.shm is None) and self.file_budget < least + PAGE:
            need = -(-(DEV_TMPFS + MIB) * 4 // 3 // MIB)
            raise LimitsError(f"{names}: memory {format_size(memory)} is too small to hold any writable space: "
                              f"{explained}, and Docker's /dev takes {format_size(DEV_TMPFS)} of that. Raise memory "
                              f"to at least {need}m (a few more MiB for each MiB of disk).")
        disk = self.disk_bytes if self.writable_paths else 0
        shm = self.shm_bytes
        files = disk + shm + DEV_TMPFS
        if files > memory - headroom:
            fit = memory - headroom - DEV_TMPFS - shm
            need = -(-files * 4 // 3 // MIB)  # memory (whole MiB) whose three quarters hold the files
            lower = f"lower disk to at most {format_size(fit // MIB * MIB)} (or shm)" if fit >= MIB else \
                "lower disk and shm"
            raise LimitsError(
                f"{names}: the writable space does not fit under the memory cap: disk {format_size(disk)} + shm "
                f"{format_size(shm)} + Docker's /dev {format_size(DEV_TMPFS)} = {format_size(files)}, but {explained}. "
                f"Filled, these files would OOM-kill the container. {lower[0].upper()}{lower[1:]}, or raise memory "
                f"to at least {need}m (disk=None and shm=None take what fits).")
        if self.writable_paths and disk < least:
            raise LimitsError(f"{names}: disk {format_size(disk)} is too small to split over "
                              f"{len(self.writable_paths)} writable paths {list(self.writable_paths)}; "
                              f"give at least {format_size(least)}")
