"""A local HTTP server for tests that need pages of their own (a site to browse, a host page a sandbox must not
reach): every GET is answered with what `page(path)` returns, HTML unless it names another content type."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Page = Callable[[str], "bytes | tuple[bytes, str]"]


@contextmanager
def serving(page: Page, keep_alive: bool = False) -> Iterator[str]:
    """Yields the server's base URL (`http://127.0.0.1:PORT`); the server stops when the block ends. `keep_alive`:
    HTTP/1.1, connections kept open between requests."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def do_GET(self):
            answer = page(self.path)
            body, content_type = answer if isinstance(answer, tuple) else (answer, "text/html")
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
