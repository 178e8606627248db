"""Replays of stored MCP episodes after worldline changed how it sets up the server, on the real git server (compat
audit V4). The environment's identity was the server's name@version only, so a replay ran with another set-up (a
1.0 git recording had wall-clock commit dates, today's pins them) was accepted and curation compared two set-ups.
Today the digest adds one of the servers-file entry and the placeholder values it uses; a record from before that
(name@version alone, as every recording until now) is accepted when its server, command and args are today's."""

from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pyarrow.parquet as pq

from collectors.api import Task
from collectors.command import plans_for
from collectors.mcp import McpCollector
from collectors.runner import collect, episode_id_for
from collectors.store import write_episode_table
from schemas.layout import episode_path, transitions_path

TASK = Task("git-look", "Show the repository's status and log.", options={"server": "git"},
            actions=[{"tool": "git_status", "arguments": {"repo_path": "{workdir}/repo"}},
                     {"tool": "git_log", "arguments": {"repo_path": "{workdir}/repo", "max_count": 3}}])
EPISODE = episode_id_for("mcp", TASK.id, 0)


def _collect(out, servers: dict, replays: int):
    return collect(lambda: McpCollector(servers), plans_for([TASK], replays=replays), out, domain="mcp",
                   progress=False)


def _rewrite_env(out, change) -> dict:
    """Make the stored episode look recorded by another worldline: `change` edits its env row (in both files)."""
    path = transitions_path(out, "mcp", EPISODE)
    table = pq.read_table(path)
    rows = table.to_pylist()
    for row in rows:
        change(row["env"])
    with path.open("wb") as handle:
        write_episode_table(pa.Table.from_pylist(rows, schema=table.schema), handle)
    record_path = episode_path(out, "mcp", EPISODE)
    record = json.loads(record_path.read_text())
    change(record["env"])
    record_path.write_text(json.dumps(record))
    return rows[0]["env"]


def _legacy(env: dict) -> None:
    env["digest"] = env["digest"].rpartition("+")[0]


def _replays(out) -> list[int]:
    rows = pq.read_table(transitions_path(out, "mcp", EPISODE)).to_pylist()
    return [len(row["replay_observations"] or []) for row in rows]


def test_a_changed_server_setup_gets_no_replays_and_a_record_from_before_the_setup_digest_does(tmp_path, servers):
    out = tmp_path / "out"
    assert _collect(out, servers, 1).completed == 1 and _replays(out) == [1, 1]
    env = json.loads(episode_path(out, "mcp", EPISODE).read_text())["env"]
    server, _, setup = env["digest"].rpartition("+")
    assert server.startswith("mcp-git@") and len(setup) == 16

    # Recorded as worldline did until now (name@version), with today's command and args: replays are added.
    _rewrite_env(out, _legacy)
    report = _collect(out, servers, 2)
    assert (report.replays_added, report.replays_failed) == (1, 0), report.replay_errors
    assert _replays(out) == [2, 2]

    # The same server, but worldline pins another commit date: another set-up, its commit ids differ.
    git = servers["git"]
    redated = {**servers, "git": dataclasses.replace(git, env={**git.env, "GIT_AUTHOR_DATE": "2025-06-01T00:00:00+0000",
                                                            "GIT_COMMITTER_DATE": "2025-06-01T00:00:00+0000"})}
    _rewrite_env(out, lambda env: env.update(digest=f"{server}+{setup}"))
    report = _collect(out, redated, 3)
    assert (report.replays_added, report.replays_failed) == (0, 1)
    [reason] = report.replay_errors
    assert f"replay 1 ran in mcp-server digest '{server}+" in reason
    assert f"not in the recorded digest '{server}+{setup}': the environment changed since" in reason
    assert "collect it again into a new --out" in reason
    assert _replays(out) == [2, 2]

    # A record from before the set-up digest whose entry started the server otherwise (1.0's git entry ran the
    # mcp-server-git script): not today's set-up, whatever the server's version.
    def older_entry(env: dict) -> None:
        _legacy(env)
        env["details_json"] = json.dumps({**json.loads(env["details_json"]),
                                          "command": "{mcp_venv}/bin/mcp-server-git",
                                          "args": ["--repository", "{workdir}/repo"]})
    _rewrite_env(out, older_entry)
    report = _collect(out, servers, 3)
    assert (report.replays_added, report.replays_failed) == (0, 1), report.replay_errors
    assert _replays(out) == [2, 2]
