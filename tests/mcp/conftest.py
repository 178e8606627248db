import pytest

from tests.mcp.mcp_helpers import SERVERS_FILE
from sandboxes.mcp_server_spec import load_servers
from tests.http_pages import serving

HOST_PAGE = "<html><body><h1>On the host</h1><p>Only the host's network reaches this.</p></body></html>"


@pytest.fixture(scope="session")
def servers():
    return load_servers(SERVERS_FILE)


@pytest.fixture(scope="session")
def host_page():
    """The URL of a page served on the host's own loopback (an ephemeral port): what a sandbox without the host's
    network cannot reach."""

    with serving(lambda path: (HOST_PAGE.encode(), "text/html; charset=utf-8")) as url:
        yield f"{url}/page.html"
