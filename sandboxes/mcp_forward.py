"""Runs first inside the sandbox of an MCP server on the http transport: forwards a unix socket the collector listens
on and hands over as an inherited descriptor to the server's port on the sandbox's own loopback, then becomes the
server itself (exec). The server keeps a network namespace of its own, with nothing but `lo`, and the collector still
reaches it; the socket's folder stays the collector's, outside the sandbox.

    python -I mcp_forward.py LISTENER_FD READY_FD PORT -- COMMAND [ARG...]

A byte on READY_FD (a pipe) tells the collector the server accepts on PORT, so it never meets a server that is not
listening yet; the pipe's end of file, that the forwarder is gone. Standard library only: it runs with the bare
Python installation, before any venv or package is imported.
"""

import ctypes
import os
import signal
import socket
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
CHUNK = 1 << 16


def main(argv: list[str]) -> None:
    if len(argv) < 5 or argv[3] != "--":
        sys.exit(f"usage: mcp_forward.py LISTENER_FD READY_FD PORT -- COMMAND [ARG...], got {argv}")
    listener, ready, port, _, *command = argv
    parent = os.getpid()
    if os.fork() == 0:
        _forward(socket.socket(fileno=int(listener)), int(ready), int(port), parent)
    # Only the forwarder holds them: its end is then the pipe's end of file, and the socket's refused connections.
    os.close(int(listener))
    os.close(int(ready))
    os.execvp(command[0], command)  # a bare program name (node) is looked up on the sandbox's PATH


def _forward(listener: socket.socket, ready: int, port: int, parent: int) -> None:
    """The forwarder, a child of the MCP server once the parent has exec'd. It dies with it: bubblewrap's init waits
    for every process in the sandbox, so a forwarder left running would keep the sandbox alive."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent was gone before the death signal was armed
        os._exit(0)
    # A stdio-less child: the server's stdout is its log, which this process must not hold open or write to.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    try:
        _wait_for_port(port)
        os.write(ready, b"1")
        os.close(ready)
        while True:
            client, _ = listener.accept()
            threading.Thread(target=_connect, args=(client, port), daemon=True).start()
    finally:
        os._exit(0)


def _wait_for_port(port: int) -> None:
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)


def _connect(client: socket.socket, port: int) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", port))
    except OSError:
        client.close()
        return
    # A request's headers and body arrive as two writes: with Nagle's algorithm the body waited for the server's
    # delayed ACK, ~44 ms a call to a Python http.server (h236).
    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copies one direction until its end closes, then passes the close on (an HTTP client may half-close)."""
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


if __name__ == "__main__":
    main(sys.argv[1:])
