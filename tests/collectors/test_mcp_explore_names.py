"""The MCP explorer's tools that make things are given names the episode does not know to be taken, against the real
git server: the git entry hints `branch_name: [main, feature-x]` for git_create_branch and git_checkout alike, and
`main` exists from the start, so a create of `main` only met "Cannot create branch 'main': refs/heads/main already
exists" (30 seeds x 15 steps: 18 of 43 create calls were that refusal)."""

from __future__ import annotations

import json
import re

import pytest

from sandboxes.mcp_server_spec import load_servers
from tests.collectors.test_mcp_explore import explore, failed
from tests.mcp.mcp_helpers import SERVERS_FILE


@pytest.fixture(scope="module")
def servers():
    return load_servers(SERVERS_FILE)


def branch_calls(policy, calls):
    """(tool, branch_name, answer, the answers without an error before it) of the valid branch-naming calls."""
    invalid = dict(policy.invalid_calls)
    shown: list[str] = []
    out = []
    for action, observation in calls:
        if action.kind != "tools/call" or action.text in invalid:
            continue
        branch = action.arguments["arguments"].get("branch_name")
        if branch is not None:
            out.append((action.arguments["name"], branch, observation, list(shown)))
        if not failed(observation):
            shown.append(observation.text)
    return out


def shows(text: str, name: str) -> bool:
    """Whether an answer shows a branch name as a whole word: `main` in "* main", not in "origin/main"."""
    return re.search(rf"(?<![\w./-]){re.escape(name)}(?![\w/-])", text) is not None


def answered_calls_of(servers, seed: int, tool: str):
    """Explores git for 15 steps: (policy, calls, the valid calls of `tool` as (branch_name, answer, the answers
    without an error before it), a trace), each of those calls answered without an error."""
    policy, calls, _ = explore(servers, "git", 15, seed=seed)
    branches = branch_calls(policy, calls)
    trace = [(name, branch, o.text[:50]) for name, branch, o, _ in branches]
    named = [(branch, o, shown) for name, branch, o, shown in branches if name == tool]
    assert named, trace
    assert not any(failed(o) for _, o, _ in named), trace
    return policy, calls, named, trace


# Seeds 3 and 17 sent git_create_branch `main` at their first or second step, before any answer showed it (the entry
# hints `main` as a revision and a target: it is there); seed 1 sent it at step 14, after git_branch's "* main".
@pytest.mark.parametrize("seed", [1, 3, 17])
def test_a_create_tool_is_not_given_a_name_the_episode_knows_exists(servers, seed):
    _, _, creates, trace = answered_calls_of(servers, seed, "git_create_branch")
    for name, _, shown in creates:
        assert name != "main", trace
        # Nor a name an earlier answer showed: git_branch's listing, a branch made before ("Created branch ...").
        assert not any(shows(text, name) for text in shown), trace


# Seeds 2, 24 and 25 sent git_checkout `feature-x` (hinted beside `main`) at steps 5, 1 and 3, before any
# git_create_branch had made it: "Ref 'feature-x' did not resolve to an object".
@pytest.mark.parametrize("seed", [2, 24, 25])
def test_a_checkout_names_a_branch_the_episode_knows_exists(servers, seed):
    policy, calls, checkouts, trace = answered_calls_of(servers, seed, "git_checkout")
    for name, _, shown in checkouts:
        # `main` is hinted as a revision and a target; any other branch an earlier answer showed (made, listed).
        assert name == "main" or any(shows(text, name) for text in shown), trace
    # The calls invalid on purpose are made without the rule, and are still refused.
    invalid = dict(policy.invalid_calls)
    assert invalid and all(failed(o) for a, o in calls if a.text in invalid), trace


def test_a_checkout_still_names_a_branch_that_exists(servers):
    # The names a create tool is kept from are the ones a checkout needs: seed 17 checks out `main` after
    # git_branch listed it, as before.
    policy, calls, _ = explore(servers, "git", 15, seed=17)
    checkouts = [(name, o) for tool, name, o, _ in branch_calls(policy, calls) if tool == "git_checkout"]
    assert ("main", "Switched to branch 'main'") in [(name, o.text) for name, o in checkouts if not failed(o)]


# Seeds 3 and 6 made feature-x, an answer then showed `main` checked out, and their checkout named `main` again: it
# answered "Switched to branch 'main'" and moved nothing. 30 seeds x 15 steps, checkouts that moved HEAD: 9 -> 25.
# Seeds 2, 8 and 24 checked out `main` before any create, when it was the only branch known, and the one the
# repository starts on (the servers file's `git init -b main`): 25 -> 34 of 34 moved.
@pytest.mark.parametrize("seed", [3, 6, 2, 8, 24])
def test_a_checkout_switches_to_a_branch_it_is_not_on(servers, seed):
    policy, calls, _ = explore(servers, "git", 15, seed=seed)
    invalid = dict(policy.invalid_calls)
    on, trace, moves = "main", [], 0
    for action, observation in calls:
        trace.append((action.arguments.get("name"), observation.text[:40]))
        if action.arguments.get("name") == "git_checkout" and action.text not in invalid:
            assert not failed(observation), trace
            assert action.arguments["arguments"]["branch_name"] != on, trace
            moves += 1
        if not failed(observation):
            shown = re.findall(r"^\* (\S+)$|\bOn branch (\S+)|Switched to branch '([^']+)'", observation.text, re.M)
            on = next(name for name in shown[-1] if name) if shown else on
    assert moves, trace


# The memory server's add_observations names an entity that must be there ("to existing entities"). Seeds 6 and 9
# sent a made-up `Katherine Johnson` or `Lisbon` before any entity was made; seeds 1 and 2 one that delete_entities
# had removed: "Entity with name ... not found" (8 of 10 episodes' calls refused, 15 steps).
@pytest.mark.parametrize("seed", [1, 2, 6, 9])
def test_an_addition_names_an_entity_the_episode_made_or_read_and_did_not_delete(servers, seed):
    policy, calls, _ = explore(servers, "memory", 15, seed=seed)
    invalid = dict(policy.invalid_calls)
    there: set[str] = set()
    trace = [(a.arguments.get("name"), o.text[:40]) for a, o in calls]
    additions = 0
    for action, observation in calls:
        name = action.arguments.get("name")
        arguments = action.arguments.get("arguments") or {}
        if action.text in invalid or action.kind != "tools/call" or failed(observation):
            assert name != "add_observations" or action.text in invalid, trace
            continue
        if name == "add_observations":
            additions += 1
            assert {o["entityName"] for o in arguments["observations"]} <= there, (there, trace)
        elif name == "create_entities":
            there |= {e["name"] for e in arguments["entities"]}
        elif name == "delete_entities":
            there -= set(arguments["entityNames"])
        elif name in ("read_graph", "open_nodes", "search_nodes"):
            there |= {e["name"] for e in json.loads(observation.text).get("entities", [])}
    assert additions, trace
