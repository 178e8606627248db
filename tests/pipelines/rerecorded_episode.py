"""What the tests of an episode recorded twice share: a collection whose pack holds the first recording of the
episode `edited` and whose own file holds a later one, and what curate must make of it (the later recording
whole, every row of the pack's copy dead-lettered naming both files, the pack's other episode curated as before)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from collectors.api import Task
from collectors.command import plans_for
from collectors.pack import pack_collection
from collectors.runner import collect, episode_id_for
from schemas.layout import episode_path, transitions_path
from tests.collectors.test_store_resume import ShellCollector

DOMAIN = "shelltest"
EDITED = episode_id_for(DOMAIN, "edited", 0)
OTHER = episode_id_for(DOMAIN, "other", 0)


def rows(folder, name):
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / name}/*.parquet')").to_arrow_table().to_pylist()


def _collect(tmp_path, out, first: str):
    tasks = [Task(id="edited", instruction="say it", actions=[first, "echo world", "echo done"]),
             Task(id="other", instruction="say b", actions=["echo b"])]
    collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks), out, domain=DOMAIN, progress=False)


def rerecorded_collection(tmp_path, first: str, again: str, between=lambda: None) -> tuple[Path, Path, Path]:
    """(collection, its pack, the edited episode's own file): the pack holds both episodes recorded with `first` as
    the edited one's first command; the own file, which the episode record now names, a later recording with
    `again` (what collect wrote, before it refused to, after a user deleted the packed episode's record).
    `between` runs between the two recordings."""
    raw, later = tmp_path / "raw", tmp_path / "again"
    _collect(tmp_path, raw, first)
    assert pack_collection(raw).episodes_packed == 2
    [pack] = (path.relative_to(raw) for path in (raw / "transitions" / DOMAIN).glob("pack-*.parquet"))
    between()
    _collect(tmp_path, later, again)
    for path in (transitions_path, episode_path):
        shutil.copy(path(later, DOMAIN, EDITED), path(raw, DOMAIN, EDITED))
    return raw, pack, transitions_path(raw, DOMAIN, EDITED).relative_to(raw)  # dead letters name files within raw


def assert_the_pack_copy_is_dead_lettered(out, pack, own):
    letters = [letter for letter in rows(out, "dead_letter") if letter["record_id"].startswith(EDITED)]
    assert sorted(letter["record_id"] for letter in letters) == [f"{EDITED}:{step}" for step in range(3)]
    for letter in letters:
        assert letter["source"] == str(pack) and letter["stage"] == "dedupe", letter
        assert letter["reason"].startswith(f"episode {EDITED} is recorded differently in 2 sources: {own} (kept "
                                           "whole: the later recording, begun "), letter["reason"]
        assert f"and {pack} (3 rows, begun " in letter["reason"], letter["reason"]
    # The other episode, in the pack alone, is curated as before.
    assert [row["step"] for row in rows(out, "transitions") if row["episode_id"] == OTHER] == [0]
