"""`worldline collect mcp` end to end on real servers: transitions as the schema wants them, raw results as the
server sent them, perturbation labels with references, exploration that chains returned values, clear errors."""

import json

import pytest
import yaml

from tests.mcp.mcp_helpers import ROOT, collect, rows
from schemas import validate_transition
from schemas.render import render
from sandboxes.mcp_sandbox import MEMORY_LIMIT_BYTES, TOTAL_CPUS

TASKS = [
    {"id": "notes", "instruction": "Write a note and read it back.", "options": {
        "server": "filesystem",
        "perturb": [{"kind": "truncate", "max_chars": 4, "calls": [2], "match": {"tool": "read_text_file"}}]},
     "actions": [
         {"tool": "write_file", "arguments": {"path": "{workdir}/a.txt", "content": "hello there"}},
         {"tool": "read_text_file", "arguments": {"path": "{workdir}/a.txt"}},
         {"tool": "read_text_file", "arguments": {"path": "{workdir}/a.txt"}},
         {"tool": "read_text_file", "arguments": {"path": "/etc/passwd"}}]},
    {"id": "tour", "instruction": "Tools, resources and prompts.", "options": {"server": "everything"},
     "actions": [
         {"tool": "get-sum", "arguments": {"a": 2, "b": 40}},
         {"method": "resources/read", "params": {"uri": "demo://resource/static/document/features.md"}},
         {"method": "prompts/get", "params": {"name": "args-prompt", "arguments": {"city": "Lyon"}}},
         {"tool": "get-structured-content", "arguments": {"location": "Chicago"}}]},
]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    root = tmp_path_factory.mktemp("mcp")
    tasks = root / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": TASKS}))
    collect("--tasks", tasks, "--out", root / "out")
    return root, tasks


def test_scripted_transitions(scripted):
    root, _ = scripted
    episodes = rows(root / "out")
    assert len(episodes) == 2
    notes = next(v for k, v in episodes.items() if "notes" in k)
    tour = next(v for k, v in episodes.items() if "tour" in k)
    for row in notes + tour:
        validate_transition(row)
        assert row["domain"] == "mcp" and row["next_observation"]["raw_format"] == "mcp-json"
        observation = row["next_observation"]
        assert observation["text"] == render("mcp-json", observation["raw"], observation["meta_json"])
        assert row["env"]["kind"] == "mcp-server"
        # The record says how the server was confined, as terminal rows give their container's limits.
        sandbox = json.loads(row["env"]["details_json"])["sandbox"]
        assert sandbox["kind"] == "bwrap" and sandbox["network"] is False
        assert sandbox["limits"]["data_bytes"] == MEMORY_LIMIT_BYTES and sandbox["limits"]["cpu_s"] > 0
        assert sandbox["total"]["cpus"] == TOTAL_CPUS
    # The starting state: initialize and tools/list, each as the server sent it.
    state = json.loads(notes[0]["state"]["raw"])
    assert state["initialize"]["serverInfo"]["name"] == "secure-filesystem-server"
    assert any(t["name"] == "write_file" for t in state["tools/list"]["tools"])
    assert set(json.loads(tour[0]["state"]["raw"])) == {"initialize", "tools/list", "resources/list", "prompts/list"}
    # Actions as the benchmark writes them, with placeholders filled in.
    assert json.loads(notes[0]["action"]["text"]) == {
        "name": "write_file", "arguments": {"path": "/tmp/workspace/a.txt", "content": "hello there"}}
    assert notes[0]["action"]["kind"] == "tools/call"
    assert json.loads(notes[1]["next_observation"]["raw"])["content"][0]["text"] == "hello there"
    # A perturbed step carries its label and the unperturbed result.
    assert notes[2]["perturbations"] == ["truncate:read_text_file"]
    assert "hell…[truncated]" in notes[2]["next_observation"]["text"]
    assert json.loads(notes[2]["reference_observation"]["raw"])["content"][0]["text"] == "hello there"
    assert notes[1]["reference_observation"] is None
    assert json.loads(notes[3]["next_observation"]["raw"])["isError"] is True
    assert json.loads(notes[3]["next_observation"]["meta_json"])["is_error"] is True
    # Sums, resources, prompts and structured content, as returned.
    assert "42" in tour[0]["next_observation"]["text"]
    assert tour[1]["action"]["kind"] == "resources/read"
    assert json.loads(tour[1]["next_observation"]["raw"])["contents"][0]["uri"].endswith("features.md")
    assert json.loads(tour[2]["next_observation"]["raw"])["messages"]
    assert "structuredContent" in json.loads(tour[3]["next_observation"]["raw"])


def test_resume_skips_complete_episodes(scripted):
    root, tasks = scripted
    done = collect("--tasks", tasks, "--out", root / "out")
    assert "0 episodes collected" in done.stderr and "2 already complete" in done.stderr


def test_exploration_chains_returned_values(tmp_path):
    collect("--explore", "--server", "memory", "--max-steps", "14", "--out", tmp_path)
    (episode,) = rows(tmp_path).values()
    assert len(episode) == 14 and episode[0]["task"]["id"] == "explore-memory"
    calls = [json.loads(row["action"]["text"]) for row in episode if row["action"]["kind"] == "tools/call"]
    created = {e["name"] for c in calls if c["name"] == "create_entities" for e in c["arguments"].get("entities", [])
               if isinstance(e, dict) and "name" in e}
    later = [c for i, c in enumerate(calls) if c["name"] != "create_entities"
             and any(name in json.dumps(c["arguments"]) for name in created)]
    assert created and later, calls  # something created is named by a later call
    errors = [row for row in episode if json.loads(row["next_observation"]["meta_json"]).get("is_error")]
    assert errors, "exploration includes deliberately invalid calls"
    assert len({c["name"] for c in calls}) >= 4


@pytest.mark.parametrize("task, message", [
    ({"id": "x", "instruction": "i", "options": {"server": "nope"}}, "options.server 'nope' is not in"),
    ({"id": "x", "instruction": "i", "options": {"server": "memory"}, "actions": [{"tool": 3}]}, "names no tool"),
    ({"id": "x", "instruction": "i", "options": {"server": "memory", "perturb": [{"kind": "boom"}]}},
     "kind 'boom' is not one of"),
])
def test_bad_tasks_are_named(tmp_path, task, message):
    tasks = tmp_path / "t.yaml"
    tasks.write_text(yaml.safe_dump([task]))
    done = collect("--tasks", tasks, "--out", tmp_path / "out", check=False)
    episodes = list((tmp_path / "out" / "episodes").rglob("*.json"))
    reason = done.stderr + "".join(p.read_text() for p in episodes)
    assert message in " ".join(reason.split()), reason[-2000:]  # rich wraps long lines on stderr


def test_tasks_and_explore_together_are_refused(tmp_path):
    done = collect("--tasks", ROOT / "tasks" / "mcp.yaml", "--explore", "--out", tmp_path, check=False)
    assert done.returncode != 0 and "either --tasks FILE or --explore, not both" in done.stderr


def test_without_tasks_or_explore_the_shipped_tasks_run(tmp_path):
    """A new user's `worldline collect mcp --out raw` failed asking for --tasks, though the servers file is found."""
    collect("--server", "time", "--limit", "1", "--out", tmp_path)
    [record] = (tmp_path / "episodes" / "mcp").glob("*.json")
    shipped = {task["id"] for task in yaml.safe_load((ROOT / "tasks" / "mcp.yaml").read_text())["tasks"]}
    assert json.loads(record.read_text())["task"]["id"] in shipped
