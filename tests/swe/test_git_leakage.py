"""No history past the base commit: on the host snapshot and inside the episode's container."""

import subprocess
from pathlib import Path

import pytest

from collectors.api import Task
from collectors.swe import SweCollector, parse_swe_action
from sandboxes.swe_git import leak_report, leaks, snapshot_repo
from sandboxes.swe_images import ensure_image
from sandboxes.swe_repos import RepoSpec
from tests.swe.swe_helpers import PREFIX, git, write_tiny_project

SECRET = "THE_FIX_FROM_THE_FUTURE"


@pytest.fixture(scope="module")
def repo_with_future(tmp_path_factory):
    """A repository whose base commit has a past and a future: later commits, a tag, a branch, a stash, a remote."""
    repo = write_tiny_project(tmp_path_factory.mktemp("history") / "proj")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "README").write_text("calc\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "base: add readme")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + f"\n# {SECRET}\n")
    git(repo, "commit", "-q", "-am", "fix the bug")
    fix = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "tag", "v2")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "future.py").write_text(f"{SECRET} = 1\n")
    git(repo, "add", "future.py")
    git(repo, "commit", "-q", "-m", "feature work")
    feature = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    (repo / "README").write_text(f"{SECRET}\n")
    git(repo, "stash", "-q")
    stash = git(repo, "rev-parse", "refs/stash").strip()
    git(repo, "remote", "add", "origin", "https://example.invalid/calc.git")
    git(repo, "update-ref", "refs/pull/1/head", fix)
    return {"repo": repo, "first": first, "base": base, "future": [fix, feature, stash]}


def test_source_repository_leaks_before_snapshot(repo_with_future):
    found = leaks(leak_report(repo_with_future["repo"]))
    assert any("refs/tags/v2" in f for f in found)
    assert any("refs/heads/feature" in f for f in found)
    assert any("refs/stash" in f for f in found)
    assert any("refs/pull/1/head" in f for f in found)
    assert any(f.startswith("reflog") for f in found)
    assert any(f.startswith("remote config") for f in found)


def test_snapshot_keeps_the_past_and_nothing_after_base(repo_with_future, tmp_path):
    dest = tmp_path / "snap"
    commit = snapshot_repo(repo_with_future["repo"], "HEAD~1", dest)
    assert commit == repo_with_future["base"]
    assert leaks(leak_report(dest)) == []
    assert git(dest, "log", "--all", "--format=%H").split() == [repo_with_future["base"], repo_with_future["first"]]
    for future in repo_with_future["future"]:
        probe = subprocess.run(["git", "cat-file", "-e", future], cwd=dest, capture_output=True)
        assert probe.returncode != 0, f"future object {future} is readable in the snapshot"
    everything = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=dest,
                                capture_output=True).stdout
    assert SECRET.encode() not in everything
    assert git(dest, "status", "--porcelain") == ""


def test_leak_check_catches_stray_objects_and_refs(repo_with_future, tmp_path):
    dest = tmp_path / "snap"
    snapshot_repo(repo_with_future["repo"], repo_with_future["base"], dest)
    subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=dest, input=SECRET.encode(), check=True,
                   capture_output=True)
    git(dest, "tag", "later")
    found = leaks(leak_report(dest))
    assert "1 objects not reachable from main" in found
    assert "extra ref refs/tags/later" in found


def test_episode_repository_has_no_future_inside_the_container(repo_with_future):
    spec = RepoSpec(name="wl-test-history", path=str(repo_with_future["repo"]), base_commit=repo_with_future["base"])
    collector = SweCollector({spec.name: spec}, {spec.name: ensure_image(spec)}, name_prefix=PREFIX)
    try:
        collector.reset(Task(id="leak", instruction="look", options={"repo": spec.name}))
        env = collector.env_info()
        assert env.details["base_commit"] == repo_with_future["base"]
        assert env.details["leak_check"] == "clean"
        shown = collector.step(parse_swe_action({"bash": "git log --all --format=%H; git tag; git stash list; "
                                                         "git branch -a; git reflog; git remote -v"}))
        assert shown.observation.meta["exit_code"] == 0
        assert shown.observation.text.split() == [repo_with_future["base"], repo_with_future["first"], "*", "main"]
        futures = " ".join(repo_with_future["future"])
        probe = collector.step(parse_swe_action(
            {"bash": f"for o in {futures}; do git cat-file -e $o 2>/dev/null && echo LEAK $o; done; "
                     f"git cat-file --batch-all-objects --batch | grep -c {SECRET}"}))
        assert "LEAK" not in probe.observation.text
        assert probe.observation.text.strip() == "0"
    finally:
        collector.close()


def test_planted_bug_leaves_no_clean_original_in_history(tiny_spec, tiny_image):
    original_blob = subprocess.run(["git", "hash-object", str(Path(tiny_spec.path) / "calc.py")],
                                   capture_output=True, text=True, check=True).stdout.strip()
    collector = SweCollector({tiny_spec.name: tiny_spec}, {tiny_spec.name: tiny_image}, name_prefix=PREFIX)
    try:
        collector.reset(Task(id="plant", instruction="fix", options={
            "repo": tiny_spec.name, "mutation": "calc.py:2:flip_comparison:0"}))
        result = collector.step(parse_swe_action(
            {"bash": f"git log --all --oneline | wc -l; git status --porcelain; sed -n 2p calc.py; "
                     f"git cat-file -e {original_blob} && echo ORIGINAL-READABLE || echo gone"}))
        assert result.observation.text.split("\n")[:4] == ["1", "    if x <= lo:", "gone", ""]
    finally:
        collector.close()
