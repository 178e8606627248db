"""Help that reads: each collector listed with its own description, arguments with readable names, and
`sandbox list` saying so when there is nothing to list."""

import importlib
import subprocess
import sys
from importlib.metadata import entry_points

from click.testing import CliRunner

from pipelines.cli import build_cli
from pipelines.commands.docstrings import summary


def flat(text: str) -> str:
    return "".join(text.split())  # help wraps lines, also after a hyphen


def test_collect_help_shows_each_collectors_own_description():
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Collect raw episodes with the" not in result.stdout
    for ep in entry_points(group="worldline.collectors"):
        module, _, name = ep.value.partition(":")
        doc = getattr(importlib.import_module(module), name).__doc__
        first = flat(doc.split("\n\n")[0])
        assert first in flat(result.stdout), (ep.name, first)


def test_collect_help_imports_no_collector():
    code = ("import sys; from pipelines.cli import main; sys.argv = ['worldline', 'collect', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('collectors')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    # collectors.registry holds only the entry point group's name (it imports nothing).
    assert result.stdout.strip().splitlines()[-1] == "['collectors', 'collectors.registry']", result.stdout


def test_summary_follows_a_reexport_and_survives_a_missing_module():
    assert summary("collectors.android:collect_command").startswith("Record episodes from an Android device")
    assert summary("no_such_package.module:command") is None
    assert summary("collectors.web:no_such_function") is None


def test_arguments_have_readable_names():
    for args, names in ((["pack", "--help"], ["COLLECTION"]), (["query", "--help"], ["FOLDER", "SQL"])):
        result = CliRunner().invoke(build_cli(), args)
        assert result.exit_code == 0, result.output
        usage = next(line for line in result.output.splitlines() if "Usage:" in line)
        assert all(name in usage for name in names) and "{collection}" not in usage and "{folder}" not in usage


def test_sandbox_list_says_when_none_are_running(monkeypatch):
    import sandboxes.container_registry

    monkeypatch.setattr(sandboxes.container_registry, "list_containers", lambda client=None: [])
    result = CliRunner().invoke(build_cli(), ["sandbox", "list"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "no worldline containers are running" in result.stderr
    monkeypatch.setattr(sandboxes.container_registry, "list_containers",
                        lambda client=None: [{"id": "0123456789abcdef", "name": "worldline-x", "labels": {}}])
    result = CliRunner().invoke(build_cli(), ["sandbox", "list"])
    assert result.stdout.startswith("0123456789ab\tworldline-x") and "no worldline" not in result.stderr


def test_collect_search_points_to_the_collector_that_records_it():
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "search", "--out", "x"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "worldline collect mcp --tasks tasks/search.yaml" in result.stderr and "Traceback" not in result.stderr


def test_benchmarks_help_lists_the_benchmarks():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "unknown benchmark" not in result.stderr
    for name in ("curate", "formats", "masking", "minhash"):
        assert f"  {name} " in result.stdout
