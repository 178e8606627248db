"""`AttachedExec`: a process started by `docker exec` with stdin, stdout and stderr attached, read as Docker's
multiplexed frames, with a deadline on every read. Kept open, the same channel serves as a persistent control
connection into the container (see sandboxes/terminal_tmux.py).

Also the names its readers need: the stream ids `STDOUT`/`STDERR`, `StreamClosed` (the process ended) and
`SandboxError`. sandboxes.docker_sandbox re-exports them for collectors (its `__all__`).
"""

from __future__ import annotations

import collections
import signal
import socket
import struct
import time

# The stream ids of AttachedExec.next_frame's frames (Docker's multiplexed stream header).
STDOUT, STDERR = 1, 2
# Prints the pid and its /proc stat fields first so a timed-out command can be killed inside the container (works
# with a remote engine too). Each exec is a session and process-group leader, so killing the group `-pid` takes its
# children with it; the start time (stat field 22, read with shell builtins: no fork) lets the kill also find the
# processes that left the group (setsid, double fork) while the command ran.
_PID_WRAPPER = ["/bin/sh", "-c", 'read -r s </proc/$$/stat; echo "$$ ${s##*) }" >&2; exec "$@"', "worldline-exec"]


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
