"""Replays of web episodes recorded by older worldline versions, on real Chromium and the real sites (compat audit
V3). The sites digest used to hash the sites' launcher too, so a change to how it names its temp folder (29ced8f)
refused every earlier web episode its replays, with a message that said neither why nor what to do. Today's digest
is of the pages only, and the values the earlier formula gave for these same pages are still accepted: an episode
recorded before 29ced8f (raw 1.0/1.1) or since (by the code before this change) gets its replays."""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pyarrow.parquet as pq

from collectors.api import Task
from collectors.runner import EpisodePlan, collect, episode_id_for
from collectors.store import write_episode_table
from collectors.web import ScriptedWebPolicy, WebCollector, _sites_digest
from schemas.layout import episode_path, transitions_path

TASK = Task("look-around", "Open the shop and its cart.", options={"site": "shop"},
            actions=["noop()", "goto(\"/cart\")"])
EPISODE = episode_id_for("web", TASK.id, 0)
BEFORE_29CED8F = "eb0b5ae6d48f9ffd"  # what worldline 1.0/1.1 recorded for today's pages
SINCE_29CED8F = "896df4a43b3194e1"  # what it recorded from 29ced8f until the launcher left the digest


def _collect(out, replays: int):
    return collect(WebCollector, [EpisodePlan(TASK, 0, ScriptedWebPolicy, 10, replays)], out, domain="web",
                   progress=False)


def _set_digest(out, digest: str) -> None:
    """Make the stored episode look recorded by an older worldline: its env digest as that version wrote it."""
    path = transitions_path(out, "web", EPISODE)
    table = pq.read_table(path)
    rows = table.to_pylist()
    for row in rows:
        row["env"]["digest"] = digest
    with path.open("wb") as handle:
        write_episode_table(pa.Table.from_pylist(rows, schema=table.schema), handle)
    record_path = episode_path(out, "web", EPISODE)
    record = json.loads(record_path.read_text())
    record["env"]["digest"] = digest
    record_path.write_text(json.dumps(record))


def _replays(out) -> list[int]:
    rows = pq.read_table(transitions_path(out, "web", EPISODE)).to_pylist()
    return [len(row["replay_observations"] or []) for row in rows]


def test_episodes_recorded_under_the_earlier_sites_digest_get_replays(tmp_path):
    out = tmp_path / "out"
    first = _collect(out, 0)
    assert (first.completed, first.errored) == (1, 0), first.errors
    assert json.loads(episode_path(out, "web", EPISODE).read_text())["env"]["digest"] == _sites_digest()

    for replays, digest in ((1, SINCE_29CED8F), (2, BEFORE_29CED8F)):
        _set_digest(out, digest)
        report = _collect(out, replays)
        assert (report.replays_added, report.replays_failed) == (1, 0), report.replay_errors
        assert _replays(out) == [replays, replays]

    # and today's own recordings, of course
    _set_digest(out, _sites_digest())
    assert _collect(out, 3).replays_added == 1 and _replays(out) == [3, 3]


def test_an_episode_from_other_pages_is_refused_saying_why_and_what_to_do(tmp_path, caplog):
    out = tmp_path / "out"
    _collect(out, 0)
    _set_digest(out, "56cf5c1570db6517")  # what 7056b68 recorded: pages that differ from today's
    caplog.set_level(logging.WARNING)
    report = _collect(out, 1)
    assert (report.replays_added, report.replays_failed) == (0, 1)
    [reason] = report.replay_errors
    assert reason.startswith(f"{EPISODE}: replay 1 ran in chromium digest '{_sites_digest()}', not in the recorded "
                             "digest '56cf5c1570db6517': the environment changed since this episode was recorded "
                             "(e.g. a worldline")
    assert "its replays would compare what another environment returns" in reason
    assert "collect it again into a new --out" in reason
    assert _replays(out) == [0, 0]
