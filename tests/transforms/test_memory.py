"""The GC pause around a chunk or a prepared file must never leave collection switched differently than it was."""

import gc

import pytest

from transforms.memory import gc_paused, heap_frozen


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
