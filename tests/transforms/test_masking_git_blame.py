"""The commit ids of git blame and git worktree list (transforms/masking: the git_id rule, the command pass), in
the output of the real git on this machine. The commits are made with ids whose first 8 characters are digits, as
one abbreviated id in 43 is (blame prints 8, worktree list 7): the hex_word rule leaves such an id as a number, so
only the rules for these commands mask it."""

import hashlib
import re
import subprocess

import pytest

from transforms.masking import mask, mask_many, volatile_spans

PROMPT = "root@sandbox:/work/repo# "
AUTHOR = "Ann Author <a@b.c> 1795780800 +0000"  # 2026-11-27 12:00:00 UTC


def git(repo, *args, stdin=None):
    return subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, text=True,
                          check=True).stdout


def digit_commit(repo, tree, parents, message):
    """A commit of tree whose id starts with 8 digits: the message's counter is raised until the object's hash
    does (computed as git does, then written by git)."""
    for n in range(10_000):
        body = "".join(f"{line}\n" for line in (f"tree {tree}", *(f"parent {p}" for p in parents),
                                                f"author {AUTHOR}", f"committer {AUTHOR}", "", f"{message} {n}"))
        data = body.encode()
        if hashlib.sha1(b"commit %d\0" % len(data) + data).hexdigest()[:8].isdigit():
            return git(repo, "hash-object", "-t", "commit", "-w", "--stdin", stdin=body).strip()
    raise AssertionError("no commit id starting with 8 digits in 10000 tries")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("blame") / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    parent = None
    for lines, message in (("one\ntwo\n", "init"), ("one\nTWO\nthree\n", "second")):
        (repo / "f.txt").write_text(lines)
        git(repo, "add", "f.txt")
        parent = digit_commit(repo, git(repo, "write-tree").strip(), [parent] if parent else [], message)
    git(repo, "update-ref", "refs/heads/main", parent)
    git(repo, "reset", "-q", "--hard", "main")
    return repo


def ids(text):
    return [text[s["start"]:s["end"]] for s in volatile_spans(text) if s["kind"] == "hex_id"]


def blame_screen(repo, *options):
    return PROMPT + " ".join(("git", "blame", *options, "f.txt")) + "\n" + git(repo, "blame", *options, "f.txt")


def test_each_line_s_commit_id_in_git_blame_is_a_hex_id(repo):
    text = blame_screen(repo)
    root, second = git(repo, "rev-list", "--reverse", "main").split()
    assert text.splitlines()[1].startswith(f"^{root[:7]} (Ann Author 2026-11-27 12:00:00 +0000 1) one")
    assert root[:7].isdigit() and second[:8].isdigit()
    assert ids(text) == [root[:7], second[:8], second[:8]]
    assert mask(text)[1].splitlines()[1:] == ["^<hex_id> (Ann Author <timestamp> +0000 1) one",
                                              "<hex_id> (Ann Author <timestamp> +0000 2) TWO",
                                              "<hex_id> (Ann Author <timestamp> +0000 3) three"]


@pytest.mark.parametrize("options", [("-e",), ("-n", "-f"), ("-c",), ("-e", "-n", "-c")])
def test_blame_s_other_layouts_lead_with_the_id_too(repo, options):
    text = blame_screen(repo, *options)
    rows = text.splitlines()[1:]
    assert ids(text) == [row.lstrip("^").split()[0] for row in rows]


def test_blame_lines_are_read_without_their_command_on_screen(repo):
    # A long blame scrolls its command off the screen: each line's parenthesis says what the id before it is.
    text = git(repo, "blame", "f.txt")
    assert len(ids(text)) == 3


def test_an_uncommitted_line_s_zeros_stay_content(repo):
    (repo / "f.txt").write_text("one\nTWO\nthree\nfour\n")
    try:
        text = blame_screen(repo)
    finally:
        git(repo, "checkout", "--", "f.txt")
    last = text.splitlines()[-1]
    assert last.startswith("00000000 (Not Committed Yet ")
    assert len(ids(text)) == 3 and not ids(last)


def test_each_worktree_s_head_in_git_worktree_list_is_a_hex_id(repo, tmp_path):
    git(repo, "worktree", "add", "-q", "-b", "feat", str(tmp_path / "wt"))
    git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "wt2"))
    git(repo, "worktree", "lock", str(tmp_path / "wt"))
    try:
        listing = git(repo, "worktree", "list")
    finally:
        git(repo, "worktree", "unlock", str(tmp_path / "wt"))
        for name in ("wt", "wt2"):
            git(repo, "worktree", "remove", "--force", str(tmp_path / name))
    head = git(repo, "rev-parse", "--short", "main").strip()
    assert listing.splitlines()[1].endswith(f" {head} [feat] locked")
    assert listing.splitlines()[2].endswith(f" {head} (detached HEAD)")
    text = PROMPT + "git worktree list\n" + listing + PROMPT
    assert ids(text) == [head] * 3
    assert ids(PROMPT + "git worktree list | grep feat\n" + listing.splitlines()[1] + "\n") == [head]
    # Not under a command that lists worktrees: a line of a path and a number is content.
    for command in ("cat notes", "git worktree prune", "git status"):
        assert ids(PROMPT + command + "\n" + listing) == []


def test_a_bare_repository_s_row_has_no_id_and_the_rows_after_it_are_read(repo, tmp_path):
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    git(bare, "worktree", "add", "-q", "--detach", str(tmp_path / "wt3"), "main")
    listing = git(bare, "worktree", "list")
    assert listing.splitlines()[0].endswith("(bare)")
    text = PROMPT + "git worktree list\n" + listing
    assert ids(text) == [git(repo, "rev-parse", "--short", "main").strip()]


def test_mask_many_finds_what_mask_finds_in_blame_and_worktree_screens(repo):
    texts = [blame_screen(repo), git(repo, "blame", "-c", "f.txt"), PROMPT + "git worktree list\n"
             + git(repo, "worktree", "list"), "00000000 (Not Committed Yet 2026-11-27 14:53:17 +0000 4) four"]
    assert mask_many(texts) == [mask(text) for text in texts]
    assert [len(ids(text)) for text in texts] == [3, 3, 1, 0]


# ---- git blame -s, and git's own options before a subcommand whose rows the command pass reads -----------------

@pytest.fixture(scope="module")
def long_repo(tmp_path_factory):
    """A repo whose one commit (its id starting with 8 digits) holds a file of 13 lines, the last one empty: blame
    pads the line numbers to two digits and prints "13) " for the empty line."""
    repo = tmp_path_factory.mktemp("blame_s") / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "g.txt").write_text("".join(f"l{n}\n" for n in range(1, 13)) + "\n")
    git(repo, "add", "g.txt")
    git(repo, "update-ref", "refs/heads/main", digit_commit(repo, git(repo, "write-tree").strip(), [], "long"))
    git(repo, "reset", "-q", "--hard", "main")
    return repo


def tmux_lines(output):
    # tmux's capture-pane drops the spaces that end a line: the empty line's "13) " reaches the screen as "13)".
    return "\n".join(line.rstrip() for line in output.splitlines()) + "\n"


@pytest.mark.parametrize("options", [("-s",), ("-s", "-n"), ("-s", "-f"), ("-s", "-n", "-f"), ("-s", "-e"),
                                     ("-s", "--root")])
def test_blame_s_lines_lead_with_their_id_without_author_or_date(repo, long_repo, options):
    for at, name in ((repo, "f.txt"), (long_repo, "g.txt")):
        output = git(at, "blame", *options, name)
        assert "(" not in output
        text = PROMPT + f"git -C {at} blame {' '.join(options)} {name}\n" + tmux_lines(output) + PROMPT
        assert ids(text) == [row.lstrip("^").split()[0] for row in output.splitlines()]
    assert mask(text)[1].splitlines()[1:4] == [re.sub("[0-9a-f]{7,8}", "<hex_id>", row, count=1)
                                                for row in output.splitlines()[:3]]


def test_a_blame_s_uncommitted_line_and_lines_of_other_shapes_stay_content(long_repo):
    (long_repo / "g.txt").write_text("new\n")
    try:
        uncommitted = git(long_repo, "blame", "-s", "g.txt")
    finally:
        git(long_repo, "checkout", "--", "g.txt")
    assert uncommitted.startswith("00000000 1) new")
    for text in (uncommitted, "  12345678 1) item", "12345678 (1) item", "12345678 1)item", "12345678 two words 3) x",
                 "step 12345678 1) x", "12345678\n1) x"):
        assert ids(text) == [], text


@pytest.mark.parametrize("command", [
    "git -C {repo} log --oneline", "git --no-pager log --oneline", "git -c core.pager=cat log --oneline",
    "git -C {repo} -c color.ui=never --no-pager log --oneline | head -5", "git --git-dir {repo}/.git log --oneline"])
def test_git_s_own_options_before_log_leave_its_rows_read(repo, command):
    words = command.split("|")[0].split()
    output = git(repo, *[word.format(repo=repo) for word in words[3 if words[1] == "-C" else 1:]])
    text = PROMPT + command.format(repo=repo) + "\n" + output + PROMPT
    assert ids(text) == [row.split()[0] for row in output.splitlines()]
    assert all(row.split()[0].isdigit() for row in output.splitlines())


def test_git_s_own_options_before_branch_v_and_worktree_list_leave_their_rows_read(repo, tmp_path):
    branches = git(repo, "branch", "-v")
    git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "wt"))
    try:
        worktrees = git(repo, "worktree", "list")
    finally:
        git(repo, "worktree", "remove", "--force", str(tmp_path / "wt"))
    rows = ([line.lstrip("* ").split()[1] for line in branches.splitlines()]
            + [line.split()[1] for line in worktrees.splitlines()])
    assert all(row.isdigit() for row in rows)
    text = (PROMPT + f"git -C {repo} branch -v\n" + branches + PROMPT + f"git -C {repo} -c core.quotepath=off worktree"
            " list\n" + worktrees + PROMPT)
    assert ids(text) == rows
    # A value that names a subcommand is still a value: "-C log" is a directory, and status prints no rows.
    assert ids(PROMPT + "git -C log status --oneline\n" + git(repo, "log", "--oneline")) == []


def test_mask_many_finds_what_mask_finds_in_blame_s_screens(long_repo):
    texts = [tmux_lines(git(long_repo, "blame", "-s", "g.txt")), PROMPT + "git -C /x log --oneline\n1234567 a\n",
             "86067227 1) x"]
    assert mask_many(texts) == [mask(text) for text in texts]
    assert [len(ids(text)) for text in texts] == [13, 1, 1]
