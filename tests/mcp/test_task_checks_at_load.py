"""Mistakes in an MCP task or servers file are one line `Error: FILE: ...` (exit 2) before any server starts
(task-author walkthrough T3, T4, T5, T9): a top-level `perturbations`, a misspelled key in an action or in
options, a typo in options.perturb or an action's method. They were found only when the episode played (a
perturbation typo even counted as an environment error, retried on every run), or never: the mistyped key was
dropped and the episode recorded without it. And a server that cannot start says why without the shipped servers'
install hint when it is the user's own (T13)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from collectors.mcp import SETUP_SCRIPT
from sandboxes.mcp_install import SETUP_COMMAND
from sandboxes.mcp_server_spec import ServerFileError, load_servers

ROOT = Path(__file__).resolve().parents[2]
# No such executable: had any server been started, the episode would end in "is not an executable on PATH" (exit 1,
# an episode record stored) instead of the task-file error.
ABSENT_SERVER = {"command": "/nonexistent/h164-mcp-server"}


def collect(tmp_path: Path, servers: dict, tasks: list[dict]) -> subprocess.CompletedProcess:
    servers_file, tasks_file = tmp_path / "servers.yaml", tmp_path / "tasks.yaml"
    servers_file.write_text(yaml.safe_dump({"servers": servers}))
    tasks_file.write_text(yaml.safe_dump({"tasks": tasks}, sort_keys=False))
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "mcp", "--servers", str(servers_file),
                           "--tasks", str(tasks_file), "--out", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def task(**fields) -> dict:
    return {"id": "t1", "instruction": "call", "options": {"server": "srv"}, "actions": [{"tool": "x"}], **fields}


@pytest.mark.parametrize("fields, expected", [
    ({"perturbations": ["tool_error"]},
     "task 't1': perturbations ['tool_error'] would be recorded but not applied: MCP perturbations go in "
     "options.perturb (docs/mcp.md)"),
    ({"actions": [{"tool": "git_status", "args": {"repo_path": "{workdir}/repo"}}]},
     "task 't1' action #1: action {'tool': 'git_status', 'args': {'repo_path': '{workdir}/repo'}}: unknown keys "
     "['args']; known: ['arguments', 'name', 'tool']"),
    ({"options": {"srever": "srv"}}, "task 't1': unknown options ['srever']; known: ['server', 'perturb'"),
    ({"options": {"server": "srv", "perturb": [{"kind": "latncy", "ms": 100}]}},
     "task 't1': options.perturb[0]: kind 'latncy' is not one of"),
    ({"actions": [{"tool": "x"}, "get_current_time(timezone=UTC)"]},
     "task 't1' action #2: an MCP action must be a mapping, got str"),
    ({"actions": [{"method": "resources/raed", "params": {"uri": "test://x"}}]},
     "task 't1' action #1: action method 'resources/raed' is not one of"),
    ({"actions": [{"method": "resources/read", "params": {"url": "test://x"}}]},
     "unknown resources/read params ['url']; known: ['uri']"),
    ({"actions": [{"method": "prompts/get", "parmas": {"name": "p"}}]}, "unknown keys ['parmas']"),
    ({"actions": [{"method": "prompts/get", "params": {"arguments": {}}}]}, "prompts/get needs params.name"),
])
def test_a_task_mistake_is_one_line_before_any_server_starts(tmp_path, fields, expected):
    good = {**task(), "id": "t0"}  # a task before it: every task is checked before the first episode
    done = collect(tmp_path, {"srv": ABSENT_SERVER}, [good, task(**fields)])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"Error: {tmp_path / 'tasks.yaml'}: task 't1'"), lines[0]
    assert expected in lines[0], lines[0]
    assert "is not an executable" not in done.stderr and not (tmp_path / "out" / "episodes").exists()


def test_an_unknown_server_is_one_line_naming_the_file(tmp_path):
    done = collect(tmp_path, {"srv": ABSENT_SERVER}, [task(options={"server": "srvr"})])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"Error: {tmp_path / 'tasks.yaml'}: task 't1': options.server 'srvr' is not in")


def test_a_servers_domain_near_a_known_one_is_refused(tmp_path):
    done = collect(tmp_path, {"srv": {**ABSENT_SERVER, "domain": "serch"}}, [task()])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert f"{tmp_path / 'servers.yaml'} server 'srv': domain 'serch' looks like a misspelling of the known " \
           f"domain 'search'" in lines[0]


@pytest.mark.parametrize("domain, refused", [("serch", "search"), ("Search", "search"), ("mpc", "mcp"),
                                              ("database", None), ("webapp", None), ("docs", None),
                                              ("search", None)])
def test_which_domains_count_as_near_misses(tmp_path, domain, refused):
    servers = tmp_path / "servers.yaml"
    servers.write_text(yaml.safe_dump({"servers": {"srv": {**ABSENT_SERVER, "domain": domain}}}))
    if refused is None:
        assert load_servers(servers)["srv"].domain == domain  # a new domain stays allowed
    else:
        with pytest.raises(ServerFileError, match=f"domain '{domain}' looks like a misspelling of the known domain "
                                                  f"'{refused}'"):
            load_servers(servers)


def test_a_users_server_that_never_answers_says_so_without_the_install_hint(tmp_path):
    servers = {"silent": {"command": "/bin/sleep", "args": ["600"], "startup_timeout_s": 2},
               "absent": ABSENT_SERVER}
    done = collect(tmp_path, servers, [task(id="a", options={"server": "silent"}),
                                       task(id="b", options={"server": "absent"})])
    flat = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stderr[-2000:]  # both episodes are environment errors
    assert "server 'silent' did not answer initialize within 2 s (the entry's startup_timeout_s)" in flat, flat
    assert "server 'absent': command '/nonexistent/h164-mcp-server' is not an executable on PATH" in flat, flat
    assert "TimeoutError" not in flat
    # The setup command installs the shipped servers: for these it would send the user astray.
    assert SETUP_SCRIPT not in flat and SETUP_COMMAND not in flat, flat


def test_the_shipped_entries_keep_the_install_hint():
    from collectors.mcp import DEFAULT_SERVERS_FILE, start_failure_headline
    from sandboxes.mcp_server_spec import installed_by_setup

    shipped = load_servers(DEFAULT_SERVERS_FILE)
    assert shipped and all(installed_by_setup(spec) for spec in shipped.values())
    message = "server 'time' did not start: MCPError: Connection closed; stderr: ModuleNotFoundError: No module x"
    assert SETUP_SCRIPT in start_failure_headline(message, shipped=True)
    assert start_failure_headline(message, shipped=False) == "server 'time' did not start: ModuleNotFoundError: " \
                                                             "No module x"
