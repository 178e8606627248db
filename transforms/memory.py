"""Memory housekeeping for the curation steps, whose per-row objects are many, short-lived and free of cycles."""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager

import pyarrow as pa

# What an SDK worker process runs as __main__: FnApiRunner's worker processes (multi_processing) and the Dataflow
# container's boot both start `python -m` this module.
SDK_WORKER_MODULE = "apache_beam.runners.worker.sdk_worker_main"


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


def freeze_worker_heap() -> None:
    """In an SDK worker process, everything alive now (~195k objects: Beam's imports, the harness, the stages built
    so far) out of the collector's reach for the rest of the process, as heap_frozen does for the runner's: each
    full collection in a worker otherwise walks all of it. On 50k transitions as episode files, two workers' full
    collections took 0.57-0.64 CPU s each, 0.18-0.20 with this (what is left runs while Beam is imported, before
    any DoFn is set up). Anywhere else (an in-process runner, a notebook) the process is the user's, whose heap
    must stay collectable: left alone. Once per process: left alone if anything is frozen already. Nothing is
    unfrozen, as the worker exits with it; a frozen object is still freed by reference counting, only a cycle
    among them would outlive its use."""
    if gc.get_freeze_count() or not in_sdk_worker_process():
        return
    gc.freeze()


def in_sdk_worker_process() -> bool:
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(main_spec, "name", None) == SDK_WORKER_MODULE
