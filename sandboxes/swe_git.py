"""Git repositories with no future: history up to a task's base commit and nothing else.

Agents in public SWE benchmarks have read the fix through `git log --all`, tags, reflogs, stashes or objects left in
packs. `snapshot_repo` copies only what the base commit reaches into a fresh repository (one branch, no tags,
remotes, reflogs or stray objects); `LEAK_CHECK_SCRIPT` lists everything that could still leak and runs the same
way on the host and inside a container, so every episode can prove its repository clean before it starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BRANCH = "main"
# The clock of every commit worldline's environments make (swe repositories, the MCP git server, the terminal git
# tasks): without it a commit id depends on the wall-clock second, and a replay a second later shows another one.
# The offset has no colon because GitPython (mcp-server-git's commits) rejects "+00:00"; git reads both alike.
GIT_DATE = "2024-01-01T00:00:00+0000"
GIT_DATE_ENV = {"GIT_AUTHOR_DATE": GIT_DATE, "GIT_COMMITTER_DATE": GIT_DATE}
# A fixed identity and clock: the same tree gives the same commit id on every build and every episode.
COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "worldline", "GIT_AUTHOR_EMAIL": "worldline@localhost",
    "GIT_COMMITTER_NAME": "worldline", "GIT_COMMITTER_EMAIL": "worldline@localhost",
    **GIT_DATE_ENV, "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}

# Prints one `key<TAB>value` line per finding; parse with parse_leak_report. POSIX sh + git + coreutils only.
LEAK_CHECK_SCRIPT = r"""
set -e
cd "$1"
git for-each-ref --format='ref	%(refname)'
for extra in FETCH_HEAD ORIG_HEAD MERGE_HEAD CHERRY_PICK_HEAD REVERT_HEAD; do
  [ -e ".git/$extra" ] && printf 'extra_head\t%s\n' "$extra"
done
[ -d .git/logs ] && find .git/logs -type f -size +0 | sed 's/^/reflog\t/'
[ -s .git/objects/info/alternates ] && printf 'alternates\t%s\n' "$(head -1 .git/objects/info/alternates)"
[ -f .git/shallow ] && printf 'shallow\t1\n'
git config --get-regexp '^remote\.' | sed 's/^/remote\t/' || true
git cat-file --batch-all-objects --batch-check='%(objectname)' | sort > /tmp/.leak-all.$$
git rev-list --objects --all | cut -d' ' -f1 | sort -u > /tmp/.leak-reach.$$
printf 'objects\t%s\n' "$(wc -l < /tmp/.leak-all.$$)"
comm -23 /tmp/.leak-all.$$ /tmp/.leak-reach.$$ | sed 's/^/unreachable\t/'
rm -f /tmp/.leak-all.$$ /tmp/.leak-reach.$$
printf 'head\t%s\n' "$(git rev-parse HEAD)"
"""


class RepoSnapshotError(RuntimeError):
    pass


def _git(cwd: Path, *args: str, env: dict | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **COMMIT_ENV, **(env or {})})
    if done.returncode != 0:
        raise RepoSnapshotError(f"git {' '.join(args)} in {cwd} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def is_git_repo(path: Path) -> bool:
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    return done.returncode == 0 and Path(done.stdout.strip()).resolve() == Path(path).resolve()


def resolve_commit(repo: Path, rev: str) -> str:
    return _git(Path(repo), "rev-parse", "--verify", f"{rev}^{{commit}}").strip()


def snapshot_repo(source: Path, base: str, dest: Path) -> str:
    """Copy `source`'s history up to `base` into a new repository at `dest`, checked out; returns the commit id."""
    source, dest = Path(source).resolve(), Path(dest)
    commit = resolve_commit(source, base)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    _git(dest, "init", "-q", "-b", BRANCH)
    # A fetch by id transfers only objects the commit reaches; the source's other refs are never asked for.
    _git(dest, "-c", "uploadpack.allowAnySHA1InWant=true", "fetch", "-q", "--no-tags", str(source), commit)
    _git(dest, "update-ref", f"refs/heads/{BRANCH}", commit)
    _git(dest, "reset", "-q", "--hard", BRANCH)
    scrub(dest)
    return commit


def commit_tree(folder: Path, message: str = "base") -> str:
    """Make `folder` (plain source, no .git) a repository with one base commit of everything in it."""
    folder = Path(folder)
    if (folder / ".git").exists():
        raise RepoSnapshotError(f"{folder} already holds a git repository; use snapshot_repo for it")
    _git(folder, "init", "-q", "-b", BRANCH)
    _git(folder, "add", "-A", "-f", ".")
    _git(folder, "commit", "-q", "--no-verify", "-m", message)
    scrub(folder)
    return _git(folder, "rev-parse", "HEAD").strip()


def scrub(repo: Path) -> None:
    """Drop everything a clone or commit leaves behind that is not reachable from the branch."""
    repo = Path(repo)
    for extra in ("FETCH_HEAD", "ORIG_HEAD"):
        (repo / ".git" / extra).unlink(missing_ok=True)
    _git(repo, "reflog", "expire", "--expire=now", "--all")
    _git(repo, "gc", "-q", "--prune=now")
    shutil.rmtree(repo / ".git" / "logs", ignore_errors=True)
    for hook in (repo / ".git" / "hooks").glob("*.sample"):
        hook.unlink()


def parse_leak_report(text: str) -> dict:
    report: dict = {"refs": [], "extra_heads": [], "reflogs": [], "remotes": [], "unreachable": [],
                    "alternates": None, "shallow": False, "objects": 0, "head": ""}
    for line in text.splitlines():
        key, _, value = line.partition("\t")
        if key == "ref":
            report["refs"].append(value)
        elif key == "extra_head":
            report["extra_heads"].append(value)
        elif key == "reflog":
            report["reflogs"].append(value)
        elif key == "remote":
            report["remotes"].append(value)
        elif key == "unreachable":
            report["unreachable"].append(value)
        elif key == "alternates":
            report["alternates"] = value
        elif key == "shallow":
            report["shallow"] = True
        elif key == "objects":
            report["objects"] = int(value.strip() or 0)
        elif key == "head":
            report["head"] = value
    return report


def leaks(report: dict) -> list[str]:
    """What in a leak report could show an agent anything past the base commit; empty means clean."""
    found = [f"extra ref {ref}" for ref in report["refs"] if ref != f"refs/heads/{BRANCH}"]
    found += [f"{head} present" for head in report["extra_heads"]]
    found += [f"reflog {path}" for path in report["reflogs"]]
    found += [f"remote config {line}" for line in report["remotes"]]
    found += [f"{len(report['unreachable'])} objects not reachable from {BRANCH}"] if report["unreachable"] else []
    found += [f"alternate object store {report['alternates']}"] if report["alternates"] else []
    found += ["shallow file (grafted history)"] if report["shallow"] else []
    return found


def leak_report(repo: Path) -> dict:
    """Run the leak check on a repository on this machine."""
    done = subprocess.run(["sh", "-c", LEAK_CHECK_SCRIPT, "leak-check", str(repo)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RepoSnapshotError(f"leak check of {repo} failed: {done.stderr.strip()[-500:]}")
    return parse_leak_report(done.stdout)
