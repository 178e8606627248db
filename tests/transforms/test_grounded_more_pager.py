"""Terminal traces (h242): a git diff paged by util-linux `more` (GIT_PAGER=more, `git diff | more`, `more FILE`) or
by less under man's prompt is told as one paged by less is, and the pager's prompt is never read as a line of the
diff or of the command's output. The screens are the ones a real collection recorded (task h242-more-pager,
`worldline collect terminal`, a 160x40 pane, rendered by schemas/render): more's reverse-video prompt reads
'--More--', '--More--(48%)' or, where its input ended, '(END)' below blank lines; man's reads
' Manual page git-diff(1) line 1 (press h for help or q to quit)'."""

from __future__ import annotations

import json

import pytest

from transforms.reasoning.diffs import pager_prompt, terminal_diff
from transforms.reasoning.grounded import grounded_trace

_REPO = "root@sandbox:/work/repo#"
# The state every paging step starts from: the prompt after `cd repo && sed …` changed f.txt and g.txt.
_STATE = (f"root@sandbox:/work# cd repo && sed -i 's/^5$/five/' f.txt && sed -i -e 's/^3$/three/' -e "
          f"'60,100s/$/!/' g.txt\n{_REPO}")
# `git diff` of f.txt (5 -> five).
_F_DIFF = ["diff --git a/f.txt b/f.txt", "index 08fe19c..f222490 100644", "--- a/f.txt", "+++ b/f.txt",
           "@@ -2,7 +2,7 @@", " 2", " 3", " 4", "-5", "+five", " 6", " 7", " 8"]
# The first 39 lines of `git diff` (f.txt, then g.txt: 3 -> three, and lines 60-100 gain '!'): a 40-row pane's page
# above the pager's prompt, which cuts the second hunk of g.txt off after -69.
_PAGE = _F_DIFF + ["diff --git a/g.txt b/g.txt", "index 190423f..6866e76 100644", "--- a/g.txt", "+++ b/g.txt",
                   "@@ -1,6 +1,6 @@", " 1", " 2", "-3", "+three", " 4", " 5", " 6", "@@ -57,44 +57,44 @@", " 57",
                   " 58", " 59", *(f"-{n}" for n in range(60, 70))]
_TOLD = ("The diff removes 1 line and adds 1 line in f.txt (line 5 changes from '5' to 'five'); removes 1 line and "
         "adds 1 line in the first hunk of g.txt, then shows the start of a hunk at line 57 of g.txt, cut off at the "
         "screen's bottom")
_MAN = " Manual page git-diff(1) line 1 (press h for help or q to quit)"
_MAN_END = " Manual page git-diff(1) line 1/13 (END) (press h for help or q to quit)"


def _trace(command: str, shown: list[str]) -> str:
    return grounded_trace({"domain": "terminal", "state_text": _STATE,
                           "next_text": "\n".join([f"{_STATE} {command}", *shown]),
                           "action_text": json.dumps([{"keystrokes": f"{command}\n", "duration": 3}])})


@pytest.mark.parametrize("command, prompt", [
    ("GIT_PAGER=more git diff", "--More--"), ("git diff | more", "--More--"),
    ("git diff > /tmp/d.patch && more /tmp/d.patch", "--More--(48%)"),
])
def test_a_diff_cut_off_above_mores_prompt_is_told_as_above_less_colon(command, prompt):
    trace = _trace(command, [*_PAGE, prompt])
    assert trace.endswith(f"{_TOLD}, above the pager's '{prompt}'.")
    # The prompt is more's, not a line the command printed: 39 lines, not 40.
    assert f"which prints 39 lines: 'diff --git a/f.txt b/f.txt', 'index 08fe19c..f222490 100644', '--- a/f.txt' " \
           f"and 36 more; the pager's prompt '{prompt}' waits for a key." in trace


def test_less_colon_is_the_pagers_prompt_where_the_command_pages_through_less():
    trace = _trace("git diff", [*_PAGE, ":"])
    assert trace.endswith(f"{_TOLD}, above the pager's ':'.")
    # git pages through less (h253): its ':' is not a line the diff printed.
    assert "which prints 39 lines" in trace and "the pager's prompt ':' waits for a key" in trace
    # A command that runs no pager may print a lone ':' itself: counted as before.
    assert "which prints 40 lines" in _trace("cat /tmp/d.patch; sleep 9", [*_PAGE, ":"])


@pytest.mark.parametrize("command", ["GIT_PAGER=more git diff f.txt", "git diff f.txt | more"])
def test_a_whole_diff_above_mores_end_and_its_blank_padding_is_told_whole(command):
    # more fills the rest of the pane with blank lines down to '(END)' on its last row.
    trace = _trace(command, [*_F_DIFF, *[""] * 26, "(END)"])
    assert trace.endswith("The diff removes 1 line and adds 1 line in f.txt: line 5 changes from '5' to 'five'.")
    assert "names f.txt" not in trace


def test_blank_lines_after_a_diff_without_an_end_below_them_claim_nothing():
    assert terminal_diff([*_F_DIFF, "", "", "--More--"]) is None
    assert terminal_diff([*_F_DIFF, "", "", "more text"]) is None
    assert terminal_diff([*_F_DIFF, "", "", ""]) is None


@pytest.mark.parametrize("prompt", ["--More--", "--More--(93%)", ":", _MAN])
def test_a_prompt_saying_more_follows_a_whole_hunk_claims_nothing_nor_reads_it_as_a_line(prompt):
    assert terminal_diff([*_F_DIFF, prompt]) is None
    # Where a hunk still wants one removed (or context) line, the prompt must not be taken for it: the hunk is cut.
    wanting = [*_F_DIFF[:4], "@@ -2,3 +2,2 @@", " 2", " 3"]
    assert terminal_diff([*wanting, prompt]) == (
        f"The diff shows the start of a hunk at line 2 of f.txt, cut off at the screen's bottom, above the pager's "
        f"'{prompt.strip()}'.", ["f.txt"])


def test_a_diff_cut_off_above_mans_prompt_is_told_as_above_it():
    # man's less prompt (man-db's LESS), under which less shows a diff as it does a manual page.
    told = terminal_diff([*_PAGE, _MAN])
    assert told == (f"{_TOLD}, above the pager's 'Manual page git-diff(1) line 1 (press h for help or q to quit)'.",
                    ["f.txt", "g.txt"])
    trace = _trace("git diff", [*_PAGE, _MAN])
    assert "which prints 39 lines" in trace
    assert "the pager's prompt 'Manual page git-diff(1) line 1 (press h for help or q to quit)' waits" in trace


def test_a_whole_diff_above_mans_end_prompt_is_told_whole():
    # Its leading space made it a context line of the last hunk, which it overfilled.
    assert terminal_diff([*_F_DIFF, _MAN_END]) == (
        "The diff removes 1 line and adds 1 line in f.txt: line 5 changes from '5' to 'five'.", ["f.txt"])
    # The input ended, so a hunk not whole above it is a wrapped line, not a cut.
    assert terminal_diff([*_F_DIFF[:-1], _MAN_END]) is None


@pytest.mark.parametrize("line, follows", [
    ("--More--", True), ("--More--(48%)", True), ("--More--(100%)", True), (":", True), (_MAN, True),
    (" Manual page ls(1) byte 2048/9000 22% (press h for help or q to quit)", True), (_MAN_END, False),
    ("(END)", None), ("--More--x", None), ("-More--", None), ("--More--(48)", None), ("--- More--", None),
    (" Manual page git-diff(1) line 1", None), ("Manual page git-diff(1) line 1 (press h for help or q to quit)", None),
])
def test_pager_prompts_are_only_the_pagers_own_lines(line, follows):
    assert pager_prompt(line) is follows
