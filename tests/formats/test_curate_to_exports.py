"""Raw episodes -> `worldline curate` -> `worldline export`: the format functions as the real pipeline calls them."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from pipelines.cli import build_cli
from schemas import TRANSITION_SCHEMA, Action, EnvInfo, Observation, Provenance, Timings, Transition, utcnow
from transforms.exports.atif import validate_trajectory


def _terminal_episode(episode: str) -> list[dict]:
    rows, screen = [], "$ "
    for step in range(3):
        command = f"echo {episode}-{step}"
        after = screen + f"{command}\n\x1b[1;32m{episode}-{step}\x1b[0m done\n$ "
        now = utcnow()
        rows.append(Transition(
            episode, step, "terminal", EnvInfo("docker-image", "test"), "t1", "print some words",
            Observation(raw=screen.encode(), raw_format="tmux-ansi", meta={"cols": 80, "rows": 24}),
            Action("keys", {"keystrokes": command}, json.dumps([{"keystrokes": command + "\n", "duration": 0.1}])),
            Observation(raw=after.encode(), raw_format="tmux-ansi", meta={"cols": 80, "rows": 24, "exit_status": 0}),
            Timings(now, now + timedelta(milliseconds=3)), Provenance("terminal", "1")).to_row())
        screen = after
    return rows


def _mcp_episode(episode: str) -> list[dict]:
    rows = []
    for step in range(2):
        result = {"jsonrpc": "2.0", "id": step + 2, "result": {
            "content": [{"type": "text", "text": f"contents of /data/{episode}-{step}.txt"}], "isError": False}}
        now = utcnow()
        call = {"name": "read_file", "arguments": {"path": f"/data/{episode}-{step}.txt"}}
        rows.append(Transition(
            episode, step, "mcp", EnvInfo("mcp-server", "fs"), "t2", "read the files",
            Observation(raw=b'{"tools": []}', raw_format="json"),
            Action("tools/call", call, json.dumps(call)),
            Observation(raw=json.dumps(result).encode(), raw_format="mcp-json", meta={"is_error": False}),
            Timings(now, now + timedelta(milliseconds=1)), Provenance("mcp", "1")).to_row())
    return rows


def test_curated_output_exports(tmp_path):
    raw = tmp_path / "raw"
    for domain, rows in (("terminal", _terminal_episode("ta")), ("terminal", _terminal_episode("tb")),
                         ("mcp", _mcp_episode("ma"))):
        path = raw / "transitions" / domain / f"{rows[0]['episode_id']}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA), path)
    curated = tmp_path / "curated"
    cli = build_cli()
    result = CliRunner().invoke(cli, ["curate", "--input", str(raw), "--output", str(curated)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output

    stage2 = duckdb.sql(f"SELECT id, target FROM read_parquet('{curated}/stage2/*.parquet') ORDER BY id").fetchall()
    assert [row[0] for row in stage2] == ["ma:0", "ma:1", "ta:0", "ta:1", "ta:2", "tb:0", "tb:1", "tb:2"]
    ta1 = dict(stage2)["ta:1"]
    assert ta1.startswith("<think>") and "The command exits with status 0." in ta1
    assert ta1.endswith("<predicted_observation>$ echo ta-0\nta-0 done\n$ echo ta-1\nta-1 done\n$"
                        "</predicted_observation>")  # rendered from the raw ANSI bytes, colors gone

    for kind in ("agentworldbench", "atif"):
        result = CliRunner().invoke(cli, ["export", kind, "--input", str(curated), "--out", str(tmp_path / kind)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
    terminal_lines = (tmp_path / "agentworldbench" / "terminal_test.jsonl").read_text().splitlines()
    mcp_line = json.loads((tmp_path / "agentworldbench" / "mcp_test.jsonl").read_text().splitlines()[0])
    assert len(terminal_lines) == 6
    assert mcp_line["response"] == ["**Environment Observation:**\ncontents of /data/ma-0.txt"]
    trajectory = json.loads((tmp_path / "atif" / "terminal" / "ta.json").read_text())
    validate_trajectory(trajectory)
    assert trajectory["steps"][3]["extra"]["world_model_reasoning"] == ta1[len("<think>"):ta1.index("</think>")]
    assert [line["id"] for line in map(json.loads, terminal_lines)] == [0, 0, 0, 1, 1, 1]
    assert json.loads(terminal_lines[4])["prompt"][1] == \
        '### Turn 2\n**Action:**\n```json\n[{"keystrokes": "echo tb-1\\n", "duration": 0.1}]\n```'
