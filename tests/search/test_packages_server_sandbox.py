"""The shipped search-packages server as the mcp collector starts it (sandboxed by bubblewrap): its corpus has the
Debian README pages, which need dpkg's database and apt's lists and sources in the sandbox, and building it leaves
nothing in the episode's working directory (the server's HOME, where apt's answer would otherwise be cached)."""

import os

from sandboxes.mcp_server_spec import load_servers
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import SERVERS_FILE, result_of

# apt is on every Debian machine and a Debian repository serves it: the corpus tests rely on this page too
# (tests/sandboxes/test_search_corpora.py).
APT_README = "debian/apt/README.md"


def test_the_sandboxed_server_serves_debian_pages_and_writes_no_cache_into_the_workdir():
    spec = load_servers(SERVERS_FILE)["search-packages"]
    with ServerConnection(spec, call_timeout_s=30) as conn:
        found, error = conn.request("tools/call", {"name": "search", "arguments": {
            "query": "apt-ftparchive apt-sortpkgs apt-extracttemplates", "limit": 5}})
        assert error is None, error
        hits = [hit["page_id"] for hit in result_of(found)["structuredContent"]["results"]]
        assert APT_README in hits, (f"search-packages found {hits} for apt's own tools, not {APT_README}: "
                                    f"its sandbox lost the Debian pages. Server stderr: {conn.stderr()[-1500:]}")
        opened, error = conn.request("tools/call", {"name": "open_page", "arguments": {"page_id": APT_README}})
        assert error is None, error
        assert "apt-cache" in result_of(opened)["structuredContent"]["text"]
        # The corpus is built before the server answers, so a cache written at start is already there.
        written = sorted(os.path.relpath(os.path.join(folder, name), conn.workdir)
                         for folder, _, names in os.walk(conn.workdir) for name in names)
        assert written == [], f"search-packages wrote {written} into the episode's working directory"
