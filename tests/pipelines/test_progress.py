"""The local progress display: how many chunks a collection has, and that a run accounts for every chunk."""

import shutil
import threading

from collectors.pack import pack_collection
from pipelines.progress import POLL_SECONDS, CurationProgress, expected_chunks
from transforms.curate import Curate, CurateOptions, chunks_in


def test_chunks_are_episode_files_or_row_groups_of_packs(raw_collection, tmp_path):
    raw, _ = raw_collection
    assert expected_chunks(str(raw)) == 6  # five episode files and a JSONL drop
    packed = tmp_path / "raw"
    shutil.copytree(raw, packed)
    pack_collection(packed, rows_per_group=4)
    # A pack per domain, groups closed at >= 4 rows: terminal 3+3 | 3, web 2, mcp 1; plus the JSONL drop.
    assert expected_chunks(str(packed)) == 5
    # A pack that cannot be opened counts as one chunk (curation dead-letters it) instead of failing the display.
    [pack] = sorted((packed / "transitions" / "web").glob("pack-*.parquet"))
    pack.write_bytes(b"PAR1 not a parquet file")
    assert expected_chunks(str(packed)) == 5


def test_every_chunk_written_out_is_marked_for_the_display(raw_collection, tmp_path):
    import apache_beam as beam

    raw, _ = raw_collection
    work = tmp_path / "work"
    with beam.Pipeline("FnApiRunner") as pipeline:
        _ = pipeline | Curate(str(raw), str(work), CurateOptions())
    prepared = {p.name for p in (work / "prepared").iterdir()}
    assert {p.name for p in (work / "finished").iterdir()} == prepared
    # The six small chunks are merged into one prepared file, whose name counts them all (one is an episode whose
    # only row fails to normalize: read, but nothing to write).
    assert sum(chunks_in(name) for name in prepared) == expected_chunks(str(raw)) == 6


def test_display_polls_until_the_run_ends(raw_collection, tmp_path):
    raw, _ = raw_collection
    progress = CurationProgress(str(raw), str(tmp_path / "work"))
    with progress:
        (tmp_path / "work" / "prepared").mkdir(parents=True)
        (tmp_path / "work" / "prepared" / "a").touch()
        progress.stopped.wait(1.2)
        [prepared, written] = progress.progress.tasks
        assert (prepared.total, prepared.completed, written.completed) == (6, 1, 0)
        # Drawn no more often than the counts can change (rich's default redraws ten times a second).
        assert progress.progress.live.refresh_per_second == 1 / POLL_SECONDS
        # Drawn where the command checked for a terminal: stderr, so a piped stdout gets no control sequences.
        assert progress.progress.console.stderr
    assert progress.stopped.is_set() and not any(t is progress.thread for t in threading.enumerate())
