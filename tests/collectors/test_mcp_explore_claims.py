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
