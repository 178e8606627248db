"""Curation's worker processes start with glibc's arenas capped (MALLOC_ARENA_MAX=2, pipelines/local_runner.py):
h238 measured 23-46 MB less a worker at 1M transitions. The cap must reach the worker processes, which Beam starts
with the runner's environment, and a value the user set must be kept. The runner process itself is capped with
mallopt, since it read its environment before the cap was set."""

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.local_runner import MALLOC_ARENA_MAX, run_interruptibly


class _RecordArenas(beam.DoFn):
    """Writes the worker process's pid and its MALLOC_ARENA_MAX into a folder the test reads."""

    def __init__(self, folder: str):
        self.folder = folder

    def process(self, element):
        Path(self.folder, f"{os.getpid()}-{element}").write_text(os.environ.get(MALLOC_ARENA_MAX, "unset"))
        yield element


@pytest.mark.parametrize("users, expected", [(None, "2"), ("4", "4")])
def test_worker_processes_start_with_the_arena_cap(tmp_path, monkeypatch, users, expected):
    monkeypatch.setenv(MALLOC_ARENA_MAX, "placeholder")  # so that teardown restores this process's own value
    if users is None:
        monkeypatch.delenv(MALLOC_ARENA_MAX)
    else:
        monkeypatch.setenv(MALLOC_ARENA_MAX, users)
    pipeline = beam.Pipeline(options=PipelineOptions(["--direct_num_workers=2",
                                                      "--direct_running_mode=multi_processing"]))
    _ = (pipeline | beam.Create(range(4)) | beam.Reshuffle() | beam.ParDo(_RecordArenas(str(tmp_path))))
    run_interruptibly(pipeline)

    seen = {path.name.split("-")[0]: path.read_text() for path in tmp_path.iterdir()}
    assert str(os.getpid()) not in seen, "the DoFn ran in the test's process, not in a worker process"
    assert seen and set(seen.values()) == {expected}, seen


# Run in a process of its own, whose arenas no earlier test made: runs a pipeline through run_interruptibly, then
# has 12 threads allocate at once and prints malloc_stats() (one "Arena N:" block per arena, on stderr). glibc gives
# each new thread that allocates an arena of its own while it has fewer than its limit (16 on 2 cores), so the count
# shows whether the cap reached this process's allocator.
_RUNNER_ARENAS = """
import ctypes, sys, threading
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from pipelines.local_runner import run_interruptibly

pipeline = beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1", "--direct_running_mode=in_memory"]))
_ = pipeline | beam.Create([1, 2]) | beam.Map(lambda x: x + 1)
run_interruptibly(pipeline)
started, done = threading.Barrier(13), threading.Event()
def allocate():
    held = [bytearray(4096) for _ in range(64)]
    started.wait()
    done.wait()
threads = [threading.Thread(target=allocate) for _ in range(12)]
for thread in threads:
    thread.start()
started.wait()
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()
done.set()
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_the_runner_process_itself_is_capped_to_two_arenas():
    """The runner process (FnApiRunner's, which holds the shuffles) read MALLOC_ARENA_MAX before run_interruptibly
    set it, so run_interruptibly caps its arenas with mallopt (h246: 300k runner 196 -> 179 MB anonymous). Checks
    the allocator's own count of arenas after a run, in a process started without MALLOC_ARENA_MAX."""
    env = {key: value for key, value in os.environ.items() if key != MALLOC_ARENA_MAX}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[2]), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", _RUNNER_ARENAS], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    arenas = re.findall(r"^Arena \d+:", done.stderr, re.MULTILINE)
    assert 1 <= len(arenas) <= 2, done.stderr[-2000:]
