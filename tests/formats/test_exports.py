"""Exports from a curated transitions/ Parquet folder, run through the real `worldline export` CLI."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipelines.cli import build_cli
from pipelines.commands.export import AtomicText
from schemas import CURATED_TRANSITION_SCHEMA, STAGE2_SCHEMA
from transforms.exports.agentworldbench import RESPONSE_PREFIX, episode_lines
from transforms.exports.atif import AtifError, episode_trajectory, trajectory_json, validate_trajectory
from transforms.prompts import system_prompt
from transforms.stages import build_stage_rows


def _row(domain, episode, step, action, state, nxt, **extra):
    return {"id": f"{episode}:{step}", "episode_id": episode, "step": step, "domain": domain, "task_id": "t-" + episode,
            "instruction": f"do the {episode} task", "action_kind": "keys" if domain == "terminal" else "tool_call",
            "action_text": action, "state_text": state, "next_text": nxt, "next_volatile_spans": [],
            "content_hash": f"{episode}{step}", "done": False, "error": None, "perturbations": [],
            "collector": domain, "stand_in": None, **extra}


def _episodes():
    term_a = [_row("terminal", "ta", i, f'[{{"keystrokes": "echo {i}\\n", "duration": 0.1}}]',
                   "$" if i == 0 else f"$ echo {i - 1}\n{i - 1}\n$", f"$ echo {i}\n{i}\n$") for i in range(3)]
    term_b = [_row("terminal", "tb", 0, '[{"keystrokes": "pwd\\n", "duration": 0.1}]', "$", "$ pwd\n/root\n$",
                   next_volatile_spans=[{"start": 6, "end": 11, "kind": "path"}])]
    mcp = [_row("mcp", "m1", i, json.dumps({"name": "read_file", "arguments": {"path": f"/f{i}"}}), "", f"body {i}")
           for i in range(2)]
    return term_a, term_b, mcp


@pytest.fixture
def curated_dir(tmp_path):
    term_a, term_b, mcp = _episodes()
    folder = tmp_path / "curated" / "transitions"
    folder.mkdir(parents=True)
    # Beam shards rows without regard to episodes: one episode is split across two files, out of order.
    shards = [[term_a[2], mcp[1], term_b[0]], [mcp[0], term_a[0], term_a[1]]]
    for i, rows in enumerate(shards):
        pq.write_table(pa.Table.from_pylist(rows, schema=CURATED_TRANSITION_SCHEMA), folder / f"part-{i:05d}.parquet",
                       compression="zstd")
    # Stage-2 rows for episode ta only, built by the real row builder: their traces become ATIF reasoning.
    stage2 = tmp_path / "curated" / "stage2"
    stage2.mkdir()
    stage2_rows = [build_stage_rows(term_a, row, f"trace of {row['id']}\nline two")[1] for row in term_a]
    pq.write_table(pa.Table.from_pylist(stage2_rows, schema=STAGE2_SCHEMA), stage2 / "part-00000.parquet")
    return tmp_path / "curated"


def _run(*args):
    result = CliRunner().invoke(build_cli(), ["export", *map(str, args)], catch_exceptions=False)
    return result


def test_agentworldbench_export(curated_dir, tmp_path):
    out = tmp_path / "awb"
    result = _run("agentworldbench", "--input", curated_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["mcp_test.jsonl", "terminal_test.jsonl"]  # no temp files left
    lines = [json.loads(line) for line in (out / "terminal_test.jsonl").read_text().splitlines()]
    assert [(line["id"], line["turn_idx"], line["total_turns"]) for line in lines] == \
        [(0, 1, 3), (1, 2, 3), (2, 3, 3), (3, 1, 1)]
    first, third = lines[0], lines[2]
    assert set(first) == {"task", "id", "prompt", "response", "current_prompt", "system_str", "turn_idx",
                          "total_turns"}
    assert first["task"] == "terminal" and first["system_str"] == system_prompt("terminal")
    assert "do the ta task" in first["prompt"][0] and "Current observation:\n$\n" in first["prompt"][0]
    assert first["current_prompt"] == first["prompt"][0]
    assert len(third["prompt"]) == len(third["response"]) == 3 and third["current_prompt"] == third["prompt"][2]
    assert third["prompt"][2] == 'Action:\n[{"keystrokes": "echo 2\\n", "duration": 0.1}]'
    assert third["response"] == [f"{RESPONSE_PREFIX}\n$ echo {i}\n{i}\n$" for i in range(3)]
    assert all(r.startswith(RESPONSE_PREFIX) for line in lines for r in line["response"])
    mcp_lines = [json.loads(line) for line in (out / "mcp_test.jsonl").read_text().splitlines()]
    assert [line["id"] for line in mcp_lines] == [0, 1] and mcp_lines[1]["response"][-1].endswith("body 1")


def test_atif_export(curated_dir, tmp_path):
    out = tmp_path / "atif"
    result = _run("atif", "--input", curated_dir, "--out", out)
    assert result.exit_code == 0, result.output
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["mcp/m1.json", "terminal/ta.json", "terminal/tb.json"]
    ta = json.loads((out / "terminal" / "ta.json").read_text())
    validate_trajectory(ta)
    assert ta["schema_version"] == "ATIF-v1.4" and ta["session_id"] == "ta"
    assert set(ta["agent"]) >= {"name", "version"}
    assert [s["source"] for s in ta["steps"]] == ["user", "system", "agent", "agent", "agent"]
    assert [s["step_id"] for s in ta["steps"]] == [1, 2, 3, 4, 5]
    assert ta["steps"][0]["message"] == "do the ta task"
    assert ta["steps"][1]["observation"]["results"][0]["content"] == "$"
    last = ta["steps"][-1]
    assert last["tool_calls"][0]["tool_call_id"] == last["observation"]["results"][0]["source_call_id"] == "ta:2"
    assert last["tool_calls"][0]["arguments"] == {"action": '[{"keystrokes": "echo 2\\n", "duration": 0.1}]'}
    assert last["observation"]["results"][0]["content"] == "$ echo 2\n2\n$"
    assert ta["final_metrics"]["total_steps"] == 5
    assert [s.get("reasoning_content") for s in ta["steps"][2:]] == [f"trace of ta:{i}\nline two" for i in range(3)]
    tb = json.loads((out / "terminal" / "tb.json").read_text())
    assert "reasoning_content" not in tb["steps"][2]  # no stage-2 row, no reasoning
    m1 = json.loads((out / "mcp" / "m1.json").read_text())
    call = m1["steps"][2]["tool_calls"][0]
    assert (call["function_name"], call["arguments"]) == ("read_file", {"path": "/f0"})


def test_export_rejects_an_input_without_parquet(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(build_cli(), ["export", "atif", "--input", str(tmp_path / "empty"),
                                              "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "no Parquet files under" in result.output


def test_atomic_file_vanishes_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with AtomicText(tmp_path / "x.jsonl") as handle:
            handle.write("partial")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_trajectory_carries_reasoning_when_given():
    _, _, mcp = _episodes()
    trajectory = trajectory_json(episode_trajectory([{**mcp[0], "trace": "reads the file"}, mcp[1]]))
    assert trajectory["steps"][2]["reasoning_content"] == "reads the file"
    assert "reasoning_content" not in trajectory["steps"][3]


def _valid():
    _, _, mcp = _episodes()
    return trajectory_json(episode_trajectory(mcp))


@pytest.mark.parametrize("break_it, message", [
    (lambda t: t.update(schema_version="ATIF-v1.3"), "schema_version"),
    (lambda t: t["steps"][1].update(step_id=7), "step_id values must run 1..4"),
    (lambda t: t["steps"][0].update(tool_calls=[]), "only apply to agent steps"),
    (lambda t: t["steps"][2]["observation"]["results"][0].update(source_call_id="nope"), "source_call_id 'nope'"),
    (lambda t: t["steps"][2].update(source="tool"), "steps.2.source"),
    (lambda t: t.update(color="red"), "color: Extra inputs are not permitted"),
    (lambda t: t["agent"].pop("version"), "agent.version: Field required"),
])
def test_validator_names_what_is_wrong(break_it, message):
    trajectory = _valid()
    validate_trajectory(trajectory)
    break_it(trajectory)
    with pytest.raises(AtifError, match="trajectory m1: .*" + message.replace(".", r"\.")):
        validate_trajectory(trajectory)


def test_episode_lines_reject_mixed_episodes():
    term_a, term_b, _ = _episodes()
    with pytest.raises(ValueError, match="mixed"):
        episode_lines(term_a + term_b)
