import pytest

from tests.mcp.mcp_helpers import SERVERS_FILE
from sandboxes.mcp_servers import load_servers


@pytest.fixture(scope="session")
def servers():
    return load_servers(SERVERS_FILE)
