"""Lets Chromium keep a network namespace of its own (nothing but `lo`) and still reach the sites served on the
host's loopback: the allowed origins' ports are relayed, one TCP connection at a time, over unix sockets in a
folder bound into the sandbox.

Two halves, one file (standard library only: the agent half runs with the sandbox's bare system Python):

- The agent runs first inside Chromium's sandbox, then becomes Chromium (exec), as sandboxes/mcp_forward.py does
  for MCP servers:

      python3 -I loopback_relay.py FOLDER -- COMMAND [ARG...]

  It serves FOLDER/control.sock: a line `listen HOST PORT` makes it accept on HOST:PORT in the sandbox's namespace
  (answer `ok` or `error REASON`). Every connection accepted there goes to FOLDER/relay.sock, after a first line
  `HOST PORT` naming where it was accepted. One thread (asyncio), so it costs one process of the sandbox's cap.
- `Relay`, in the collector process, accepts on FOLDER/relay.sock and connects each connection to the host's
  HOST:PORT, only while a live browser context allows that address (`allow`/`forget`): a sandbox that forged a
  header still reaches nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ipaddress
import os
import signal
import socket
import stat
import sys
import threading
import time

CONTROL = "control.sock"
RELAY = "relay.sock"
CHUNK = 1 << 16
HEADER_LIMIT = 100  # bytes of the `HOST PORT` line, newline included
PR_SET_PDEATHSIG = 1


# -- both halves --------------------------------------------------------------------------------------------------
async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copies one direction until its end closes, then passes the close on (an HTTP client may half-close)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


def _hold_current_task(tasks: set) -> None:
    """A stream server's handler task is referenced only by its protocol, which drops it when the client's side
    closes (Python 3.11): a task still copying the other direction would then be garbage-collected pending ("Task was
    destroyed but it is pending!") and its upstream connection never closed."""
    task = asyncio.current_task()
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _splice(a: tuple, b: tuple) -> None:
    (a_reader, a_writer), (b_reader, b_writer) = a, b
    try:
        await asyncio.gather(_pipe(a_reader, b_writer), _pipe(b_reader, a_writer))
    finally:
        for writer in (a_writer, b_writer):
            writer.close()


# -- the agent, inside the sandbox --------------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit(f"usage: loopback_relay.py FOLDER -- COMMAND [ARG...], got {argv}")
    folder, _, *command = argv
    parent = os.getpid()
    if os.fork() == 0:
        _agent(folder, parent)
    os.execv(command[0], command)


def _agent(folder: str, parent: int) -> None:
    """The agent, a child of Chromium's main process once the parent has exec'd. It dies with it: bubblewrap's init
    waits for every process in the sandbox, so an agent left running would keep the sandbox alive."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent was gone before the death signal was armed
        os._exit(0)
    # Chromium's stdio is Playwright's log of it: the agent must not hold it open or write to it.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        asyncio.run(_Agent(folder).serve())
    finally:
        os._exit(0)


class _Agent:
    def __init__(self, folder: str):
        self.folder = folder
        self.listeners: dict[tuple[str, int], asyncio.Server] = {}
        self.connections: set[asyncio.Task] = set()

    async def serve(self) -> None:
        staging = os.path.join(self.folder, f"{CONTROL}.{os.getpid()}")
        server = await asyncio.start_unix_server(self._control, staging)
        os.rename(staging, os.path.join(self.folder, CONTROL))  # appears only once it accepts
        async with server:
            await server.serve_forever()

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ValueError):
            while line := await reader.readline():
                writer.write((await self._command(line.decode().split())).encode() + b"\n")
                await writer.drain()
        writer.close()

    async def _command(self, words: list[str]) -> str:
        if len(words) != 3 or words[0] != "listen" or not words[2].isdigit():
            return f"error unknown command {' '.join(words)!r}"
        try:
            ipaddress.ip_address(words[1])  # a name would be resolved in threads: the agent keeps to one
        except ValueError:
            return f"error {words[1]!r} is not an IP address"
        address = (words[1], int(words[2]))
        if address not in self.listeners:
            try:
                self.listeners[address] = await asyncio.start_server(
                    lambda r, w: self._accepted(r, w, address), *address, reuse_address=True)
            except OSError as exc:
                return f"error cannot listen on {address[0]}:{address[1]}: {exc}"
        return "ok"

    async def _accepted(self, reader, writer, address: tuple[str, int]) -> None:
        _hold_current_task(self.connections)
        try:
            upstream = await asyncio.open_unix_connection(os.path.join(self.folder, RELAY))
        except OSError:
            writer.close()
            return
        upstream[1].write(f"{address[0]} {address[1]}\n".encode())
        await _splice((reader, writer), upstream)


# -- the collector's half -----------------------------------------------------------------------------------------
class AgentGone(RuntimeError):
    """The agent in the sandbox did not answer: the browser it serves is dead or was never started."""


class Relay:
    """The host end for one browser: accepts on FOLDER/relay.sock (one thread, its own event loop) and connects each
    connection to the address its header names, if a live context allows it."""

    def __init__(self, folder: str, uid: int | None):
        self.folder = folder
        # Socket paths may hold 107 bytes; the folder's own may be longer (a TMPDIR deep in a test's folder).
        self._folder_fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._short = f"/proc/self/fd/{self._folder_fd}"
        self.refused: list[str] = []  # headers of connections refused, newest last (kept short)
        self._allowed: dict[object, set[tuple[str, int]]] = {}
        self._listening: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._connections: set[asyncio.Task] = set()
        # A loop in a thread of its own: the caller's thread may run one already (Playwright's sync API does).
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback-relay", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_unix_server(self._relay, os.path.join(self._short, RELAY)), self._loop).result()
        if uid is not None:  # the agent runs as the sandbox's user
            os.chown(folder, uid, uid)
            os.chown(os.path.join(folder, RELAY), uid, uid)

    def allow(self, key: object, addresses: set[tuple[str, int]]) -> None:
        with self._lock:
            self._allowed[key] = set(addresses)

    def forget(self, key: object) -> None:
        with self._lock:
            self._allowed.pop(key, None)

    def new_agent(self) -> None:
        """Before a launch: the old agent's listeners and contexts are gone with its sandbox."""
        with self._lock:
            self._allowed.clear()
        self._listening.clear()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(CONTROL, dir_fd=self._folder_fd)

    def listen(self, addresses: set[tuple[str, int]], timeout_s: float) -> None:
        """Have the agent accept on these addresses in the sandbox (once each per agent). AgentGone if it does not
        answer within `timeout_s`; RuntimeError naming the address if it cannot listen there."""
        wanted = sorted(addresses - self._listening)
        if not wanted:
            return
        with self._control(timeout_s) as control:
            answers = control.makefile("rb")
            for host, port in wanted:
                control.sendall(f"listen {host} {port}\n".encode())
                answer = answers.readline(200).decode().strip()
                if not answer:
                    raise AgentGone(f"the loopback relay agent closed its control socket ({self.folder})")
                if answer != "ok":
                    raise RuntimeError(f"loopback relay for {host}:{port}: {answer}")
                self._listening.add((host, port))

    @contextlib.contextmanager
    def _control(self, timeout_s: float):
        path, deadline = os.path.join(self.folder, CONTROL), time.monotonic() + timeout_s
        while True:
            control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            control.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                _connect_no_follow(control, self._folder_fd, CONTROL)
                break
            except OSError as exc:
                control.close()
                if time.monotonic() >= deadline:
                    raise AgentGone(f"the loopback relay agent did not answer on {path} within {timeout_s:g} s: "
                                    f"{exc}") from None
                time.sleep(0.02)
        try:
            yield control
        except OSError as exc:
            raise AgentGone(f"the loopback relay agent stopped answering on {path}: {exc}") from None
        finally:
            control.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _hold_current_task(self._connections)
        try:
            header = await reader.readuntil(b"\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            writer.close()
            return
        address = _parse_header(header)
        with self._lock:
            allowed = address is not None and any(address in a for a in self._allowed.values())
        if not allowed:
            self.refused = [*self.refused[-19:], header[:HEADER_LIMIT].decode(errors="replace").strip()]
            writer.close()
            return
        try:
            upstream = await asyncio.open_connection(*address)
        except OSError:
            writer.close()
            return
        await _splice((reader, writer), upstream)

    def close(self) -> None:
        async def stop():
            self._server.close()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            # Until each has ended: a task the loop drops while pending is reported at exit ("Task was destroyed
            # but it is pending!", once per open connection).
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()
        os.close(self._folder_fd)


def _connect_no_follow(sock: socket.socket, folder_fd: int, name: str) -> None:
    """Connect to the socket `name` in the folder, never through a symlink: the sandbox can write the folder, and a
    link there must not lead the collector to a socket of the host's (/var/run/docker.sock)."""
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise ConnectionRefusedError(f"{name} is not a socket")
        sock.connect(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _parse_header(header: bytes) -> tuple[str, int] | None:
    words = header[:HEADER_LIMIT].decode(errors="replace").split()
    if len(words) != 2 or not words[1].isdigit():
        return None
    return words[0], int(words[1])


if __name__ == "__main__":
    main(sys.argv[1:])
