"""Helpers shared by the MCP tests (a uniquely named module: tests/ folders are not packages)."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
SERVERS_FILE = ROOT / "tasks" / "mcp_servers.yaml"


def result_of(exchange) -> dict:
    return json.loads(exchange.raw(exchange.delivered))


def collect(*args, check=True):
    """`worldline collect mcp` in a process of its own, on the shipped servers file."""
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "mcp", "--servers", str(SERVERS_FILE),
                           *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def rows(out, domain="mcp"):
    return {path.stem: pq.read_table(path).to_pylist()
            for path in sorted((out / "transitions" / domain).glob("*.parquet"))}
