"""Memory housekeeping for the curation steps, whose per-row objects are many, short-lived and free of cycles."""

from __future__ import annotations

import gc
from contextlib import contextmanager

import pyarrow as pa


@contextmanager
def gc_paused():
    """Cyclic garbage collection off for a block, back on after it if it was on. Preparing a chunk or finishing a
    prepared file allocates a few container objects per row (row dicts, span lists) that live until the file is
    written: every ~700 of them start a young collection, and as they are promoted a full one, which walks the
    worker's whole heap (Beam and pyarrow included): ~15% of Prepare's CPU, to find no garbage. The rows hold no
    cycles; their memory is freed by reference counting either way, and a cycle made meanwhile is collected once
    collection is back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def release_arrow_memory() -> None:
    """Hand the memory Arrow freed back to the system. Arrow's default pool (mimalloc in the pyarrow wheels) keeps
    freed pages resident for reuse; a step that builds and writes ~30 MB of tables per file then holds its largest
    file's worth on top of what it uses."""
    pa.default_memory_pool().release_unused()


@contextmanager
def heap_frozen():
    """Everything alive on entry (the ~200k objects of Beam's and pyarrow's imports, the pipeline graph) moved out
    of the collector's reach for a block, back under it after. A full collection in the block, outside the
    gc_paused steps, then walks only what the block made: ~0.1 s less a collection. Left alone if something is
    frozen already: unfreezing is all or nothing, and the caller froze those objects for a reason of its own."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
