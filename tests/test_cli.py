"""The CLI lists commands and collectors without importing them, and loads a collector when it is named."""

import subprocess
import sys
from importlib.metadata import entry_points

WORLDLINE = [sys.executable, "-m", "pipelines.cli"]


def run(*args):
    return subprocess.run([*WORLDLINE, *args], capture_output=True, text=True, timeout=120)


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for name in ("collect", "curate", "query", "export", "sandbox"):
        assert name in result.stdout


def test_collect_lists_every_registered_collector():
    result = run("collect", "--help")
    assert result.returncode == 0, result.stderr
    names = {ep.name for ep in entry_points(group="worldline.collectors")}
    assert {"terminal", "web", "mcp", "swe", "android", "os"} <= names
    for name in names:
        assert name in result.stdout


def test_unknown_collector_is_a_clear_error():
    result = run("collect", "no-such-domain", "--help")
    assert result.returncode != 0
    assert "no-such-domain" in result.stderr

