"""Terminal traces (h216): a heredoc keeps bash's continuation prompt '>' waiting until its terminator line, and a
unified diff a command prints on the screen is told as a swe answer's is, only where the screen shows it whole.
The screens are cut down from a real collection (tasks h216-heredoc, h216-git-diff, h216-pager-end, collected
with `worldline collect terminal`)."""

from __future__ import annotations

import json

import pytest

from transforms.reasoning.diffs import shown_diff
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.openings import _unfinished

_PROMPT = "root@sandbox:/work#"
_REPO = "root@sandbox:/work/repo#"


def _trace(state: str, text: str, keys: str) -> str:
    return grounded_trace({"domain": "terminal", "state_text": state, "next_text": text,
                           "action_text": json.dumps([{"keystrokes": keys, "duration": 1}])})


@pytest.mark.parametrize("typed", [
    "cat <<EOF > notes.txt", "python3 - <<'PY'", 'cat > it.txt <<"END"', "cat <<-X > tabs.txt", "cat <<\\EOF",
    "cat <<E'O'F", "cat <<EOF >f; echo '>'", "cat <<EOF\nit's a body line", "cat <<A <<B\nbody\nA",
    "cat <<EOF\n EOF", "cat <<EOF\n\tEOF",
])
def test_a_heredoc_not_yet_ended_leaves_the_command_unfinished(typed):
    assert _unfinished(typed)


@pytest.mark.parametrize("typed", [
    "cat <<EOF > notes.txt\nfirst line\nEOF", "python3 - <<'PY'\nprint(6 * 7)\nPY", "cat <<-X\n\tindented\n\tX",
    "cat <<EOF\nit's here\nEOF", "cat <<A <<B\na\nA\nb\nB", "cat <<< word", "echo '>'", "a > b", "echo 'a << b'",
    'echo "a << b"', "echo $((1 << 2))", "(( x = 1 << 3 ))", "echo hi # cat <<EOF", "cat <<", "echo a\\<<b",
])
def test_a_heredoc_ended_a_here_string_and_other_lesser_thans_leave_it_finished(typed):
    assert not _unfinished(typed)


def test_quotes_and_backslashes_still_count():
    assert _unfinished("echo 'open") and _unfinished("ls \\")
    # A quote in a heredoc's body is text, not an open quote, once the terminator is typed.
    assert _unfinished("cat <<EOF\nit's\nEOF\necho 'open")


def test_a_heredoc_waits_at_the_continuation_prompt_until_its_terminator():
    opened = f"{_PROMPT} cat <<EOF > notes.txt"
    assert _trace(f"{_PROMPT} ", f"{opened}\n>", "cat <<EOF > notes.txt\n") == (
        "The action runs `cat <<EOF > notes.txt`, which prints nothing; the continuation prompt '>' waits for more "
        "input.")
    assert _trace(f"{opened}\n>", f"{opened}\n> first line\n>", "first line\n") == (
        "The action enters `first line` at the continuation prompt, which prints nothing; the continuation prompt "
        "'>' waits for more input.")
    # The terminator ends it: the shell's prompt returns (it was read before as a line printed, no prompt after it).
    assert _trace(f"{opened}\n> first line\n>", f"{opened}\n> first line\n> EOF\n{_PROMPT}", "EOF\n") == (
        "The action enters `EOF` at the continuation prompt, which prints nothing; the screen gains only the next "
        "prompt.")
    python = f"{_PROMPT} python3 - <<'PY'\n> print(6 * 7)"
    assert _trace(f"{python}\n>", f"{python}\n> PY\n42\n{_PROMPT}", "PY\n") == (
        "The action enters `PY` at the continuation prompt, which prints 1 line: '42'; the prompt returns.")


def test_other_lesser_thans_and_other_programs_prompts_are_not_continuations():
    assert _trace(f"{_PROMPT} ", f"{_PROMPT} cat <<< '>'\n>\n{_PROMPT}", "cat <<< '>'\n") == \
        "The action runs `cat <<< '>'`, which prints 1 line: '>'; the prompt returns."
    assert _trace(f"{_PROMPT} ", f"{_PROMPT} echo $((1 << 2)); sleep 9\n4", "echo $((1 << 2)); sleep 9\n") \
        .endswith("which prints 1 line: '4'; no prompt follows it yet.")
    # node's REPL after `node`: its '>' is not bash's, and a line typed at it is not a heredoc's.
    node = f"{_PROMPT} node\n> 1 + 1\n2\n>"
    assert _trace(node, f"{node} x <<EOF\n>", "x <<EOF\n").startswith("The action runs `x <<EOF`")
    node = f"{_PROMPT} node\n>"
    assert _trace(node, f"{node} 1 + 1\n2\n>", "1 + 1\n") == \
        "The action runs `1 + 1`, which prints 1 line: '2'; the prompt returns."


_DIFF = """diff --git a/f.txt b/f.txt
index 08fe19c..f222490 100644
--- a/f.txt
+++ b/f.txt
@@ -2,7 +2,7 @@
 2
 3
 4
-5
+five
 6
 7
 8
diff --git a/g.txt b/g.txt
index fbbee86..85c3040 100644
--- a/g.txt
+++ b/g.txt
@@ -1,2 +1,3 @@
 alpha
 beta
+gamma"""
_TOLD = ("The diff removes 1 line and adds 1 line in f.txt (line 5 changes from '5' to 'five'); adds 1 line in "
         "g.txt.")


def test_a_git_diff_on_the_screen_is_told_and_its_files_are_named_once():
    state = f"{_PROMPT} cd repo\n{_REPO} "
    trace = _trace(state, f"{state}git --no-pager diff\n{_DIFF}\n{_REPO}", "git --no-pager diff\n")
    assert _TOLD in trace and "names" not in trace
    log = ("commit 4f4b29ade823a12deb20199b4702fb662e6ef740 (HEAD -> main)\nAuthor: Dev <dev@example.com>\n"
           "Date:   Mon Jan 1 00:00:00 2024 +0000\n\n    five and gamma\n")
    assert _TOLD in _trace(state, f"{state}git log -p -1\n{log}\n{_DIFF}\n{_REPO}", "git log -p -1\n")


def test_only_the_new_part_of_a_scrolled_screen_is_read():
    # The screen scrolled: the old diff is still shown above the command, which prints none.
    old = f"{_REPO} git diff\n{_DIFF}\n{_REPO} "
    text = f"{old}git show --stat --oneline\n4f4b29a five and gamma\n f.txt | 2 +-\n{_REPO}"
    assert "The diff" not in _trace(old, "\n".join(text.split("\n")[5:]), "git show --stat --oneline\n")
    # A command that prints a diff on a scrolled screen: only its own is told.
    new = _DIFF.replace("+five", "+FIVE")
    text = "\n".join(f"{old}git diff\n{new}\n{_REPO}".split("\n")[12:])
    assert "line 5 changes from '5' to 'FIVE'" in _trace(old, text, "git diff\n")


def test_a_pager_screen_is_told_where_it_shows_the_end():
    state = f"{_REPO} "
    end = _trace(state, f"{state}GIT_PAGER='less -+F' git diff\n{_DIFF}\n(END)", "GIT_PAGER='less -+F' git diff\n")
    assert _TOLD in end


def test_a_diff_cut_off_claims_nothing():
    state = f"{_REPO} "
    lines = _DIFF.split("\n")
    # less's ':' says more follows: the last hunk is whole, but another may come.
    assert "The diff" not in _trace(state, f"{state}git diff\n{_DIFF}\n:", "git diff\n")
    # The screen's bottom cuts a hunk, with or without the prompt below it.
    assert "The diff" not in _trace(state, f"{state}git diff\n" + "\n".join(lines[:-1]), "git diff\n")
    assert shown_diff(lines[:-1] + [_REPO]) is None
    # The top: the command's line scrolled off (the output starts mid-file), or a pager's key shows page 2.
    assert shown_diff(lines[8:] + [_REPO]) is None
    assert "The diff" not in _trace(":", "\n".join(lines[8:]) + f"\n{_REPO}", "q")
    # A long line the terminal wrapped does not fit the hunk's counts.
    wrapped = _DIFF.replace("+gamma", "+" + "g" * 79 + "\ngamma")
    assert shown_diff(wrapped.split("\n") + [_REPO]) is None
    assert shown_diff(_DIFF.replace("-5", "-" + "5" * 79 + "\n55").split("\n") + [_REPO]) is None
    assert shown_diff(lines + [_REPO]) is not None
