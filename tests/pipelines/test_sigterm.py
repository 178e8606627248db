"""SIGTERM (timeout(1), docker stop, Kubernetes) stops curate and export as Ctrl-C does: a message, their work and
staging folders removed, exit code 143. It used to end them at once, silently, leaving `.work` and `.curate.lock`
in the curate output and the hidden staging folder beside an export's --out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_curate import generate
from tests.pipelines.test_export_killed import curated as curated_transitions
from tests.pipelines.test_export_killed import export_command

REPO = Path(__file__).resolve().parents[2]


def terminate_when(command: list[str], ready, deadline_s: float = 120) -> subprocess.CompletedProcess:
    """Start `command`, send it SIGTERM once `ready()` holds, and return how it ended."""
    run = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + deadline_s
    while not ready():
        assert run.poll() is None, f"the command ended before it could be stopped: {run.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "the command never got to the point it is stopped at"
        time.sleep(0.01)
    run.send_signal(signal.SIGTERM)
    try:
        stdout, stderr = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        run.kill()
        raise AssertionError("the command did not stop within 60 s of SIGTERM")
    return subprocess.CompletedProcess(command, run.returncode, stdout, stderr)


def test_sigterm_stops_curate_cleans_up_and_says_so(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(raw, 3000)
    command = [sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output", str(out),
               "--keep-stand-ins"]

    ended = terminate_when(command, lambda: any((out / ".work").glob("*/*")))

    assert ended.returncode == 143, ended.stderr[-2000:]
    assert ("Terminated (SIGTERM): the workers are stopped; nothing was published: run the same command again"
            in ended.stderr), ended.stderr[-2000:]
    assert "Traceback" not in ended.stderr
    assert sorted(os.listdir(out)) == []  # no .work, no .curate.lock
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no staging folder beside


def test_sigterm_stops_export_cleans_up_and_keeps_the_earlier_export(tmp_path):
    source, parent = curated_transitions(tmp_path / "curated"), tmp_path / "exports"
    out = parent / "atif"
    first = subprocess.run(export_command(source, out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    earlier = sorted(str(path.relative_to(out)) for path in out.rglob("*"))

    ended = terminate_when([*export_command(source, out), "--overwrite"],
                           lambda: any(folder.is_dir() and any(folder.iterdir())
                                       for folder in parent.glob(".atif.export-*")))

    assert ended.returncode == 143, ended.stderr[-2000:]
    assert f"Terminated (SIGTERM): the export stopped; its unfinished files are removed and {out} is as it was" \
        in ended.stderr, ended.stderr[-2000:]
    assert "Traceback" not in ended.stderr
    assert os.listdir(parent) == ["atif"]  # the staging folder is gone
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*")) == earlier
