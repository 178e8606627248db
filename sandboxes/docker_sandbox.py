"""Docker sandboxes: one container per episode, closed by default, always removed.

Defaults: no network, read-only root with size-capped tmpfs for the writable paths (a disk quota that, with /dev/shm,
fits under the memory cap: see `Limits`), caps on memory (no swap), pids and CPU, a wall-clock limit on every exec,
`--init` so orphans are reaped, and /proc's memory, CPU and load files computed for the container by lxcfs
when it runs (sandboxes/proc_view.py), not the host's. Every container carries the label `worldline=1`, its owner
(host:pid, and its pid.start.pidns tag: schemas/processes) and a name prefix; containers still alive at exit,
Ctrl-C or SIGTERM are removed by `cleanup_live`, and those of a SIGKILLed run by the next run's `remove_orphans`.
The engine is the one sandboxes.engine.engine_client finds (DOCKER_HOST, a remote engine too).

Commands run over an attached exec (`AttachedExec`), read as Docker's multiplexed frames: kept open, the same
channel serves as a persistent control connection into the container (see sandboxes/terminal_tmux.py).

What a collector uses (`__all__`; docs/adding-a-collector.md, "A sandboxed collector", has a whole one): `BASE_IMAGE`,
`Limits` (and `Limits.record()` for env_info's details["limits"]), `DockerSandbox` (`exec` for a command run to its
end within `Limits.action_timeout_s`; `attach` for a long-lived process, which no limit of the sandbox times: its
reader passes its own deadline to `AttachedExec.next_frame`; `oom_kills` for StepResult.count_oom_kills), and for
an attached process `STDOUT`/`STDERR` (the stream ids `next_frame` returns), `StreamClosed` (it ended), and
`AttachedExec.signal`/`interrupt` (attached with `signals=True`).
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import re
import signal
import socket
import struct
import threading
import time
import uuid
import concurrent.futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass

from docker import errors as docker_errors
from docker import types as docker_types
from docker import utils as docker_utils

from sandboxes import cgroup, proc_view
from sandboxes.images import DEFAULT_TERMINAL_IMAGE
from schemas.interrupts import interrupt_on_sigterm
from schemas.processes import alive, owner_tag, tagged_owner
from sandboxes.engine import engine_client

__all__ = ["BASE_IMAGE", "STDOUT", "STDERR", "AttachedExec", "DockerSandbox", "ExecResult", "Limits", "LimitsError",
           "SandboxError", "SandboxPool", "StreamClosed", "cleanup_live", "install_cleanup_handlers",
           "list_containers", "remove_containers", "remove_orphans"]

log = logging.getLogger(__name__)

LABEL = "worldline"
# The stream ids of AttachedExec.next_frame's frames (Docker's multiplexed stream header).
STDOUT, STDERR = 1, 2
# The image worldline's setup builds for sandboxed code (sandboxes/images.py: Debian with bash, python3, git, tmux and
# the usual command-line tools); `build_base_image()` there builds it on a machine that has not got it yet.
BASE_IMAGE = DEFAULT_TERMINAL_IMAGE
# Prints the pid and its /proc stat fields first so a timed-out command can be killed inside the container (works
# with a remote engine too). Each exec is a session and process-group leader, so killing the group `-pid` takes its
# children with it; the start time (stat field 22, read with shell builtins: no fork) lets the kill also find the
# processes that left the group (setsid, double fork) while the command ran.
_PID_WRAPPER = ["/bin/sh", "-c", 'read -r s </proc/$$/stat; echo "$$ ${s##*) }" >&2; exec "$@"', "worldline-exec"]
# Kills the group, then every process started at or after the command ($2: start time in clock ticks) but itself.
# Prints each process it could not kill (a kill that failed on a process still there: one that ended meanwhile is no
# failure) as "pid (comm)": the caller logs them, since a survivor keeps its CPU, memory and pids through later
# steps. Builtins only: no fork, so it also works in a container at its pids cap.
_KILL_SCRIPT = ('kill -9 "-$1" 2>/dev/null || { [ -e "/proc/$1" ] && echo "group $1"; }; '
                'for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = "$$" ] && continue; '
                'read -r s 2>/dev/null <"$d/stat" || continue; set -- "$1" "$2" ${s##*) }; '
                '[ "${22}" -ge "$2" ] 2>/dev/null && { kill -9 "$p" 2>/dev/null || '
                '{ [ -e "$d" ] && echo "${s%%) *})"; }; }; done; true')
# Capabilities a root shell keeps (file ownership and permissions, su/sudo, signalling other users' processes);
# Docker's default set also grants raw sockets, mknod, chroot, setfcap and setpcap, which no task needs.
CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETUID", "SETGID", "AUDIT_WRITE",
                "NET_BIND_SERVICE")


MIB = 2**20
PAGE = 4096
# Docker mounts /dev as a 64 MiB tmpfs (fixed in the engine's default runtime spec; replacing it drops /dev/pts,
# /dev/shm and /dev/mqueue) that root in the container can write to: it is memory-backed space like the others.
DEV_TMPFS = 64 * MIB
SHM_MAX_DEFAULT = 64 * MIB


def cgroup_cover(client) -> list:
    """A read-only empty tmpfs over /sys/fs/cgroup on a cgroup v1 engine, or [] (cgroup v2).

    On v1, runc mounts /sys/fs/cgroup as a tmpfs that stays writable to root even with a read-only root: files there
    lie outside the disk quota yet count against the memory cap, so filling it left every command SIGKILLed while
    the container ran on. Covering it hides the cgroup files, which lxcfs's /proc already stands in for. On v2 the
    engine mounts the container's own cgroup2 hierarchy read-only with no tmpfs under it: left as it is, programs keep
    reading their memory and CPU caps there. Engines before 20.10 report no version and know only v1."""
    if str(client.info().get("CgroupVersion") or "1") != "1":
        return []
    return [docker_types.Mount(target="/sys/fs/cgroup", source=None, type="tmpfs", read_only=True, tmpfs_size=PAGE)]


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


@dataclass
class ExecResult:
    exit_code: int | None
    output: bytes  # stdout and stderr interleaved as they arrived
    duration_s: float
    timed_out: bool
    stdout: bytes = b""
    stderr: bytes = b""


class SandboxError(RuntimeError):
    pass


class StreamClosed(EOFError):
    """The attached process closed its output: it ended (or was killed). `exit_code()` then tells how, and the
    sandbox's `stopped_reason()` whether the whole container went with it."""


def _raw_socket(sock):
    # docker-py hands back socket.SocketIO for unix/tcp engines; the real socket underneath has the timeouts we need.
    return getattr(sock, "_sock", sock)


def _read_ahead(handle) -> bytes:
    """The exec's first bytes if the HTTP client read them along with the response headers. docker-py hands back
    the socket under http.client's buffered reader, and whatever that reader took past the headers is in no socket
    any more: when the engine's first frames come in the same packet as its headers (an engine over TCP, under
    load), reading the socket alone lost them, and a short command's whole output (4 of 100 `echo`s over TCP)."""
    reader = getattr(getattr(getattr(getattr(handle, "_response", None), "raw", None), "_fp", None), "fp", None)
    if not hasattr(reader, "peek"):
        return b""
    sock = _raw_socket(handle)
    sock.setblocking(False)  # peek must return what is buffered, not wait for more
    try:
        buffered = reader.peek()
    except BlockingIOError:
        buffered = b""
    finally:
        sock.setblocking(True)
    return reader.read(len(buffered)) if buffered else b""


class AttachedExec:
    """A process started by `docker exec` with its stdin, stdout and stderr attached (no tty).

    With `signals=True` it is started through _PID_WRAPPER, whose first stderr line (its pid inside the container and
    /proc stat fields) next_frame keeps out of the output: `signal()` and exec's time limit need that pid, which the
    engine cannot give (exec_inspect's Pid is the host's, meaningless for a remote engine)."""

    def __init__(self, api, container_id: str, argv: list[str], *, workdir=None, user=None, env=None,
                 signals: bool = False):
        self.api = api
        self.container_id, self.user, self.signals = container_id, user, signals
        created = api.exec_create(container_id, (_PID_WRAPPER if signals else []) + list(argv), stdin=True,
                                  stdout=True, stderr=True, tty=False, workdir=workdir, user=user or "",
                                  environment=env)
        self.exec_id = created["Id"]
        self._handle = api.exec_start(self.exec_id, socket=True)
        self.sock = _raw_socket(self._handle)
        self._pending = bytearray(_read_ahead(self._handle))  # bytes received but not yet parsed into frames
        self._stdout = bytearray()  # stdout received but not yet returned by read_line
        self.pid_stat: bytes | None = None  # b"PID STATE PPID ...": the wrapper's line, once it has all come
        self._pid_line = bytearray()  # the part of that line received so far
        # Frames read by signal() while it waited for the pid, which next_frame still owes its caller.
        self._held: collections.deque[tuple[int, bytes]] = collections.deque()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sock.settimeout(None)
        self.sock.sendall(data)

    def close_stdin(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def next_frame(self, deadline: float | None) -> tuple[int, bytes]:
        """The next (stream id: STDOUT or STDERR, payload) of the process's output; TimeoutError past `deadline` (a
        time.monotonic() value: None waits for ever), StreamClosed once the process closed its output."""
        while True:
            if self._held:
                return self._held.popleft()
            frame = self._unwrapped(self._read_frame(deadline))
            if frame is not None:
                return frame

    def _unwrapped(self, frame: tuple[int, bytes]) -> tuple[int, bytes] | None:
        """`frame` less the pid wrapper's line while that is still coming in; None when nothing else is in it."""
        stream, payload = frame
        if not self.signals or self.pid_stat is not None or stream != STDERR:
            return frame
        self._pid_line += payload
        if b"\n" not in self._pid_line:
            return None
        line, _, rest = bytes(self._pid_line).partition(b"\n")
        self.pid_stat, self._pid_line = line, bytearray()
        return (stream, rest) if rest else None

    def _read_frame(self, deadline: float | None) -> tuple[int, bytes]:
        while True:
            if len(self._pending) >= 8:
                stream, size = struct.unpack(">BxxxL", self._pending[:8])
                if len(self._pending) >= 8 + size:
                    payload = bytes(self._pending[8:8 + size])
                    del self._pending[:8 + size]
                    return stream, payload
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no output before the deadline")
                self.sock.settimeout(remaining)
            else:
                self.sock.settimeout(None)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as exc:
                raise TimeoutError("no output before the deadline") from exc
            if not chunk:
                raise StreamClosed("the exec closed its output")
            self._pending += chunk

    def read_line(self, deadline: float | None) -> bytes:
        """The next line of stdout without its newline (stderr is dropped); TimeoutError / StreamClosed as above."""
        while b"\n" not in self._stdout:
            stream, payload = self.next_frame(deadline)
            if stream == STDOUT:
                self._stdout += payload
        line, _, rest = bytes(self._stdout).partition(b"\n")
        self._stdout[:] = rest
        return line

    @property
    def pid(self) -> int | None:
        """The process's pid inside the container (attached with signals=True), once its wrapper has said it."""
        fields = (self.pid_stat or b"").split()
        return int(fields[0]) if fields and fields[0].isdigit() else None

    def signal(self, sig: int = signal.SIGINT, *, wait_s: float = 5.0) -> bool:
        """Send `sig` to the process's group, as the user it runs as: like a terminal's Ctrl-C (SIGINT) to its
        foreground job, it reaches the children the process started too (each exec leads its own group). Needs
        attach(..., signals=True). Returns False when there was nothing to signal (the process had ended).

        Output that arrives while this waits (at most `wait_s`, then TimeoutError) for the process's pid is kept for
        next_frame. The process's answer to the signal, if any, is for the caller to read."""
        if not self.signals:
            raise SandboxError(f"exec {self.exec_id[:12]} cannot be signalled: its pid inside the container is "
                               f"unknown (attach it with signals=True)")
        deadline = time.monotonic() + wait_s
        while self.pid_stat is None:
            try:
                frame = self._unwrapped(self._read_frame(deadline))
            except StreamClosed:
                return False
            if frame is not None:
                self._held.append(frame)
        if self.pid is None:
            return False
        # A failed kill (the group is gone) prints to stderr; only the exit code is wanted.
        killer = self.api.exec_create(self.container_id, ["/bin/sh", "-c", 'kill -"$1" "-$2" 2>/dev/null',
                                                          "signal", str(int(sig)), str(self.pid)],
                                      user=self.user or "")["Id"]
        self.api.exec_start(killer)
        return _exit_code(self.api, killer, wait_s) == 0

    def interrupt(self) -> bool:
        """signal(SIGINT): what a user at a terminal does to a program that does not answer (see signal())."""
        return self.signal(signal.SIGINT)

    def exit_code(self, wait_s: float = 2.0) -> int | None:
        """The exit code once the engine has noticed the process ended (it can lag the closed stream briefly)."""
        return _exit_code(self.api, self.exec_id, wait_s)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for closer in (self.sock.close, getattr(self._handle, "close", None)):
            try:
                if closer:
                    closer()
            except OSError:
                pass


def _exit_code(api, exec_id: str, wait_s: float) -> int | None:
    end = time.monotonic() + wait_s
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") or time.monotonic() > end:
            return info.get("ExitCode")
        time.sleep(0.005)


# ---- live-container registry: what cleanup removes on exit and signals ----

_live: dict[str, "DockerSandbox"] = {}
_live_lock = threading.Lock()
_atexit_registered = False
_signals_installed = False
# Who started a container: lets a later run on the same host remove what a SIGKILLed run left behind. OWNER_LABEL
# ("<host>:<pid>") is what runs look their own containers up by; OWNER_TAG_LABEL ("<pid>.<start>.<pid namespace>",
# missing on containers labelled before it) tells a reused pid and another pid namespace's pid from the owner.
OWNER_LABEL = f"{LABEL}.owner"
OWNER_TAG_LABEL = f"{LABEL}.owner_tag"
_OWNER_TAG = re.compile(r"(?P<pid>[0-9]+)\.(?P<start>[0-9]+)\.(?P<namespace>[0-9]+)")


def cleanup_live() -> int:
    """Remove every container this process started and has not closed yet; returns how many."""
    with _live_lock:
        sandboxes = list(_live.values())
    for sandbox in sandboxes:
        sandbox.close()
    return len(sandboxes)


def install_cleanup_handlers() -> None:
    """Remove live containers at exit, and make SIGTERM exit through `finally` blocks and atexit like Ctrl-C does.

    The signal itself only raises (KeyboardInterrupt / schemas.interrupts.Terminated): removing containers inside the handler would
    make episodes still running fail and be stored as finished. Call it from the main thread (signals need that).
    """
    global _atexit_registered, _signals_installed
    with _live_lock:
        if not _atexit_registered:
            _atexit_registered = True
            atexit.register(cleanup_live)
        if _signals_installed or threading.current_thread() is not threading.main_thread():
            return
        _signals_installed = True
    interrupt_on_sigterm()


def _worldline_containers(client) -> list[dict]:
    # One list call (not containers.list, which inspects each container and fails if one vanishes meanwhile).
    return [{"id": c["Id"], "name": c["Names"][0].lstrip("/"), "labels": c.get("Labels") or {}}
            for c in client.api.containers(all=True, filters={"label": f"{LABEL}=1"})]


def _remove(client, container: dict, removed: list[str]) -> None:
    try:
        client.api.remove_container(container["id"], force=True)
        removed.append(container["name"])
    except Exception as exc:  # already gone, or being removed by its owner right now
        log.debug("could not remove %s: %s", container["name"], exc)


def remove_orphans(client=None) -> list[str]:
    """Remove worldline containers started on this host by processes that no longer exist (e.g. SIGKILLed runs)."""
    client = client or engine_client()
    host = socket.gethostname()
    removed: list[str] = []
    for container in _worldline_containers(client):
        owner = _owner(container["labels"], host)
        if owner and not alive(*owner):
            _remove(client, container, removed)
    return removed


def _owner(labels: dict, host: str) -> tuple[int, int | None] | None:
    """(pid, start time or None) of the process of `host` that started a container; None for another host's or
    another pid namespace's (its pid is another process here) or an unlabelled one."""
    owner_host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
    if owner_host != host or not pid.isdigit():
        return None
    tag = _OWNER_TAG.fullmatch(labels.get(OWNER_TAG_LABEL, ""))
    return tagged_owner(tag) if tag else (int(pid), None)


def remove_containers(client=None, name_prefix: str | None = None) -> list[str]:
    """Remove worldline containers on the engine (optionally only those whose name starts with `name_prefix`)."""
    client = client or engine_client()
    removed: list[str] = []
    for container in _worldline_containers(client):
        if not name_prefix or container["name"].startswith(name_prefix):
            _remove(client, container, removed)
    return removed


def list_containers(client=None) -> list[dict]:
    """Worldline containers on the engine: id, name, labels."""
    return _worldline_containers(client or engine_client())


class DockerSandbox:
    """One container for one episode. Use as a context manager; `close()` is idempotent and never raises."""

    def __init__(self, image: str, limits: Limits = Limits(), *, name_prefix: str = "worldline",
                 labels: dict | None = None, user: str | None = None, init: bool = True,
                 extra_run_kwargs: dict | None = None, client=None):
        self.image = image
        self.limits = limits
        self.name_prefix = name_prefix
        self.labels = {LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}", OWNER_TAG_LABEL: owner_tag(),
                       **(labels or {})}
        self.user = user
        self.init = init
        self.extra_run_kwargs = dict(extra_run_kwargs or {})
        # A client made here is this sandbox's to close: docker-py's sits in reference cycles, so its pooled engine
        # sockets (a dozen an episode) would otherwise wait for a gen-2 collection. A given client is the caller's.
        self._own_client = client is None
        self.client = client or engine_client()
        self.name = f"{name_prefix}-{uuid.uuid4().hex[:12]}"
        self.container = None
        self._closed = False
        self._digest: str | None = None
        self.proc_view: str | None = None  # whose memory, CPUs and load /proc shows: sandboxes/proc_view
        self._cgroup: cgroup.Group | None = None  # its cgroup on this host, for usage()
        self._cgroup_looked_up = False

    # ---- lifecycle ----

    def run_kwargs(self) -> dict:
        limits = self.limits
        kwargs = dict(
            command=["sleep", "infinity"], name=self.name, labels=self.labels, init=self.init,
            mem_limit=limits.memory, memswap_limit=limits.memory, pids_limit=limits.pids,
            nano_cpus=int(limits.cpus * 1e9), read_only=limits.read_only_root,
            # `exec`: tmpfs defaults to noexec, and a shell task expects ./script.sh to run where it was written.
            # The sizes add up to limits.disk, which with shm fits under the memory cap (see Limits).
            tmpfs={path: f"size={size},mode=1777,exec" for path, size in limits.tmpfs_sizes().items()},
            shm_size=limits.shm_bytes,
            # A System V shared memory segment outlives its processes by default: filled and left behind, it would
            # hold memory no process owns (nothing the OOM killer can free). Forced removal makes it go with the
            # last process attached to it, so it is process memory like any other.
            sysctls={"kernel.shm_rmid_forced": "1"},
            security_opt=["no-new-privileges"], working_dir="/work" if "/work" in limits.writable_paths else None,
            cap_drop=["ALL"], cap_add=list(CAPABILITIES),
            ulimits=[docker_types.Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
                     docker_types.Ulimit(name="core", soft=0, hard=0)],
        )
        if not limits.network:
            kwargs["network_mode"] = "none"
        if self.user:
            kwargs["user"] = self.user
        proc = proc_view.proc_mounts(self.client)
        self.proc_view = proc_view.LXCFS if proc else proc_view.HOST
        kwargs.update(self.extra_run_kwargs)
        # After extra_run_kwargs, so mounts given there add to these instead of replacing them.
        kwargs["mounts"] = [*kwargs.get("mounts", []), *proc, *cgroup_cover(self.client)]
        self._check_tmpfs(kwargs.get("tmpfs") or {})
        if parse_size(kwargs.get("shm_size") or PAGE, "shm_size") > self.limits.shm_bytes:
            raise SandboxError(f"shm_size {kwargs['shm_size']} of sandbox {self.name} is more than Limits.shm "
                               f"{format_size(self.limits.shm_bytes)}: set Limits.shm, which the memory budget counts")
        return {k: v for k, v in kwargs.items() if v is not None}

    def _check_tmpfs(self, tmpfs: dict) -> None:
        """tmpfs mounts given in extra_run_kwargs must keep to the disk quota too: together at most limits.disk,
        each with a size (a tmpfs without one may take half the host's memory)."""
        total = 0
        for path, options in tmpfs.items():
            sizes = [opt.partition("=")[2] for opt in str(options).split(",") if opt.startswith("size=")]
            if not sizes:
                raise SandboxError(f"tmpfs {path} of sandbox {self.name} has no size= option; give it a share of "
                                   f"the disk quota (Limits.tmpfs_sizes())")
            total += parse_size(sizes[-1], f"tmpfs {path} size")
        allowed = self.limits.disk_bytes + PAGE * len(tmpfs)  # an odd size is rounded up to a whole page
        if total > allowed:
            raise SandboxError(f"the tmpfs mounts of sandbox {self.name} take {format_size(total)}, more than the "
                               f"disk quota {format_size(self.limits.disk_bytes)} (Limits.disk): size them with "
                               f"Limits.tmpfs_sizes() {list(tmpfs)}")

    def start(self) -> None:
        if self._closed:
            raise SandboxError(f"sandbox {self.name} was closed; start a new one")
        if self.container is not None:
            return
        install_cleanup_handlers()
        with _live_lock:
            _live[self.name] = self  # registered before creation so an interrupt mid-create still cleans up
        try:
            # create + start, not run: run would try to pull a missing image from a registry.
            self.container = self.client.containers.create(self.image, **self.run_kwargs())
            self.container.start()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with _live_lock:
            if self._closed:
                return
            self._closed = True
            _live.pop(self.name, None)
        try:
            self.client.api.remove_container(self.name, force=True)
        except Exception as exc:  # already gone (or never created): nothing left to remove
            log.debug("remove %s: %s", self.name, exc)
        if self._own_client:
            # Closes only the idle pooled connections: an attached exec holds its own socket until it is closed, and a
            # later call on the client (image_digest after close) opens a new connection.
            try:
                self.client.close()
            except Exception as exc:  # close() never raises: a socket that fails to close is the GC's again
                log.debug("close the engine client of %s: %s", self.name, exc)

    def __enter__(self) -> "DockerSandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def container_id(self) -> str:
        self._require_started()
        return self.container.id

    @property
    def image_digest(self) -> str:
        if self._digest is None:
            image = self.client.images.get(self.image)
            self._digest = (image.attrs.get("RepoDigests") or [image.id])[0]
        return self._digest

    def _require_started(self) -> None:
        if self.container is None or self._closed:
            raise SandboxError(f"sandbox {self.name} is not running (call start() first)")

    # ---- commands and files ----

    def stopped_reason(self) -> str | None:
        """Why the container is no longer running (killed from outside, its init OOM-killed...); None while it
        runs."""
        try:
            state = self.client.api.inspect_container(self.container.id)["State"]
        except Exception as exc:  # removed meanwhile
            return f"sandbox {self.name} is gone: {exc}"
        if state.get("Running"):
            return None
        oom = f" (OOM-killed: its processes and files reached the memory cap {self.limits.memory})" \
            if state.get("OOMKilled") else ""
        return f"sandbox {self.name} stopped with exit code {state.get('ExitCode')}{oom}"

    def usage(self) -> dict | None:
        """What the container's processes met of its caps so far, read from its cgroup on the engine's host: the
        kernel's OOM kills (State.OOMKilled says only whether init was, and a command killed at the cap exits 137
        like any other SIGKILL), the most memory held at once and the periods spent throttled. None where this
        process cannot see that cgroup: a remote engine, a collector in another pid or cgroup namespace, a container
        that stopped (the inside cannot tell either: on cgroup v1 its cgroup files are covered, see cgroup_cover)."""
        if not self._cgroup_looked_up:  # a container keeps its cgroup: looked up once
            self._cgroup, self._cgroup_looked_up = self._host_cgroup(), True
        group = self._cgroup
        if group is None or not all(folder.is_dir() for folder in group.folders):
            return None
        return group.usage()

    def oom_kills(self) -> int | None:
        """The kernel's OOM kills in the container so far (None where usage() cannot tell): a step's difference tells
        a program killed at the memory cap from any other SIGKILL (both exit 137)."""
        usage = self.usage()
        return None if usage is None else usage["oom_kills"]

    def _host_cgroup(self) -> cgroup.Group | None:
        """The container's cgroup as this process sees it, found from its init's /proc/<pid>/cgroup."""
        self._require_started()
        if not proc_view.engine_is_local(self.client):
            return None
        try:
            pid = self.client.api.inspect_container(self.container.id)["State"].get("Pid")
        except docker_errors.NotFound:  # removed meanwhile
            return None
        try:
            group = cgroup.group_of(pid, self.limits.memory_bytes, self.limits.pids, self.limits.cpus) if pid else None
        except cgroup.Unavailable:  # its init just ended, or its group is not under this process's cgroup mounts
            return None
        # The pid is the engine's: in another pid namespace it may name some other process, whose cgroup is not this
        # container's.
        if group is None or not all(self.container.id in str(folder) and folder.is_dir() for folder in group.folders):
            return None
        return group

    def attach(self, argv: list[str], *, workdir=None, user=None, env=None, signals: bool = False) -> AttachedExec:
        """Start a long-lived process with stdin/stdout attached: a control channel into the container. Nothing
        times it (Limits.action_timeout_s is exec's): its reader gives next_frame a deadline. `signals=True` makes
        it one that AttachedExec.signal() and interrupt() can reach."""
        self._require_started()
        try:
            return AttachedExec(self.client.api, self.container.id, argv, workdir=workdir, user=user or self.user,
                                env=env, signals=signals)
        except Exception as exc:
            reason = self.stopped_reason()
            if reason:
                raise SandboxError(reason) from exc
            raise

    def exec(self, cmd: str | list[str], *, timeout: float | None = None, workdir=None, user=None, env=None,
             stdin: bytes | None = None) -> ExecResult:
        """Run `cmd` (a string goes to /bin/sh -c) to completion or until `timeout` (default: the action limit)."""
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        timeout = self.limits.action_timeout_s if timeout is None else timeout
        started = time.monotonic()
        deadline = started + timeout
        proc = self.attach(argv, workdir=workdir, user=user, env=env, signals=True)
        output, out, err = bytearray(), bytearray(), bytearray()
        timed_out = False
        try:
            if stdin:
                proc.write(stdin)
            proc.close_stdin()
            while True:
                try:
                    stream, payload = proc.next_frame(deadline)
                except StreamClosed:
                    break
                except TimeoutError:
                    timed_out = True
                    break
                (out if stream == STDOUT else err).extend(payload)
                output += payload
            if timed_out:
                self._kill(proc.pid_stat, user or self.user)
                exit_code = None
            else:
                exit_code = proc.exit_code()
                # Killed, maybe with the whole container (126: the engine could not exec into a stopped one): say
                # so, not "exit 137".
                if exit_code in (None, 126, 137):
                    reason = self.stopped_reason()
                    if reason:
                        raise SandboxError(reason)
        finally:
            proc.close()
        return ExecResult(exit_code, bytes(output), time.monotonic() - started, timed_out, bytes(out), bytes(err))

    def _kill(self, pid: bytes | None, user: str | None) -> None:
        """Kill a timed-out command: its process group, and every process started since it began (a background job
        that called setsid or double-forked is in no group of ours, and would keep its CPU, memory and pids).

        As the user the command ran as: in a container whose user is not root, Docker gives an exec as root no
        capabilities, so root could not signal the user's processes (the os desktop's timed-out steps ran on)."""
        fields = (pid or b"").split()
        if not fields or not fields[0].isdigit():
            return
        # Fields after "PID (comm) ": state is field 3, so the start time (field 22) is the 20th of them.
        started = fields[20].decode() if len(fields) > 20 and fields[20].isdigit() else "999999999999999"
        api = self.client.api
        try:
            # stdout only: the script names survivors there, and a shell message must never read as one.
            survivors, _ = api.exec_start(api.exec_create(
                self.container.id, ["/bin/sh", "-c", _KILL_SCRIPT, "kill", fields[0].decode(), started],
                user=user or "")["Id"], demux=True)
        except Exception as exc:  # the container may have died meanwhile: the next step reports that
            log.debug("kill %s in %s: %s", pid, self.name, exc)
            return
        if survivors and survivors.strip():
            log.warning("sandbox %s: the timed-out command (pid %s, run as %s) left processes it was not permitted "
                        "to kill: %s", self.name, fields[0].decode(), user or "the container's user",
                        ", ".join(survivors.decode(errors="replace").splitlines()))

    def put_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        # Through the shell, not put_archive: the archive API writes beneath tmpfs mounts and fails on a read-only root.
        script = 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"'
        result = self.exec(["/bin/sh", "-c", script, "put_file", path, format(mode, "o")], stdin=data)
        if result.exit_code != 0:
            raise SandboxError(f"put_file {path} in {self.name} failed (exit {result.exit_code}): "
                               f"{result.output[-500:].decode(errors='replace')}")

    def get_file(self, path: str) -> bytes:
        result = self.exec(["cat", "--", path])
        if result.exit_code != 0:
            raise SandboxError(f"get_file {path} in {self.name} failed (exit {result.exit_code}): "
                               f"{result.stderr[-500:].decode(errors='replace')}")
        return result.stdout


class SandboxPool:
    """Containers started ahead of time so an episode does not wait for a cold start.

    A sandbox is never reused: `release` discards it and a fresh one is started in the background.
    `prepare(sandbox)`, if given, runs in the background too (e.g. start a tmux server) before a sandbox is handed out.
    """

    def __init__(self, image: str, limits: Limits = Limits(), size: int = 2, *, prepare=None, **sandbox_kwargs):
        self.image, self.limits, self.size = image, limits, max(1, size)
        self.prepare = prepare
        self.sandbox_kwargs = sandbox_kwargs
        self._executor = ThreadPoolExecutor(max_workers=self.size + 1, thread_name_prefix="sandbox-pool")
        self._ready: list[Future] = []
        self._lock = threading.Lock()
        self._closed = False
        with self._lock:
            for _ in range(self.size):
                self._ready.append(self._executor.submit(self._make))

    def _make(self) -> DockerSandbox:
        sandbox = DockerSandbox(self.image, self.limits, **self.sandbox_kwargs)
        try:
            sandbox.start()
            if self.prepare is not None:
                self.prepare(sandbox)
        except BaseException:
            sandbox.close()
            raise
        return sandbox

    def acquire(self) -> DockerSandbox:
        with self._lock:
            if self._closed:
                raise SandboxError("pool is closed")
            # Prefer a sandbox that is already up; otherwise wait for the oldest start. The list is never empty:
            # every acquire submits a replacement.
            ready = next((f for f in self._ready if f.done()), self._ready[0])
            self._ready.remove(ready)
            self._ready.append(self._executor.submit(self._make))
        return ready.result()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until every sandbox being started has finished starting (a warm pool)."""
        with self._lock:
            pending = list(self._ready)
        concurrent.futures.wait(pending, timeout=timeout)

    def release(self, sandbox: DockerSandbox) -> None:
        with self._lock:
            if not self._closed:
                self._executor.submit(sandbox.close)
                return
        sandbox.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending, self._ready = self._ready, []
        for future in pending:
            future.cancel()
        self._executor.shutdown(wait=True)
        for future in pending:
            if not future.cancelled() and future.exception() is None:
                future.result().close()

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
