"""Docker sandboxes: one container per episode, closed by default, always removed.

Defaults: no network, read-only root with size-capped tmpfs for the writable paths (a disk quota that, with /dev/shm,
fits under the memory cap: see `Limits`, sandboxes/limits.py), caps on memory (no swap), pids and CPU, a wall-clock
limit on every exec, `--init` so orphans are reaped, and /proc's memory, CPU and load files computed for the
container by lxcfs when it runs (sandboxes/proc_view.py), not the host's, nor its boot line, boot id, name server
or cgroup path (proc_view.masked_paths, OFFLINE_DNS, a private cgroup namespace). Every container carries the label
`worldline=1`, its owner (host:pid, and its pid.start.pidns tag: schemas/processes) and a name prefix; containers
still alive at exit, Ctrl-C or SIGTERM are removed by `cleanup_live`, and those of a SIGKILLed run by the next run's
`remove_orphans` (both in sandboxes/container_registry.py). The engine is the one sandboxes.engine.engine_client
finds (DOCKER_HOST, a remote engine too).

Commands run over an attached exec (`AttachedExec`, sandboxes/attached_exec.py), read as Docker's multiplexed
frames: kept open, the same channel serves as a persistent control connection into the container (see
sandboxes/terminal_tmux.py).

What a collector uses (`__all__`; docs/adding-a-collector.md, "A sandboxed collector", has a whole one): `BASE_IMAGE`,
`Limits` (and `Limits.record()` for env_info's details["limits"]), `DockerSandbox` (`exec` for a command run to its
end within `Limits.action_timeout_s`; `attach` for a long-lived process, which no limit of the sandbox times: its
reader passes its own deadline to `AttachedExec.next_frame`; `oom_kills` for StepResult.count_oom_kills), and for
an attached process `STDOUT`/`STDERR` (the stream ids `next_frame` returns), `StreamClosed` (it ended), and
`AttachedExec.signal`/`interrupt` (attached with `signals=True`). The names defined in the modules above are
re-exported here, so a collector imports all of them from this one module.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import concurrent.futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from docker import errors as docker_errors
from docker import types as docker_types
# containers.create's own split of run options into create and host-config ones, so _create adds MaskedPaths to
# the same request containers.create would send.
from docker.models.containers import _create_container_args

from sandboxes import cgroup, container_registry, proc_view
from sandboxes.attached_exec import STDERR, STDOUT, AttachedExec, SandboxError, StreamClosed
from sandboxes.container_registry import (LABEL, OWNER_LABEL, OWNER_TAG_LABEL, cleanup_live, install_cleanup_handlers,
                                          list_containers, remove_containers, remove_orphans)
from sandboxes.engine import engine_client
from sandboxes.images import DEFAULT_TERMINAL_IMAGE
from sandboxes.limits import PAGE, Limits, LimitsError, format_size, parse_size
from schemas.processes import owner_tag

# The names in __all__ that live in the modules above are re-exported: collectors import them from here (public API).
__all__ = ["BASE_IMAGE", "STDOUT", "STDERR", "AttachedExec", "DockerSandbox", "ExecResult", "Limits", "LimitsError",
           "SandboxError", "SandboxPool", "StreamClosed", "cleanup_live", "install_cleanup_handlers",
           "list_containers", "remove_containers", "remove_orphans", "started_sandbox"]

log = logging.getLogger(__name__)

# The image worldline's setup builds for sandboxed code (sandboxes/images.py: Debian with bash, python3, git, tmux and
# the usual command-line tools); `build_base_image()` there builds it on a machine that has not got it yet.
BASE_IMAGE = DEFAULT_TERMINAL_IMAGE
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


@dataclass
class ExecResult:
    exit_code: int | None
    output: bytes  # stdout and stderr interleaved as they arrived
    duration_s: float
    timed_out: bool
    stdout: bytes = b""
    stderr: bytes = b""


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
            kwargs.update(network_mode="none", **proc_view.OFFLINE_DNS)
        # Its own cgroup namespace: /proc/self/cgroup reads "/", not /docker/<the full container id>. usage() finds
        # the group from the host's side (/proc/<pid>/cgroup there), which this does not change.
        kwargs["cgroupns"] = "private"
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
        with container_registry.locked() as live:
            live[self.name] = self  # registered before creation so an interrupt mid-create still cleans up
        try:
            # create + start, not run: run would try to pull a missing image from a registry.
            self.container = self._create(self.run_kwargs())
            self.container.start()
        except BaseException:
            self.close()
            raise

    def _create(self, kwargs: dict):
        """containers.create, with proc_view.masked_paths added to the host config (docker-py has no option for
        MaskedPaths, which the engine's API takes): the host's boot line and boot id read empty."""
        kwargs = {**kwargs, "image": self.image, "version": self.client.api._version}
        args = _create_container_args(kwargs)
        args["host_config"]["MaskedPaths"] = proc_view.masked_paths(self.client, self.image, self.labels)
        return self.client.containers.get(self.client.api.create_container(**args)["Id"])

    def close(self) -> None:
        with container_registry.locked() as live:
            if self._closed:
                return
            self._closed = True
            live.pop(self.name, None)
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


def started_sandbox(image: str, limits: Limits, prepare=None, **sandbox_kwargs) -> DockerSandbox:
    """A sandbox started and, if `prepare` is given, prepared by `prepare(sandbox)`; removed again when either
    fails (Ctrl-C included), so no container is left running for nobody."""
    sandbox = DockerSandbox(image, limits, **sandbox_kwargs)
    try:
        sandbox.start()
        if prepare is not None:
            prepare(sandbox)
    except BaseException:
        sandbox.close()
        raise
    return sandbox


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
        return started_sandbox(self.image, self.limits, self.prepare, **self.sandbox_kwargs)

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
