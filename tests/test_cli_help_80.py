"""Every command's --help reads at 80 columns, in one style (click's plain help): option names and defaults are
never cut, nothing is drawn in boxes, and the options curate checks itself say they are required."""

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from pipelines.cli import build_cli

REPO = Path(__file__).resolve().parents[1]


def every_command() -> list[tuple[list[str], object]]:
    """(argv, command) for the root, each command, group and collector, and each group's subcommands."""
    root = build_cli()
    ctx = click.Context(root, info_name="worldline")
    found: list[tuple[list[str], object]] = [([], None)]
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        found.append(([name], command))
        if hasattr(command, "list_commands"):  # typer vendors its own click: not a click.Group
            sub_ctx = click.Context(command, info_name=name, parent=ctx)
            found += [([name, sub], command.get_command(sub_ctx, sub)) for sub in command.list_commands(sub_ctx)]
    return found


def help_at_80(argv: list[str]) -> str:
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", *argv, "--help"], cwd=REPO, text=True,
                            capture_output=True, timeout=120, env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("argv,command", every_command(), ids=lambda value: " ".join(value)
                         if isinstance(value, list) else "")
def test_help_is_plain_and_fits_80_columns(argv, command):
    text = help_at_80(argv)
    assert text.startswith("Usage: worldline"), text[:300]
    assert "…" not in text and not set("╭│╰─") & set(text), text
    assert all(len(line) <= 80 for line in text.splitlines()), max(text.splitlines(), key=len)
    for param in (command.params if command is not None else []):
        for name in (*param.opts, *param.secondary_opts):
            if name.startswith("--"):
                assert re.search(rf"(^|[\s/,]){re.escape(name)}($|[\s,=])", text, re.M), (name, text)


def test_curate_help_marks_input_and_output_required():
    lines = help_at_80(["curate"]).splitlines()
    for option in ("--input", "--output"):
        start = next(i for i, line in enumerate(lines) if line.strip().startswith((option + " ", option + ",")))
        entry = " ".join([lines[start], *(line for line in lines[start + 1:start + 3] if line.startswith(" " * 10))])
        assert "[required]" in entry, entry


def test_worldline_alone_prints_its_help():
    result = subprocess.run([sys.executable, "-m", "pipelines.cli"], cwd=REPO, text=True, capture_output=True,
                            timeout=120)
    shown = result.stdout + result.stderr
    assert "Missing command" not in shown
    assert "Usage: worldline" in shown and "Commands:" in shown and "curate" in shown
