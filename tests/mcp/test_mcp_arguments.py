"""Schema-driven arguments checked against the real servers' own input schemas with a JSON Schema validator."""

import json
import random

import jsonschema
import pytest

from collectors.mcp_explore import ArgumentMaker
from sandboxes.mcp_servers import ServerConnection


@pytest.fixture(scope="module")
def tools(servers):
    listed = []
    for name in ("everything", "filesystem", "memory"):
        with ServerConnection(servers[name]) as conn:
            exchange, _ = conn.request("tools/list")
            listed += [(name, tool) for tool in json.loads(exchange.raw(exchange.delivered))["tools"]]
    return listed


def test_valid_arguments_satisfy_the_schema_and_invalid_ones_do_not(tools):
    maker = ArgumentMaker(random.Random(1), hints={})
    invalid_caught = 0
    for server, tool in tools:
        schema = tool["inputSchema"]
        for _ in range(5):
            jsonschema.validate(maker.make(schema, valid=True), schema)
        if schema.get("properties"):
            bad = maker.make(schema, valid=False)
            invalid_caught += not jsonschema.Draft202012Validator(schema).is_valid(bad)
    assert invalid_caught >= 0.8 * sum(1 for _, t in tools if t["inputSchema"].get("properties"))


def test_returned_values_are_reused():
    maker = ArgumentMaker(random.Random(2), hints={"path": ["/tmp/workspace"]})
    maker.remember({"content": [{"type": "text", "text": json.dumps([{"name": "Ada Lovelace", "entityType": "p"}])}]})
    maker.remember({"content": [{"type": "text", "text": "Committed a41da774f4b1 to /tmp/workspace/notes/a.txt"}]})
    names = {maker.value("entityName", {"type": "string"}) for _ in range(30)}
    revisions = {maker.value("revision", {"type": "string"}) for _ in range(30)}
    paths = {maker.value("path", {"type": "string"}) for _ in range(30)}
    assert "Ada Lovelace" in names and "a41da774f4b1" in revisions and "/tmp/workspace/notes/a.txt" in paths
