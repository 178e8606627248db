"""The MCP explorer sends a read again after a change only when the change can have changed its answer, against the
real git server: a branch made reaches only a read whose answer shows branch names (git_branch, git_status's "On
branch main"), and a checkout between branches made from one commit left git_log, git_show and the diffs as they
were. 30 seeds x 24 steps: identical (call, answer) rereads 36 -> 16, rereads that answered otherwise 31 -> 31."""

from __future__ import annotations

import re

import pytest

from sandboxes.mcp_server_spec import load_servers
from tests.collectors.test_mcp_explore import explore, failed
from tests.mcp.mcp_helpers import SERVERS_FILE

BRANCH_MAKERS = {"git_create_branch", "git_checkout"}


@pytest.fixture(scope="module")
def servers():
    return load_servers(SERVERS_FILE)


# Seed 6 sent git_diff_staged again after only a git_create_branch, seeds 8 and 21 git_log and git_diff_unstaged
# after only a checkout: each answered as before.
@pytest.mark.parametrize("seed", [6, 8, 21])
def test_a_read_showing_no_branch_is_not_sent_again_after_only_branches_made_or_switched(servers, seed):
    policy, calls, tools = explore(servers, "git", 24, seed=seed)
    invalid = dict(policy.invalid_calls)
    reads = {t["name"] for t in tools if t["annotations"]["readOnlyHint"]}
    branches = {"main", "feature-x"}
    last: dict[str, tuple[str, list[str]]] = {}  # read -> (its last answer, the changes since)
    trace = [(a.arguments.get("name"), o.text[:40]) for a, o in calls]
    for action, observation in calls:
        if action.text in invalid or failed(observation) or action.kind != "tools/call":
            continue
        name = action.arguments["name"]
        if name in reads:
            if action.text in last:
                answer, since = last[action.text]
                shown = any(re.search(rf"(?<![\w./-]){re.escape(b)}(?![\w/-])", answer) for b in branches)
                assert shown or not since or not set(since) <= BRANCH_MAKERS, (action.text, since, trace)
            last[action.text] = (observation.text, [])
            continue
        if observation.text.startswith("No changes"):
            continue  # git_add of an unmodified file: nothing changed
        branches.add(action.arguments["arguments"].get("branch_name") or "main")
        for _, since in last.values():
            since.append(name)
