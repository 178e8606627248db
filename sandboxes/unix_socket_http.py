"""An httpx2 transport whose every connection goes to one unix socket, opened without following a symlink and read
through an asyncio transport: the MCP client's way to an http server in its sandbox (sandboxes/mcp_servers.py)."""

from __future__ import annotations

import os
import socket
import stat

import anyio
import anyio.abc
import httpcore2
import httpx2
# httpcore2's private AnyIOStream, imported here only (keep it that way): its adapter from an anyio stream to the
# network stream a connection reads (timeouts and errors mapped to httpcore2's). The public API exports only the
# abstract AsyncNetworkStream, and copying the adapter would fork it. unix_socket_transport also sets httpx2's
# private `_pool`. Both hold because pyproject.toml pins httpx2 and httpcore2 (rather than leaving them to mcp's
# and openai's ranges); a bump must pass tests/mcp/test_mcp_http_cancel.py and the http servers' tests.
from httpcore2._backends.anyio import AnyIOStream


class _UnixSocketBackend(httpcore2.AnyIOBackend):
    """httpcore's anyio backend, but its unix-socket connections read through an asyncio transport, as its TCP ones
    do. anyio's own unix stream (4.16) waits for a read with `loop.add_reader(sock, future.set_result, None)`: when
    the read is cancelled in the loop iteration in which the socket became readable, the reader still fires on the
    cancelled future and asyncio logs `Exception in callback Future.set_result(None) ... InvalidStateError`. An
    http session that ends, or a call that times out, cancels its reads while the server is still writing."""

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options=None) -> httpcore2.AsyncNetworkStream:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            with anyio.fail_after(timeout):
                await _connect_without_links(sock, path)
                stream = await anyio.abc.SocketStream.from_socket(sock)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise httpcore2.ConnectTimeout(f"{path}: no connection within {timeout:g} s") from exc
            if isinstance(exc, OSError):
                raise httpcore2.ConnectError(f"{path}: {exc}") from exc
            raise
        return AnyIOStream(stream)


async def _connect_without_links(sock: socket.socket, path: str) -> None:
    """Connects `sock` (non-blocking) to the socket at `path`, never through a symlink: a socket swapped for a link
    must not lead the collector to one of the host's (/var/run/docker.sock). The address is /proc/self/fd/N, short
    whatever TMPDIR's length. A full backlog (EAGAIN) is waited out."""
    folder = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        target = os.open(os.path.basename(path), os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    finally:
        os.close(folder)
    try:
        if not stat.S_ISSOCK(os.fstat(target).st_mode):  # a symlink too: O_NOFOLLOW opened the link itself
            raise ConnectionRefusedError(f"{path} is not a socket")
        while True:
            try:
                return sock.connect(f"/proc/self/fd/{target}")
            except BlockingIOError:
                await anyio.sleep(0.01)
    finally:
        os.close(target)


def unix_socket_transport(path: str) -> httpx2.AsyncHTTPTransport:
    """httpx's transport with every connection to the unix socket at `path`, through _UnixSocketBackend. The
    transport takes no network backend, so its pool is replaced by one that has it (with httpx's default limits)."""
    transport = httpx2.AsyncHTTPTransport()
    transport._pool = httpcore2.AsyncConnectionPool(uds=path, network_backend=_UnixSocketBackend(),
                                                    max_connections=100, max_keepalive_connections=20,
                                                    keepalive_expiry=5.0)
    return transport

