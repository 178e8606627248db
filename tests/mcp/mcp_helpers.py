"""Helpers shared by the MCP tests (a uniquely named module: tests/ folders are not packages)."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVERS_FILE = ROOT / "tasks" / "mcp_servers.yaml"


def result_of(exchange) -> dict:
    return json.loads(exchange.raw(exchange.delivered))
