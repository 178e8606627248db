"""A live MCP server: started in its sandbox (sandboxes/mcp_sandbox.py) in its own temporary working directory, from
its servers-file entry (sandboxes/mcp_server_spec.py); a client session to it through the perturbing proxy, over
stdio or over http through a forwarded unix socket (sandboxes/unix_socket_http.py); its output's tail; a restart
when a call times out while the server is still on it; and teardown that always runs.

The official SDK is async; collectors are sync. Each connection owns an event loop in the calling thread: one
long-lived task holds the transport and session open (anyio scopes must be left by the task that entered them),
and `request()` runs one call on that loop until it completes. Between calls nothing needs to run, and no thread
hand-off is paid per call (a blocking portal cost more than the whole collector overhead budget).
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2

from sandboxes import bwrap, leftovers
from sandboxes.bwrap import SYSTEM_PATHS, covered, process_tree, release_sandbox_uid, take_sandbox_uid
from sandboxes.mcp_install import SETUP_COMMAND
from sandboxes.mcp_proxy import Exchange, PerturbingProxy, RepairedLineLog, Rule
from sandboxes.mcp_repair import RepairingTransport
from sandboxes.mcp_sandbox import (SANDBOX_USER, SandboxLayout, ServerStartError, describe_sandbox, forward_launcher,
                                   hold_workspace, pages_launcher, release_workspace, sandboxed, server_layout,
                                   total_caps)
from sandboxes.mcp_server_spec import (ARGUMENT_PLACEHOLDERS, PAGES_PORT, SANDBOX_OPT, SANDBOX_WORKDIR, ServerSpec,
                                       expand, installed_by_setup, placeholder_values, serves_pages)
from sandboxes.unix_socket_http import unix_socket_transport
from schemas.processes import alive

# The http transport: the server listens on its own sandbox's loopback (no host network) and the client reaches it
# through a unix socket that sandboxes/mcp_forward.py forwards to that port. The collector makes the listening
# socket in a folder of its own and hands the forwarder its descriptor: the sandbox sees no folder of the host's,
# so it can neither fill one (host disk, outside the recorded caps) nor swap the socket for a symlink to a host
# socket the collector would then connect to.
SOCKET_NAME = "mcp.sock"


class CallTimeout(TimeoutError):
    """The client gave up waiting: the observation an agent gets is this error, not a result. `restart_s` is set
    when the server was still working on the call and was restarted (how long the restart took)."""

    restart_s: float | None = None


class ServerEntryError(ServerStartError):
    """A start failure that its servers-file entry causes, and every start of it meets again: the command is not an
    executable on this machine, or a script the sandbox cannot run, or the server ended before it answered
    initialize (an http one: exited with a code, not a signal) and the OOM killer did not end it (it is not an MCP
    server, or fails at once with its arguments). Not a timeout: a server that did not answer in time may have been
    slow under load, and a rerun may find it in time."""


class StartupTimeout(TimeoutError):
    """The server did not answer initialize within its entry's startup_timeout_s (anyio's own TimeoutError carries
    no message: the start failure read `TimeoutError: ` with nothing after it)."""


def _find(exc: BaseException, kind: type) -> BaseException | None:
    """The first `kind` among the leaves of (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return next((found for e in exc.exceptions if (found := _find(e, kind)) is not None), None)
    return exc if isinstance(exc, kind) else None


def _connection_closed(exc: BaseException) -> bool:
    """Whether the session failed because the server's end of the connection closed (the SDK's CONNECTION_CLOSED)."""
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED

    closed = _find(exc, MCPError)
    return closed is not None and closed.error.code == CONNECTION_CLOSED


def _leaf_errors(exc: BaseException) -> str:
    """The real causes inside (nested) exception groups, which anyio task groups wrap errors in."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_leaf_errors(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


# A server's stdout and stderr: the last this many bytes, kept in the collector's memory for start-failure messages
# (they quote 800 characters); nothing on disk. They were a host file, `server.log`: a server could write 1 GiB of
# host disk that `disk` did not show, and a start failure read it whole (900 MiB of stderr: collector RSS +1.8 GiB).
OUTPUT_TAIL_BYTES = 64 << 10


def _server_port() -> int:
    """{port} for an http server: a free one, as before, but never the page server's, which shares the server's
    loopback when the entry uses {pages}."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != PAGES_PORT:
            return port


class _OutputTail:
    """A pipe for a server's stdout and stderr, which a thread of its own drains into the last OUTPUT_TAIL_BYTES:
    the server never waits on a full pipe (older bytes are dropped instead), and however much it writes costs no
    disk and at most that much memory. Its write end (`file`) serves every restart of the connection."""

    def __init__(self, name: str):
        read, write = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(read, False)  # a read under the lock must not wait for the server
        self.file = open(write, "wb", buffering=0)
        self._read: int | None = read
        self._tail = bytearray()
        self._lock = threading.Lock()
        threading.Thread(target=self._drain, name=f"wl-mcp-output-{name}", daemon=True).start()

    def _drain(self) -> None:
        """Until the pipe's end of file: every write end closed, the collector's at close() and the server's with
        its last process. Only this thread closes the pipe, under the lock, so text() never reads a closed one."""
        read = self._read
        while True:
            select.select([read], [], [])
            with self._lock:
                if self._take_chunk() == b"":
                    os.close(read)
                    self._read = None
                    return

    def _take_chunk(self) -> bytes | None:
        """One read into the tail (the lock held: chunks keep their order); None when the pipe is empty for now."""
        try:
            chunk = os.read(self._read, 1 << 16)
        except BlockingIOError:
            return None
        self._tail += chunk
        del self._tail[:-OUTPUT_TAIL_BYTES]
        return chunk

    def text(self) -> str:
        """The last bytes the server wrote, those still in the pipe included (a server that just failed wrote its
        reason there before it exited, maybe faster than the thread drained it)."""
        with self._lock:
            while self._read is not None and self._take_chunk():
                pass
            return self._tail.decode(errors="replace")

    def close(self) -> None:
        self.file.close()


class ServerConnection:
    """A started server with an initialized client session. Use as a context manager; close() always stops it."""

    def __init__(self, spec: ServerSpec, rules: list[Rule] | None = None, seed: int = 0,
                 call_timeout_s: float = 30.0):
        self.spec = spec
        self.proxy = PerturbingProxy(rules, seed)
        self.call_timeout_s = call_timeout_s
        # Named for this process: making it removes every server's folder that a SIGKILLed collector left.
        self.base = leftovers.make_temp(f"wl-mcp-{spec.name}-", family="wl-mcp-")
        # The working directory as the sandboxes bind it (in the workspace holder's mount namespace, a tmpfs).
        self._bound_workdir = self.base / "work"
        self._bound_workdir.mkdir()
        self._workspace: subprocess.Popen | None = None
        self.workdir = self._bound_workdir  # where this process reads and writes it (below, when it is capped)
        self.port = _server_port() if spec.transport == "http" else 0
        self.socket = self._socket_folder() / SOCKET_NAME if spec.transport == "http" else None
        self.values = placeholder_values(SANDBOX_WORKDIR, self.port)  # as the server sees them
        self.host_values = placeholder_values(str(self.workdir), self.port, host=True)
        self._process: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holder: asyncio.Task | None = None
        self._stop: asyncio.Event | None = None
        self.session = None
        self.initialize: Exchange | None = None
        self.restarts = 0
        self._layout: SandboxLayout | None = None
        self.uid = take_sandbox_uid() if os.geteuid() == 0 else None
        self._accounts: list[str] = []
        if self.uid is not None:
            os.chown(self.workdir, self.uid, self.uid)  # the server's own user writes it (prepare too)
            self._accounts = bwrap.account_files(self.base, self.uid, SANDBOX_USER, SANDBOX_WORKDIR, "MCP server")
        self._group, self._total_caps = total_caps(spec.name)
        self._output = _OutputTail(spec.name)
        if self.uid is not None:  # mounting needs root; the record says when the working directory has no cap
            try:
                self._workspace = hold_workspace(self._bound_workdir, self.uid, spec.name)
            except BaseException:
                self.close()
                raise
            self.workdir = Path(f"/proc/{self._workspace.pid}/root{self._bound_workdir}")

    def _namespace(self) -> list[str]:
        """nsenter into the workspace holder's mount namespace, where the working directory is its tmpfs."""
        if self._workspace is None:
            return []
        return ["nsenter", f"--mount=/proc/{self._workspace.pid}/ns/mnt", "--"]

    def _socket_folder(self) -> Path:
        """The collector's own folder for the http socket: no sandbox binds it, and no other user enters it."""
        folder = self.base / "socket"
        folder.mkdir(mode=0o700)
        return folder

    def __enter__(self) -> ServerConnection:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _argv(self, forward: tuple[int, int] | None = None) -> list[str]:
        """The sandboxed command; with `forward` (the listening socket's and the ready pipe's descriptors, http),
        started through the forwarder, first, so that the page server (forked next) inherits neither."""
        where = f"server {self.spec.name!r}"
        argv = [expand(self.spec.command, self.values, where)] + [expand(a, self.values, where)
                                                                  for a in self.spec.args]
        if serves_pages(self.spec):
            argv = [*pages_launcher(), *argv]
        if forward is not None:
            argv = [*forward_launcher(self.port, *forward), *argv]
        return sandboxed(argv, str(self._bound_workdir), self.spec.network, self.layout(), self.uid,
                         self._accounts, self._group, self._namespace())

    def oom_kills(self) -> int | None:
        """How many of the server's processes the kernel killed at its memory cap since the connection was made
        (restarts included); None without a cgroup."""
        return self._group.oom_kills() if self._group is not None else None

    def sandbox_record(self) -> dict:
        """What an episode records of this server's sandbox (env details): its caps, and whether it has a network."""
        return describe_sandbox(self.spec.network, self.uid is not None, self._total_caps,
                                self._workspace is not None, OUTPUT_TAIL_BYTES)

    def layout(self) -> SandboxLayout:
        """What this server's sandbox shows besides the system paths, and its environment (found once)."""
        if self._layout is None:
            self._layout = server_layout(self.spec, self.values, self.host_values, self.base, self.socket is not None)
        return self._layout

    def _host_command(self) -> str:
        """The command's executable on this machine, checked before a start: there, and not a script whose `#!`
        line names a host path the sandbox shows elsewhere (a venv's console scripts name the host venv)."""
        where = f"server {self.spec.name!r}"
        command = expand(self.spec.command, self.host_values, where)
        found = shutil.which(command)
        if found is None:
            # The command installs the shipped servers only: for a user's own server it would send them astray.
            hint = f" (run `{SETUP_COMMAND}`)" if installed_by_setup(self.spec) else ""
            raise ServerEntryError(f"{where}: command {command!r} is not an executable on PATH{hint}")
        if covered(expand(self.spec.command, self.values, where), [SANDBOX_OPT]):
            with open(found, "rb") as handle:
                first = handle.readline(256)
            interpreter = first[2:].decode(errors="replace").split()[:1] if first.startswith(b"#!") else []
            if interpreter and not covered(interpreter[0], list(SYSTEM_PATHS)):
                raise ServerEntryError(f"{where}: {self.spec.command!r} is a script whose #! line names "
                                       f"{interpreter[0]}, a host path the sandbox does not show; run its module "
                                       f"with the venv's python instead (\"{{mcp_venv}}/bin/python -m MODULE\")")
        return found

    def start(self) -> None:
        self._prepare()
        self._launch()

    def _prepare(self) -> None:
        """The entry's prepare commands, each in the server's own sandbox (same binds, same working directory at
        the same path) but with the network on, since they may download what the server works on."""
        where = f"server {self.spec.name!r}"
        for command in self.spec.prepare:
            command = expand(command, self.values, where)
            argv = sandboxed(["bash", "-c", command], str(self._bound_workdir), True, self.layout(), self.uid,
                             self._accounts, self._group, self._namespace())
            done = subprocess.run(argv, cwd=self.base, env=self.layout().env,
                                  capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise ServerStartError(f"server {self.spec.name!r}: prepare command {command!r} failed "
                                       f"({done.returncode}): {done.stderr.strip()[-500:]}")

    def _launch(self) -> None:
        """Starts the server process and opens an initialized session to it."""
        self._host_command()
        kills = self.oom_kills()
        if self.spec.transport == "http":
            self._start_http_process(kills)
        self._loop = asyncio.new_event_loop()
        ready = self._loop.create_future()
        self._holder = self._loop.create_task(self._hold_session(ready))
        try:
            self._loop.run_until_complete(asyncio.wait({ready, self._holder}, return_when=asyncio.FIRST_COMPLETED))
            if not ready.done():
                self._holder.result()  # raises what stopped the session from opening
                raise RuntimeError("the session closed before it was ready")
        except Exception as exc:
            timeout = _find(exc, StartupTimeout)
            what = str(timeout) if timeout is not None else f"did not start: {_leaf_errors(exc)}"
            # The SDK keeps the stdio process to itself, so its exit code is not known here: a connection closed
            # before initialize was answered means the server ended, and unless the OOM killer ended it, the entry
            # did (it is not an MCP server, or fails with its arguments). A crash by another signal counts too.
            ended = timeout is None and _connection_closed(exc) and not self._oom_killed_since(kills)
            raise (ServerEntryError if ended else ServerStartError)(
                f"server {self.spec.name!r} {what}; stderr: {self.stderr()[-800:]}") from exc

    def _oom_killed_since(self, before: int | None) -> bool:
        """Whether the kernel's OOM killer ended one of the server's processes since `before` (oom_kills): at the
        server's memory cap, or the machine's memory running out under load (cgroup v2's memory.events counts
        both). False without a cgroup."""
        now = self.oom_kills()
        return before is not None and now is not None and now > before

    def restart(self) -> float:
        """Kills the server's whole process tree and starts a fresh process from the same entry, on the same
        working directory (the files the episode made stay, prepare does not run again) and through the same proxy.
        Returns the seconds it took."""
        started = time.monotonic()
        if self._process is not None:
            # http: the client ends its session while the server still listens (a dead one makes the SDK log
            # errors). stdio: killed first, or the SDK's shutdown would wait seconds for a busy server to exit.
            self._close_client(wait_s=2)
        self._kill_server()
        self._stop_session()
        self._launch()
        self.restarts += 1
        return time.monotonic() - started

    def server_pid(self) -> int | None:
        """The pid of the sandbox's outer process (prlimit exec'd into bwrap), which leads its own process group:
        our Popen for http, else the SDK's child (spawned in a new session) whose command line binds this
        connection's working directory."""
        if self._process is not None:
            return self._process.pid if self._process.poll() is None else None
        me, mark = os.getpid(), b"\0" + str(self._bound_workdir).encode() + b"\0"
        holder = str(self._workspace.pid) if self._workspace is not None else None  # names the folder too
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or entry.name == holder:
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
                if parent != me:
                    continue
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    if mark in handle.read():
                        return int(entry.name)
            except (OSError, ValueError, IndexError):
                continue
        return None

    def _kill_server(self) -> None:
        """SIGKILL to the sandbox's process group and each process of its tree (the pid namespace's init dying
        would take the rest with it, but not at once), then waits until none of them runs: a fresh server must not
        meet the old one still holding its port or files."""
        pid = self.server_pid()
        if pid is None:
            return
        tree = process_tree(pid)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for member in tree:
            try:
                os.kill(member, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._process is not None:
            self._process.wait()
        deadline = time.monotonic() + 5
        while any(alive(member) for member in tree) and time.monotonic() < deadline:
            time.sleep(0.01)

    async def _hold_session(self, ready: asyncio.Future) -> None:
        self._stop = asyncio.Event()
        async with self._open_session() as session:
            self.session = session
            ready.set_result(True)
            await self._stop.wait()

    def _start_http_process(self, kills: int | None) -> None:
        """Starts the sandbox with the listening socket (fresh, so no connection meant for a killed server waits
        in it) and a pipe its forwarder writes to once the server accepts; only the forwarder keeps either."""
        listener = self._listen()
        ready, ready_end = os.pipe()
        try:
            # Not the collector's environment (credentials): bwrap, which clears it for the server anyway, needs none.
            self._process = subprocess.Popen(self._argv((listener.fileno(), ready_end)), cwd=self.base,
                                             env=self.layout().env, stdin=subprocess.DEVNULL,
                                             stdout=self._output.file, stderr=self._output.file,
                                             start_new_session=True,
                                             pass_fds=(listener.fileno(), ready_end))
        finally:
            listener.close()
            os.close(ready_end)
        try:
            self._wait_until_listening(ready, kills)
        finally:
            os.close(ready)

    def _listen(self) -> socket.socket:
        self.socket.unlink(missing_ok=True)  # a killed server's
        folder = os.open(self.socket.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # Bound through the folder's descriptor: an address short enough for sun_path (107 bytes) whatever
            # TMPDIR's length.
            listener.bind(f"/proc/self/fd/{folder}/{SOCKET_NAME}")
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        finally:
            os.close(folder)
        return listener

    def _wait_until_listening(self, ready: int, kills: int | None) -> None:
        """Waits for the forwarder's byte; the pipe's end of file means the forwarder is gone, and with it (it dies
        with the server) the server, or soon. kills: the server's OOM kills before it started."""
        where = f"server {self.spec.name!r}"
        if not select.select([ready], [], [], self.spec.startup_timeout_s)[0]:
            raise ServerStartError(f"{where} did not listen on port {self.port} (in its sandbox, forwarded to "
                                   f"{self.socket}) within {self.spec.startup_timeout_s:g} s")
        if os.read(ready, 1):
            return
        try:
            code = self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            raise ServerStartError(f"{where}: its socket forwarder ended before the server listened: "
                                   f"{self.stderr()[-800:]}") from None
        # bwrap exits with 128 + the signal that killed the server: that, or the OOM killer, is no fault of the entry.
        entry_fault = 0 <= code < 128 and not self._oom_killed_since(kills)
        raise (ServerEntryError if entry_fault else ServerStartError)(
            f"{where} exited with {code} before listening: {self.stderr()[-800:]}")

    @asynccontextmanager
    async def _open_session(self):
        from mcp.client.session import ClientSession

        async with self._transport() as streams:
            async with self.proxy.wrap(streams[0], streams[1]) as (read, write):
                async with ClientSession(read, write) as session:
                    before = len(self.proxy.order)
                    try:  # a Python server may take seconds to import
                        with anyio.fail_after(self.spec.startup_timeout_s):
                            await session.initialize()
                    except TimeoutError:
                        raise StartupTimeout(f"did not answer initialize within {self.spec.startup_timeout_s:g} s "
                                             f"(the entry's startup_timeout_s)") from None
                    self.initialize = self.proxy.take(before)[0]
                    yield session

    def _transport(self):
        if self.spec.transport == "http":
            return self._http_transport()
        from mcp.client.stdio import StdioServerParameters, logger, stdio_client
        if not any(isinstance(known, RepairedLineLog) for known in logger.filters):
            logger.addFilter(RepairedLineLog())
        argv = self._argv()
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=self.layout().env, cwd=str(self.base))
        # The SDK decodes the server's stdout strictly: bytes that are not UTF-8 ended its reader and the session
        # (the call timed out, the server was restarted). "surrogateescape" keeps each such byte as U+DC80-U+DCFF,
        # which the SDK's parser refuses, so the line reaches the proxy, which repairs it and says so (_repaired);
        # the SDK's own "replace" would hide it. Its field allows only strict/ignore/replace, so set, not validated;
        # the encoding of what the client writes is unchanged (JSON the SDK dumps holds no lone surrogate).
        params.encoding_error_handler = "surrogateescape"
        return stdio_client(params, errlog=self._output.file)

    @asynccontextmanager
    async def _http_transport(self):
        """The SDK's streamable HTTP client on an httpx2 client whose connections go to the sandbox's socket: the
        URL (its Host header too) stays the entry's, as the server expects it; the SDK's default timeouts. Bodies
        the SDK would refuse for a lone surrogate escape or bytes that are not UTF-8 reach it repaired (mcp_repair):
        it would answer the call with its own -32700, which the record would show as the server's."""
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT

        url = expand(self.spec.url, self.values, f"server {self.spec.name!r}")
        transport = RepairingTransport(unix_socket_transport(str(self.socket)), self.proxy.note_repair)
        async with httpx2.AsyncClient(transport=transport,
                                      timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT,
                                                             read=MCP_DEFAULT_SSE_READ_TIMEOUT)) as client:
            async with streamable_http_client(url, http_client=client) as streams:
                yield streams

    def request(self, method: str, params: dict | None = None) -> tuple[Exchange, Exception | None]:
        """Send one request; returns its exchange and what the client raised (JSON-RPC error, timeout, a result
        it could not validate) or None. The exchange holds the raw messages whatever the client made of them."""
        before = len(self.proxy.order)
        error = None
        try:
            self._loop.run_until_complete(self._send_within_timeout(method, params or {}))
        except TimeoutError:
            error = CallTimeout(f"Request {method!r} timed out after {self.call_timeout_s:g} s")
        except Exception as exc:  # the SDK raises on error responses and on results it cannot validate
            error = exc
        sent = self.proxy.take(before)
        if not sent:
            raise RuntimeError(f"server {self.spec.name!r}: {method} was never sent ({error!r})")
        if isinstance(error, CallTimeout) and sent[0].original is None:
            # The server is still working on the call (when the proxy held its answer back, it is not): a fresh
            # process, so the next call does not meet the abandoned one's effects half-way.
            error.restart_s = self.restart()
        return sent[0], error

    async def _send_within_timeout(self, method: str, params: dict):
        with anyio.fail_after(self.call_timeout_s):
            return await self._send(method, params)

    async def _send(self, method: str, params: dict):
        import mcp_types as types

        session = self.session
        if method == "tools/call":
            return await session.call_tool(params["name"], params.get("arguments") or {})
        if method == "resources/read":
            return await session.read_resource(params["uri"])
        if method == "prompts/get":
            return await session.get_prompt(params["name"], params.get("arguments") or {})
        page = types.PaginatedRequestParams(cursor=params["cursor"]) if params.get("cursor") else None
        listing = {"tools/list": session.list_tools, "resources/list": session.list_resources,
                   "prompts/list": session.list_prompts, "resources/templates/list": session.list_resource_templates}
        if method in listing:
            return await listing[method](params=page)
        raise ValueError(f"unsupported MCP method {method!r}; use tools/call, resources/read, prompts/get or a "
                         f"list method")

    def hints(self) -> dict[str, list[str]]:
        where = f"server {self.spec.name!r}"
        return {k: [expand(v, self.values, where) for v in values] for k, values in self.spec.hints.items()}

    def expand_arguments(self, value: Any) -> Any:
        """A task's call arguments with {workdir} and {pages} filled in."""
        if isinstance(value, str):
            for name in ARGUMENT_PLACEHOLDERS:
                if "{" + name + "}" in value:
                    value = value.replace("{" + name + "}", self.values[name])
            return value
        if isinstance(value, dict):
            return {k: self.expand_arguments(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand_arguments(v) for v in value]
        return value

    def stderr(self) -> str:
        """The last OUTPUT_TAIL_BYTES of the server's stdout and stderr (its forwarder's too), all its starts."""
        return self._output.text()

    def _close_client(self, wait_s: float = 15) -> None:
        """Ends the client session (and with it a stdio server, which the SDK stops) and the event loop."""
        try:
            if self._holder is not None and not self._holder.done():
                self._stop.set()
                try:
                    self._loop.run_until_complete(asyncio.wait_for(self._holder, wait_s))
                except Exception:
                    pass  # a server that is already gone or will not stop; the process is reaped below
            if self._loop is not None:
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
                self._loop.close()
        finally:
            self._holder = self._loop = None
            self.session = None

    def _stop_session(self) -> None:
        try:
            self._close_client()
        finally:
            if self._process is not None and self._process.poll() is None:
                try:
                    os.killpg(self._process.pid, signal.SIGTERM)
                    self._process.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(self._process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self._process.wait()
            self._process = None

    def close(self) -> None:
        try:
            self._stop_session()
        finally:
            self._output.close()
            release_workspace(self._workspace)
            shutil.rmtree(self.base, ignore_errors=True)
            if self._group is not None:
                self._group.close()
            release_sandbox_uid(self.uid)
