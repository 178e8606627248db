import http.server
import threading

import pytest

from tests.mcp.mcp_helpers import SERVERS_FILE
from sandboxes.mcp_servers import load_servers

HOST_PAGE = "<html><body><h1>On the host</h1><p>Only the host's network reaches this.</p></body></html>"


@pytest.fixture(scope="session")
def servers():
    return load_servers(SERVERS_FILE)


@pytest.fixture(scope="session")
def host_page():
    """The URL of a page served on the host's own loopback (an ephemeral port): what a sandbox without the host's
    network cannot reach."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            data = HOST_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/page.html"
    server.shutdown()
    server.server_close()
