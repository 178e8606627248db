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



def test_curate_and_export_take_both_names_of_the_output_option(tmp_path):
    # collect and export say --out, curate --output: a user typing the other got "no such option".
    missing = tmp_path / "no-such-collection"
    for args in (["curate", "--input", str(missing), "--out", str(tmp_path / "shards")],
                 ["export", "atif", "--input", str(missing), "--output", str(tmp_path / "atif")]):
        result = run(*args)
        message = " ".join(result.stderr.split())
        assert result.returncode == 2 and "no such option" not in message, message
        assert "does not exist" in message, message
