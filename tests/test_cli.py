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


def test_curate_refuses_an_unknown_synthesizer_and_an_unreachable_endpoint_before_any_work(tmp_path):
    raw = tmp_path / "raw"
    (raw / "transitions").mkdir(parents=True)
    unknown = run("curate", "--input", str(raw), "--output", str(tmp_path / "a"), "--reasoning", "gpt")
    assert unknown.returncode != 0 and "'gpt' is not one of grounded, llm" in unknown.stderr
    unreachable = run("curate", "--input", str(raw), "--output", str(tmp_path / "b"), "--reasoning", "llm",
                      "--llm-model", "m", "--llm-endpoint", "http://127.0.0.1:9/v1")
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    assert "cannot reach http://127.0.0.1:9/v1" in unreachable.stderr and "--no-llm-check" in unreachable.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
