"""The http transport's client connection to a server's unix socket: a read cancelled in the loop iteration in which
the server's answer arrived must not leave asyncio an `InvalidStateError` to log (what `make run` showed at the end
of http episodes), and the connection must still carry whole exchanges."""

import asyncio
import socket

import httpx2

from sandboxes.unix_socket_http import unix_socket_transport

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


async def _accept_request(loop, listener) -> socket.socket:
    conn, _ = await loop.sock_accept(listener)
    conn.setblocking(False)
    request = b""
    while b"\r\n\r\n" not in request:
        request += await loop.sock_recv(conn, 4096)
    return conn


async def _cancel_as_answer_arrives(path: str) -> list[dict]:
    """What the loop's exception handler got when a GET is cancelled in the same loop iteration as its answer is
    seen: the answer is in the client's socket before the cancellation (queued ahead of the readiness callback)
    runs."""
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen()
        listener.setblocking(False)
        async with httpx2.AsyncClient(transport=unix_socket_transport(path)) as client:
            get = asyncio.ensure_future(client.get("http://server/page"))
            conn = await _accept_request(loop, listener)
            with conn:
                await asyncio.sleep(0.05)  # the client is now waiting for the answer
                conn.sendall(RESPONSE)
                loop.call_soon(get.cancel)
                try:
                    await get
                except asyncio.CancelledError:
                    pass
                await asyncio.sleep(0.05)  # a stray readiness callback would run here
    return reported


async def _one_exchange(path: str) -> httpx2.Response:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen()
        listener.setblocking(False)
        async with httpx2.AsyncClient(transport=unix_socket_transport(path)) as client:
            get = asyncio.ensure_future(client.get("http://server/page"))
            with await _accept_request(loop, listener) as conn:
                await loop.sock_sendall(conn, RESPONSE)
                return await get


def test_a_read_cancelled_as_the_answer_arrives_leaves_no_error_behind(tmp_path):
    for attempt in range(5):
        reported = asyncio.run(_cancel_as_answer_arrives(str(tmp_path / f"s{attempt}.sock")))
        assert reported == [], [f"{c.get('message')}: {c.get('exception')!r}" for c in reported]


def test_the_unix_socket_transport_carries_a_whole_exchange(tmp_path):
    response = asyncio.run(_one_exchange(str(tmp_path / "s.sock")))
    assert (response.status_code, response.text) == (200, "ok")
