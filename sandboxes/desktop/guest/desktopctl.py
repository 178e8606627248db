#!/usr/bin/env python3
"""Client of desktopd. `desktopctl.py` sends the JSON request on stdin and prints the reply; `desktopctl.py --relay`
stays up and relays one request per stdin line, writing one reply per stdout line, so the host keeps a single
attached exec open instead of paying a `docker exec` per step. Standard library only, so it starts fast."""

import os
import socket
import sys
import time

SOCKET_PATH = os.environ.get("WORLDLINE_DESKTOP_SOCKET", "/tmp/worldline-desktop.sock")


def _connect(wait_s):
    deadline = time.monotonic() + wait_s
    while True:  # during startup the socket may not exist yet
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(SOCKET_PATH)
            return conn
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


def ask(request: bytes, wait_s: float) -> bytes:
    conn = _connect(wait_s)
    if conn is None:
        return b'{"ok":false,"error":"desktopd is not listening on ' + SOCKET_PATH.encode() + b'"}\n'
    with conn:
        conn.sendall(request.strip() + b"\n")
        reply = b""
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return reply if reply.endswith(b"\n") else reply + b"\n"
            reply += chunk


def main():
    wait_s = float(os.environ.get("WORLDLINE_DESKTOP_WAIT_S", "0"))
    if sys.argv[1:] == ["--relay"]:
        for line in sys.stdin.buffer:
            if line.strip():
                sys.stdout.buffer.write(ask(line, wait_s))
                sys.stdout.buffer.flush()
        return
    sys.stdout.buffer.write(ask(sys.stdin.buffer.read(), wait_s))


if __name__ == "__main__":
    main()
