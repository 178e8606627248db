"""The GC pause around a chunk or a prepared file must never leave collection switched differently than it was;
a worker's heap is frozen in Beam's worker processes only, never in a caller's own."""

import gc
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.memory import freeze_worker_heap, gc_paused, heap_frozen


@pytest.fixture
def restore_gc():
    was_enabled = gc.isenabled()
    yield
    (gc.enable if was_enabled else gc.disable)()


def test_gc_paused_switches_collection_off_inside_and_back_on_after(restore_gc):
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_gc_paused_turns_collection_back_on_when_the_block_raises(restore_gc):
    gc.enable()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("a chunk failed")
    assert gc.isenabled()


def test_gc_paused_leaves_collection_off_if_it_was_off(restore_gc):
    gc.disable()
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.fixture
def nothing_frozen():
    assert gc.get_freeze_count() == 0
    yield
    gc.unfreeze()


def under_collection(obj) -> bool:
    """Whether the collector would walk obj: frozen objects are in no generation."""
    return any(item is obj for item in gc.get_objects())


def test_heap_frozen_takes_what_exists_out_of_collection_for_the_block_only(nothing_frozen):
    made_before = []
    with heap_frozen():
        made_inside = []
        assert not under_collection(made_before) and under_collection(made_inside)
        assert gc.get_freeze_count() > 0
    assert under_collection(made_before) and gc.get_freeze_count() == 0


def test_heap_frozen_unfreezes_when_the_block_raises(nothing_frozen):
    with pytest.raises(ValueError), heap_frozen():
        raise ValueError("the run failed")
    assert gc.get_freeze_count() == 0


def test_heap_frozen_leaves_a_callers_frozen_heap_frozen(nothing_frozen):
    # The freeze count is no fixed point to compare with: a frozen object freed by reference counting meanwhile
    # (CI once lost one) lowers it. Whether the caller's own object stayed frozen is what matters.
    frozen_by_caller = []
    gc.freeze()
    with heap_frozen():
        pass
    assert not under_collection(frozen_by_caller) and gc.get_freeze_count() > 0


class FreezeCountAfterSetup(beam.DoFn):
    """Calls freeze_worker_heap in setup, as the curation DoFns do, and writes what the process froze to a file:
    a worker process's state is seen from the test only through what it writes."""

    def __init__(self, report_path: str):
        self.report_path = report_path

    def setup(self):
        freeze_worker_heap()

    def process(self, element):
        Path(self.report_path).write_text(str(gc.get_freeze_count()))
        yield element


def freeze_count_in_a_run(report_path: Path, beam_args: list[str]) -> int:
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner", *beam_args])) as pipeline:
        _ = pipeline | beam.Create([0]) | beam.ParDo(FreezeCountAfterSetup(str(report_path)))
    return int(report_path.read_text())


def test_freeze_worker_heap_freezes_a_beam_worker_process(tmp_path):
    # One worker process, started as FnApiRunner starts them (and as Dataflow's container boot does): a real run.
    frozen = freeze_count_in_a_run(tmp_path / "count", ["--direct_num_workers=1",
                                                        "--direct_running_mode=multi_processing"])
    assert frozen > 10_000  # Beam's imports alone are ~200k objects


def test_freeze_worker_heap_leaves_an_in_process_runners_caller_alone(nothing_frozen, tmp_path):
    assert freeze_count_in_a_run(tmp_path / "count", ["--direct_running_mode=in_memory"]) == 0
    assert gc.get_freeze_count() == 0


def test_freeze_worker_heap_leaves_a_process_run_as_another_module_alone():
    # A child of its own, so that a wrong freeze could not outlive the test; its __main__ is not Beam's worker.
    script = "import gc; from transforms.memory import freeze_worker_heap; freeze_worker_heap(); " \
             "print(gc.get_freeze_count())"
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "0"
