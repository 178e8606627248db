"""Values a schema's description quotes or the servers file hints are checked against what they claim to be before
a valid call sends them: the time server quotes 'America/San_Francisco' as a target time zone, and no zone database
knows it. Such a value still serves a call invalid on purpose, counted as one."""

from __future__ import annotations

import json
import random
import zoneinfo

import pytest

from collectors.mcp_explore import ArgumentMaker
from sandboxes.mcp_server_spec import load_servers
from sandboxes.mcp_servers import ServerConnection
from tests.mcp.mcp_helpers import SERVERS_FILE


@pytest.fixture(scope="module")
def time_server():
    with ServerConnection(load_servers(SERVERS_FILE)["time"]) as conn:
        exchange, _ = conn.request("tools/list")
        tools = {t["name"]: t for t in json.loads(exchange.raw(exchange.delivered))["tools"]}
        return tools, conn.hints()


def zones(arguments: dict) -> list[str]:
    return [v for k, v in arguments.items() if "timezone" in k]


def test_a_quoted_example_that_is_no_time_zone_is_never_sent_as_a_valid_one(time_server):
    tools, hints = time_server
    schema = tools["convert_time"]["inputSchema"]
    assert "America/San_Francisco" in schema["properties"]["target_timezone"]["description"]  # what is tested
    maker = ArgumentMaker(random.Random(3), hints)
    sent = {zone for _ in range(60) for zone in zones(maker.valid(schema, "convert_time"))}
    assert sent and sent <= zoneinfo.available_timezones(), sorted(sent - zoneinfo.available_timezones())
    # The quoted examples that are real zones are still used, not only the entry's hints.
    assert "UTC" in sent


def test_an_example_that_is_not_what_it_claims_serves_an_invalid_call(time_server):
    tools, hints = time_server
    schema = tools["convert_time"]["inputSchema"]
    maker = ArgumentMaker(random.Random(3), hints)
    assert maker.applies("not_found", schema, "convert_time")
    bad = maker.invalid("not_found", schema, "convert_time")
    assert bad["target_timezone"] == "America/San_Francisco"
    assert bad["source_timezone"] in zoneinfo.available_timezones()  # one thing wrong at a time


# mcp-server-git's schemas (as its tools/list gives them) and answers, as the git server wrote them in an episode.
DIFF = {"type": "object", "required": ["repo_path", "target"], "properties": {
    "repo_path": {"type": "string"}, "target": {"type": "string"}}}
LOG = {"type": "object", "required": ["repo_path", "start_timestamp"], "properties": {
    "repo_path": {"type": "string"}, "start_timestamp": {"anyOf": [{"type": "string"}, {"type": "null"}],
                                                          "description": "Start timestamp for filtering commits."}}}
HEAD_ID, PARENT_ID = "81883245a53415fee43bb7268c4ae6f4df9e1526", "0ad8608b2d53a61c8738393cf39e859906c7b88b"
DIFF_ANSWER = {"content": [{"type": "text", "text": "Diff with main:\ndiff --git a/calc.py b/calc.py\n"
                            "index 4693ad3..08b1076 100644\n--- a/calc.py\n+++ b/calc.py\n"}]}
LOG_ANSWER = {"content": [{"type": "text", "text": f"Commit history:\nCommit: {HEAD_ID}\nAuthor: Worldline\n\n"
                           f"Commit: {PARENT_ID}\nAuthor: Worldline\n"}]}


def test_a_revision_is_one_the_repository_has():
    # git_diff met "not enough parent commits" for the hinted HEAD~1 on a one-commit history (4 of 10 episodes of 24
    # steps) and exit code 129 for a diff's blob ids taken for commits (7).
    maker = ArgumentMaker(random.Random(3), {"repo_path": ["/tmp/workspace/repo"], "target": ["main", "HEAD~1"]})
    maker.remember(DIFF_ANSWER)
    targets = {maker.valid(DIFF, "git_diff")["target"] for _ in range(60)}
    assert targets == {"main"}
    maker.remember(LOG_ANSWER)
    targets = {maker.valid(DIFF, "git_diff")["target"] for _ in range(60)}
    assert targets == {"main", HEAD_ID, PARENT_ID}
    maker.history = 2  # the policy's count of the commits the last listing showed, none changed since
    assert "HEAD~1" in {maker.valid(DIFF, "git_diff")["target"] for _ in range(60)}
    # "for filtering commits" asks for a time, not a commit id.
    stamps = {maker.valid(LOG, "git_log")["start_timestamp"] for _ in range(60)}
    assert not stamps & {HEAD_ID, PARENT_ID}
