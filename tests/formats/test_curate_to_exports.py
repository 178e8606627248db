"""Raw episodes -> `worldline curate` -> `worldline export`: the format functions as the real pipeline calls them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipelines.cli import build_cli
from schemas import TRANSITION_SCHEMA, Action, EnvInfo, Observation, Provenance, Timings, Transition, utcnow
from transforms.exports.atif import validate_trajectory


def _terminal_episode(episode: str, steps: int = 3, replays: str | None = None) -> list[dict]:
    """With `replays`, the first step is that episode's, screens and all."""
    rows, screen = [], "$ "
    for step in range(steps):
        words = f"{replays if replays and step == 0 else episode}-{step}"
        command = f"echo {words}"
        after = screen + f"{command}\n\x1b[1;32m{words}\x1b[0m done\n$ "
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
    # tc's first step is ta's (an exact duplicate, removed), and tc is long enough for its windows to start past
    # turn 1.
    for domain, rows in (("terminal", _terminal_episode("ta")), ("terminal", _terminal_episode("tb")),
                         ("terminal", _terminal_episode("tc", steps=7, replays="ta")),
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
    assert [row[0] for row in stage2] == ["ma:0", "ma:1", "ta:0", "ta:1", "ta:2", "tb:0", "tb:1", "tb:2",
                                          *(f"tc:{step}" for step in range(1, 7))]
    ta1 = dict(stage2)["ta:1"]
    assert ta1.startswith("<think>") and "The exit status, recorded but not printed, is 0." in ta1
    assert ta1.endswith("<predicted_observation>$ echo ta-0\nta-0 done\n$ echo ta-1\nta-1 done\n$"
                        "</predicted_observation>")  # rendered from the raw ANSI bytes, colors gone

    for kind in ("agentworldbench", "atif"):
        result = CliRunner().invoke(cli, ["export", kind, "--input", str(curated), "--out", str(tmp_path / kind)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
    terminal_lines = (tmp_path / "agentworldbench" / "terminal_test.jsonl").read_text().splitlines()
    mcp_line = json.loads((tmp_path / "agentworldbench" / "mcp_test.jsonl").read_text().splitlines()[0])
    assert len(terminal_lines) == 12
    assert mcp_line["response"] == [f"**Environment Observation:**\ncontents of /data/ma-{step}.txt" for step in (0, 1)]
    trajectory = json.loads((tmp_path / "atif" / "terminal" / "ta.json").read_text())
    validate_trajectory(trajectory)
    assert trajectory["steps"][3]["extra"]["world_model_reasoning"] == ta1[len("<think>"):ta1.index("</think>")]
    assert [line["id"] for line in map(json.loads, terminal_lines)] == [0, 0, 0, 1, 1, 1] + [2] * 6
    assert json.loads(terminal_lines[4])["prompt"][1] == \
        '### Turn 2\n**Action:**\n```json\n[{"keystrokes": "echo tb-1\\n", "duration": 0.1}]\n```'
    _assert_chats_are_the_exported_turns(curated, tmp_path / "agentworldbench")


def _turn_number(prompt: str) -> int:
    return int(prompt.split("\n", 1)[0].removeprefix("### Turn "))


def _without_context(prompt: str) -> str:
    """The turn's action: what a turn prompt holds after the turn a conversation opens with, besides its number."""
    return prompt.rsplit("**Action:**", 1)[1]


def _assert_chats_are_the_exported_turns(curated, exported):
    """Every curated transition's stage-2 user turns are the export's prompts of the same steps. The export numbers
    its turns by their place in the line (`### Turn N` is `turn_idx`, the last `total_turns`), a chat by step + 1. A
    chat's opening turn carries the task and the state before it; it equals the export's when both open at the same
    step, as the export's first turn carries them too."""
    chats = dict(duckdb.sql(f"SELECT id, messages FROM read_parquet('{curated}/stage2/*.parquet')").fetchall())
    transitions = duckdb.sql(f"SELECT domain, episode_id, id, step FROM read_parquet('{curated}/transitions/"
                             "*.parquet') ORDER BY domain, episode_id, step").fetchall()
    episodes = defaultdict(list)
    for domain, episode, record, step in transitions:
        episodes[domain, episode].append((record, step))
    checked = opened_later = 0
    for domain in ("terminal", "mcp"):
        lines = [json.loads(line) for line in (exported / f"{domain}_test.jsonl").read_text().splitlines()]
        trajectories = [records for (of, _), records in episodes.items() if of == domain]  # as the export numbers them
        for line in lines:
            trajectory = trajectories[line["id"]]
            assert [_turn_number(prompt) for prompt in line["prompt"]] == list(range(1, line["total_turns"] + 1))
            assert _turn_number(line["current_prompt"]) == line["turn_idx"]
            chat = chats[trajectory[line["turn_idx"] - 1][0]]
            opening, *later = [message["content"] for message in chat if message["role"] == "user"]
            exported_turns = {step + 1: prompt for (_, step), prompt in zip(trajectory, line["prompt"])}
            # A later turn of the chat may be the export's opening one, which alone adds the task and the state.
            assert [_without_context(exported_turns[_turn_number(prompt)]) for prompt in later] == \
                [_without_context(prompt) for prompt in later]
            assert _without_context(later[-1] if later else opening) == _without_context(line["current_prompt"])
            if _turn_number(opening) == trajectory[0][1] + 1:
                # The same turn, but for the state: fenced in the chat, as the benchmark writes it in the export.
                assert _unfenced(opening).split("\n", 1)[1] == line["prompt"][0].split("\n", 1)[1]
                assert opening != _unfenced(opening)
            else:
                assert opening.startswith(f"### Turn {_turn_number(opening)}\n**Task Instruction:**\nprint some "
                                          "words\n\n**Current State:**\n")
                opened_later += 1
            checked += 1
    # tc:1-4 open at tc's removed step 0 (turn 1; the export starts at turn 2), tc:6 at turn 3.
    assert checked == len(transitions) == 14 and opened_later == 5
    tc1 = [message["content"] for message in chats["tc:1"] if message["role"] == "user"]
    assert [_turn_number(prompt) for prompt in tc1] == [1, 2] and '"echo ta-0\\n"' in tc1[0]
    [(document,)] = duckdb.sql(f"SELECT text FROM read_parquet('{curated}/stage1/*.parquet') "
                               "WHERE id = 'tc:1'").fetchall()
    assert 'Action:\n[{"keystrokes": "echo ta-0\\n"' in document


def _chained_mcp_episode(episode: str, calls: list[tuple[str, str, str]]) -> list[dict]:
    """calls: (tool, path, result text) per step. Each step's state is the step before's answer, as recorded."""
    rows, state = [], Observation(raw=b'{"tools": []}', raw_format="json")
    for step, (tool, path, text) in enumerate(calls):
        result = {"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": text}], "isError": False}}
        answer = Observation(raw=json.dumps(result).encode(), raw_format="mcp-json", meta={"is_error": False})
        call = {"name": tool, "arguments": {"path": path}}
        now = utcnow()
        rows.append(Transition(
            episode, step, "mcp", EnvInfo("mcp-server", "fs"), "t3", "read the notes", state,
            Action("tools/call", call, json.dumps(call)), answer,
            Timings(now, now + timedelta(milliseconds=1)), Provenance("mcp", "1")).to_row())
        state = answer
    return rows


GAPPED_EPISODES = {
    "ga": [("read_file", "/a0", "note zero"), ("read_file", "/a1", "note one"), ("read_file", "/a2", "note two")],
    # The same answer as ga:0 from another call (kept), then ga:1 exactly (removed), then a step of its own.
    "gb": [("read_text_file", "/a0", "note zero"), ("read_file", "/a1", "note one"), ("read_file", "/b2", "note b")],
    "gc": [("read_file", "/a0", "note zero"), ("read_file", "/c1", "note c")],
}


@pytest.fixture(scope="module")
def gapped(tmp_path_factory):
    """GAPPED_EPISODES curated and exported both ways. Dedupe removes gb:1 (ga:1's state, action and answer) and gc:0
    (ga:0's), so gb:2 and gc:1 were taken in states no kept step shows. Returns the export folder and the curated
    states by id."""
    tmp_path = tmp_path_factory.mktemp("gapped")
    raw = tmp_path / "raw" / "transitions" / "mcp"
    raw.mkdir(parents=True)
    for episode, calls in GAPPED_EPISODES.items():
        pq.write_table(pa.Table.from_pylist(_chained_mcp_episode(episode, calls), schema=TRANSITION_SCHEMA),
                       raw / f"{episode}.parquet")
    curated, cli = tmp_path / "curated", build_cli()
    result = CliRunner().invoke(cli, ["curate", "--input", str(tmp_path / "raw"), "--output", str(curated)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    removed = duckdb.sql(f"SELECT id FROM read_parquet('{curated}/dedupe/*.parquet') ORDER BY id").fetchall()
    assert removed == [("gb:1",), ("gc:0",)]
    states = dict(duckdb.sql(f"SELECT id, state_text FROM read_parquet('{curated}/transitions/*.parquet')").fetchall())
    assert "note one" in states["gb:2"] and "note zero" in states["gc:1"]
    for kind in ("agentworldbench", "atif"):
        result = CliRunner().invoke(cli, ["export", kind, "--input", str(curated), "--out", str(tmp_path / kind)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return tmp_path, states


def _unfenced(prompt: str) -> str:
    """A stage chat's user turn with its state section as the AgentWorldBench export writes it: not fenced."""
    return re.sub(r"\*\*Current State:\*\*\n(`{3,})\n(.*?)\n\1\n\n", r"**Current State:**\n\2\n\n", prompt, count=1,
                  flags=re.DOTALL)


def test_agentworldbench_restates_the_state_after_a_removed_step(gapped):
    out, states = gapped
    lines = [json.loads(line) for line in (out / "agentworldbench" / "mcp_test.jsonl").read_text().splitlines()]
    gb = [line for line in lines if line["id"] == 1]
    # Its second turn (step 2) was taken in ga:1's answer, which no response of the history shows: its prompt
    # does. The turns are numbered by their place, as turn_idx and total_turns count them: no gap for step 1.
    assert gb[1]["turn_idx"] == 2 and gb[1]["total_turns"] == 2
    assert gb[1]["current_prompt"] == (
        f'### Turn 2\n**Current State:**\n{states["gb:2"]}\n\n**Action:**\n```json\n'
        '{"name": "read_file", "arguments": {"path": "/b2"}}\n```')
    assert not any("note one" in response for response in gb[1]["response"][:gb[1]["turn_idx"] - 1])
    # A turn right after the one before restates nothing; the first carries the task and the first state.
    ga = [line for line in lines if line["id"] == 0]
    assert [prompt.count("**Current State:**") for prompt in ga[-1]["prompt"]] == [1, 0, 0]


def test_agentworldbench_lines_list_the_whole_episode(gapped):
    out, _ = gapped
    lines = [json.loads(line) for line in (out / "agentworldbench" / "mcp_test.jsonl").read_text().splitlines()]
    for line in lines:
        assert len(line["prompt"]) == len(line["response"]) == line["total_turns"]
        assert line["current_prompt"] == line["prompt"][line["turn_idx"] - 1]
        # `### Turn N` is the turn's place, as eval.py reads turn_idx, even past gb's removed step 1 (audit4 B7: a
        # line with total_turns 17 ended at "### Turn 20").
        assert [_turn_number(prompt) for prompt in line["prompt"]] == list(range(1, line["total_turns"] + 1))


def test_atif_restates_the_state_after_a_removed_step(gapped):
    out, states = gapped
    trajectories = {name: json.loads((out / "atif" / "mcp" / f"{name}.json").read_text()) for name in GAPPED_EPISODES}
    for trajectory in trajectories.values():
        validate_trajectory(trajectory)
    assert [(step["source"], step["message"]) for step in trajectories["ga"]["steps"][:2]] == \
        [("user", "read the notes"), ("system", "environment reset")]
    gb_steps = trajectories["gb"]["steps"]
    assert [step["source"] for step in gb_steps] == ["user", "system", "agent", "system", "agent"]
    assert gb_steps[3]["message"] == "state before recorded step 2; recorded step 1 is not in the curated data"
    assert gb_steps[3]["observation"]["results"] == [{"content": states["gb:2"]}]
    # gc's first kept step is step 1: the state it was taken in is not the reset's.
    gc_steps = trajectories["gc"]["steps"]
    assert [step["source"] for step in gc_steps] == ["user", "system", "agent"]
    assert gc_steps[1]["message"] == "state before recorded step 1; recorded step 0 is not in the curated data"
    assert gc_steps[1]["observation"]["results"] == [{"content": states["gc:1"]}]
