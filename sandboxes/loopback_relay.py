"""Lets Chromium keep a network namespace of its own (nothing but `lo`) and still reach the sites served on the
host's loopback: the allowed origins' ports are relayed, one TCP connection at a time, over unix sockets in a
folder bound into the sandbox.

Two halves, one file (standard library only: the agent half runs with the sandbox's bare system Python):

- The agent runs first inside Chromium's sandbox, then becomes Chromium (exec), as sandboxes/mcp_forward.py does
  for MCP servers:

      python3 -I loopback_relay.py FOLDER -- COMMAND [ARG...]

  It connects to FOLDER/control.sock and reads commands there: a line `listen HOST PORT` makes it accept on
  HOST:PORT in the sandbox's namespace (answer `ok` or `error REASON`). Every connection accepted there goes to
  FOLDER/relay.sock, after a first line `HOST PORT` naming where it was accepted. One thread (asyncio), so it costs
  one process of the sandbox's cap. It holds no descriptor of Chromium's (the DevTools pipe, fds 3 and 4, is
  Playwright's channel to the browser) and is not dumpable, so the sandbox's other processes, which share its user,
  can neither reopen its descriptors through /proc nor take them with ptrace or pidfd_getfd.
- `Relay`, in the collector process, listens on both sockets. It takes the first control connection after each
  launch as the agent's, takes relay.sock connections from that process alone (SO_PEERCRED), and connects each to
  the host's HOST:PORT only while a live browser context allows that address (`allow`/`forget`): a sandbox that
  forged a header still reaches nothing else.

Only the collector creates anything in FOLDER, so the sandbox gets it read-only: it cannot fill host disk there or
leave a link for the collector to follow. A unix socket on a read-only mount still accepts connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ipaddress
import logging
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time

CONTROL = "control.sock"
RELAY = "relay.sock"
CHUNK = 1 << 16
HEADER_LIMIT = 100  # bytes of the `HOST PORT` line, newline included
# A sandbox process must not hold the collector's descriptors: a connection that names no address within this is
# closed, and past this many live ones (Chromium's own socket pool size) new ones are closed at once.
HEADER_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 256
# Connections the sandbox can still open through the agent's own listeners (any process there can connect to them)
# are indistinguishable from Chromium's, so two more bounds keep them from starving an episode: one address holds at
# most a quarter of the cap (Chromium opens 6 per host and network partition), so the ports other contexts allow
# keep the rest; and a connection that moves no byte either way for IDLE_TIMEOUT_S is closed on both sides (the
# host's site servers wait for a request without a deadline). Closing an idle keep-alive connection is harmless:
# Chromium sends the request again on a new one when a reused connection closes before any answer. 30 s is twice
# the episodes' navigation timeout (15 s), so no answer a page still waits for is cut.
MAX_PER_ADDRESS = MAX_CONNECTIONS // 4
IDLE_TIMEOUT_S = 30.0
WARN_INTERVAL_S = 60.0
PORT = re.compile(r"[1-9][0-9]{0,4}")  # ASCII only: str.isdigit() takes "047812" and Arabic-Indic digits
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4


# -- both halves --------------------------------------------------------------------------------------------------
async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, moved: list[float]) -> None:
    """Copies one direction until its end closes, then passes the close on (an HTTP client may half-close).
    `moved[0]` is when a byte last went either way (shared by both directions)."""
    try:
        while data := await reader.read(CHUNK):
            moved[0] = time.monotonic()
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


async def _splice(a: tuple, b: tuple, idle_timeout_s: float) -> bool:
    """Copies both ways until both ends closed, or until no byte moved for `idle_timeout_s`; True in that case."""
    (a_reader, a_writer), (b_reader, b_writer) = a, b
    moved = [time.monotonic()]
    copying = asyncio.gather(_pipe(a_reader, b_writer, moved), _pipe(b_reader, a_writer, moved))
    try:
        while not copying.done():
            left = moved[0] + idle_timeout_s - time.monotonic()
            if left <= 0:
                return True
            await asyncio.wait([copying], timeout=left)
        return False
    finally:
        copying.cancel()
        for writer in (a_writer, b_writer):
            writer.close()
        with contextlib.suppress(asyncio.CancelledError):
            await copying


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
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent was gone before the death signal was armed
        os._exit(0)
    # The sandbox's processes share the agent's user: not dumpable, its /proc/PID/fd is root's and ptrace or
    # pidfd_getfd on it is refused, so none takes its connections to the collector.
    libc.prctl(PR_SET_DUMPABLE, 0)
    # Chromium's stdio is Playwright's log of it: the agent must not hold it open or write to it. Nor anything else
    # it inherited: fds 3 and 4 are the DevTools pipe, through which whoever holds them can answer Playwright.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
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
        reader, writer = await asyncio.open_unix_connection(os.path.join(self.folder, CONTROL))
        with contextlib.suppress(OSError, ValueError):
            while line := await reader.readline():
                writer.write((await self._command(line.decode().split())).encode() + b"\n")
                await writer.drain()
        writer.close()
        await asyncio.Event().wait()  # the listeners keep relaying until Chromium ends (the death signal)

    async def _command(self, words: list[str]) -> str:
        if len(words) != 3 or words[0] != "listen" or _port(words[2]) is None:
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
        await _splice((reader, writer), upstream, IDLE_TIMEOUT_S)


# -- the collector's half -----------------------------------------------------------------------------------------
class AgentGone(RuntimeError):
    """The agent in the sandbox did not answer: the browser it serves is dead or was never started."""


class Relay:
    """The host end for one browser: listens on FOLDER/control.sock and FOLDER/relay.sock (one thread, its own event
    loop) and connects each relay connection of the agent's to the address its header names, if a live context
    allows it."""

    def __init__(self, folder: str, uid: int | None, max_connections: int = MAX_CONNECTIONS,
                 header_timeout_s: float = HEADER_TIMEOUT_S, max_per_address: int = MAX_PER_ADDRESS,
                 idle_timeout_s: float = IDLE_TIMEOUT_S):
        self.folder = folder
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.max_per_address = max_per_address
        self.idle_timeout_s = idle_timeout_s
        # Socket paths may hold 107 bytes; the folder's own may be longer (a TMPDIR deep in a test's folder).
        self._folder_fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._short = f"/proc/self/fd/{self._folder_fd}"
        self.refused: list[str] = []  # connections refused (the header, or why), newest last (kept short)
        self.over_cap = 0  # connections closed unread because MAX_CONNECTIONS were live
        self.idle_closed = 0  # spliced connections closed after IDLE_TIMEOUT_S without a byte either way
        # A flood is refused thousands of times a second: one warning per WARN_INTERVAL_S says how many.
        self._warned_at, self._warned_count = -math.inf, 0
        self._allowed: dict[object, set[tuple[str, int]]] = {}
        self._listening: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._connections: set[asyncio.Task] = set()
        self._spliced: dict[asyncio.Task, tuple[str, int]] = {}
        # A loop in a thread of its own: the caller's thread may run one already (Playwright's sync API does).
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback-relay", daemon=True)
        self._thread.start()
        self._servers, self._agent = self._call(self._start())
        self._agent_pid: int | None = None  # the process on the agent's control connection (SO_PEERCRED)
        # The agent runs as the sandbox's user: it may connect to the sockets (write permission on them), and only
        # search the folder, which stays the collector's.
        os.chmod(self._short, 0o711)
        for name in (CONTROL, RELAY):
            os.chmod(os.path.join(self._short, name), 0o600)
            if uid is not None:
                os.chown(os.path.join(self._short, name), uid, uid)

    def _call(self, coroutine, timeout_s: float | None = None):
        """Run a coroutine on the relay's loop and wait for its result (TimeoutError past `timeout_s`)."""
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, timeout_s), self._loop).result()

    async def _start(self) -> tuple[list[asyncio.Server], asyncio.Future]:
        servers = [await asyncio.start_unix_server(handler, os.path.join(self._short, name))
                   for name, handler in ((RELAY, self._relay), (CONTROL, self._agent_connected))]
        return servers, self._loop.create_future()

    def allow(self, key: object, addresses: set[tuple[str, int]]) -> None:
        with self._lock:
            self._allowed[key] = set(addresses)

    def forget(self, key: object) -> None:
        """The context `key` closed: its addresses are refused from now on, and the connections it allowed (that no
        other live context allows) are closed, so none keeps relaying for a context that is gone."""
        with self._lock:
            self._allowed.pop(key, None)
        with contextlib.suppress(RuntimeError):  # the relay was closed first: nothing is relayed any more
            self._loop.call_soon_threadsafe(self._close_unallowed)

    def _close_unallowed(self) -> None:
        with self._lock:
            allowed = set().union(*self._allowed.values())
        for task, address in list(self._spliced.items()):
            if address not in allowed:
                task.cancel()

    def new_agent(self) -> None:
        """Before a launch: the old agent's listeners and contexts are gone with its sandbox, and the next control
        connection is the new agent's."""
        with self._lock:
            self._allowed.clear()
        self._listening.clear()
        self._call(self._replace_agent())

    async def _replace_agent(self) -> None:
        if self._agent.done():
            self._agent.result()[1].close()
        self._agent, self._agent_pid = self._loop.create_future(), None
        self._close_unallowed()

    async def _agent_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The agent connects before it execs Chromium, so the first connection after a launch is its own; any later
        # one is another process of the sandbox's.
        if self._agent.done():
            self._refuse("a second control connection")
            writer.close()
        else:
            self._agent_pid = _peer_pid(writer)
            self._agent.set_result((reader, writer))

    def listen(self, addresses: set[tuple[str, int]], timeout_s: float) -> None:
        """Have the agent accept on these addresses in the sandbox (once each per agent). AgentGone if it does not
        answer within `timeout_s`; RuntimeError naming the address if it cannot listen there."""
        wanted = sorted(addresses - self._listening)
        if not wanted:
            return
        path = os.path.join(self.folder, CONTROL)
        try:
            self._call(self._listen(wanted), timeout_s)
        except TimeoutError:
            raise AgentGone(f"the loopback relay agent did not answer on {path} within {timeout_s:g} s") from None
        except (OSError, ValueError) as exc:
            raise AgentGone(f"the loopback relay agent stopped answering on {path}: {exc}") from None

    async def _listen(self, wanted: list[tuple[str, int]]) -> None:
        reader, writer = await asyncio.shield(self._agent)  # a timeout must not cancel the agent's future
        for host, port in wanted:
            writer.write(f"listen {host} {port}\n".encode())
            await writer.drain()
            answer = (await reader.readline()).decode(errors="replace").strip()
            if not answer:
                raise AgentGone(f"the loopback relay agent closed its control connection ({self.folder})")
            if answer != "ok":
                raise RuntimeError(f"loopback relay for {host}:{port}: {answer}")
            self._listening.add((host, port))

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Any process of the sandbox may connect here; only the agent's connections count (and Chromium's reach the
        # agent), so one that held hundreds open with a valid header and no request no longer fills the cap.
        if (pid := _peer_pid(writer)) != self._agent_pid or pid is None:
            self._refuse(f"a relay connection from pid {pid}, not the agent's ({self._agent_pid})")
            writer.close()
            return
        if len(self._connections) >= self.max_connections:
            self._refuse_over_cap()
            writer.close()
            return
        _hold_current_task(self._connections)
        try:
            header = await asyncio.wait_for(reader.readuntil(b"\n"), self.header_timeout_s)
        except TimeoutError:
            self._refuse(f"no header within {self.header_timeout_s:g} s")
            writer.close()
            return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            writer.close()
            return
        address = _parse_header(header)
        with self._lock:
            allowed = address is not None and any(address in a for a in self._allowed.values())
        if not allowed:
            self._refuse(header[:HEADER_LIMIT].decode(errors="replace").strip())
            writer.close()
            return
        if sum(a == address for a in self._spliced.values()) >= self.max_per_address:
            self._refuse(f"over the cap of {self.max_per_address} live connections to {address[0]}:{address[1]}")
            writer.close()
            return
        task = asyncio.current_task()
        self._spliced[task] = address  # before the connect: a burst would all pass the cap while it waits
        try:
            upstream = await asyncio.open_connection(*address)
            idle = await _splice((reader, writer), upstream, self.idle_timeout_s)
            self.idle_closed += idle  # not `+= await`: that reads the count before the wait, and other tasks add
        except OSError:
            writer.close()
        except asyncio.CancelledError:
            # forget() or close() ended it. Python 3.11's stream server logs a handler task that ends cancelled as
            # an error with its traceback: a flood's connections would log hundreds.
            writer.close()
        finally:
            del self._spliced[task]

    def _refuse(self, why: str) -> None:
        if self.refused[-1:] != [why]:  # a flood's hundreds of "no header" would push out what came before
            self.refused = [*self.refused[-19:], why]

    def _refuse_over_cap(self) -> None:
        self.over_cap += 1
        self._refuse(f"over the cap of {self.max_connections} live connections")
        now = time.monotonic()
        if now - self._warned_at >= WARN_INTERVAL_S:
            logging.getLogger(__name__).warning(
                "loopback relay %s: %d connections live, the cap: closed %d new one(s) unread since the last warning "
                "(at most one warning a minute)", self.folder, self.max_connections, self.over_cap - self._warned_count)
            self._warned_at, self._warned_count = now, self.over_cap

    def close(self) -> None:
        async def stop():
            for server in self._servers:
                server.close()
            if self._agent.done():
                self._agent.result()[1].close()
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


def _peer_pid(writer: asyncio.StreamWriter) -> int | None:
    """The pid, in the collector's pid namespace, of the process that connected this unix socket."""
    sock = writer.get_extra_info("socket")
    try:
        pid, _, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    except OSError:
        return None
    return pid


def _port(word: str) -> int | None:
    return int(word) if PORT.fullmatch(word) and int(word) <= 65535 else None


def _parse_header(header: bytes) -> tuple[str, int] | None:
    words = header[:HEADER_LIMIT].decode(errors="replace").split()
    if len(words) != 2 or (port := _port(words[1])) is None:
        return None
    return words[0], port


if __name__ == "__main__":
    main(sys.argv[1:])
