"""A SIGTERM (or Ctrl-C) that arrives once curate or export has published its output does not stop the command: the
output is complete, so it says so, finishes (summary printed) and exits 0. It exited 143 there (a fault-injection
audit), which a supervisor reads as a failed run although the output was whole.

The signal is sent by the command to itself right after the real publish step returns (a wrapper around the module
function, run in a fresh interpreter as the CLI): a signal sent from outside cannot be timed into that window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipelines.curation_raw_collection import write_raw_collection
from tests.pipelines.test_export_killed import curated as curated_transitions
from tests.interrupts import with_default_sigint
from tests.pipelines.test_export_killed import export_command

REPO = Path(__file__).resolve().parents[2]

# Runs `worldline ARGS...` with MODULE.FUNCTION wrapped to send SIGNAL to this process once it has returned.
SIGNAL_AFTER = """
import importlib, os, signal, sys
module_name, function_name, signal_name, *args = sys.argv[1:]
module = importlib.import_module(module_name)
real = getattr(module, function_name)
def then_signal(*a, **k):
    result = real(*a, **k)
    os.kill(os.getpid(), getattr(signal, signal_name))
    return result
setattr(module, function_name, then_signal)
sys.argv = ["worldline", *args]
from pipelines.cli import main
main()
"""


def signalled_after(module: str, function: str, signal_name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SIGNAL_AFTER, module, function, signal_name, *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, preexec_fn=with_default_sigint)


@pytest.mark.parametrize("signal_name, said", [("SIGTERM", "Terminated (SIGTERM)"), ("SIGINT", "Interrupted")])
def test_curate_signalled_after_publishing_finishes(tmp_path, signal_name, said):
    raw, out = tmp_path / "raw", tmp_path / "out"
    write_raw_collection(raw)

    ended = signalled_after("pipelines.curate", "publish", signal_name, "curate", "--input", raw, "--output", out)

    assert ended.returncode == 0, ended.stderr[-2000:]
    assert f"{said}: this run's output is published whole in {out}; finishing" in ended.stderr, ended.stderr
    assert "curated ->" in ended.stdout  # the summary table
    assert json.loads((out / "stats.json").read_text())["balanced"]
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["out", "raw"]  # the staging folder is removed
    assert ".curate.lock" not in os.listdir(out)


def test_export_signalled_after_publishing_finishes(tmp_path):
    source, out = curated_transitions(tmp_path / "curated"), tmp_path / "exports" / "atif"
    first = subprocess.run(export_command(source, out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]

    ended = signalled_after("pipelines.commands.export", "_replace_folder", "SIGTERM",
                            *export_command(source, out)[3:], "--overwrite")

    assert ended.returncode == 0, ended.stderr[-2000:]
    assert f"Terminated (SIGTERM): this export is published whole in {out}; finishing" in ended.stderr
    assert f"{out}: " in ended.stdout and "trajectories" in ended.stdout
    assert [entry.name for entry in out.parent.iterdir()] == ["atif"]  # the earlier export, swapped out, is removed
