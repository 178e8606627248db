"""Runs first inside the sandbox of an MCP server on the http transport: forwards a unix socket (in a folder the
collector binds into the sandbox) to the server's port on the sandbox's own loopback, then becomes the server itself
(exec). The server keeps a network namespace of its own, with nothing but `lo`, and the collector still reaches it.

    python -I mcp_forward.py SOCKET PORT -- COMMAND [ARG...]

The socket appears (renamed into place) only once the server accepts on PORT, so the collector waits for the socket
and never meets a server that is not listening yet. Standard library only: it runs with the bare Python
installation, before any venv or package is imported.
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
    if len(argv) < 4 or argv[2] != "--":
        sys.exit(f"usage: mcp_forward.py SOCKET PORT -- COMMAND [ARG...], got {argv}")
    path, port, _, *command = argv
    parent = os.getpid()
    if os.fork() == 0:
        _forward(path, int(port), parent)
    os.execvp(command[0], command)  # a bare program name (node) is looked up on the sandbox's PATH


def _forward(path: str, port: int, parent: int) -> None:
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
        listener = _listen_when_ready(path, port)
        while True:
            client, _ = listener.accept()
            threading.Thread(target=_connect, args=(client, port), daemon=True).start()
    finally:
        os._exit(0)


def _listen_when_ready(path: str, port: int) -> socket.socket:
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = f"{path}.{os.getpid()}"
    listener.bind(staging)
    listener.listen(64)
    os.rename(staging, path)
    return listener


def _connect(client: socket.socket, port: int) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", port))
    except OSError:
        client.close()
        return
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
