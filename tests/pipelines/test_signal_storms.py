"""SIGTERM at every point of a command's run from its publish until its process is gone, and in its cleanup.

From the publish on, curate, export and pack finish and exit 0, saying their output is whole: a signal between the
blocks that ignored it, or while the interpreter exited (1-2 s for curate), ended them with 143 or -15 (8 of 12 and 7
of 7 in a fault-injection audit) with the output complete. And a curate already stopping on a SIGTERM finishes its
cleanup, whatever signal lands in it: a second one broke into it and left the work folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_curate import generate
from tests.collectors.test_pack import all_rows, collection
from tests.pipelines.curation_raw_collection import write_raw_collection
from tests.pipelines.test_export_killed import curated as curated_transitions
from tests.pipelines.test_export_killed import export_command

REPO = Path(__file__).resolve().parents[2]

# `worldline ARGS...` with MODULE.FUNCTION wrapped so that, once it returns, the process sends itself SIGTERM and a
# shell sends it one every 10 ms until it is gone: every later point of the run, its exit included, gets a signal.
STORM_AFTER = """
import importlib, os, signal, subprocess, sys
module_name, function_name, *args = sys.argv[1:]
module = importlib.import_module(module_name)
real = getattr(module, function_name)
def then_storm(*a, **k):
    result = real(*a, **k)
    subprocess.Popen(["sh", "-c", f"while kill -TERM {os.getpid()} 2>/dev/null; do sleep 0.01; done"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.kill(os.getpid(), signal.SIGTERM)  # the shell's first one may come after a quick exit
    return result
setattr(module, function_name, then_storm)
sys.argv = ["worldline", *args]
from pipelines.cli import main
main()
"""


def storm_after(module: str, function: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", STORM_AFTER, module, function, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_curate_signalled_from_its_publish_to_its_exit_finishes(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    write_raw_collection(raw)

    ended = storm_after("pipelines.curate", "publish", "curate", "--input", raw, "--output", out)

    assert ended.returncode == 0, ended.stderr[-2000:]
    assert f"Terminated (SIGTERM): this run's output is published whole in {out}; finishing" in ended.stderr
    assert "Traceback" not in ended.stderr and "stopped" not in ended.stderr
    assert "curated ->" in ended.stdout  # the summary table
    assert json.loads((out / "stats.json").read_text())["balanced"]
    assert sorted(os.listdir(tmp_path)) == ["out", "raw"] and ".curate.lock" not in os.listdir(out)


def test_export_signalled_from_its_publish_to_its_exit_finishes(tmp_path):
    source, out = curated_transitions(tmp_path / "curated"), tmp_path / "exports" / "atif"

    ended = storm_after("pipelines.commands.export", "_replace_folder", *export_command(source, out)[3:])

    assert ended.returncode == 0, ended.stderr[-2000:]
    assert f"Terminated (SIGTERM): this export is published whole in {out}; finishing" in ended.stderr
    assert "Traceback" not in ended.stderr and "stopped" not in ended.stderr
    assert f"{out}: " in ended.stdout and "trajectories" in ended.stdout
    assert os.listdir(out.parent) == ["atif"] and any(out.rglob("*.json"))


def test_pack_signalled_from_its_last_pack_to_its_exit_finishes(tmp_path):
    collection(tmp_path)
    before = all_rows(tmp_path)

    ended = storm_after("collectors.pack", "pack_collection", "pack", tmp_path)

    assert ended.returncode == 0, ended.stderr[-2000:]
    assert "Terminated (SIGTERM): every pack is published whole; finishing" in ended.stderr
    assert "Traceback" not in ended.stderr and "the pack stopped" not in ended.stderr
    assert "packed 4 episodes (14 transitions) into 1 files" in ended.stdout
    assert all_rows(tmp_path) == before


# `worldline ARGS...` with pipelines.curate.remove_work_dir wrapped to send this process SIGTERM first: a second
# signal that lands in the cleanup of a run the first one stopped.
TERM_IN_CLEANUP = """
import os, signal, sys
import pipelines.curate as curate
real = curate.remove_work_dir
def signalled_first(*a, **k):
    os.kill(os.getpid(), signal.SIGTERM)
    return real(*a, **k)
curate.remove_work_dir = signalled_first
sys.argv = ["worldline", *sys.argv[1:]]
from pipelines.cli import main
main()
"""


def test_curate_stopping_on_sigterm_finishes_its_cleanup_whatever_signals_follow(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(raw, 3000)
    run = subprocess.Popen([sys.executable, "-c", TERM_IN_CLEANUP, "curate", "--input", str(raw), "--output", str(out),
                            "--keep-stand-ins"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any((out / ".work").glob("*/*")):
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before it could be stopped"
        time.sleep(0.01)
    run.send_signal(signal.SIGTERM)
    try:
        _, said = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        run.kill()
        raise AssertionError("curate did not stop within 60 s of SIGTERM")

    assert sorted(os.listdir(out)) == []  # no .work (the second signal stopped its removal), no .curate.lock
    assert sorted(os.listdir(tmp_path)) == ["out", "raw"]  # no staging folder beside
    assert run.returncode == 143, said[-2000:]
    assert said.count("Terminated (SIGTERM): the workers are stopped; nothing was published") == 1, said[-2000:]
    assert "Terminated (SIGTERM): the run is already stopping" in said
    assert "Traceback" not in said
