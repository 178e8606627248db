"""Generated bug-fix tasks and whole episodes: real failing and passing test runs, stored raw and resumable."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import yaml
from tests.swe.swe_helpers import PREFIX, ROOT

from collectors.command import plans_for
from collectors.runner import collect
from collectors.swe import BugFixPolicy, SweCollector, generate_bugfix_tasks, parse_swe_action
from collectors.tasks import load_tasks
from schemas import validate_transition

WORLDLINE = [sys.executable, "-m", "pipelines.cli"]


def rows(out, domain="swe"):
    found = {}
    for path in sorted((out / "transitions" / domain).glob("*.parquet")):
        found[path.stem] = pq.read_table(path).to_pylist()
    return found


def test_generated_bugs_break_tests_and_the_recorded_fix_repairs_them(tiny_spec, tiny_image, tmp_path):
    tasks = generate_bugfix_tasks(tiny_spec, tiny_image, count=2, seed=0)
    assert len(tasks) == 2
    for task in tasks:
        assert task.options["repo"] == tiny_spec.name
        assert set(task.options["failing_tests"]) <= {"test_calc.py::test_clamp_inside",
                                                      "test_calc.py::test_clamp_edges", "test_calc.py::test_mean"}
        assert task.options["failing_tests"]
    report = collect(lambda: SweCollector({tiny_spec.name: tiny_spec}, {tiny_spec.name: tiny_image},
                                          name_prefix=PREFIX),
                     plans_for(tasks, policy_factory=BugFixPolicy), tmp_path, domain="swe", progress=False)
    assert (report.completed, report.errored) == (2, 0)
    episodes = {e["task"]["id"]: e for e in (json.loads(p.read_text())
                                             for p in (tmp_path / "episodes" / "swe").glob("*.json"))}
    for task in tasks:
        assert episodes[task.id]["outcome"] == "success"
    for episode_rows in rows(tmp_path).values():
        for row in episode_rows:
            validate_transition(row)
        kinds = [r["action"]["kind"] for r in episode_rows]
        assert kinds == ["run_tests", "bash", "view", "str_replace", "run_tests", "submit"]
        metas = [json.loads(r["next_observation"]["meta_json"]) for r in episode_rows]
        assert [m["exit_code"] for m in metas] == [1, 0, 0, 0, 0, 0]
        assert "FAILED test_calc.py::" in episode_rows[0]["next_observation"]["text"]
        assert episode_rows[1]["next_observation"]["text"] in ("1:def clamp(x, lo, hi):\n", "9:def mean(values):\n")
        assert " passed in " in episode_rows[4]["next_observation"]["text"]
        patch = episode_rows[5]["next_observation"]["text"]
        assert patch.startswith("diff --git a/calc.py b/calc.py") and metas[5]["tests_exit_code"] == 0
        env = json.loads(episode_rows[0]["env"]["details_json"])
        assert env["planted_bug"] and env["environment"]["python"].startswith("3.11")
        assert any(p.startswith("pytest==") for p in env["environment"]["packages"])
        # The host's kernel release (a container shares it) is not recorded as the image's platform.
        assert env["environment"]["platform"].startswith("Linux-") and os.uname().release not in episode_rows[0]["env"]["details_json"]
        assert episode_rows[0]["env"]["digest"].startswith("sha256:")


def test_collect_command_on_a_starter_project_is_resumable(starter_specs, tmp_path):
    repos = tmp_path / "repos.yaml"
    spec = starter_specs["inflection"]
    repos.write_text(yaml.safe_dump({"repos": [{"name": spec.name, "pypi": spec.pypi,
                                                "test_requires": list(spec.test_requires),
                                                "mutate": list(spec.mutate)}]}))
    out = tmp_path / "out"
    command = WORLDLINE + ["collect", "swe", "--repos", str(repos), "--bugs", "1", "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "1 episode collected" in first.stderr
    [generated] = list((out / "swe_tasks").glob("inflection-*.jsonl"))
    [task] = load_tasks(generated)
    [episode_rows] = rows(out).values()
    assert episode_rows[0]["task"]["id"] == task.id
    assert json.loads(episode_rows[0]["next_observation"]["meta_json"])["exit_code"] == 1
    assert json.loads(episode_rows[-1]["next_observation"]["meta_json"])["tests_exit_code"] == 0
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 episodes collected" in again.stderr and "1 already complete" in again.stderr


def test_scripted_tasks_and_bad_task_files(tiny_spec, tiny_image, tmp_path):
    repos = tmp_path / "repos.yaml"
    repos.write_text(yaml.safe_dump({"repos": [{"name": tiny_spec.name, "path": tiny_spec.path,
                                                "mutate": list(tiny_spec.mutate)}]}))
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [{
        "id": "tiny-scripted", "instruction": "look and diff", "options": {"repo": tiny_spec.name},
        "actions": [{"bash": "wc -l calc.py"}, {"view": {"path": "/work/repo/calc.py", "view_range": [1, 2]}},
                    {"git_diff": {}}]}]}))
    out = tmp_path / "out"
    done = subprocess.run(WORLDLINE + ["collect", "swe", "--repos", str(repos), "--tasks", str(tasks), "--out",
                                       str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    [episode_rows] = rows(out).values()
    assert [r["next_observation"]["text"] for r in episode_rows] == [
        "13 calc.py\n",
        "Here's the result of running `cat -n` on /work/repo/calc.py:\n     1\tdef clamp(x, lo, hi):\n"
        "     2\t    if x < lo:\n", ""]
    assert json.loads(episode_rows[0]["action"]["arguments_json"]) == {"command": "wc -l calc.py"}
    assert json.loads(episode_rows[1]["action"]["text"])["name"] == "str_replace_editor"

    tasks.write_text(yaml.safe_dump({"tasks": [{"id": "broken", "instruction": "x", "options": {"repo": tiny_spec.name},
                                                "actions": [{"bash": "ls"}, {"edit": {"path": "/x"}}]}]}))
    bad = subprocess.run(WORLDLINE + ["collect", "swe", "--repos", str(repos), "--tasks", str(tasks), "--out",
                                      str(out)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode != 0
    assert "task 'broken' action #2: unknown action 'edit'" in " ".join(bad.stderr.split())


def test_shipped_task_file_is_valid(starter_specs):
    for task in load_tasks(ROOT / "tasks" / "swe.yaml"):
        assert task.options["repo"] in starter_specs, task.id
        for number, spec in enumerate(task.actions):
            parse_swe_action(spec, f"task {task.id!r} action #{number + 1}")


@pytest.mark.parametrize("entry, message", [
    ({"name": "x", "pypi": "six"}, "must pin one version"),
    ({"name": "x"}, "exactly one of 'pypi'"),
    ({"name": "Bad Name", "pypi": "six==1.17.0"}, "'name' must match"),
    ({"name": "x", "path": "/nonexistent/dir"}, "is not a folder"),
    ({"name": "x", "pypi": "six==1.17.0", "tests": []}, "unknown keys ['tests']"),
])
def test_bad_repo_entries_are_named(tmp_path, entry, message):
    from sandboxes.swe_repos import RepoSpecError, load_repo_specs
    path = tmp_path / "repos.yaml"
    path.write_text(yaml.safe_dump({"repos": [entry]}))
    with pytest.raises(RepoSpecError) as caught:
        load_repo_specs(path)
    assert message in str(caught.value) and "repo #1" in str(caught.value)


def test_a_repository_without_commits_is_refused_by_name(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=empty, check=True)
    repos = tmp_path / "repos.yaml"
    repos.write_text(yaml.safe_dump({"repos": [{"name": "empty", "path": str(empty)}]}))
    done = subprocess.run(WORLDLINE + ["collect", "swe", "--repos", str(repos), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1
    assert "repo 'empty':" in done.stderr and "Needed a single revision" in " ".join(done.stderr.split())
