"""The GC pause around a chunk or a prepared file must never leave collection switched differently than it was."""

import gc

import pytest

from transforms.memory import gc_paused


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
