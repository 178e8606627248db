"""The git server's commits are constants (audit2 G1): its fixture's commit (prepare, the git CLI) and the one its
git_commit tool makes (GitPython) get the same id in a run a few seconds later, as a replay must see them."""

import re
import time

from tests.mcp.mcp_helpers import result_of
from sandboxes.mcp_servers import ServerConnection

REPO = "/tmp/workspace/repo"
COMMIT_ID = re.compile(r"\b[0-9a-f]{40}\b")


def _commit_ids(spec) -> list[str]:
    """The fixture's commit and a new one made by the server, newest first, as git_log reports them."""
    with ServerConnection(spec) as conn:
        for tool, arguments in (("git_add", {"files": ["calc.py"]}), ("git_commit", {"message": "Add subtraction"}),
                                ("git_log", {"max_count": 5})):
            exchange, error = conn.request("tools/call", {"name": tool, "arguments": {"repo_path": REPO, **arguments}})
            result = result_of(exchange)
            assert error is None and result["isError"] is False, (tool, result)
        return COMMIT_ID.findall(result["content"][0]["text"])


def test_git_server_commit_ids_do_not_follow_the_clock(servers):
    first = _commit_ids(servers["git"])
    time.sleep(1.5)  # past the next wall-clock second, the unit a commit date has
    second = _commit_ids(servers["git"])
    assert len(first) == 2 and first == second
