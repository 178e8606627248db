"""An episode recorded twice, the second time with one line of a long screen changed: the pack holds the first
recording and the episode's own file the second. The two contents of the edited step's id are near duplicates of
each other, which made dedupe name the id after itself and Finish follow that chain for ever (session 26: a 20k
mix curated for 14 minutes before it was killed). The run must end, keep the later recording whole and dead-letter
the other, naming both files. Curate runs in a subprocess with a timeout, so a regression fails here instead of
spinning until CI's own timeout. Real files: a real (host shell) collector, packed by `pack_collection`.

And the same episode merged in again with the same contents but other action times: every run keeps the later
recording's copies, where the copy kept used to follow the random names of the prepared files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from collectors.pack import pack_collection
from collectors.store import EpisodeStore
from schemas import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition
from schemas.layout import episode_path, transitions_path
from tests.pipelines.rerecorded_episode import (DOMAIN, EDITED, assert_the_pack_copy_is_dead_lettered,
                                                rerecorded_collection, rows)

REPO = Path(__file__).resolve().parents[2]
# A run of this collection takes ~10 s on a loaded 2-core machine; the pre-fix code spun past any limit.
CURATE_TIMEOUT_S = 240


def screen(edited_line: int | None = None) -> str:
    """200 distinct lines: one changed line leaves the two screens near duplicates (Jaccard ~0.99) that make the
    same change, well above the default thresholds (0.8 and 0.95)."""
    lines = [f"row {i} of the inventory holds {i * 3} crates of produce from farm number {i + 11}" for i in range(200)]
    if edited_line is not None:
        lines[edited_line] = "this row was rewritten between the two recordings of the episode"
    return "\n".join(lines) + "\n"


def test_an_id_recorded_twice_with_near_duplicate_contents_is_settled_and_the_run_ends(tmp_path):
    screen_file = tmp_path / "screen.txt"
    screen_file.write_text(screen())
    show = f"cat {screen_file}"
    raw, pack, own = rerecorded_collection(tmp_path, show, show,
                                           between=lambda: screen_file.write_text(screen(edited_line=100)))

    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output", str(out),
                          "--runner=FnApiRunner"], cwd=REPO, capture_output=True, text=True,
                         timeout=CURATE_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-3000:]

    kept = {row["step"]: row for row in rows(out, "transitions") if row["episode_id"] == EDITED}
    assert sorted(kept) == [0, 1, 2]
    assert "this row was rewritten" in kept[0]["next_text"] and "this row was rewritten" in kept[1]["state_text"]
    # Neither copy of the edited step is a near duplicate of the other: settling the episode decided, not dedupe.
    assert not [row for row in rows(out, "dedupe") if row["episode_id"] == EDITED]
    assert_the_pack_copy_is_dead_lettered(out, pack, own)


def starts(path) -> list[int]:
    """Every action's start (epoch microseconds) in one Parquet file or a folder of them, by step."""
    column = "action_started_at" if path.is_dir() else "timings.action_start"
    pattern = f"{path}/*.parquet" if path.is_dir() else str(path)
    return [start for (start,) in duckdb.sql(f"SELECT epoch_us({column}) FROM read_parquet('{pattern}') "
                                             "ORDER BY step").fetchall()]


def _record(root, started: datetime, steps: int):
    """One episode, written as a collector writes it; its texts do not depend on `started`."""
    env, provenance = EnvInfo("host-shell", "/bin/sh"), Provenance(collector="shell-test", collector_version="1")
    state, transitions = Observation("$ ", b"$ ", "text"), []
    for step in range(steps):
        after = Observation(f"{step}\n", f"{step}\n".encode(), "text", {"exit_code": 0})
        begun = started + timedelta(milliseconds=10 * step)
        transitions.append(Transition("merged", step, DOMAIN, env, "merged", "count", state,
                                      Action("sh", {"cmd": f"echo {step}"}, f"echo {step}"), after,
                                      Timings(begun, begun + timedelta(milliseconds=5)), provenance,
                                      done=step == steps - 1))
        state = after
    EpisodeStore(root).write(Episode("merged", DOMAIN, env, "merged", "count", "scripted", "success", steps,
                                     "script_done", started, started + timedelta(seconds=30), provenance),
                             transitions)


def test_an_episode_merged_in_again_with_other_times_is_curated_from_the_later_recording_every_run(tmp_path):
    """The same episode, the same contents, in a pack and again in its own file, recorded an hour later. Each id's
    copy kept was the one in the prepared file with the smaller key, a hash of a random path: which recording's
    action times the transitions showed changed from run to run (when the two were prepared apart: here, each
    recording being a chunk of MERGE_ROWS rows). Now the later recording's, in every run."""
    from pipelines.curate import run_curation
    from transforms.curate import MERGE_ROWS

    raw, again = tmp_path / "raw", tmp_path / "again"
    first = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    _record(raw, first, MERGE_ROWS)
    assert pack_collection(raw).episodes_packed == 1
    _record(again, first + timedelta(hours=1), MERGE_ROWS)
    for path in (transitions_path, episode_path):
        shutil.copy(path(again, DOMAIN, "merged"), path(raw, DOMAIN, "merged"))
    later = starts(transitions_path(raw, DOMAIN, "merged"))

    for run in range(6):  # each run's prepared files have other random names: 1 in 64 to pass by chance before
        out = tmp_path / f"out{run}"
        stats = run_curation(str(raw), str(out))
        assert stats["balanced"] and not rows(out, "dead_letter")
        assert starts(out / "transitions") == later, run
        assert stats["deduped"] == MERGE_ROWS
        shutil.rmtree(out)
