"""The replay device's adb daemon side: a TCP endpoint the real adb server reaches with `adb connect HOST:PORT`.

Speaks the adb transport protocol (CNXN, OPEN, OKAY, WRTE, CLSE) with the services adbutils and the adb client use:
`shell:` (v1) and `shell,v2,...:` (stdout/stderr/exit packets), `exec:`, and `sync:` (STAT, LIST, RECV, SEND, QUIT).
It announces itself as a replay device in its banner and properties, so nothing recorded from it passes as a phone.
"""

from __future__ import annotations

import asyncio
import logging
import stat
import struct
import threading
import time

from sandboxes.adb_replay.phone import ReplayPhone
from sandboxes.adb_replay.protocol import (A_CLSE, A_CNXN, A_OKAY, A_OPEN, A_VERSION, A_WRTE, HEADER, MAX_PAYLOAD,
                                           SHELL_EXIT, SHELL_STDERR, SHELL_STDOUT, Message, ProtocolError,
                                           shell_packet, unpack_header)
from sandboxes.adb_replay.shell import ReplayShell

log = logging.getLogger(__name__)
FEATURES = "shell_v2,cmd"
SYNC_CHUNK = 64 * 1024
_DIRS = ("/", "/sdcard", "/data", "/data/local", "/data/local/tmp")


class _Stream:
    def __init__(self, conn: "_Connection", local_id: int, remote_id: int):
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self.acked = asyncio.Event()
        self.acked.set()
        self.buffer = bytearray()
        self.arrived = asyncio.Event()
        self.closed = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        self.arrived.set()

    async def read_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if self.closed:
                raise EOFError
            self.arrived.clear()
            await self.arrived.wait()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    async def write(self, data: bytes) -> None:
        # One WRTE in flight at a time: the peer's OKAY opens the window for the next one.
        for start in range(0, len(data), self.conn.max_payload):
            await self.acked.wait()
            if self.closed:
                raise EOFError
            self.acked.clear()
            await self.conn.send(Message(A_WRTE, self.local_id, self.remote_id,
                                         data[start:start + self.conn.max_payload]))
        await self.acked.wait()

    def peer_closed(self) -> None:
        self.closed = True
        self.arrived.set()
        self.acked.set()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.conn.send(Message(A_CLSE, self.local_id, self.remote_id))
        self.conn.streams.pop(self.local_id, None)


class _Connection:
    def __init__(self, device: "ReplayDevice", reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.device, self.reader, self.writer = device, reader, writer
        self.streams: dict[int, _Stream] = {}
        self.next_id = 1
        self.max_payload = 4096
        self.tasks: set[asyncio.Task] = set()

    async def send(self, message: Message) -> None:
        self.writer.write(message.pack())
        await self.writer.drain()

    async def run(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(HEADER.size)
                command, arg0, arg1, length = unpack_header(header)
                data = await self.reader.readexactly(length) if length else b""
                await self.handle(Message(command, arg0, arg1, data))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolError as exc:
            log.warning("replay device %s: dropping connection: %s", self.device.serial, exc)
        finally:
            for stream in list(self.streams.values()):
                stream.peer_closed()
            self.writer.close()

    async def handle(self, message: Message) -> None:
        if message.command == A_CNXN:
            self.max_payload = min(max(message.arg1, 4096), MAX_PAYLOAD)
            await self.send(Message(A_CNXN, A_VERSION, MAX_PAYLOAD, self.device.banner().encode()))
        elif message.command == A_OPEN:
            service = message.data.rstrip(b"\0").decode("utf-8", "replace")
            handler = self.device.service_handler(service)
            if handler is None:
                await self.send(Message(A_CLSE, 0, message.arg0))
                return
            stream = _Stream(self, self.next_id, message.arg0)
            self.streams[stream.local_id] = stream
            self.next_id += 1
            await self.send(Message(A_OKAY, stream.local_id, stream.remote_id))
            task = asyncio.create_task(self._serve(stream, handler, service))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif message.command == A_WRTE:
            stream = self.streams.get(message.arg1)
            if stream is not None:
                stream.feed(message.data)
                await self.send(Message(A_OKAY, stream.local_id, stream.remote_id))
        elif message.command == A_OKAY:
            stream = self.streams.get(message.arg1)
            if stream is not None:
                stream.acked.set()
        elif message.command == A_CLSE:
            stream = self.streams.pop(message.arg1, None)
            if stream is not None:
                stream.peer_closed()
        # AUTH/STLS never arrive: the replay device does not ask the server to authenticate or use TLS.

    async def _serve(self, stream: _Stream, handler, service: str) -> None:
        try:
            await handler(stream, service)
        except EOFError:
            pass
        except Exception:  # a bug in one service must not take the device offline
            log.exception("replay device %s: service %r failed", self.device.serial, service)
        await stream.close()


class ReplayDevice:
    """A stand-in Android device on HOST:PORT serving recorded screens. Not a phone: it says so in every answer."""

    def __init__(self, phone: ReplayPhone, host: str = "127.0.0.1", port: int = 0):
        self.phone = phone
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def serial(self) -> str:
        return f"{self.host}:{self.port}"

    def banner(self) -> str:
        props = self.phone.properties(self.serial)
        fields = ";".join(f"{k}={props[k]}" for k in ("ro.product.name", "ro.product.model", "ro.product.device"))
        return f"device::{fields};features={FEATURES}"

    def service_handler(self, service: str):
        if service.startswith(("shell:", "shell,")):
            return self._shell
        if service.startswith("exec:"):
            return self._shell
        if service == "sync:":
            return self._sync
        return None

    # --- services -------------------------------------------------------------------------------------------------
    async def _shell(self, stream: _Stream, service: str) -> None:
        head, _, command = service.partition(":")
        v2 = "v2" in head.split(",")[1:]
        if not command.strip():
            result_text = b"the replay device has no interactive shell; pass a command\n"
            await stream.write(shell_packet(SHELL_STDERR, result_text) + shell_packet(SHELL_EXIT, b"\x01")
                               if v2 else result_text)
            return
        result = await asyncio.to_thread(ReplayShell(self.phone, self.serial).run, command)
        if not v2:
            await stream.write(result.combined)
            return
        payload = b""
        if result.stdout:
            payload += shell_packet(SHELL_STDOUT, result.stdout)
        if result.stderr:
            payload += shell_packet(SHELL_STDERR, result.stderr)
        await stream.write(payload + shell_packet(SHELL_EXIT, bytes([result.status & 0xFF])))

    async def _sync(self, stream: _Stream, service: str) -> None:
        files = self.phone.files
        while True:
            request, length = struct.unpack("<4sI", await stream.read_exact(8))
            if request == b"QUIT":
                return
            argument = (await stream.read_exact(length)).decode("utf-8", "replace")
            if request == b"STAT":
                if argument in files:
                    data, mtime = files[argument]
                    reply = struct.pack("<4sIII", b"STAT", stat.S_IFREG | 0o660, len(data), mtime)
                elif argument.rstrip("/") in _DIRS or argument == "/":
                    reply = struct.pack("<4sIII", b"STAT", stat.S_IFDIR | 0o771, 4096, int(time.time()))
                else:
                    reply = struct.pack("<4sIII", b"STAT", 0, 0, 0)
                await stream.write(reply)
            elif request == b"LIST":
                prefix = argument.rstrip("/") + "/"
                entries = b"".join(
                    struct.pack("<4sIIII", b"DENT", stat.S_IFREG | 0o660, len(data), mtime, len(name.encode()))
                    + name.encode()
                    for path, (data, mtime) in sorted(files.items()) if path.startswith(prefix)
                    for name in [path[len(prefix):]] if "/" not in name)
                await stream.write(entries + struct.pack("<4sIIII", b"DONE", 0, 0, 0, 0))
            elif request == b"RECV":
                if argument not in files:
                    message = b"No such file or directory"
                    await stream.write(struct.pack("<4sI", b"FAIL", len(message)) + message)
                    return
                data = files[argument][0]
                chunks = b"".join(struct.pack("<4sI", b"DATA", len(data[i:i + SYNC_CHUNK])) + data[i:i + SYNC_CHUNK]
                                  for i in range(0, len(data), SYNC_CHUNK))
                await stream.write(chunks + struct.pack("<4sI", b"DONE", 0))
            elif request == b"SEND":
                path = argument.rsplit(",", 1)[0]
                received = bytearray()
                while True:
                    kind, size = struct.unpack("<4sI", await stream.read_exact(8))
                    if kind == b"DONE":
                        break
                    if kind != b"DATA":
                        raise EOFError
                    received += await stream.read_exact(size)
                self.phone.write_file(path, bytes(received))
                await stream.write(struct.pack("<4sI", b"OKAY", 0))
            else:
                message = f"sync request {request!r} is not supported by the replay device".encode()
                await stream.write(struct.pack("<4sI", b"FAIL", len(message)) + message)
                return

    # --- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> "ReplayDevice":
        """Listen in a background thread; returns once the port is bound (self.port is then the real port)."""
        self._thread = threading.Thread(target=self._run, name=f"adb-replay-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("replay device did not start listening within 10 s")
        if self._server is None:
            raise RuntimeError(f"replay device could not listen on {self.host}:{self.port}")
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()

        async def accept(reader, writer):
            await _Connection(self, reader, writer).run()

        try:
            self._server = loop.run_until_complete(asyncio.start_server(accept, self.host, self.port))
            self.port = self._server.sockets[0].getsockname()[1]
        finally:
            self._ready.set()
        if self._server is not None:
            loop.run_forever()
        loop.close()

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return
        loop, server = self._loop, self._server

        async def shutdown():
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread:
            self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
