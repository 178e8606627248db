import os
import shutil
import tempfile
from pathlib import Path

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


@pytest.fixture
def folder_in():
    """A fresh folder under the given host folder (/tmp, /var/tmp...), readable by a server's own user, removed
    afterwards: where the hidden-path tests put the files a servers file names."""
    made = []

    def make(base: str) -> Path:
        if not os.access(base, os.W_OK):
            pytest.skip(f"{base} is not writable here")
        folder = Path(tempfile.mkdtemp(prefix="wl-hidden-", dir=base))
        folder.chmod(0o755)  # the server runs as a user of its own
        made.append(folder)
        return folder

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)
