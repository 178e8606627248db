"""A task file's mistakes are one `Error:` line naming the file, the task and the key, before any environment starts
(task-author walkthrough T2, T6, T8, T11, T12, T14). They used to be accepted and turned into something else: a
setup string run one character at a time (`setup command 1 'e' failed`), a list recorded as the instruction text,
max_steps 0 taken as no limit, `max_steps: "ten"` an environment error, a list of mappings as `perturbations` a
TypeError traceback; `instuction:` was "missing instruction"; `tasks: []`, an empty .jsonl and a task of an unknown
domain collected nothing without a word; a key given twice in a YAML mapping kept the last value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from collectors.tasks import TaskFileError, load_tasks
from sandboxes.mcp_server_spec import ServerFileError, load_servers
from sandboxes.swe_repos import RepoSpecError, load_repo_specs

ROOT = Path(__file__).resolve().parents[2]
WORLDLINE = Path(sys.executable).with_name("worldline")


def write(tmp_path: Path, *tasks: dict, name: str = "tasks.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"tasks": list(tasks)}, sort_keys=False))
    return path


def refused(path: Path, domain=None) -> str:
    with pytest.raises(TaskFileError) as caught:
        load_tasks(path, domain)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("setup", "echo hello > greet.txt", "setup must be a list, got the string 'echo hello > greet.txt'; write a "
                                        "list (`setup: [...]`, or one `- ...` line per entry)"),
    ("actions", "ls\n", "actions must be a list"),
    ("perturbations", "disk_full", "perturbations must be a list"),
    ("perturbations", [{"kind": "tool_error", "calls": [1]}],
     "perturbations entry 1 is a mapping, {'kind': 'tool_error', 'calls': [1]}; perturbations is a list of labels "
     "(strings), and an MCP task's proxy perturbations go in options.perturb (docs/mcp.md)"),
    ("perturbations", ["disk_full", 3], "perturbations entry 2 must be a string, got 3"),
    ("setup", [["echo", "hi"]], "setup entry 1 must be a string or a mapping, got ['echo', 'hi']"),
    ("instruction", ["first", "second"], "instruction must be a string"),
    ("max_steps", 0, "max_steps must be a whole number >= 1"),
    ("max_steps", "ten", "max_steps must be a whole number >= 1 (leave it out for the command's --max-steps), "
                         "got 'ten'"),
    ("max_steps", 2.5, "max_steps must be a whole number >= 1"),
    ("max_steps", True, "max_steps must be a whole number >= 1"),
    ("options", ["server", "git"], "options must be a mapping"),
    ("domain", 5, "domain must be a string"),
    ("id", ["a", "b"], "id must be a string (or a whole number)"),
])
def test_a_common_key_of_the_wrong_type_is_refused_naming_file_task_and_key(tmp_path, key, value, expected):
    path = write(tmp_path, {"id": "fine", "instruction": "x"}, {"id": "t1", "instruction": "x", key: value})
    message = refused(path)
    assert expected in message
    assert message.startswith(f"{path} task #2" + (" (task 't1')" if key != "id" else ""))


def test_well_typed_tasks_load_as_written(tmp_path):
    path = write(tmp_path,
                 {"id": 42, "instruction": "numeric id", "max_steps": 1, "setup": ["touch a"],
                  "perturbations": ["disk_full"], "options": {"memory": "256m"}},
                 {"id": "desk", "instruction": "mappings in setup, as the os collector's",
                  "setup": [{"launch": {"argv": ["galculator"], "app": "galculator"}}], "actions": ["key(a)"]},
                 {"id": "empty", "instruction": "keys given with no value", "setup": None, "actions": None,
                  "perturbations": None, "options": None, "max_steps": None, "domain": None})
    numeric, desk, empty = load_tasks(path)
    assert (numeric.id, numeric.max_steps, numeric.setup, numeric.perturbations) == ("42", 1, ["touch a"],
                                                                                     ["disk_full"])
    assert desk.setup == [{"launch": {"argv": ["galculator"], "app": "galculator"}}]
    assert (empty.setup, empty.actions, empty.perturbations, empty.options, empty.max_steps, empty.domain) == \
        ([], [], [], {}, None, "")


SHIPPED = [path for path in sorted((ROOT / "tasks").glob("*.yaml")) if path.name not in ("mcp_servers.yaml",
                                                                                          "swe_repos.yaml")]


@pytest.mark.parametrize("path", [*SHIPPED, ROOT / "tests/plugin_example/tasks.yaml"], ids=lambda path: path.name)
def test_every_shipped_task_file_still_loads(path):
    assert load_tasks(path)


def test_a_misspelled_key_is_reported_as_unknown_before_anything_is_missing(tmp_path):
    message = refused(write(tmp_path, {"id": "count", "instuction": "Count files.", "setup": ["touch a b"]}))
    assert message == (f"{tmp_path / 'tasks.yaml'} task #1 (task 'count'): unknown key 'instuction' (did you mean "
                       f"'instruction'?); allowed: ['actions', 'domain', 'group', 'id', 'instruction', 'max_steps', "
                       f"'options', 'perturbations', 'setup']")
    # With no id to name, the position alone.
    message = refused(write(tmp_path, {"instruction": "x", "action": []}))
    assert message.startswith(f"{tmp_path / 'tasks.yaml'} task #1: unknown key 'action' (did you mean 'actions'?)")
    assert refused(write(tmp_path, {"id": "t", "setup": []})).endswith("task #1 (task 't'): task is missing "
                                                                       "instruction")


def test_a_duplicate_id_names_both_positions(tmp_path):
    path = write(tmp_path, {"id": "dup", "instruction": "a"}, {"id": "other", "instruction": "b"},
                 {"id": "dup", "instruction": "c"})
    assert "task id 'dup' appears twice (task #1 and task #3)" in refused(path)
    jsonl = tmp_path / "tasks.jsonl"
    jsonl.write_text('{"id": "dup", "instruction": "a"}\n\n{"id": "dup", "instruction": "b"}\n')
    assert "task id 'dup' appears twice (line 1 and line 3)" in refused(jsonl)


@pytest.mark.parametrize(("name", "text"), [("tasks.yaml", "tasks: []\n"), ("list.yaml", "[]\n"),
                                            ("tasks.jsonl", ""), ("blank.jsonl", "\n  \n")])
@pytest.mark.parametrize("domain", [None, "terminal"])
def test_a_file_with_no_tasks_is_refused(tmp_path, name, text, domain):
    path = tmp_path / name
    path.write_text(text)
    assert refused(path, domain) == f"{path}: the file holds no tasks; a task file lists at least one"


def test_a_task_of_a_domain_no_collector_has_is_refused_not_skipped(tmp_path):
    path = write(tmp_path, {"id": "db", "domain": "database", "instruction": "x"}, {"id": "ok", "instruction": "y"})
    message = refused(path, "terminal")
    assert message.startswith(f"{path} (task 'db'): domain 'database' is not one worldline knows (an MCP task's "
                              f"domain may be mcp, or unset")
    assert "known domains: android, mcp, os, search, swe, terminal, web" in message
    # Another collector's task is still skipped: a file may hold several collectors' tasks.
    mixed = write(tmp_path, {"id": "w", "domain": "web", "instruction": "x"}, {"id": "ok", "instruction": "y"})
    assert [task.id for task in load_tasks(mixed, "terminal")] == ["ok"]


def test_a_collector_of_several_domains_keeps_each_of_them(tmp_path):
    # The mcp collector records in its servers' domains, which a servers file may name itself (here calendar).
    path = write(tmp_path, {"id": "c", "domain": "calendar", "instruction": "x"},
                 {"id": "s", "domain": "search", "instruction": "x"}, {"id": "t", "domain": "terminal",
                                                                      "instruction": "x"})
    assert [task.id for task in load_tasks(path, {"mcp", "search", "calendar"})] == ["c", "s"]
    only_terminal = write(tmp_path, {"id": "t", "domain": "terminal", "instruction": "x"})
    assert "no task is for this collector, which runs tasks whose domain is 'mcp', 'search' or unset" in \
        refused(only_terminal, {"mcp", "search"})


def test_a_yaml_key_given_twice_is_refused_with_its_line(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text("tasks:\n  - id: twice\n    instruction: x\n    actions: [[{keystrokes: \"echo one\\n\"}]]\n"
                    "    actions: [[{keystrokes: \"echo two\\n\"}]]\n")
    assert refused(path) == (f"{path} line 5, column 5: not valid YAML: key 'actions' given twice (first on line 4): "
                             f"a mapping keeps one value per key")
    # A key overriding one merged in with `<<:` is not a repeat.
    path.write_text("base: &base {instruction: x, max_steps: 2}\ntasks:\n  - <<: *base\n    id: a\n    max_steps: 3\n")
    assert load_tasks(path)[0].max_steps == 3


def test_servers_and_repos_files_refuse_a_key_given_twice(tmp_path):
    servers = tmp_path / "servers.yaml"
    servers.write_text("servers:\n  time:\n    command: python\n  time:\n    command: python3\n")
    with pytest.raises(ServerFileError, match=r"servers.yaml line 4, column 3: not valid YAML: key 'time' given "
                                              r"twice \(first on line 2\)"):
        load_servers(servers)
    repos = tmp_path / "repos.yaml"
    repos.write_text("repos:\n  - name: six\n    pypi: six==1.17.0\n    name: seven\n")
    with pytest.raises(RepoSpecError, match=r"repos.yaml line 4, column 5: not valid YAML: key 'name' given twice"):
        load_repo_specs(repos)


def run_worldline(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(WORLDLINE), *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_collect_terminal_refuses_a_setup_string_before_any_container_starts(tmp_path):
    tasks = write(tmp_path, {"id": "greet", "instruction": "x", "setup": "echo hello > greet.txt",
                             "actions": [[{"keystrokes": "cat greet.txt\n"}]]})
    out = tmp_path / "out"
    # An image that does not exist: had the command gone as far as Docker, it would have failed another way.
    result = run_worldline("collect", "terminal", "--tasks", tasks, "--out", out, "--image", "worldline/none:missing")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {tasks} task #1 (task 'greet'): setup must be a list"), \
        result.stderr
    assert not out.exists()


def test_collect_mcp_skips_other_collectors_tasks_by_domain(tmp_path):
    # It loaded every task, whatever its domain: a terminal task was refused as having no options.server.
    tasks = write(tmp_path, {"id": "term", "domain": "terminal", "instruction": "x", "actions": []})
    out = tmp_path / "out"
    result = run_worldline("collect", "mcp", "--tasks", tasks, "--out", out)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {tasks}: no task is for this collector"), result.stderr
    assert not out.exists()
