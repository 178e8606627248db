"""Terminal openings (h253): "which prints N lines" counts only what the command printed on a pager's first page, not
the pager's prompt (less's ':', '(END)' or the file's name, more's '(END)'), nor the rows that fill the page past the
input's end (less's '~' with -c, more's blank ones). The screens below equal the ones a real collection recorded
(task h253-less-pages, `worldline collect terminal`, worldline/base:bookworm with less 590 and util-linux more, a
160x40 pane, rendered by schemas/render) from the command's line down; h242-more-pager's for `GIT_PAGER=more`."""

from __future__ import annotations

import json

import pytest

from transforms.reasoning.diffs import terminal_diff
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.openings import _pager

_REPO = "root@sandbox:/work/repo#"
# `git diff f.txt` (5 -> five), as every recorded screen shows it.
_F_DIFF = ["diff --git a/f.txt b/f.txt", "index 08fe19c..f222490 100644", "--- a/f.txt", "+++ b/f.txt",
           "@@ -2,7 +2,7 @@", " 2", " 3", " 4", "-5", "+five", " 6", " 7", " 8"]
_F_TOLD = "The diff removes 1 line and adds 1 line in f.txt: line 5 changes from '5' to 'five'."
_F_PRINTED = "which prints 13 lines: 'diff --git a/f.txt b/f.txt', 'index 08fe19c..f222490 100644', '--- a/f.txt' " \
             "and 10 more"
# `git diff`'s first 39 lines (f.txt, then g.txt: 3 -> three, lines 60-100 gain '!'): less's page above its ':'.
_PAGE = _F_DIFF + ["diff --git a/g.txt b/g.txt", "index 190423f..6866e76 100644", "--- a/g.txt", "+++ b/g.txt",
                   "@@ -1,6 +1,6 @@", " 1", " 2", "-3", "+three", " 4", " 5", " 6", "@@ -57,44 +57,44 @@", " 57",
                   " 58", " 59", *(f"-{n}" for n in range(60, 70))]


def _trace(command: str, shown: list[str]) -> str:
    return grounded_trace({"domain": "terminal", "state_text": _REPO,
                           "next_text": "\n".join([f"{_REPO} {command}", *shown]),
                           "action_text": json.dumps([{"keystrokes": f"{command}\n", "duration": 2}])})


def test_less_on_a_short_file_prints_its_lines_above_its_named_end_prompt():
    trace = _trace("less -X short.txt", ["alpha", "beta", "gamma", "short.txt (END)"])
    assert trace == ("The action runs `less -X short.txt`, which prints 3 lines: 'alpha', 'beta', 'gamma'; the pager's "
                     "prompt 'short.txt (END)' waits for a key.")


def test_less_clearing_the_screen_fills_the_page_with_tildes_which_are_not_printed():
    trace = _trace("less -Xc short.txt", ["alpha", "beta", "gamma", *["~"] * 36, "short.txt (END)"])
    assert trace == ("The action runs `less -Xc short.txt`, which prints 3 lines: 'alpha', 'beta', 'gamma'; 36 '~' "
                     "rows fill the rest of the page and the pager's prompt 'short.txt (END)' waits for a key.")


def test_a_tilde_the_file_ends_with_is_told_among_the_tilde_rows():
    # tilde.txt is 'one' and '~': the screen cannot tell its '~' from less's, so the rows are told with their count,
    # which the screen shows whole.
    trace = _trace("less -Xc tilde.txt", ["one", *["~"] * 38, "tilde.txt (END)"])
    assert trace.endswith("which prints 1 line: 'one'; 38 '~' rows fill the rest of the page and the pager's prompt "
                          "'tilde.txt (END)' waits for a key.")


def test_a_files_own_colon_line_above_less_prompt_is_printed():
    # colon.txt's line 39 is ':', the page's last line above less's first prompt, the file's name.
    trace = _trace("less -X colon.txt", [*map(str, range(1, 39)), ":", "colon.txt"])
    assert trace == ("The action runs `less -X colon.txt`, which prints 39 lines: '1', '2', '3' and 36 more; the "
                     "pager's prompt 'colon.txt' waits for a key.")


def test_git_paging_a_long_diff_through_less_prints_the_page_above_its_colon():
    trace = _trace("git -c core.pager='less' diff", [*_PAGE, ":"])
    assert "which prints 39 lines: 'diff --git a/f.txt b/f.txt', 'index 08fe19c..f222490 100644', '--- a/f.txt' and " \
           "36 more; the pager's prompt ':' waits for a key." in trace
    assert trace.endswith("cut off at the screen's bottom, above the pager's ':'.")


def test_a_short_diff_less_shows_from_the_top_is_told_whole_above_its_tildes():
    trace = _trace("git -c core.pager='less -+F -c' diff f.txt", [*_F_DIFF, *["~"] * 26, "(END)"])
    assert trace == (f"The action runs `git -c core.pager='less -+F -c' diff f.txt`, {_F_PRINTED}; 26 '~' rows fill "
                     f"the rest of the page and the pager's prompt '(END)' waits for a key. {_F_TOLD}")


def test_a_short_diff_less_leaves_to_the_shell_is_told_as_before():
    # git's LESS=FRX: less prints a diff that fits and quits.
    trace = _trace("git -c core.pager='less' diff f.txt", [*_F_DIFF, _REPO])
    assert trace == (f"The action runs `git -c core.pager='less' diff f.txt`, {_F_PRINTED}; the prompt returns. "
                     f"{_F_TOLD}")


@pytest.mark.parametrize("command", ["GIT_PAGER=more git diff f.txt", "git diff f.txt | more"])
def test_mores_blank_padding_and_end_are_not_printed(command):
    trace = _trace(command, [*_F_DIFF, *[""] * 26, "(END)"])
    assert trace == (f"The action runs `{command}`, {_F_PRINTED}; 26 blank rows fill the rest of the page and the "
                     f"pager's prompt '(END)' waits for a key. {_F_TOLD}")


def test_a_pipe_into_more_prints_its_lines_above_the_padding():
    trace = _trace("seq 1 5 | more", [*map(str, range(1, 6)), *[""] * 34, "(END)"])
    assert trace == ("The action runs `seq 1 5 | more`, which prints 5 lines: '1', '2', '3' and 2 more; 34 blank rows "
                     "fill the rest of the page and the pager's prompt '(END)' waits for a key.")


@pytest.mark.parametrize("command, shown, printed", [
    # No pager runs: a last ':', '(END)' or file name is what the command printed, and so are rows above it.
    ("printf '1\\n:\\n'; sleep 9", ["1", ":"], "2 lines: '1', ':'"),
    ("cat notes.txt && sleep 9", ["a", "", "(END)"], "3 lines (1 blank): 'a', '(END)'"),
    ("git --no-pager diff; sleep 9", [*_F_DIFF[:3], ":"], "4 lines: 'diff --git a/f.txt b/f.txt', "
                                                           "'index 08fe19c..f222490 100644', '--- a/f.txt' and 1 more"),
    ("git commit", ["a", ":"], "2 lines: 'a', ':'"),
    # less pads with '~', not blank rows: a blank line above its '(END)' is the input's.
    ("less -X notes.txt", ["a", "", "notes.txt (END)"], "2 lines (1 blank): 'a'"),
    # more's padding is blank: '~' rows above its '(END)' are the input's.
    ("more notes.txt", ["a", "~", "(END)"], "2 lines: 'a', '~'"),
    # A name less was not given is not its prompt.
    ("less -X notes.txt", ["a", "other.txt"], "2 lines: 'a', 'other.txt'"),
])
def test_what_is_not_the_pagers_prompt_or_filler_is_counted(command, shown, printed):
    assert f"which prints {printed}" in _trace(command, shown)


@pytest.mark.parametrize("command, pager", [
    ("less -X short.txt", ("less", ("-X", "short.txt"))), ("seq 1 5 | more", ("more", ())),
    ("git diff", ("less", ())), ("git -c core.pager='less -+F -c' diff f.txt", ("less", ())),
    ("GIT_PAGER=more git diff f.txt", ("more", ())), ("git -C repo log -p", ("less", ())),
    ("git commit -qam x && git log -p", ("less", ())), ("/usr/bin/less f", ("less", ("f",))),
    ("git -p status", ("less", ())), ("PAGER=more git --paginate status", ("more", ())), ("git status", None),
    ("git --no-pager diff", None), ("git -P log", None), ("git -c core.pager=cat diff", None), ("git commit", None),
    ("git diff | cat", None), ("less f; echo done", None), ("GIT_PAGER=cat git diff", None), ("echo 'less", None),
])
def test_the_pager_a_command_runs(command, pager):
    assert _pager(command) == pager


def test_a_whole_diff_above_less_tildes_and_end_is_whole_and_nothing_else_is():
    assert terminal_diff([*_F_DIFF, *["~"] * 26, "(END)"]) == (_F_TOLD, ["f.txt"])
    # '~' rows not down to an end say nothing of the diff's end; nor do '~' and blank rows mixed.
    assert terminal_diff([*_F_DIFF, *["~"] * 3, ":"]) is None
    assert terminal_diff([*_F_DIFF, "~", "", "(END)"]) is None
    assert terminal_diff([*_F_DIFF, "~", "~"]) is None
