"""Git repositories with no future: history up to a task's base commit and nothing else.

Agents in public SWE benchmarks have read the fix through `git log --all`, tags, reflogs, stashes or objects left in
packs. `snapshot_repo` copies only what the base commit reaches into a fresh repository (one branch, no tags,
remotes, reflogs or stray objects); `LEAK_CHECK_SCRIPT` lists everything that could still leak and runs the same
way on the host and inside a container, so every episode can prove its repository clean before it starts.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
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
FIXED_IDENTITY = b"worldline <worldline@localhost>"
# What a repos file's `authors:` may say for a git repository: `rewrite` (default) gives every person its history
# names a pseudonym, since `git log`/`git show` print them into the records and so into published datasets; `keep`
# leaves the history byte for byte, for tasks that name the repository's commit ids.
AUTHOR_MODES = ("rewrite", "keep")
PSEUDONYM = "Author {n} <author{n}@example.invalid>"
# `Signed-off-by: Name <email>` and its kin name people in the message itself, where `git log` shows them too.
TRAILER = re.compile(rb"^([A-Za-z][A-Za-z0-9-]*-by:[ \t]*)([^\n<>]*<[^\n<>]*>)[ \t]*$", re.M)
# Signatures cover the old bytes (invalid once rewritten); a mergetag embeds a whole tag object with its tagger.
DROPPED_HEADERS = (b"gpgsig", b"gpgsig-sha256", b"mergetag")
# Read the history as stored: a replace ref or graft in the user's repository would show another one.
READ_ENV = {"GIT_NO_REPLACE_OBJECTS": "1"}

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


def _git_bytes(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                          env={**os.environ, **COMMIT_ENV, **READ_ENV})
    if done.returncode != 0:
        raise RepoSnapshotError(f"git {' '.join(args)} in {cwd} failed: {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout


def is_git_repo(path: Path) -> bool:
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    return done.returncode == 0 and Path(done.stdout.strip()).resolve() == Path(path).resolve()


def resolve_commit(repo: Path, rev: str) -> str:
    return _git(Path(repo), "rev-parse", "--verify", f"{rev}^{{commit}}").strip()


def snapshot_repo(source: Path, base: str, dest: Path, authors: str = "rewrite") -> str:
    """Copy `source`'s history up to `base` into a new repository at `dest`, checked out; returns the commit id,
    which is not `base`'s when `authors="rewrite"` replaced people's names (rewrite_authors)."""
    if authors not in AUTHOR_MODES:
        raise RepoSnapshotError(f"authors must be one of {list(AUTHOR_MODES)}, got {authors!r}")
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
    if authors == "rewrite":
        commit = rewrite_authors(dest)
    scrub(dest)
    return commit


def _commits(repo: Path, tip: str) -> list[tuple[str, bytes]]:
    """(id, raw object) of every commit `tip` reaches, parents before children."""
    ids = _git_bytes(repo, "rev-list", "--reverse", "--topo-order", tip).split()
    batch = _git_bytes(repo, "cat-file", "--batch", stdin=b"\n".join(ids) + b"\n")
    commits, at = [], 0
    for oid in ids:
        header_end = batch.index(b"\n", at)
        name, kind, size = batch[at:header_end].split(b" ")
        if name != oid or kind != b"commit":
            raise RepoSnapshotError(f"{repo}: cat-file answered {name.decode()} {kind.decode()} "
                                    f"for commit {oid.decode()}")
        start = header_end + 1
        commits.append((oid.decode(), batch[start:start + int(size)]))
        at = start + int(size) + 1
    return commits


def _split_commit(raw: bytes) -> tuple[list[list[bytes]], bytes]:
    """[key, value] headers (a continuation line stays in its header's value) and the message."""
    head, _, message = raw.partition(b"\n\n")
    headers: list[list[bytes]] = []
    for line in head.split(b"\n"):
        if line.startswith(b" ") and headers:
            headers[-1][1] += b"\n" + line
        else:
            headers.append(line.split(b" ", 1) + [b""] * (b" " not in line))
    return headers, message


def _identity(value: bytes) -> tuple[bytes, bytes]:
    """`Name <email> 1700000000 +0100` -> (`Name <email>`, `1700000000 +0100`)."""
    ident, _, when = value.rpartition(b"> ")
    return ident + b">", when


def _identities(commits: list[tuple[str, bytes]]) -> list[bytes]:
    """Every `Name <email>` the commits name (author, committer, *-by trailers), in order of first appearance."""
    seen: dict[bytes, None] = {}
    for _, raw in commits:
        headers, message = _split_commit(raw)
        for key, value in headers:
            if key in (b"author", b"committer"):
                seen.setdefault(_identity(value)[0])
        for match in TRAILER.finditer(message):
            seen.setdefault(match.group(2))
    return list(seen)


def history_people(repo: Path, base: str) -> list[bytes]:
    """The identities other than worldline's fixed one that `repo`'s history up to `base` names."""
    return [ident for ident in _identities(_commits(Path(repo), resolve_commit(repo, base)))
            if ident != FIXED_IDENTITY]


def pseudonyms(identities: list[bytes]) -> dict[bytes, bytes]:
    """`Author 1 <author1@example.invalid>`, ... in order of first appearance (the root's author is Author 1), so
    the same history always gets the same names; worldline's own identity stays."""
    people = [ident for ident in dict.fromkeys(identities) if ident != FIXED_IDENTITY]
    return {ident: PSEUDONYM.format(n=n).encode() for n, ident in enumerate(people, 1)}


def _email(ident: bytes) -> bytes:
    return ident.rpartition(b"<")[2].rstrip(b">")


def _rewrite_message(message: bytes, names: dict[bytes, bytes]) -> bytes:
    message = TRAILER.sub(lambda m: m.group(1) + names.get(m.group(2), m.group(2)), message)
    for ident, pseudonym in names.items():
        email = _email(ident)
        if b"@" in email:  # e.g. `Reported by alice@corp.example` in free text
            message = re.sub(re.escape(email), _email(pseudonym), message, flags=re.I)
    return message


def rewrite_authors(repo: Path) -> str:
    """Give every person `repo`'s branch names (author, committer, *-by trailers, their emails in messages) a
    pseudonym, keeping trees, dates and messages otherwise; returns the new tip. Git's plumbing does it, as
    `git filter-repo` would: each commit object is rewritten with its new parents, hashed the way git hashes
    objects, and written with `hash-object` (which checks the format and must agree on every id). The old commits
    stay unreachable for scrub to prune. Nothing to hide: nothing is rewritten and the ids stay."""
    repo = Path(repo)
    commits = _commits(repo, BRANCH)
    names = pseudonyms(_identities(commits))
    if not names:
        return commits[-1][0]
    algorithm = _git(repo, "rev-parse", "--show-object-format").strip()
    new_ids: dict[bytes, bytes] = {}
    bodies: list[bytes] = []
    for old, raw in commits:
        headers, message = _split_commit(raw)
        kept = []
        for key, value in headers:
            if key in DROPPED_HEADERS:
                continue
            if key == b"parent":
                if value not in new_ids:  # a shallow source: the parent was never fetched
                    raise RepoSnapshotError(f"{repo}: commit {old} has parent {value.decode()} outside the history "
                                            f"(a shallow clone?); its authors cannot be rewritten")
                value = new_ids[value]
            elif key in (b"author", b"committer"):
                ident, when = _identity(value)
                value = names.get(ident, ident) + b" " + when
            kept.append(key + b" " + value)
        body = b"\n".join(kept) + b"\n\n" + _rewrite_message(message, names)
        new_ids[old.encode()] = hashlib.new(algorithm, b"commit %d\0" % len(body) + body).hexdigest().encode()
        bodies.append(body)
    with tempfile.TemporaryDirectory(prefix="worldline-authors-") as tmp:
        paths = []
        for number, body in enumerate(bodies):
            paths.append(Path(tmp) / str(number))
            paths[-1].write_bytes(body)
        written = _git_bytes(repo, "hash-object", "-w", "-t", "commit", "--stdin-paths",
                             stdin=b"".join(str(p).encode() + b"\n" for p in paths)).split()
    if written != list(new_ids.values()):
        raise RepoSnapshotError(f"{repo}: git hashed the rewritten commits differently than computed; nothing kept")
    tip = written[-1].decode()
    _git(repo, "update-ref", f"refs/heads/{BRANCH}", tip)
    _git(repo, "reset", "-q", "--hard", BRANCH)
    return tip


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
