"""Session 25's data review of a make-run curate (h209): a swe diff's files named twice, and an answer's lines said
to all show an argument that only one of them shows. Cut down from real rows of that collection."""

from __future__ import annotations

import json

from transforms.reasoning.grounded import grounded_trace

# swe-inflection-add-titleize-test-s0-a03b081c:9, the submit of a new test file.
_NEW_FILE = ("diff --git a/test_titleize_extra.py b/test_titleize_extra.py\nnew file mode 100644\n"
             "index 0000000..699f9ce\n--- /dev/null\n+++ b/test_titleize_extra.py\n@@ -0,0 +1,3 @@\n"
             "+import inflection\n+\n+assert inflection.titleize('a') == 'A'\n")


def _answer(domain: str, action: dict, answer: str) -> str:
    return grounded_trace({"domain": domain, "state_text": "", "next_text": answer, "action_text": json.dumps(action)})


def test_a_diff_names_its_files_once():
    trace = _answer("swe", {"name": "submit", "arguments": {}}, _NEW_FILE)
    assert "The diff adds 3 lines in test_titleize_extra.py." in trace
    assert "It names" not in trace
    # A file:line the diff's text shows is no file the diff sentence tells: it is still named.
    cited = _NEW_FILE.replace("'A'\n", "'A'  # see conf.py:12\n")
    assert "It names conf.py:12." in _answer("swe", {"name": "submit", "arguments": {}}, cited)
    # Of two files, each is told by the diff sentence.
    two = _NEW_FILE + _NEW_FILE.replace("test_titleize_extra.py", "b.py")
    trace = _answer("swe", {"name": "git_diff", "arguments": {}}, two)
    assert "in test_titleize_extra.py; adds 3 lines in b.py." in trace and "It names" not in trace


def test_only_the_lines_that_show_an_argument_are_said_to():
    # mcp-explore-filesystem-s0-46894b13:2: the '[tool error]' line shows no path.
    read = {"name": "read_file", "arguments": {"path": "/tmp/workspace/notes/plan.md"}}
    assert _answer("mcp", read, "[tool error]\nENOENT: no such file or directory, open "
                                "'/tmp/workspace/notes/plan.md'") == (
        "The call `read_file` with path '/tmp/workspace/notes/plan.md' answers with 2 lines, one of which shows its "
        "path: '[tool error]', \"ENOENT: no such file or directory, open '{path}'\".")
    # swe-six-edit-errors-s0-521471ee:8, cut down: the editor's first line shows the path twice, its numbered lines
    # none.
    edit = {"name": "str_replace_editor", "arguments": {"command": "str_replace", "path": "/work/repo/six.py",
                                                        "old_str": "a", "new_str": "b"}}
    answer = ("The file /work/repo/six.py has been edited. Here's the result of running `cat -n` on a snippet of "
              "/work/repo/six.py:\n   920\t\n   921\tb\nReview the changes and make sure they are as expected.")
    assert _answer("swe", edit, answer).startswith(
        "The editor's `str_replace` on '/work/repo/six.py' answers with 4 lines, one of which shows its path: ")
    # Lines that all show it keep the short form, and two of three are counted.
    echo = {"name": "echo", "arguments": {"message": "hello there"}}
    assert " answers with 2 lines that show its message: " in _answer("mcp", echo, "hello there\nsaid hello there")
    assert " answers with 3 lines, 2 of which show its message: " in \
        _answer("mcp", echo, "hello there\nsaid hello there\nbye")
    # A one-line answer is unchanged.
    assert _answer("mcp", echo, "Echo: hello there") == \
        "The call `echo` with message 'hello there' answers with one line that shows its message: 'Echo: {message}'."
