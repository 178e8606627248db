"""Runs first inside an MCP server's sandbox: serves a folder of static pages on a fixed loopback address, then
becomes the server itself (exec), so `{pages}` is the same URL on every machine and in every run, and a server
that fetches it needs no network but the sandbox's own loopback.

    python -I serve_pages.py HOST PORT FOLDER -- COMMAND [ARG...]

Standard library only: it runs with the bare Python installation, before any venv or package is imported.
"""

import ctypes
import functools
import http.server
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass  # a line per request in the server's log would only bury the server's own messages


def main(argv: list[str]) -> None:
    if len(argv) < 5 or argv[3] != "--":
        sys.exit(f"usage: serve_pages.py HOST PORT FOLDER -- COMMAND [ARG...], got {argv}")
    host, port, folder, _, *command = argv
    # Bound and listening before the fork, so the server (exec'd below) never meets a closed port.
    httpd = http.server.ThreadingHTTPServer((host, int(port)), functools.partial(QuietHandler, directory=folder))
    parent = os.getpid()
    if os.fork() == 0:
        _serve(httpd, parent)
    httpd.socket.close()
    os.execv(command[0], command)


def _serve(httpd: http.server.ThreadingHTTPServer, parent: int) -> None:
    """The page server, a child of the MCP server once the parent has exec'd. It must die with it: bubblewrap's
    init waits for every process in the sandbox, so a page server left running would keep the sandbox alive."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent was gone before the death signal was armed
        os._exit(0)
    # The MCP server's stdin and stdout carry its protocol (stdio transport): this process must not hold them.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    try:
        httpd.serve_forever()
    finally:
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
