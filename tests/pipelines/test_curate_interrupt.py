"""Ctrl-C during `worldline curate`: the run stops at once, its worker processes with it, and a second run of the same
command starts over. Before, a Ctrl-C that came while the worker processes were starting hung the run for good."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.bench_curate import generate
from tests.interrupts import with_default_sigint

REPO = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below pid."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        pending += children.get(child, [])
        try:
            found.append((child, (Path("/proc") / str(child) / "cmdline").read_bytes().decode(errors="replace")))
        except OSError:
            continue
    return found


def _curate(raw: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output", str(out),
            "--keep-stand-ins", "--direct_num_workers=2", "--direct_running_mode=multi_processing"]


# A terminal sends Ctrl-C to its whole foreground process group, the command and its workers; `kill -INT` reaches
# the command alone (that one hung: its main thread waited inside gRPC and never got to handle the signal).
@pytest.mark.parametrize("to_group", [True, False], ids=["process group", "command only"])
def test_ctrl_c_while_workers_start_stops_the_run_and_a_rerun_starts_over(tmp_path, to_group):
    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(raw, 2000)
    # SIGINT back to its default in the child, as under a terminal: a suite started in the background of a shell
    # inherits it ignored, and a Python started so never turns it into KeyboardInterrupt.
    run = subprocess.Popen(_curate(raw, out), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, preexec_fn=with_default_sigint)
    deadline = time.monotonic() + 60
    workers = []
    while not workers and time.monotonic() < deadline and run.poll() is None:
        workers = [pid for pid, command in _descendants(run.pid) if "sdk_worker_main" in command]
        time.sleep(0.05)
    assert workers, "no worker process started"
    (os.killpg if to_group else os.kill)(run.pid, signal.SIGINT)
    try:
        _, stderr = run.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        raise AssertionError("curate did not stop within 30 s of Ctrl-C")
    assert run.returncode == 130, stderr[-2000:]
    assert "Interrupted: the workers are stopped; nothing was published" in stderr
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()
                and "sdk_worker_main" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
    assert not (out / "stats.json").exists() and not (out / ".work").exists()

    again = subprocess.run(_curate(raw, out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (out / "stats.json").is_file()


def test_a_mistyped_option_stops_the_run_before_any_work(tmp_path):
    raw = tmp_path / "raw"
    generate(raw, 20)
    mistyped = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                               str(tmp_path / "out"), "--near-dup-treshold", "0.5"], cwd=REPO, capture_output=True,
                              text=True, timeout=120)
    assert mistyped.returncode == 2
    assert "no such option --near-dup-treshold (did you mean --near-dup-threshold?)" in mistyped.stderr
    assert not (tmp_path / "out").exists()
