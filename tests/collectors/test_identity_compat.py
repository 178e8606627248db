"""Stored episodes from older worldline versions, resumed with today's (compat audit V9, and the digests of V3/V4).

V9: the changed-task warning hashed a task's actions only, so an edited `setup` was never noticed, and a record from
before the digest was skipped without a word. Today a record holds task_sha1 (setup, actions, options,
perturbations, max_steps); one with only script_sha1 (written before it) is compared by its actions as before,
and ones with neither are counted in one warning line.

V3/V4 pure parts: the web sites digest leaves the launcher out, and the MCP set-up digest is canonical."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from collectors import mcp, runner, web
from collectors.api import ScriptedPolicy, Task
from collectors.command import plans_for
from collectors.runner import SCRIPT_KEY, collect, episode_id_for, script_digest
from sandboxes.mcp_server_spec import load_servers
from schemas.layout import episode_path
from tests.collectors.test_store_resume import ShellCollector

DOMAIN = "shelltest"


def _task(setup=("echo set",), actions=("echo a",), task_id="t", **fields) -> Task:
    return Task(id=task_id, instruction="echo", setup=list(setup), actions=list(actions), **fields)


def _collect(tmp_path, tasks, **plan_options):
    return collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks, **plan_options), tmp_path / "out",
                   domain=DOMAIN, progress=False)


def _extra(tmp_path, task_id="t", seed=0) -> tuple:
    path = episode_path(tmp_path / "out", DOMAIN, episode_id_for(DOMAIN, task_id, seed))
    record = json.loads(path.read_text())
    return path, record, json.loads(record["provenance"]["extra_json"] or "{}")


def _keep_only(tmp_path, keys: tuple[str, ...], task_id="t", seed=0) -> None:
    """Make a stored record look written by an older worldline: only `keys` of the digests left."""
    path, record, extra = _extra(tmp_path, task_id, seed)
    record["provenance"]["extra_json"] = json.dumps({k: v for k, v in extra.items() if k in keys})
    path.write_text(json.dumps(record))


def _warnings(caplog, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and words in r.getMessage()]


def test_an_edited_setup_is_noticed(tmp_path, caplog):
    _collect(tmp_path, [_task(setup=["echo one"])])
    assert runner.TASK_KEY in _extra(tmp_path)[2] and SCRIPT_KEY in _extra(tmp_path)[2]
    caplog.clear()
    report = _collect(tmp_path, [_task(setup=["echo two"])])
    assert report.script_changed == [episode_id_for(DOMAIN, "t", 0)]
    [warning] = _warnings(caplog, "kept as complete, though recorded from other actions")
    assert "setup" in warning


@pytest.mark.parametrize("field,before,after", [("options", {}, {"site": "shop"}),
                                                ("perturbations", [], ["disk_full"]),
                                                ("max_steps", None, 3)])
def test_what_else_decides_the_episode_is_noticed(tmp_path, field, before, after):
    _collect(tmp_path, [_task(**{field: before})])
    assert _collect(tmp_path, [_task(**{field: after})]).script_changed == [episode_id_for(DOMAIN, "t", 0)]


def test_descriptive_fields_are_not_part_of_the_digest(tmp_path):
    _collect(tmp_path, [_task()])
    edited = Task(id="t", instruction="another wording", setup=["echo set"], actions=["echo a"], group="g",
                  domain="")
    report = _collect(tmp_path, [edited])
    assert (report.script_changed, report.script_unchecked, report.skipped_complete) == ([], [], 1)


def test_records_from_before_the_task_digest_are_compared_by_their_actions(tmp_path, caplog):
    """A record written since script_sha1 but before task_sha1 must not look changed because setup is hashed now."""
    tasks = [_task(task_id="t"), _task(task_id="u")]
    _collect(tmp_path, tasks)
    for task_id in ("t", "u"):
        _keep_only(tmp_path, (SCRIPT_KEY,), task_id)
    assert _extra(tmp_path)[2] == {SCRIPT_KEY: script_digest(tasks[0])}
    caplog.clear()
    # setup edited in both (not seen in such a record), actions edited in u (seen, as before)
    report = _collect(tmp_path, [_task(task_id="t", setup=["echo new"]),
                                 _task(task_id="u", setup=["echo new"], actions=["echo b"])])
    assert report.script_changed == [episode_id_for(DOMAIN, "u", 0)]
    assert report.script_unchecked == [] and not _warnings(caplog, "without a check")


def test_records_without_any_digest_are_counted_in_one_warning(tmp_path, caplog):
    tasks = [_task(task_id=f"t{i}") for i in range(3)]
    _collect(tmp_path, tasks, seeds=2)
    for i in range(3):
        for seed in range(2):
            _keep_only(tmp_path, (), f"t{i}", seed)
    caplog.clear()
    report = _collect(tmp_path, tasks, seeds=2)
    assert len(report.script_unchecked) == 6 and report.script_changed == [] and report.skipped_complete == 6
    [warning] = _warnings(caplog, "without a check")
    assert "\n" not in warning
    assert warning.startswith("Warning: 6 stored episodes of tasks t0, t1, t2 kept as complete without a check "
                              "against the task file")
    assert "collect into a new --out" in warning
    # A policy the runner cannot tell is scripted plays no known script: nothing to warn about.
    caplog.clear()
    assert _collect(tmp_path, tasks, seeds=2, policy_factory=lambda: ScriptedPolicy()).script_unchecked == []
    assert not _warnings(caplog, "without a check")


# ---- V3: the sites digest is of the pages only --------------------------------------------------------------


@pytest.fixture()
def sites_copy(tmp_path, monkeypatch):
    copy = tmp_path / "sites"
    shutil.copytree(web.SITES_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(web, "SITES_DIR", copy)
    return copy


def _digest() -> str:
    return web._sites_digest.__wrapped__()


def test_the_launcher_is_not_part_of_the_sites_digest(sites_copy):
    before = _digest()
    assert before == web._sites_digest()  # the copy is what the collector hashes
    (sites_copy / "launcher.py").write_text((sites_copy / "launcher.py").read_text() + "\n# temp folder plumbing\n")
    (sites_copy / "__pycache__").mkdir()
    (sites_copy / "__pycache__" / "launcher.cpython-311.pyc").write_bytes(b"\0compiled")
    assert _digest() == before
    template = next(sites_copy.glob("shop/templates/*.html"))
    template.write_text(template.read_text() + "<p>a new line on a page</p>")
    assert _digest() != before


def test_an_earlier_digest_is_accepted_only_for_the_pages_it_was_given_for(sites_copy):
    collector = web.WebCollector.__new__(web.WebCollector)  # recorded_env_matches reads no browser state
    current = {"kind": "chromium", "id": "chromium-1", "digest": _digest(), "details_json": "{}"}
    aliases = web.LEGACY_SITES_DIGESTS[current["digest"]]
    assert all(collector.recorded_env_matches({**current, "digest": old}, current) for old in aliases)
    assert not collector.recorded_env_matches({**current, "digest": "0123456789abcdef"}, current)
    seed = sites_copy / "shop" / "__init__.py"
    seed.write_text(seed.read_text() + "\n# a page change\n")
    changed = {**current, "digest": _digest()}
    assert not any(collector.recorded_env_matches({**current, "digest": old}, changed) for old in aliases)


# ---- V4: the MCP set-up digest ----------------------------------------------------------------------------


SERVERS = """servers:
  git:
    description: Git.
    command: "{mcp_venv}/bin/python"
    args: ["-m", "mcp_server_git", "--repository", "{workdir}/repo"]
    env: {GIT_AUTHOR_NAME: W, GIT_AUTHOR_DATE: "{git_date}"}
    prepare: [git init -q -b main repo]
    hints: {repo_path: "{workdir}/repo"}
"""
REFORMATTED = """servers:
  git:
    prepare:
      - git init -q -b main repo
    env:
      GIT_AUTHOR_DATE: '{git_date}'
      GIT_AUTHOR_NAME: 'W'
    args:
      - -m
      - mcp_server_git
      - --repository
      - '{workdir}/repo'
    command: '{mcp_venv}/bin/python'
    description: Another description.
    hints: {repo_path: ["{workdir}/repo"], branch_name: [main]}
    startup_timeout_s: 60
"""
VALUES = {"mcp_venv": "/opt/worldline/mcp-venv", "workdir": "/tmp/workspace", "git_date": "2024-01-01T00:00:00+0000",
          "port": "41234", "python": "/opt/worldline/venv/bin/python", "pages": "http://127.0.0.1:8000"}


def _spec(tmp_path, text: str, name="servers.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_servers(path)["git"]


def test_the_setup_digest_is_canonical(tmp_path):
    digest = mcp.setup_digest(_spec(tmp_path, SERVERS), VALUES)
    assert mcp.setup_digest(_spec(tmp_path, REFORMATTED, "other.yaml"), VALUES) == digest
    # a free port or another way of installing worldline is not another set-up
    assert mcp.setup_digest(_spec(tmp_path, SERVERS), {**VALUES, "port": "5", "python": "/usr/bin/python3"}) == digest


@pytest.mark.parametrize("edit", [
    lambda text: text.replace("GIT_AUTHOR_NAME: W", "GIT_AUTHOR_NAME: V"),
    lambda text: text.replace("[git init -q -b main repo]", "[git init -q -b main repo, touch repo/x]"),
    lambda text: text.replace('"--repository"', '"-r"'),
    lambda text: text.replace("    hints:", "    network: true\n    hints:"),
])
def test_the_setup_digest_sees_a_change_to_the_entry(tmp_path, edit):
    before = mcp.setup_digest(_spec(tmp_path, SERVERS), VALUES)
    assert mcp.setup_digest(_spec(tmp_path, edit(SERVERS), "edited.yaml"), VALUES) != before


def test_the_setup_digest_sees_a_placeholder_worldline_fills_in(tmp_path):
    """{git_date} is worldline's, not the entry's: an upgrade that pins another date makes other commit ids."""
    spec = _spec(tmp_path, SERVERS)
    assert mcp.setup_digest(spec, {**VALUES, "git_date": "2025-01-01T00:00:00+0000"}) != mcp.setup_digest(spec, VALUES)


def test_a_record_from_before_the_setup_digest_matches_only_the_same_command_and_args():
    collector = mcp.McpCollector.__new__(mcp.McpCollector)  # recorded_env_matches reads no server state
    details = {"command": "{mcp_venv}/bin/python", "args": ["-m", "mcp_server_git"], "transport": "stdio",
               "server_info": {"name": "mcp-git"}}
    current = {"kind": "mcp-server", "id": "git", "digest": "mcp-git@1.0+0123456789abcdef",
               "details_json": json.dumps(details)}
    legacy = {**current, "digest": "mcp-git@1.0"}
    assert collector.recorded_env_matches(legacy, current)
    other_command = {**legacy, "details_json": json.dumps({**details, "command": "{mcp_venv}/bin/mcp-server-git"})}
    assert not collector.recorded_env_matches(other_command, current)
    assert not collector.recorded_env_matches({**legacy, "digest": "mcp-git@0.9"}, current)
    # a record with another set-up digest is not a legacy one
    assert not collector.recorded_env_matches({**current, "digest": "mcp-git@1.0+fedcba9876543210"}, current)
