"""Terminal traces (h216): a heredoc keeps bash's continuation prompt '>' waiting until its terminator line, and a
unified diff a command prints on the screen is told as a swe answer's is, only where the screen shows it whole.
The screens are cut down from a real collection (tasks h216-heredoc, h216-git-diff, h216-pager-end, collected
with `worldline collect terminal`)."""

from __future__ import annotations

import json
import subprocess

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


def test_a_diff_cut_off_claims_no_count_it_cannot_see():
    state = f"{_REPO} "
    lines = _DIFF.split("\n")
    # less's ':' after a whole hunk says more follows, but not whether it is more of g.txt.
    assert "The diff" not in _trace(state, f"{state}git diff\n{_DIFF}\n:", "git diff\n")
    # A prompt after a hunk that is not whole: `| head` cut it, not the screen.
    assert shown_diff(lines[:-1] + [_REPO]) is None
    assert "The diff" not in _trace(state, f"{state}git diff | head -20\n" + "\n".join(lines[:-1]) + f"\n{_REPO}",
                                    "git diff | head -20\n")
    # The top: the command's line scrolled off (the output starts mid-file), or a pager's key shows page 2.
    assert shown_diff(lines[8:] + [_REPO]) is None
    assert "The diff" not in _trace(":", "\n".join(lines[8:]) + f"\n{_REPO}", "q")
    # A long line the terminal wrapped does not fit the hunk's counts.
    wrapped = _DIFF.replace("+gamma", "+" + "g" * 79 + "\ngamma")
    assert shown_diff(wrapped.split("\n") + [_REPO]) is None
    assert shown_diff(_DIFF.replace("-5", "-" + "5" * 79 + "\n55").split("\n") + [_REPO]) is None
    assert "The diff" not in _trace(state, f"{state}git diff\n" + _DIFF.replace(" 7\n", " " + "7" * 200 + "\n77\n"),
                                    "git diff\n")
    # A file's headers at the bottom, none of its hunks.
    assert "The diff" not in _trace(state, f"{state}git diff\n" + "\n".join(lines[:4]), "git diff\n")
    assert shown_diff(lines + [_REPO]) is not None


# Cut off at the screen's bottom (h232): the hunks above the cut are told, and where the cut one starts.
def test_a_hunk_cut_off_at_the_screens_bottom_is_told_with_the_whole_hunks_above_it():
    state = f"{_REPO} "
    lines = _DIFF.split("\n")
    trace = _trace(state, f"{state}git diff\n" + "\n".join(lines[:-1]), "git diff\n")
    assert ("The diff removes 1 line and adds 1 line in f.txt (line 5 changes from '5' to 'five'), then shows the "
            "start of a hunk at line 1 of g.txt, cut off at the screen's bottom.") in trace
    # Both files are in the diff sentence: the new output's files are not named again.
    assert "names" not in trace
    # Cut in the first hunk: only where it starts.
    assert _trace(state, f"{state}git diff\n" + "\n".join(lines[:9]), "git diff\n").endswith(
        "The diff shows the start of a hunk at line 2 of f.txt, cut off at the screen's bottom.")
    # Only a hunk's header at the bottom is its start too.
    assert _trace(state, f"{state}git diff\n" + "\n".join(lines[:-3]), "git diff\n").endswith(
        "then shows the start of a hunk at line 1 of g.txt, cut off at the screen's bottom.")


def test_a_cut_files_hunks_above_the_cut_are_counted_as_its_first_hunks():
    state = f"{_REPO} "
    diff = "\n".join(_DIFF.split("\n")[:13]) + "\n@@ -40,4 +40,3 @@\n 40\n-41\n-42"
    assert _trace(state, f"{state}git diff\n{diff}", "git diff\n").endswith(
        "The diff removes 1 line and adds 1 line in the first hunk of f.txt (line 5 changes from '5' to 'five'), then "
        "shows the start of a hunk at line 40 of f.txt, cut off at the screen's bottom.")
    # A new file's hunk starts at the old file's line 0: at its top.
    new = "diff --git a/n.txt b/n.txt\nnew file mode 100644\nindex 0000000..3b18e51\n--- /dev/null\n+++ b/n.txt\n" \
        "@@ -0,0 +1,50 @@\n+1\n+2"
    assert _trace(state, f"{state}git show\n{new}", "git show\n").endswith(
        "The diff shows the start of a hunk at the top of n.txt, cut off at the screen's bottom.")


# The first page of `git diff` in less, its ':' below a hunk the page cuts: cut down from a real collection (task
# h216-git-diff, step 4, a 160x40 pane).
_PAGE = "\n".join(["diff --git a/f.txt b/f.txt", "index f222490..ccea4a4 100644", "--- a/f.txt", "+++ b/f.txt",
                   "@@ -1,12 +1,61 @@", "-1", "-2", "-3", "-4", "-five", *(f"-{n}" for n in range(6, 13)),
                   *(f"+{n}" for n in range(100, 122)), ":"])


def test_a_pagers_first_page_cut_inside_a_hunk_is_told_as_cut_off_above_its_colon():
    state = f"{_REPO} "
    trace = _trace(state, f"{state}seq 100 160 > f.txt && git diff\n{_PAGE}", "seq 100 160 > f.txt && git diff\n")
    assert trace.endswith("The diff shows the start of a hunk at line 1 of f.txt, cut off at the screen's bottom, "
                          "above the pager's ':'.")
    assert "names f.txt" not in trace


# A heredoc typed whole in one action (h225): the screens below are cut from a real collection (task
# h225-heredoc-whole, `worldline collect terminal`), where bash echoes each line after the first after '> '.
_WHOLE = f"{_PROMPT} cat <<'EOF' > f.txt\n> line one\n> it's two\n> EOF\n{_PROMPT}"


def test_a_heredoc_typed_whole_is_told_as_one_command_with_its_body_and_terminator():
    assert _trace(f"{_PROMPT} ", _WHOLE, "cat <<'EOF' > f.txt\nline one\nit's two\nEOF\n") == (
        "The action runs `cat <<'EOF' > f.txt` with a heredoc of 2 lines ended by `EOF`, which prints nothing; the "
        "screen gains only the next prompt.")
    python = f"{_WHOLE} python3 - <<'PY'\n> print(6 * 7)\n> PY\n42\n{_PROMPT}"
    assert _trace(_WHOLE, python, "python3 - <<'PY'\nprint(6 * 7)\nPY\n") == (
        "The action runs `python3 - <<'PY'` with a heredoc of 1 line ended by `PY`, which prints 1 line: '42'; the "
        "prompt returns.")
    counted = f"{_PROMPT} wc -l <<EOF\n> a\n> b\n>\n> EOF\n3\n{_PROMPT}"
    assert _trace(f"{_PROMPT} ", counted, "wc -l <<EOF\na\nb\n\nEOF\n") == (
        "The action runs `wc -l <<EOF` with a heredoc of 3 lines ended by `EOF`, which prints 1 line: '3'; the "
        "prompt returns.")


def test_a_heredoc_sent_as_several_entries_of_one_action_is_one_command_too():
    keys = json.dumps([{"keystrokes": "cat > note.txt <<'EOF'\n", "duration": 0.5},
                       {"keystrokes": "remember to rotate the keys\n", "duration": 0.5},
                       {"keystrokes": "EOF\n", "duration": 2}])
    text = f"{_PROMPT} cat > note.txt <<'EOF'\n> remember to rotate the keys\n> EOF\n{_PROMPT}"
    assert grounded_trace({"domain": "terminal", "state_text": f"{_PROMPT} ", "next_text": text,
                           "action_text": keys}) == (
        "The action runs `cat > note.txt <<'EOF'` with a heredoc of 1 line ended by `EOF`, which prints nothing; "
        "the screen gains only the next prompt.")


def test_a_heredoc_typed_without_its_terminator_waits_at_the_continuation_prompt():
    assert _trace(f"{_PROMPT} ", f"{_PROMPT} cat <<EOF > g.txt\n> not ended\n>", "cat <<EOF > g.txt\nnot ended\n") == (
        "The action types `cat <<EOF > g.txt` and 1 line of its heredoc, not yet ended by `EOF`, which prints "
        "nothing; the continuation prompt '>' waits for more input.")


def test_two_heredocs_on_one_line_are_counted_together():
    text = f"{_PROMPT} paste - - <<A 3<<B\n> a\n> A\n> b\n> c\n> B\na\n{_PROMPT}"
    assert _trace(f"{_PROMPT} ", text, "paste - - <<A 3<<B\na\nA\nb\nc\nB\n").startswith(
        "The action runs `paste - - <<A 3<<B` with 2 heredocs of 3 lines ended by `A` and `B`, which prints 1 line")


@pytest.mark.parametrize("keys", [
    "cat <<EOF > h.txt\nx\nEOF\nwc -l h.txt\n",  # another command after the heredoc
    "echo 'a <<EOF\nEOF'\n",  # the << is in a quote the second line closes: no heredoc
    "cat <<EOF 'open\nEOF\n",  # a quote left open on the first line
    "ls\npwd\n",
])
def test_lines_that_are_not_one_heredoc_command_are_told_as_lines_typed(keys):
    lines = keys.splitlines()
    text = f"{_PROMPT} {lines[0]}\n" + "".join(f"> {line}\n" for line in lines[1:]) + _PROMPT
    assert _trace(f"{_PROMPT} ", text, keys).startswith(f"The action types {len(lines)} lines, each followed by Enter")


def test_a_heredoc_the_screen_does_not_echo_as_typed_claims_no_output():
    # A tab in the body asks bash for completions at an interactive prompt: the screen is not the lines typed, so
    # nothing is claimed about what the command printed; the line diff tells the screen.
    keys = "cat <<-X > tabs.txt\n\tindented\n\tX\n"
    text = f"{_PROMPT} cat <<-X > tabs.txt\n> \nDisplay all 2000 possibilities? (y or n)"
    told = _trace(f"{_PROMPT} ", text, keys)
    assert told.startswith("The action runs `cat <<-X > tabs.txt` with a heredoc of 1 line ended by `X`. ")
    assert "prints" not in told and "prompt returns" not in told


def test_the_output_of_a_heredoc_command_starts_below_its_echoed_body():
    from transforms.reasoning.openings import command_output
    keys = json.dumps([{"keystrokes": "git apply <<'P'\ndiff --git a/f b/f\nP\n"}])
    text = f"{_PROMPT} git apply <<'P'\n> diff --git a/f b/f\n> P\nerror: No valid patches in input\n{_PROMPT}"
    assert command_output(f"{_PROMPT} ", text, keys) == ["error: No valid patches in input", _PROMPT]
    # The body as echoed differs from what was typed: where the output starts is not known.
    assert command_output(f"{_PROMPT} ", text.replace("> diff", "> dif"), keys) is None


def test_an_empty_heredoc_is_told_as_empty():
    text = f"{_PROMPT} cat <<EOF > empty.txt\n> EOF\n{_PROMPT}"
    assert _trace(f"{_PROMPT} ", text, "cat <<EOF > empty.txt\nEOF\n") == (
        "The action runs `cat <<EOF > empty.txt` with an empty heredoc ended by `EOF`, which prints nothing; the "
        "screen gains only the next prompt.")


# `<<-` (h232): bash strips leading tabs, and only tabs, from the body and the terminator line; `<<` strips nothing.
# Each case is checked against bash itself: `bash -n` warns of a heredoc the input ends before its terminator.
_TABBED = [
    ("cat <<- 'EOF'\n\tx\n\t\tEOF", False), ('cat <<-"END" > f\n\tbody\n\t\t\tEND', False),
    ("cat <<-EOF\n\tEOF", False),
    ("cat <<EOF\n\tEOF", True), ("cat <<-EOF\n  EOF", True), ("cat <<-X\n \tX", True), ("cat <<- X\n\tX ", True),
    ("cat <<A <<-B\n\tA\nA\n\t\tB", False), ("cat <<A <<-B\nA\n\tA\n\tB", False), ("cat <<-A <<B\n\tA\n\tB", True),
]


@pytest.mark.parametrize("typed, open_", _TABBED)
def test_a_dash_heredoc_ends_at_a_tab_indented_terminator_and_a_plain_one_does_not(typed, open_):
    assert _unfinished(typed) is open_
    checked = subprocess.run(["bash", "-n", "-c", typed], capture_output=True, text=True, check=False)
    assert ("delimited by end-of-file" in checked.stderr) is open_, checked.stderr


@pytest.mark.parametrize("typed, told", [
    ("cat <<- 'EOF' > t.txt\n\tindented\n\t\tEOF\n", "The action runs `cat <<- 'EOF' > t.txt` with a heredoc of 1 line "
                                                     "ended by `EOF`"),
    ("cat <<EOF > t.txt\n\tEOF\n", "The action types `cat <<EOF > t.txt` and 1 line of its heredoc, not yet ended by "
                                   "`EOF`"),
    ("cat <<-EOF > t.txt\n  EOF\n", "The action types `cat <<-EOF > t.txt` and 1 line of its heredoc, not yet ended "
                                    "by `EOF`"),
])
def test_a_heredoc_typed_whole_is_ended_as_bash_ends_it(typed, told):
    # A tab typed at bash's prompt asks for completions: the screen does not echo the lines, so only the subject
    # is told, which is what is checked here.
    assert _trace(f"{_PROMPT} ", f"{_PROMPT} {typed.splitlines()[0]}\n>", typed).startswith(told)
