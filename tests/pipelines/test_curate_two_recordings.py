"""One episode recorded twice, differently, in two files of a collection: the pack that holds the first recording
and the episode's own file of a second one (what collect wrote, before it refused to, after a user deleted the
packed episode's record to record an edited task again). Curate settled each repeated id on its own, keeping some
steps of each recording, so the stage rows showed histories that never happened. It now keeps one recording whole
(the later one) and dead-letters every row of the other, naming the episode and both files. Real files: collected
by a real (host shell) collector, packed by `pack_collection`."""

from __future__ import annotations

import json

from pipelines.curate import run_curation
from tests.pipelines.rerecorded_episode import EDITED, assert_the_pack_copy_is_dead_lettered, rerecorded_collection, rows


def test_an_episode_in_a_pack_and_in_its_own_file_is_curated_from_one_recording_whole(tmp_path):
    raw, pack, own = rerecorded_collection(tmp_path, "echo hello", "echo HELLO")

    out = tmp_path / "out"
    stats = run_curation(str(raw), str(out))

    assert stats["balanced"]
    kept = {row["step"]: row for row in rows(out, "transitions") if row["episode_id"] == EDITED}
    assert sorted(kept) == [0, 1, 2]
    assert kept[0]["next_text"].strip() == "HELLO" and kept[1]["state_text"].strip() == "HELLO"
    # Every stage row of the episode shows the later recording's history only.
    for stage in ("stage1", "stage2"):
        texts = json.dumps([row for row in rows(out, stage) if EDITED in json.dumps(row, default=str)], default=str)
        assert "HELLO" in texts and "hello" not in texts, stage
    assert_the_pack_copy_is_dead_lettered(out, pack, own)
