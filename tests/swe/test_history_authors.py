"""A user's own git repository: the people its history names do not reach the records (privacy audit PR2), and the
env details name the repository without the host folder it sits in (PR6)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from collectors.api import Task
from collectors.runner import _same_environment
from collectors.swe import (SweCollector, history_notice, image_base_commit, parse_swe_action, source_record,
                            stale_image)
from sandboxes.swe_git import COMMIT_ENV, leak_report, leaks, snapshot_repo
from sandboxes.swe_images import ensure_image
from sandboxes.swe_repos import RepoSpecError, load_repo_specs
from tests.swe.swe_helpers import PREFIX, ROOT, git, write_tiny_project

WORLDLINE = [sys.executable, "-m", "pipelines.cli"]
ALICE = "Alice Privateperson <alice@corp.example>"
PRIVATE = (b"Alice", b"alice@", b"Privateperson", b"Bob <", b"bob@", b"Carol", b"Dan <", b"dan@", b"corp.example",
           b"Secret")


def _commit(repo: Path, message: str, author: tuple[str, str], committer: tuple[str, str] | None = None) -> str:
    committer = committer or author
    # Fixed dates with a real offset: the same commits, so the same cached image, on every run.
    env = {**os.environ, **COMMIT_ENV, "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
           "GIT_COMMITTER_NAME": committer[0], "GIT_COMMITTER_EMAIL": committer[1],
           "GIT_AUTHOR_DATE": "2023-05-01T10:00:00+0530", "GIT_COMMITTER_DATE": "2023-05-02T11:00:00+0530"}
    subprocess.run(["git", "commit", "-q", "-a", "-m", message], cwd=repo, env=env, check=True, capture_output=True)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def peoples_repo(tmp_path_factory):
    """The tiny project as a colleague's repository: three commits by Alice, Bob (committed by Dan), with Signed-off-by
    and Reviewed-by trailers and an email in a message, then a merge."""
    repo = write_tiny_project(tmp_path_factory.mktemp("home") / "mine")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    alice, bob = ("Alice Privateperson", "alice@corp.example"), ("Bob", "bob@corp.example")
    first = _commit(repo, f"Initial commit (internal ticket CORP-1234)\n\nSigned-off-by: {ALICE}\n"
                          "Reviewed-by: Carol Secret <carol@corp.example>", alice)
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "README").write_text("calc\n")
    git(repo, "add", "README")
    _commit(repo, "readme, as ALICE@corp.example asked", bob, ("Dan", "dan@corp.example"))
    git(repo, "checkout", "-q", "main")
    (repo / "NOTES").write_text("notes\n")
    git(repo, "add", "NOTES")
    _commit(repo, "notes", alice)
    env = {**os.environ, **COMMIT_ENV, "GIT_AUTHOR_NAME": bob[0], "GIT_AUTHOR_EMAIL": bob[1],
           "GIT_COMMITTER_NAME": bob[0], "GIT_COMMITTER_EMAIL": bob[1]}
    subprocess.run(["git", "merge", "-q", "--no-ff", "side", "-m", "merge side"], cwd=repo, env=env, check=True,
                   capture_output=True)
    base = git(repo, "rev-parse", "HEAD").strip()
    return {"repo": repo, "base": base, "first": first}


def _everything(repo: Path) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True,
                          check=True).stdout


def test_snapshot_gives_people_pseudonyms_and_keeps_trees_dates_and_messages(peoples_repo, tmp_path):
    source = peoples_repo["repo"]
    commit = snapshot_repo(source, "HEAD", tmp_path / "snap")
    dest = tmp_path / "snap"
    assert commit != peoples_repo["base"]
    assert leaks(leak_report(dest)) == []
    everything = _everything(dest)
    assert [word for word in PRIVATE if word in everything] == []
    # Numbered in order of first appearance from the root: Alice (author), Carol (trailer), Bob, Dan.
    shown = git(dest, "log", "--topo-order", "--reverse", "--format=%an <%ae>|%cn <%ce>|%ad|%cd|%s")
    assert shown.splitlines() == [
        "Author 1 <author1@example.invalid>|Author 1 <author1@example.invalid>|Mon May 1 10:00:00 2023 +0530|"
        "Tue May 2 11:00:00 2023 +0530|Initial commit (internal ticket CORP-1234)",
        "Author 1 <author1@example.invalid>|Author 1 <author1@example.invalid>|Mon May 1 10:00:00 2023 +0530|"
        "Tue May 2 11:00:00 2023 +0530|notes",
        "Author 3 <author3@example.invalid>|Author 4 <author4@example.invalid>|Mon May 1 10:00:00 2023 +0530|"
        "Tue May 2 11:00:00 2023 +0530|readme, as author1@example.invalid asked",
        "Author 3 <author3@example.invalid>|Author 3 <author3@example.invalid>|Mon Jan 1 00:00:00 2024 +0000|"
        "Mon Jan 1 00:00:00 2024 +0000|merge side",
    ]
    root = git(dest, "rev-list", "--max-parents=0", "HEAD").strip()
    assert git(dest, "log", "-1", "--format=%B", root).strip().splitlines()[-2:] == [
        "Signed-off-by: Author 1 <author1@example.invalid>", "Reviewed-by: Author 2 <author2@example.invalid>"]
    assert git(dest, "rev-parse", "HEAD^{tree}") == git(source, "rev-parse", "HEAD^{tree}")
    assert len(git(dest, "rev-list", "HEAD").split()) == 4 and git(dest, "rev-parse", "HEAD^2")
    assert subprocess.run(["git", "fsck", "--strict"], cwd=dest, capture_output=True).returncode == 0
    # The old commits are gone, not merely unreferenced: the fetch brought them, the rewrite left them to prune.
    assert subprocess.run(["git", "cat-file", "-e", peoples_repo["first"]], cwd=dest).returncode != 0
    assert snapshot_repo(source, "HEAD", tmp_path / "again") == commit


def test_keep_leaves_the_history_byte_for_byte(peoples_repo, tmp_path):
    commit = snapshot_repo(peoples_repo["repo"], "HEAD", tmp_path / "snap", authors="keep")
    assert commit == peoples_repo["base"]
    assert ALICE.encode() in _everything(tmp_path / "snap")


def test_a_history_by_worldline_alone_keeps_its_ids(tmp_path):
    repo = write_tiny_project(tmp_path / "own")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    assert snapshot_repo(repo, "HEAD", tmp_path / "snap") == git(repo, "rev-parse", "HEAD").strip()


def test_repos_file_authors_option(peoples_repo, tmp_path):
    repos = tmp_path / "repos.yaml"
    repos.write_text(yaml.safe_dump({"repos": [{"name": "mine", "path": str(peoples_repo["repo"])},
                                               {"name": "kept", "path": str(peoples_repo["repo"]), "authors": "keep"}]}))
    assert [spec.authors for spec in load_repo_specs(repos)] == ["rewrite", "keep"]
    repos.write_text(yaml.safe_dump([{"name": "mine", "path": str(peoples_repo["repo"]), "authors": "hide"}]))
    with pytest.raises(RepoSpecError, match=r"repo 'mine'.*'authors' must be one of \['rewrite', 'keep'\]"):
        load_repo_specs(repos)
    repos.write_text(yaml.safe_dump([{"name": "six", "pypi": "six==1.17.0", "authors": "keep"}]))
    with pytest.raises(RepoSpecError, match="repo 'six'.*'authors' applies to a 'path' git repository"):
        load_repo_specs(repos)


def test_collect_names_the_people_once_and_publishes_neither_them_nor_the_host_folder(peoples_repo, tmp_path):
    repo = peoples_repo["repo"]
    repos = tmp_path / "repos.yaml"
    repos.write_text(yaml.safe_dump({"repos": [{"name": "wl-test-people", "path": str(repo)}]}))
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [
        {"id": f"history-{n}", "instruction": "read the history", "options": {"repo": "wl-test-people"},
         "actions": [{"bash": "git log --format='%H %an <%ae> %cn <%ce>%n%B'"}, {"bash": "git show --stat HEAD^2"}]}
        for n in range(2)]}))
    out = tmp_path / "out"
    done = subprocess.run(WORLDLINE + ["collect", "swe", "--repos", str(repos), "--tasks", str(tasks),
                                       "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-3000:]
    assert said.count("its history names 4 people") == 1, said[-3000:]
    assert "replaced with pseudonyms" in said
    # Parquet pages may be compressed: the rows are read back, the other files (episode JSON) taken as they are.
    contents = {path: json.dumps(pq.read_table(path).to_pylist(), default=str).encode() if path.suffix == ".parquet"
                else path.read_bytes() for path in out.rglob("*") if path.is_file()}
    rows = [row for path in contents if path.suffix == ".parquet" for row in pq.read_table(path).to_pylist()]
    assert len(rows) == 4 and "Author 1 <author1@example.invalid>" in rows[0]["next_observation"]["text"]
    assert json.loads(rows[0]["env"]["details_json"])["source"] == f"path:mine@{peoples_repo['base']}"
    found = {path: [word for word in PRIVATE + (str(repo).encode(), str(repo.parent).encode()) if word in content]
             for path, content in contents.items()}
    assert {path: words for path, words in found.items() if words} == {}


def test_env_details_name_the_folder_and_base_commit_not_the_host_path(peoples_repo):
    repo, base = peoples_repo["repo"], peoples_repo["base"]
    spec = load_repo_specs_from(repo)
    collector = SweCollector({spec.name: spec}, {spec.name: ensure_image(spec)}, name_prefix=PREFIX)
    try:
        collector.reset(Task(id="authors", instruction="look", options={"repo": spec.name}))
        env = collector.env_info()
        assert env.details["source"] == f"path:mine@{base}"
        assert env.details["authors"] == "rewritten" and env.details["base_commit"] != base
        assert image_base_commit(collector.images[spec.name]) == env.details["base_commit"]
        assert not stale_image(source_record(spec), env.details["base_commit"])
        assert str(repo.parent) not in env.to_row()["details_json"]
        shown = collector.step(parse_swe_action({"bash": "git log --format='%an <%ae> %cn <%ce>%n%B'"}))
        assert "Author 1 <author1@example.invalid>" in shown.observation.text
        assert not [word for word in PRIVATE if word.decode() in shown.observation.text]
        # A record from before holds the absolute folder in `source`: replays still take it as this environment.
        older = {**env.to_row(), "details_json": env.to_row()["details_json"].replace(f"path:mine@{base}", str(repo))}
        assert str(repo) in older["details_json"]
        assert _same_environment(collector, older, env.to_row())
    finally:
        collector.close()


def load_repo_specs_from(repo: Path, **entry):
    from sandboxes.swe_repos import spec_from_dict
    return spec_from_dict({"name": "wl-test-people", "path": str(repo), **entry}, "test")


def test_the_notice_for_kept_names_and_a_stale_image(peoples_repo):
    repo, base = peoples_repo["repo"], peoples_repo["base"]
    kept = source_record(load_repo_specs_from(repo, authors="keep"))
    assert kept == {"source": f"path:mine@{base}", "authors": "kept", "people": 4}
    notice = history_notice("mine", kept)
    assert "4 people" in notice and "publishes their names and emails" in notice and "authors: keep" in notice
    rewritten = source_record(load_repo_specs_from(repo))
    # An image built before rewriting existed has the same tag and the source's own base commit.
    assert stale_image(rewritten, base) and not stale_image(rewritten, "0" * 40) and not stale_image(kept, base)


def test_keep_reaches_the_container(peoples_repo):
    spec = load_repo_specs_from(peoples_repo["repo"], authors="keep")
    collector = SweCollector({spec.name: spec}, {spec.name: ensure_image(spec)}, name_prefix=PREFIX)
    try:
        collector.reset(Task(id="kept", instruction="look", options={"repo": spec.name}))
        env = collector.env_info()
        assert env.details["authors"] == "kept" and env.details["base_commit"] == peoples_repo["base"]
        shown = collector.step(parse_swe_action({"bash": "git log --format='%an <%ae>'"}))
        assert ALICE in shown.observation.text
    finally:
        collector.close()
