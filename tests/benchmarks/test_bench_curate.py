"""The curate benchmark's bare loop is the yardstick issue 3's target (curation within 2x of it) is set against, so it
must do curation's normalize + mask + hash work, no less and no more. Until session 24 it skipped the date filter
(with_masks was given no action times) and ran with the cyclic GC on, which curation's Prepare pauses: a packed
input's full collections were 25-35% of its CPU, in amounts that varied from run to run (~17k-30k/s/cpu)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pyarrow as pa

from benchmarks.bench_curate import STEPS_PER_EPISODE, _episode_rows, bare_chunks, bare_loop, generate
from collectors.pack import pack_collection
from collectors.store import write_episode_table
from schemas.layout import transitions_path
from schemas.transition import TRANSITION_SCHEMA
from transforms.dedupe import NearDupOptions
from transforms.prepare import prepare_chunk
from transforms.validate import read_valid_chunks


def _far_dated_episode(root: Path) -> None:
    """A terminal episode whose clock readings are dated years before its rows' action time: to curation's date
    filter a date that far is content, not a reading to mask."""
    rows = _episode_rows("terminal", "terminal-far-dated", 99, 98, edit=False)
    for row in rows:
        for key in ("state", "next_observation"):
            row[key] = {**row[key], "raw": row[key]["raw"].replace(b"2026-11-25T", b"2019-03-04T")}
    path = transitions_path(root, "terminal", rows[0]["episode_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_episode_table(pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA), str(path))


def _curation_rows(root: Path) -> dict[str, tuple]:
    """Each row's (spans, content hash) as curation's Prepare makes them."""
    items = [item for path in sorted(root.rglob("*.parquet")) for chunk in read_valid_chunks(str(path), count=False)
             for item in chunk]
    prepared = prepare_chunk(items, NearDupOptions(), keep_stand_ins=True)
    assert not prepared.letters, prepared.letters
    return {row["id"]: (row["next_volatile_spans"], row["content_hash"]) for row in prepared.rows}


def test_bare_loop_masks_and_hashes_each_row_as_curation_does(tmp_path):
    generate(tmp_path, 7 * STEPS_PER_EPISODE)
    _far_dated_episode(tmp_path)
    bare = {row["id"]: (row["next_volatile_spans"], row["content_hash"])
            for rows, _ in bare_chunks(tmp_path) for row in rows}
    curated = _curation_rows(tmp_path)
    assert len(bare) == 8 * STEPS_PER_EPISODE
    assert bare == curated
    # The far-dated readings are content: the date filter ran (masked as timestamps, the hashes would differ).
    far = [spans for record_id, (spans, _) in bare.items() if "far-dated" in record_id]
    assert far and not any(span["kind"] == "timestamp" for spans in far for span in spans), far[0]


def test_bare_loop_runs_without_cyclic_collections_as_curation_prepares(tmp_path):
    """A full collection walks the benchmark's whole heap (Beam's imports included), which curation's Prepare never
    does: the bare loop, with or without MinHash, runs none and leaves collection as it found it."""
    generate(tmp_path, 100 * STEPS_PER_EPISODE)
    pack_collection(tmp_path)
    collections = []

    def counted(phase, info):
        # Only those its work starts: collection resuming at the end of the pause starts one (untimed).
        frame = sys._getframe(1)
        resumed = frame.f_code.co_name == "__exit__"
        while frame is not None and frame.f_code is not bare_loop.__code__:
            frame = frame.f_back
        if phase == "stop" and frame is not None and not resumed:
            collections.append(info["generation"])

    gc.callbacks.append(counted)
    try:
        for minhash in (False, True):
            count, _, _ = bare_loop(tmp_path, minhash=minhash)
            assert count == 100 * STEPS_PER_EPISODE
    finally:
        gc.callbacks.remove(counted)
    assert collections == []
    assert gc.isenabled() and not gc.get_freeze_count()
