"""One episode recorded twice, differently, in two files of a collection: the pack that holds the first recording
and the episode's own file of a second one (what collect wrote, before it refused to, after a user deleted the
packed episode's record to record an edited task again). Curate settled each repeated id on its own, keeping some
steps of each recording, so the stage rows showed histories that never happened. It now keeps one recording whole
(the later one) and dead-letters every row of the other, naming the episode and both files. Real files: collected
by a real (host shell) collector, packed by `pack_collection`."""

from __future__ import annotations

import json
import shutil

import duckdb

from collectors.api import Task
from collectors.command import plans_for
from collectors.pack import pack_collection
from collectors.runner import collect, episode_id_for
from pipelines.curate import run_curation
from schemas.layout import episode_path, transitions_path
from tests.collectors.test_store_resume import ShellCollector

DOMAIN = "shelltest"


def rows(folder, name):
    return duckdb.sql(f"SELECT * FROM read_parquet('{folder / name}/*.parquet')").to_arrow_table().to_pylist()


def _collect(tmp_path, out, first: str):
    tasks = [Task(id="edited", instruction="say it", actions=[first, "echo world", "echo done"]),
             Task(id="other", instruction="say b", actions=["echo b"])]
    collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks), out, domain=DOMAIN, progress=False)


def test_an_episode_in_a_pack_and_in_its_own_file_is_curated_from_one_recording_whole(tmp_path):
    raw, again = tmp_path / "raw", tmp_path / "again"
    _collect(tmp_path, raw, "echo hello")
    assert pack_collection(raw).episodes_packed == 2
    [pack] = (path.relative_to(raw) for path in (raw / "transitions" / DOMAIN).glob("pack-*.parquet"))
    _collect(tmp_path, again, "echo HELLO")  # later: the recording the episode record now names
    edited = episode_id_for(DOMAIN, "edited", 0)
    for path in (transitions_path, episode_path):
        shutil.copy(path(again, DOMAIN, edited), path(raw, DOMAIN, edited))
    own = transitions_path(raw, DOMAIN, edited).relative_to(raw)  # dead letters name files within --input

    out = tmp_path / "out"
    stats = run_curation(str(raw), str(out))

    assert stats["balanced"]
    kept = {row["step"]: row for row in rows(out, "transitions") if row["episode_id"] == edited}
    assert sorted(kept) == [0, 1, 2]
    assert kept[0]["next_text"].strip() == "HELLO" and kept[1]["state_text"].strip() == "HELLO"
    # Every stage row of the episode shows the later recording's history only.
    for stage in ("stage1", "stage2"):
        texts = json.dumps([row for row in rows(out, stage) if edited in json.dumps(row, default=str)], default=str)
        assert "HELLO" in texts and "hello" not in texts, stage

    letters = [letter for letter in rows(out, "dead_letter") if letter["record_id"].startswith(edited)]
    assert sorted(letter["record_id"] for letter in letters) == [f"{edited}:{step}" for step in range(3)]
    for letter in letters:
        assert letter["source"] == str(pack) and letter["stage"] == "dedupe", letter
        assert letter["reason"].startswith(f"episode {edited} is recorded differently in 2 sources: {own} (kept "
                                           "whole: the later recording, begun "), letter["reason"]
        assert f"and {pack} (3 rows, begun " in letter["reason"], letter["reason"]
    # The other episode, in the pack alone, is curated as before.
    other = episode_id_for(DOMAIN, "other", 0)
    assert [row["step"] for row in rows(out, "transitions") if row["episode_id"] == other] == [0]
