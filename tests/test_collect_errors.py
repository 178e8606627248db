"""Mistakes in the files a user gives `worldline collect` end as one line `Error: ...` and exit code 2, for every
collector, before any container, browser, device or server is started; the shipped servers file is found from any
working directory."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from pipelines.cli import build_cli

# What each collector needs besides --tasks to get as far as reading it.
COLLECTORS = {
    "terminal": ["--image", "worldline/none:missing"],  # the task file is read before the image is looked for
    "web": [],
    "os": [],
    "mcp": [],
    "swe": [],
    "android": ["--serial", "127.0.0.1:1"],  # the task file is read before the device is connected
}
BAD_YAML = "instruction: [x\n"
DUPLICATE_IDS = [{"id": "a", "instruction": "one"}, {"id": "a", "instruction": "two"}]


def worldline(*args):
    return CliRunner().invoke(build_cli(), [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_bad_yaml_is_one_line_naming_file_and_line(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository root: mcp must still find its servers file
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    result = worldline("collect", name, "--tasks", "bad.yaml", "--out", tmp_path / "out", *COLLECTORS[name])
    assert_one_line_error(result, "bad.yaml line 2", "not valid YAML", "expected ',' or ']'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_duplicate_task_ids_are_one_line(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dup.yaml").write_text(yaml.safe_dump(
        [{**task, "options": {"server": "time", "repo": "x"}} if name in ("mcp", "swe") else task
         for task in DUPLICATE_IDS]))
    result = worldline("collect", name, "--tasks", "dup.yaml", "--out", tmp_path / "out", *COLLECTORS[name])
    assert_one_line_error(result, "dup.yaml", "task id 'a' appears twice")
    assert not (tmp_path / "out").exists()


def test_missing_task_file_is_one_line(tmp_path):
    result = worldline("collect", "web", "--tasks", tmp_path / "nope.yaml", "--out", tmp_path / "out")
    assert_one_line_error(result, "nope.yaml does not exist")


WEB_TASK = {"id": "t", "instruction": "i", "options": {"site": "shop"}, "actions": ["noop()"]}


@pytest.mark.parametrize("change, fragments", [
    ({"options": {}}, ["task 't': options.site (a served site: shop, forum, tracker, form) or options.url is needed"]),
    ({"options": {"site": "casino"}}, ["task 't': options.site 'casino' is not a served site"]),
    ({"options": {"site": "shop", "url": "http://x"}}, ["task 't': give either options.site or options.url"]),
    ({"options": {"url": "example.org"}}, ["options.url 'example.org' must start with http:// or https://"]),
    ({"options": {"site": "shop", "start": "cart"}}, ["options.start 'cart' must be a path under options.site"]),
    ({"options": {"site": "shop", "stie": "x"}}, ["unknown options ['stie']; known: ['site', 'url', 'start'"]),
    ({"perturbations": ["explode:/api/*"]}, ["task 't': perturbation 'explode:/api/*': unknown kind 'explode'"]),
    ({"actions": ["noop()", "klick('3')"]}, ["task 't' action #2: action \"klick('3')\": unknown action 'klick'"]),
    ({"actions": [{"click": 3}]}, ["task 't' action #1: action {'click': 3}: expected a call"]),
])
def test_web_checks_every_task_before_the_browser_starts(tmp_path, change, fragments):
    (tmp_path / "t.yaml").write_text(yaml.safe_dump([{**WEB_TASK, **change}]))
    result = worldline("collect", "web", "--tasks", tmp_path / "t.yaml", "--out", tmp_path / "out")
    assert_one_line_error(result, str(tmp_path / "t.yaml"), *fragments)
    assert not (tmp_path / "out").exists()


def test_web_refuses_another_collectors_task_file(tmp_path):
    from pathlib import Path

    terminal = Path(__file__).resolve().parents[1] / "tasks" / "terminal.yaml"
    result = worldline("collect", "web", "--tasks", terminal, "--out", tmp_path / "out", "--limit", "1")
    assert_one_line_error(result, "terminal.yaml: task 'files-organize-logs': options.site", "or options.url is needed")
    assert not (tmp_path / "out").exists()


def test_mcp_default_servers_file_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    from collectors.mcp import DEFAULT_SERVERS_FILE

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump([{"id": "x", "instruction": "i", "options": {"server": "nope"}}]))
    result = worldline("collect", "mcp", "--tasks", "t.yaml", "--out", tmp_path / "out")
    # The shipped servers file was read (from the project, not ./tasks/): the task's server is checked against it.
    stderr = "".join(result.stderr.split())  # the usage error may wrap long lines
    assert result.exit_code == 2 and "options.server'nope'isnotin" in stderr, result.stderr
    assert str(DEFAULT_SERVERS_FILE).replace(" ", "") in stderr and "doesnotexist" not in stderr
    assert DEFAULT_SERVERS_FILE.is_absolute() and DEFAULT_SERVERS_FILE.is_file()


@pytest.mark.parametrize("content, fragments", [
    ("servers: {time: {command: [x}\n", ["servers.yaml line 1", "not valid YAML"]),
    ("servers: {}\n", ["servers.yaml", "non-empty 'servers' mapping"]),
])
def test_bad_servers_file_is_one_line(tmp_path, content, fragments):
    (tmp_path / "servers.yaml").write_text(content)
    result = worldline("collect", "mcp", "--explore", "--servers", tmp_path / "servers.yaml", "--out", tmp_path / "o")
    assert_one_line_error(result, *fragments)


def test_missing_servers_file_is_one_line(tmp_path):
    result = worldline("collect", "mcp", "--explore", "--servers", tmp_path / "none.yaml", "--out", tmp_path / "o")
    assert_one_line_error(result, "none.yaml does not exist")


def test_bad_perturbation_file_is_one_line(tmp_path):
    (tmp_path / "p.yaml").write_text("- {kind: truncate\n")
    result = worldline("collect", "mcp", "--explore", "--perturb", tmp_path / "p.yaml", "--out", tmp_path / "o")
    assert_one_line_error(result, "p.yaml line", "not valid YAML")
    (tmp_path / "p.yaml").write_text("- {kind: boom}\n")
    result = worldline("collect", "mcp", "--explore", "--perturb", tmp_path / "p.yaml", "--out", tmp_path / "o")
    assert_one_line_error(result, "boom")


def test_bad_swe_repos_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "repos.yaml").write_text(BAD_YAML)
    result = worldline("collect", "swe", "--repos", "repos.yaml", "--out", tmp_path / "out")
    assert_one_line_error(result, "repos.yaml line 2", "not valid YAML")


def test_other_errors_are_not_swallowed(tmp_path, monkeypatch):
    import collectors.web

    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not a user mistake")

    monkeypatch.setattr(collectors.web, "load_tasks", broken)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump([{"id": "a", "instruction": "i"}]))
    result = worldline("collect", "web", "--tasks", tmp_path / "t.yaml", "--out", tmp_path / "out")
    assert isinstance(result.exception, RuntimeError)


def test_load_tasks_names_file_line_and_reason(tmp_path):
    from collectors.tasks import TaskFileError, load_tasks

    path = tmp_path / "t.yaml"
    path.write_text("- id: a\n  instruction: ok\n- id: b\n  instruction: \"unterminated\n")
    with pytest.raises(TaskFileError) as caught:
        load_tasks(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "line 4" in message and "not valid YAML" in message
    with pytest.raises(TaskFileError, match="is a folder"):
        load_tasks(tmp_path)


TERMINAL_LONG_WAIT = {"id": "long", "instruction": "build", "actions": [
    [{"keystrokes": "ls\n", "duration": 1}], [{"keystrokes": "make\n", "duration": 600}]]}


def test_a_terminal_duration_over_the_action_timeout_is_refused_at_load(tmp_path):
    # It was cut to 30 s without a word, and recorded as a 600 s wait; the author learns it before any data exists.
    (tmp_path / "t.yaml").write_text(yaml.safe_dump([TERMINAL_LONG_WAIT]))
    result = worldline("collect", "terminal", "--tasks", tmp_path / "t.yaml", "--out", tmp_path / "out",
                       *COLLECTORS["terminal"])
    assert_one_line_error(result, f"{tmp_path / 't.yaml'}: task 'long' action #2, entry 1: duration 600 s is over the "
                                  "30 s an entry may wait (the sandbox's action timeout, Limits.action_timeout_s)",
                          "raise the task's options.action_timeout_s to at least 600")
    assert not (tmp_path / "out").exists()


def test_a_terminal_task_may_raise_its_action_timeout(tmp_path):
    (tmp_path / "t.yaml").write_text(yaml.safe_dump([{**TERMINAL_LONG_WAIT, "options": {"action_timeout_s": 600}}]))
    result = worldline("collect", "terminal", "--tasks", tmp_path / "t.yaml", "--out", tmp_path / "out",
                       *COLLECTORS["terminal"])
    # Past the task checks, as far as the image (which does not exist)
    assert result.exit_code == 2 and "image worldline/none:missing does not exist" in result.output, result.output


# A JavaScript-made string cut in half (`"\ud800"`, a JSON or YAML escape of half a UTF-16 pair) in a task: both
# parsers keep it, no UTF-8 writer takes it, and `collect mcp` died on it with a traceback after other episodes.
SURROGATE_TASKS = {
    "t.jsonl": '{"id": "ok", "instruction": "fine", "options": {"server": "time"}, "actions": []}\n'
               '{"id": "cut", "instruction": "odd", "options": {"server": "time"}, "actions": '
               '[{"tool": "get_current_time", "arguments": {"timezone": "x \\ud800"}}]}\n',
    "t.yaml": '- {id: ok, instruction: fine, options: {server: time}}\n'
              '- {id: cut, instruction: "odd \\udc00", options: {server: time}}\n',
}


@pytest.mark.parametrize("name, fragment", [
    ("t.jsonl", "t.jsonl:2 (task 'cut'): actions entry 1, arguments.timezone holds a lone UTF-16 surrogate U+D800 "
                "at character 3"),
    ("t.yaml", "t.yaml task #2 (task 'cut'): instruction holds a lone UTF-16 surrogate U+DC00 at character 5"),
])
def test_a_lone_surrogate_in_a_task_is_refused_at_load(tmp_path, name, fragment):
    (tmp_path / name).write_text(SURROGATE_TASKS[name])
    result = worldline("collect", "mcp", "--tasks", tmp_path / name, "--out", tmp_path / "out")
    assert_one_line_error(result, fragment, "write the character itself or its whole pair")
    assert not (tmp_path / "out").exists()


def test_a_surrogate_pair_and_a_key_are_told_apart(tmp_path):
    from collectors.tasks import TaskFileError, load_tasks

    path = tmp_path / "t.jsonl"
    # A whole pair is one character (U+1F600) to both parsers: the task is fine.
    path.write_text('{"id": "a", "instruction": "smile \\ud83d\\ude00", "actions": []}\n')
    assert load_tasks(path)[0].instruction == "smile \U0001F600"
    path.write_text('{"id": "a", "instruction": "i", "options": {"\\udfff": 1}}\n')
    with pytest.raises(TaskFileError, match="a key of options holds a lone UTF-16 surrogate U[+]DFFF"):
        load_tasks(path)
