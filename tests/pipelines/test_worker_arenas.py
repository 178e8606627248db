"""Curation's worker processes start with glibc's arenas capped (MALLOC_ARENA_MAX=2, pipelines/local_runner.py):
h238 measured 23-46 MB less a worker at 1M transitions. The cap must reach the worker processes, which Beam starts
with the runner's environment, and a value the user set must be kept."""

import os
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
