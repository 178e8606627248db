"""{pages} on the http transport: the server runs in a network namespace of its own (the client reaches it through
mcp_forward's unix socket), so the pages are served on that namespace's loopback exactly as for a stdio server."""

from sandboxes.mcp_server_spec import PAGES_URL, server_from_dict
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import ROOT, result_of

SERVER = ROOT / "tests" / "mcp" / "pages_http_server.py"


def get(conn, url: str) -> str:
    exchange, error = conn.request("tools/call", {"name": "get", "arguments": {"url": url}})
    assert error is None, error
    return result_of(exchange)["content"][0]["text"]


def test_an_http_server_reads_the_pages_on_its_own_loopback(host_page):
    spec = server_from_dict("pages-http", {"command": "{python}", "args": [str(SERVER), "--port", "{port}"],
                                           "transport": "http", "hints": {"url": ["{pages}/index.html"]}}, "test")
    with ServerConnection(spec, call_timeout_s=60) as conn:
        assert conn.hints() == {"url": [f"{PAGES_URL}/index.html"]}
        assert "Fresh bread daily since 1987." in get(conn, f"{PAGES_URL}/index.html")
        assert "HTTP Error 404" in get(conn, f"{PAGES_URL}/missing.html")
        assert get(conn, host_page).startswith("error:")  # still no host network: only its own loopback
        conn.restart()  # the page server starts afresh with the server, beside the fresh forwarder
        assert "Almond croissant" in get(conn, f"{PAGES_URL}/menu.html")
