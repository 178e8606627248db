"""Session 24's data-review leftovers (h200, h201): a prompt-like line a command printed, padded menu names, and the
android opening. Cut down from real rows of a make-run collection, and from the real dumps in shared/data/android."""

from __future__ import annotations

import json

from tests.transforms.android_screens import phone_trace, screen
from transforms.reasoning.grounded import grounded_trace

_PROMPT = "root@sandbox:/work# "


def _terminal(command: str, printed: str) -> str:
    """The trace of one command typed at the shell's prompt, the screen then showing `printed` after it."""
    state = "root@sandbox:/work# cd /work\n" + _PROMPT
    return grounded_trace({"domain": "terminal", "state_text": state, "next_text": state + command + "\n" + printed,
                           "action_text": json.dumps([{"keystrokes": command + "\n", "duration": 1}])})


def test_a_prompt_like_line_is_output_where_the_shell_prompt_follows_it():
    assert _terminal("echo '>'", ">\n" + _PROMPT) == \
        "The action runs `echo '>'`, which prints 1 line: '>'; the prompt returns."
    assert _terminal("printf '>>>\\n'", ">>>\n" + _PROMPT) == \
        "The action runs `printf '>>>\\n'`, which prints 1 line: '>>>'; the prompt returns."


def test_a_waiting_prompt_is_named_only_where_the_command_tells_whose_it_is():
    # terminal-err-syntax-s0-dd4d488e:1 and terminal-python-repl-s0-7fe512c7:0 keep their words.
    assert _terminal("echo 'unterminated", ">") == ("The action runs `echo 'unterminated`, which prints nothing; "
                                                    "the continuation prompt '>' waits for more input.")
    assert _terminal("python3 -q", ">>>") == \
        "The action runs `python3 -q`, which prints nothing; python's prompt '>>>' waits for input."
    assert _terminal("ls /work \\", ">").endswith("the continuation prompt '>' waits for more input.")
    # node's REPL shows '> ' too: not a continuation, and the record does not say whose it is.
    assert _terminal("node", ">") == "The action runs `node`, which prints nothing; the prompt '>' waits for input."
    assert _terminal("echo '>'; sleep 30", ">").endswith("; the prompt '>' waits for input.")
    # A line typed at python's own prompt: its '...' is python's.
    repl = "root@sandbox:/work# python3 -q\n>>> "
    assert grounded_trace({"domain": "terminal", "state_text": repl, "next_text": repl + "def f():\n...",
                           "action_text": json.dumps([{"keystrokes": "def f():\n"}])}) == (
        "The action runs `def f():`, which prints nothing; python's continuation prompt '...' waits for more input.")
    # '...' is python's only after python: otherwise it is output, with no prompt after it yet.
    assert _terminal("echo ...; sleep 30", "...") == \
        "The action runs `echo ...; sleep 30`, which prints 1 line: '...'; no prompt follows it yet."


# os-explore-editor-append-and-save-s0-087f7d15:0-1, cut down: mousepad pads its menu items' names with spaces.
_OS_HEAD = ("focused window: [1] frame '~/notes.txt - Mousepad' (mousepad)\nfocused element: none\n"
            "id\ttag\tname\ttext\tclass\tdescription\tposition (top-left x&y)\tsize (w&h)\tstate\n")
_MENU = "[45]\tmenu\tSearch\t\"\"\t\tSearch menu\t(400, 167)\t(60, 25)\t"
_ITEMS = ("[46]\tmenu-item\tFind      \t\"\"\t\tSearch for text\t(400, 192)\t(272, 25)\t\n"
          "[47]\tmenu-item\tFind Next      \t\"\"\t\tSearch forwards for the same text\t(400, 217)\t(272, 25)\t\n"
          "[49]\tmenu-item\tFind and Replace...      \t\"\"\t\tSearch for and replace text\t(400, 267)\t(272, 25)\t\n")
_TEXT = "[87]\ttext\t\tfirst line\t\t\t(321, 195)\t(638, 449)\t"


def test_padded_menu_names_are_quoted_without_their_padding():
    closed = _OS_HEAD + _MENU + "\n" + _TEXT
    opened = _OS_HEAD + _MENU + "selected\n" + _ITEMS + _TEXT
    trace = grounded_trace({"domain": "os", "state_text": closed, "next_text": opened,
                            "action_text": "click(element=45)"})
    assert trace == ("Clicking [45] menu 'Search' changes the screen. 3 elements appear: [46] menu-item 'Find', "
                     "[47] menu-item 'Find Next', [49] menu-item 'Find and Replace...'. 1 element changes: "
                     "[45] menu 'Search' is now selected.")
    picked = grounded_trace({"domain": "os", "state_text": opened, "next_text": closed,
                             "action_text": "click(element=49)"})
    assert picked.startswith("Clicking [49] menu-item 'Find and Replace...' changes the screen. 3 elements "
                             "disappear: [46] menu-item 'Find', ")
    # A name that is only blank is shown as it is: "[35] label ' '" (os-explore-calc-multiply-s0-1e1715de:6).
    blank = grounded_trace({"domain": "os", "state_text": _OS_HEAD + "[35]\tlabel\t \t\"\"\t\t\t(1, 1)\t(2, 2)\t",
                            "next_text": _OS_HEAD + "[35]\tlabel\t \t\"\"\t\t\t(1, 1)\t(3, 2)\t"})
    assert blank == "1 element changes: [35] label ' ' changes size."








def test_an_android_trace_opens_with_the_action_and_the_element_it_targets():
    # tasks/android.yaml settings-network on the pixel replay: the launcher, Settings, Network & internet.
    run = "task_system_2024-11-12_23-49-19"
    home, settings, network = (screen(run, step) for step in (1, 2, 3))
    assert "[ 4] | android.widget.TextView | text=\"Settings\"" in home
    assert phone_trace(home, settings, "tap(4)").startswith(
        "Tapping [4] TextView 'Settings' brings com.android.settings to the front in place of "
        "com.google.android.apps.nexuslauncher. 30 elements appear: ")
    assert phone_trace(settings, network, "tap(8)").startswith("Tapping [8] TextView 'Network & internet' changes the "
                                                          "screen. ")
    assert phone_trace(network, settings, "key(back)").startswith("Pressing the back key changes the screen. ")
    assert phone_trace(settings, home, "key(home)").startswith(
        "Pressing the home key brings com.google.android.apps.nexuslauncher to the front in place of "
        "com.android.settings. ")
    assert phone_trace(settings, settings, "swipe(0, up)") == \
        "Swiping up on [0] ScrollView with the id 'settings_homepage_container' changes nothing on the screen."
    assert phone_trace(home, home, "scroll(down)") == "Scrolling down changes nothing on the screen."
    assert phone_trace(home, settings, "tap(540, 1200)").startswith("Tapping at (540, 1200) brings com.android.settings ")
    assert phone_trace(home, settings, "long_press(99)").startswith("Long-pressing element [99] brings ")


def test_an_android_text_input_says_whether_an_element_shows_the_text():
    # The chrome url bar, before and after text("weather tomorrow") (actions.json of the same run).
    run = "task_system_2024-11-12_23-45-06"
    before, after = screen(run, 4), screen(run, 5)
    assert phone_trace(before, after, 'type("weather tomorrow")').startswith(
        "Typing 'weather tomorrow' changes the screen; an element now shows the text. ")
    assert phone_trace(before, after, 'type("rain")').startswith("Typing 'rain' changes the screen. ")
    # A call the collector does not write has no opening: the line diff alone is told.
    assert phone_trace(before, after, "pinch(3)").startswith("1 element appears: [35] ImageButton described 'Clear input'. ")


# swe-toolz-planted-bug-by-hand-s0-3064fc3e:6 and swe-six-bugfix-six-py-877-drop-statement-0-s0-dd26a8bc:5, whole.
_PLANTED = '''diff --git a/toolz/itertoolz.py b/toolz/itertoolz.py
index c739e8d..05c36cc 100644
--- a/toolz/itertoolz.py
+++ b/toolz/itertoolz.py
@@ -545,7 +545,7 @@ def frequencies(seq):
     """
     d = collections.defaultdict(int)
     for item in seq:
-        d[item] += 2
+        d[item] += 1
     return dict(d)
 
 
'''
_DROPPED = '''diff --git a/six.py b/six.py
index 57cbe58..3de5969 100644
--- a/six.py
+++ b/six.py
@@ -874,6 +874,7 @@ def with_metaclass(meta, *bases):
                     d['__orig_bases__'] = bases
             else:
                 resolved_bases = bases
+            return meta(name, resolved_bases, d)
 
         @classmethod
         def __prepare__(cls, name, this_bases):
'''


def _swe(text: str, state: str = "") -> str:
    return grounded_trace({"domain": "swe", "state_text": state, "next_text": text,
                           "action_text": '{"name": "submit", "arguments": {}}'})


def test_a_swe_diff_tells_the_line_it_changes():
    # The file is named once, by the diff sentence (h209).
    assert ("It names" not in _swe(_PLANTED)) and \
        "The diff removes 1 line and adds 1 line in toolz/itertoolz.py: line 548 changes from 'd[item] += 2' to " \
        "'d[item] += 1'." in _swe(_PLANTED)
    assert "The diff adds 1 line in six.py: a line 'return meta(name, resolved_bases, d)' is added after line 876." \
        in _swe(_DROPPED)
    # A blank context line whose space was stripped still counts (swe-six-edit-errors-s0-521471ee:11), and a long
    # line is told by what it gains.
    edited = ("diff --git a/six.py b/six.py\nindex 3de5969..3ae12a9 100644\n--- a/six.py\n+++ b/six.py\n"
              "@@ -918,7 +918,7 @@ def ensure_binary(s, encoding='utf-8', errors='strict'):\n"
              "     raise TypeError(\"not expecting type '%s'\" % type(s))\n\n\n"
              "-def ensure_str(s, encoding='utf-8', errors='strict'):\n"
              "+def ensure_str(s, encoding='utf-8', errors='strict'):  # coerce to str\n"
              "     \"\"\"Coerce *s* to `str`.\n")
    assert "The diff removes 1 line and adds 1 line in six.py: line 921 gains '# coerce to str'." in _swe(edited)
    # Not a diff: no such sentence (a terminal's `git diff` is told by its screen).
    assert "The diff" not in _swe("+++ b/x\n@@ not a hunk")
