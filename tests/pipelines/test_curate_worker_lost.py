"""A worker process of `worldline curate` killed by SIGKILL, as the kernel's out-of-memory killer does, ends the run
with one line saying so, its other workers stopped and the earlier output kept. Before, the run waited for the dead
worker for ever at ~0 CPU (4 of 4 trials): Beam raised the worker's exit in a thread of its own, and nothing watched
it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.bench_curate import generate
from tests.pipelines.test_curate_interrupt import _descendants

REPO = Path(__file__).resolve().parents[2]


def _worker_processes(pid: int) -> list[int]:
    """The Python worker processes below `pid`; Beam starts each through /bin/sh, whose command line names the
    module too."""
    return [child for child, command in _descendants(pid)
            if "sdk_worker_main" in command and not command.startswith(("/bin/sh", "sh"))]


# Starting: the run waited for the worker to connect. Working: the runner's threads reading its streams printed
# 3 tracebacks (59 lines) as well, before the line saying what happened.
@pytest.mark.parametrize("when", ["starting", "working"])
def test_a_worker_killed_by_the_oom_killer_ends_the_run_with_one_line_and_keeps_the_earlier_output(tmp_path, when):
    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(raw, 2000)
    out.mkdir()
    earlier = {"stats.json": '{"earlier": true}\n', "README.md": "earlier card\n"}
    for name, text in earlier.items():
        (out / name).write_text(text)
    run = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output", str(out),
                            "--overwrite", "--keep-stand-ins", "--direct_num_workers=2",
                            "--direct_running_mode=multi_processing"],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    workers = []
    while len(workers) < 2 and time.monotonic() < deadline and run.poll() is None:
        workers = _worker_processes(run.pid)
        time.sleep(0.05)
    assert len(workers) == 2, f"the worker processes did not start: {run.communicate()[1][-2000:]}"
    while when == "working" and not any((out / ".work").glob("*/*")):
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before its worker could be killed"
        time.sleep(0.01)
    os.kill(workers[0], signal.SIGKILL)
    try:
        _, stderr = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate()
        raise AssertionError("curate still ran 60 s after its worker process was killed")

    assert run.returncode == 1, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if not line.startswith(("Curating ", "Killed"))]  # sh's line
    assert errors == [f"Error: a curation worker process was killed (SIGKILL, exit 137), most likely by the kernel's "
                      f"out-of-memory killer; the other workers are stopped; nothing was published ({out} holds the "
                      "earlier output, whole): give the run more memory, or fewer worker processes "
                      "(--direct_num_workers=1: each holds bundles of its own), and run it again."], stderr[-2000:]
    assert "Traceback" not in stderr
    assert not [pid for pid in workers if Path(f"/proc/{pid}/cmdline").exists()
                and b"sdk_worker_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]  # the other one is killed too
    assert sorted(os.listdir(out)) == sorted(earlier)  # no .work, no .curate.lock, nothing of this run's
    assert {name: (out / name).read_text() for name in earlier} == earlier
    assert sorted(os.listdir(tmp_path)) == ["out", "raw"]  # the staging folder is removed
