"""`worldline collect web` end to end, as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

from sandboxes.sites.launcher import SiteLauncher

WORLDLINE = [str(Path(sys.executable).with_name("worldline")), "collect", "web"]


def run(*args):
    return subprocess.run(WORLDLINE + list(args), capture_output=True, text=True, timeout=240)


def test_tasks_then_urls_into_one_collection_and_resume(tmp_path):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("""
- id: forum-search
  instruction: Search the forum for tomatoes.
  options: {site: forum}
  actions: ['fill("searchbox ''Search posts''", "tomato")', 'keyboard_press("Enter")']
""")
    out = tmp_path / "out"
    first = run("--tasks", str(tasks), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "1 episode collected (2 transitions)" in " ".join(first.stderr.split())
    episode = json.loads(next((out / "episodes" / "web").glob("*.json")).read_text())
    assert (episode["domain"], episode["policy"], episode["steps"]) == ("web", "scripted", 2)
    again = run("--tasks", str(tasks), "--out", str(out))
    assert "1 already complete" in " ".join(again.stderr.split())

    sites = SiteLauncher()  # stands for "any other site": the collector only gets its URL
    try:
        urls = tmp_path / "urls.txt"
        urls.write_text(f"# a site served by this test\n{sites.url('tracker')}/project/WEB\n")
        explored = run("--urls", str(urls), "--budget", "3", "--out", str(out))
    finally:
        sites.close()
    assert explored.returncode == 0, explored.stderr
    assert "1 episode collected (3 transitions)" in " ".join(explored.stderr.split())


def test_bad_arguments_are_refused_clearly(tmp_path):
    unknown = run("--explore", "casino", "--out", str(tmp_path))
    assert unknown.returncode != 0 and "unknown site(s) ['casino']" in unknown.stderr
    both = run("--explore", "shop", "--tasks", "x.yaml", "--out", str(tmp_path))
    assert both.returncode != 0 and "exactly one of --tasks, --explore, --urls" in both.stderr


def test_a_script_naming_what_the_page_lacks_is_a_task_error_and_exits_1(tmp_path):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("""
- id: forum-missing-button
  instruction: Press a button the forum does not have.
  options: {site: forum}
  actions: ['click("button ''Launch rocket''")']
""")
    done = run("--tasks", str(tasks), "--out", str(tmp_path / "out"))
    message = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stderr
    assert "1 episode collected (0 transitions), 0 already complete, 1 ended in an error (1 task error)" in message
    assert "task error (web-forum-missing-button-s0-" in message, message
    assert "no element button 'Launch rocket' in the current page" in message, message
    episode = json.loads(next((tmp_path / "out" / "episodes" / "web").glob("*.json")).read_text())
    assert episode["end_reason"].startswith("task error: WebTaskError: task 'forum-missing-button' step 0")
