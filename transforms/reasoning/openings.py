"""The sentence a trace opens with, tying the action to what it did: who answers a call in an answer domain, what
a terminal's keystrokes ran and printed, and which element of the state a web or desktop action targets and what the
next observation shows of it."""

from __future__ import annotations

import json
import re
import shlex
from functools import lru_cache

from transforms.reasoning._linediff import MAX_LISTED, quote
from transforms.reasoning.actions import (SHORT_STRING, action_json, argument_values, arguments_told, as_code,
                                          code_call, tool_call)
from transforms.reasoning.diffs import pager_prompt
from transforms.reasoning.elements import cells, row_needles, shown
from transforms.reasoning.headers import WEB_PREFIXES


# The opening sentence ties the action to what it did (data review D3), from the record alone: the action as the
# collector wrote it (a tool call's name and arguments, a terminal's keystrokes, a web or desktop call and the element
# of the state it targets) and what the next observation shows of it. Nothing is said that the record cannot check: a
# call's purpose or a command's meaning is not guessed.


@lru_cache(maxsize=512)
def answer_subject(domain: str, action_text: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """Who answers in an answer domain (answers.ANSWERS), and the values of its arguments the answer may show
    (actions.argument_values). Cached: it reads the action alone, which an episode often repeats, and is handed on
    unchanged (tuples)."""
    call = tool_call(action_json(action_text))
    if call is None:
        return None
    subject, arguments = call
    if domain == "swe":
        command = arguments.get("command")
        if subject == "The call `bash`" and isinstance(command, str) and command.strip():
            # A shell command is the action itself: told as run, not as an argument.
            return f"The command {as_code(command)}", ()
        path = arguments.get("path")
        if isinstance(command, str) and isinstance(path, str) and len(command) <= SHORT_STRING:
            return f"The editor's `{command}` on {quote(path)}", argument_values({"path": path})
    told = subject + ("" if subject.startswith("The request") and not arguments else arguments_told(arguments))
    return told, argument_values(arguments) if arguments else ()


def _lines_told(lines: list[str]) -> str:
    """Some lines of output, counted (blank ones too) and the first few non-blank quoted: "2 lines: 'a', 'b'"."""
    filled = [line for line in lines if line.strip()]
    blank = len(lines) - len(filled)
    count = f"{len(lines)} {'line' if len(lines) == 1 else 'lines'}" + (f" ({blank} blank)" if blank else "")
    if not filled:
        return count
    more = (f" and {len(filled) - MAX_LISTED} more{' non-blank' if blank else ''}" if len(filled) > MAX_LISTED
            else "")
    return f"{count}: {', '.join(quote(line) for line in filled[:MAX_LISTED])}{more}"


# tmux's names of keys (collectors/terminal.py sends each entry with send-keys; tmux's key-string table): C-c, M-x,
# Enter, Escape, F1. Any other text is typed as it is, "Hello" too.
_TMUX_KEY = re.compile(r"(?:[CMS]-)+\S|F(?:[1-9]|1[0-2])|Enter|Escape|Tab|BTab|BSpace|Space|Up|Down|Left|Right|Home|End|"
                       r"IC|DC|Insert|Delete|NPage|PPage|PageUp|PageDown|PgUp|PgDn|KP\w+")


@lru_cache(maxsize=512)
def _keystrokes(action_text: str) -> tuple[str, str | None] | None:
    """What a terminal action's keystrokes are: the sentence that tells them and None, or for one command typed and
    entered, "The action runs `…`" and the command; None for an action that is not keystrokes. Cached: it reads the
    action alone."""
    entries = action_json(action_text)
    if not isinstance(entries, list) or not entries or not all(
            isinstance(entry, dict) and isinstance(entry.get("keystrokes"), str) for entry in entries):
        return None
    keys = [entry["keystrokes"] for entry in entries]
    typed = "".join(keys)
    if len(keys) == 1 and _TMUX_KEY.fullmatch(typed):
        return f"The action presses {typed}.", None
    if not typed.endswith(("\n", "\r")):
        return f"The action types {quote(typed)} without pressing Enter.", None
    commands = typed.splitlines()
    heredoc = _heredoc_told(commands) if len(commands) > 1 else None
    if heredoc:
        return heredoc, "\n".join(commands)
    if len(commands) != 1 or not commands[0].strip():
        return _lines_typed(commands), None
    return f"The action runs {as_code(commands[0])}", commands[0]


def _lines_typed(commands: list[str]) -> str:
    return f"The action types {len(commands)} lines, each followed by Enter, the first {as_code(commands[0])}."


def _heredoc_told(commands: list[str]) -> str | None:
    """How lines typed in one action are told where they are one command, as bash reads them: a first line that
    opens heredocs, then their bodies, each ended by its terminator line (the last may be still open), and nothing
    after; None otherwise, where they are told as lines typed. The subject names what the record can check: the
    first line, how many body lines, the terminators."""
    opened = _heredocs(commands[0]) if "<<" in commands[0] else []
    terminators = [word for word, _ in opened]
    # The terminators typed after it end its heredocs: what is still open then is a quote or a trailing backslash,
    # which this does not tell.
    if not opened or _unfinished("\n".join([commands[0], *terminators])):
        return None
    body = 0
    for line in commands[1:]:
        if not opened:
            return None  # another command follows the heredocs
        word, tabs = opened[0]
        if (line.lstrip("\t") if tabs else line) == word:
            opened.pop(0)
        else:
            body += 1
    first = as_code(commands[0])
    lines = f"{body} {'line' if body == 1 else 'lines'}"
    if opened:
        return f"The action types {first} and {lines} of its heredoc, not yet ended by {as_code(opened[0][0])}"
    ended = " and ".join(as_code(word) for word in terminators)
    if len(terminators) > 1:
        return f"The action runs {first} with {len(terminators)} heredocs of {lines} ended by {ended}"
    return f"The action runs {first} with {f'a heredoc of {lines}' if body else 'an empty heredoc'} ended by {ended}"


def _echoed(lines: list[str], at: int, prompt: str, commands: list[str]) -> int | None:
    """Where the output starts, where lines[at] is the command's first line after the prompt and each line after it
    is bash's echo of the next typed line after its continuation prompt '> '; None where they are not."""
    if not lines[at].startswith(prompt) or lines[at][len(prompt):].strip() != commands[0].strip():
        return None
    for line in commands[1:]:
        at += 1
        # The screen drops a line's trailing blanks: '> ' alone reads '>'.
        if at >= len(lines) or lines[at].rstrip() != f"> {line}".rstrip():
            return None
    return at + 1


def terminal_opening(state: str, text: str, action_text: str) -> tuple[str, str | None] | None:
    """What the keystrokes are, and, for one command typed at the prompt the state ends with, what the screen shows of
    it: the command after that prompt, the lines it printed, and whether the prompt returned. Returns the sentence and,
    where it tells the whole change (the screen is the state with those lines added), the new lines, else None."""
    typed = _keystrokes(action_text)
    if typed is None or typed[1] is None:
        return typed
    subject, command = typed
    commands = command.split("\n")
    # The screen as the state showed it up to its last line, the prompt: the same, then that line with the command.
    kept = state.rfind("\n") + 1
    prompt = state[kept:].rstrip()
    if len(commands) > 1 and not prompt.endswith(("#", "$", "%")):
        # A heredoc typed whole at a continuation prompt or another program's: the lines as typed.
        return _lines_typed(commands), None
    if prompt and not prompt.endswith(_PROMPT_ENDS):
        # Not typed at a prompt: a pager's search (less's '/ANSWER'), a program's question; nothing is run.
        return f"The action types {as_code(command)} and presses Enter.", None
    after = text[kept:].split("\n") if text.startswith(state[:kept]) else None
    echoed = _echoed(after, 0, prompt, commands) if prompt and after is not None else None
    if echoed is None:
        # The screen scrolled, or the command is not echoed after the prompt: the line diff tells what changed.
        return f"{subject}.", None
    output = after[echoed:]
    continued = _continued(state, kept) if prompt == ">" else None
    if continued:
        # A line typed at bash's continuation prompt ends the command or not as everything typed since the shell's
        # prompt does (a heredoc's body, then its terminator), and the shell's prompt is the one that returns.
        subject = f"The action enters {as_code(command)} at the continuation prompt"
        command, prompt = continued[0] + "\n" + command, continued[1]
    back = bool(output) and _same_prompt(output[-1].rstrip(), prompt)
    # A last line that looks like a prompt is one only where the shell's own prompt does not follow it: `echo '>'`
    # prints a '>' and the prompt returns after it.
    paged = None if back or not output else _paged(output, command)
    waiting = paged[1] if paged else not back and bool(output) and _waiting_prompt(output[-1].rstrip(), command, prompt)
    printed = paged[0] if paged else output[:-1] if back or waiting else output
    told = f"which prints {_lines_told(printed)}" if printed else "which prints nothing"
    ending = "the prompt returns" if back else waiting or "no prompt follows it yet"
    if not printed and not waiting:
        ending = "the screen gains only the next prompt" if back else "no prompt follows it yet"
    if back and output[-1].rstrip() != prompt:
        ending += f", now {quote(output[-1].rstrip())}"
    return f"{subject}, {told}; {ending}.", text[kept:]


# A shell's prompt and the command typed after it, on the line a continuation started from: the prompt ends at its
# first '#', '$' or '%' and a space ('root@sandbox:/work# cat <<EOF > f').
_SHELL_LINE = re.compile(r"(\S.*?[#$%]) (.*)")


def _continued(state: str, kept: int) -> tuple[str, str] | None:
    """For a state waiting at bash's continuation prompt '>': what was typed since the shell's prompt (its first line
    and each line entered at '>'), and that prompt; None where the screen does not show the line it started on, or
    where that is not unfinished (another program's '>')."""
    lines = state[:max(kept - 1, 0)].split("\n")
    at = len(lines) - 1
    while at >= 0 and (lines[at] == ">" or lines[at].startswith("> ")):
        at -= 1
    started = _SHELL_LINE.fullmatch(lines[at].rstrip()) if at >= 0 else None
    if started is None:
        return None
    typed = "\n".join([started[2], *(line[2:] for line in lines[at + 1:])])
    # node's REPL shows '> ' too, after `node`: bash's only where what was typed leaves the command unfinished.
    return (typed, started[1]) if _unfinished(typed) else None


# The last characters of a prompt keystrokes are typed at: bash's # and $, zsh's %, python's and a continuation's >.
_PROMPT_ENDS = ("#", "$", "%", ">")
# A last line that is a prompt waiting, where no shell prompt follows it: named only where the command tells whose it
# is (bash's continuation prompt after an unclosed quote or a trailing backslash, python's for `python3`); any other
# '>' or '>>>' is a prompt of a program the record does not name (node's REPL shows '> ' too). A lone '...' is too
# common as printed output to be taken for a prompt without python.
_PYTHON = re.compile(r"(?:\S*/)?python(?:\d+(?:\.\d+)*)?")
_PYTHON_PROMPTS = {">>>": "python's prompt '>>>' waits for input",
                   "...": "python's continuation prompt '...' waits for more input"}
_CONTINUED = "the continuation prompt '>' waits for more input"


# A heredoc's operator (`<<` or `<<-`, not the here-string `<<<`) where the shell reads it: outside quotes, comments
# and arithmetic. Its word may be quoted in part or whole ('EOF', "EOF", \EOF, E"O"F): the terminator is the word
# with its quotes removed.
_WORD_END = frozenset(" \t\n;&|<>()")


def _heredoc_word(line: str, at: int) -> tuple[str | None, int]:
    """The terminator of the heredoc whose word starts at `at` (after blanks), and where the word ends; None where no
    word follows (`cat <<` alone is a syntax error, not a heredoc)."""
    while at < len(line) and line[at] in " \t":
        at += 1
    word = []
    while at < len(line) and line[at] not in _WORD_END:
        char = line[at]
        if char in "'\"":
            end = line.find(char, at + 1)
            if end < 0:
                return None, len(line)
            word.append(line[at + 1:end])
            at = end + 1
        elif char == "\\" and at + 1 < len(line):
            word.append(line[at + 1])
            at += 2
        else:
            word.append(char)
            at += 1
    return ("".join(word) or None), at


def _heredocs(line: str) -> list[tuple[str, bool]]:
    """The heredocs a line of shell opens, in order: each terminator and whether `<<-` lets tabs precede it."""
    opened = []
    at, depth = 0, 0  # depth: inside $(( … )) or (( … )), where << is a shift
    while at < len(line):
        char = line[at]
        if char == "'" and depth == 0:
            end = line.find("'", at + 1)
            at = len(line) if end < 0 else end + 1
            continue
        if char == '"':
            at += 1
            while at < len(line) and line[at] != '"':
                at += 2 if line[at] == "\\" else 1
            at += 1
            continue
        if char == "\\":
            at += 2
            continue
        if char == "#" and depth == 0 and (at == 0 or line[at - 1] in " \t;&|("):
            break  # a comment
        if line.startswith("((", at):
            depth += 1
            at += 2
            continue
        if depth and line.startswith("))", at):
            depth -= 1
            at += 2
            continue
        if depth == 0 and line.startswith("<<", at) and not line.startswith("<<<", at):
            tabs = line.startswith("<<-", at)
            word, at = _heredoc_word(line, at + (3 if tabs else 2))
            if word:
                opened.append((word, tabs))
            continue
        if line.startswith("<<<", at):
            at += 3
            continue
        at += 1
    return opened


def _unfinished(command: str) -> bool:
    """Whether bash reads more lines after this command: a heredoc not yet ended by its terminator line, a quote left
    open, or a backslash at its end."""
    lines = command.rstrip("\r\n").split("\n")
    pending: list[tuple[str, bool]] = []
    shell = []  # the lines bash parses, without the heredocs' bodies, which may hold any quote
    for line in lines:
        line = line.rstrip("\r")
        if pending:
            word, tabs = pending[0]
            if (line.lstrip("\t") if tabs else line) == word:
                pending.pop(0)
            continue
        shell.append(line)
        if "<<" in line:
            pending.extend(_heredocs(line))
    if pending:
        return True
    text = "\n".join(shell)
    if re.search(r"(?<!\\)(?:\\\\)*\\$", text):
        return True
    try:
        shlex.split(text)
    except ValueError:  # "No closing quotation" (or "No escaped character")
        return True
    return False


def _waiting_prompt(line: str, command: str, prompt: str) -> str | None:
    """How the opening tells a last line that is a prompt waiting for input, else None (it is printed output):
    python's after `python3`, or after a line typed at python's own prompt (`def f():` at '>>>'); a pager's that says
    more follows (more's '--More--', man's), whatever the command."""
    if line != ":" and pager_prompt(line):
        # more's '--More--' and man's prompt are the pager's, not lines the command printed; less's lone ':' is too
        # bare a line to tell from printed output.
        return f"the pager's prompt {quote(line.strip())} waits for a key"
    if line not in (">", ">>>", "..."):
        return None
    words = command.split()
    if line in _PYTHON_PROMPTS and (prompt in _PYTHON_PROMPTS or words and _PYTHON.fullmatch(words[0])):
        return _PYTHON_PROMPTS[line]
    if line == ">" and _unfinished(command):
        return _CONTINUED
    return None if line == "..." else f"the prompt {quote(line)} waits for input"


# What a pager's first page shows below the command that runs it (h253's recorded screens, a 160x40 pane): less
# owns the screen's last row, its prompt: the file's name on the first page of a file ('colon.txt', 'short.txt
# (END)'), ':' while more of a pipe follows, '(END)' where it ended; with -c (it paints from the top) rows past the
# input's end read '~'. more pads a page its input ended on with blank rows down to '(END)'. A lone ':' or '(END)'
# may be printed output too: either is the pager's only where the command runs that pager, and a '~' or blank row
# is filler only between the lines above it and such a prompt that says the input ended.
_SEPARATORS = frozenset({"|", "||", "&&", ";", "&", "|&"})
# git's commands that page their output by default (git's pager.<cmd> defaults and its builtins that call
# setup_pager); `git commit` or `git add` leave the screen to the shell or an editor.
_GIT_PAGED = frozenset({"log", "show", "diff", "blame", "grep", "shortlog", "whatchanged", "reflog", "branch", "tag",
                        "help", "config", "stash", "range-diff", "annotate", "cherry", "format-patch"})
_LESS_ENDED = " (END)"


def _pager_of(word: str) -> str | None:
    """'less' or 'more' for a pager's command word (a path, or a command with options: 'less -+F'), else None."""
    name = word.split()[0].rsplit("/", 1)[-1] if word.strip() else ""
    return name if name in ("less", "more") else None


@lru_cache(maxsize=512)
def _pager(command: str) -> tuple[str, tuple[str, ...]] | None:
    """Which pager the command's last part runs ('less' or 'more') and, for `less FILE`, its words (a file's name
    is its first prompt); None where it runs none, or the record cannot tell (an unclosed quote). git pages through
    core.pager, GIT_PAGER or PAGER as the command line sets them, else git's default, less."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return None
    last = max((at for at, token in enumerate(tokens) if token in _SEPARATORS), default=-1)
    words = tokens[last + 1:]
    assigned = {}
    while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0], re.S):
        name, _, value = words.pop(0).partition("=")
        assigned[name] = value
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]
    if program in ("less", "more"):
        return program, tuple(words[1:])
    if program != "git":
        return None
    pager = assigned.get("GIT_PAGER", assigned.get("PAGER", "less"))
    at, paginated = 1, False
    while at < len(words) and words[at].startswith("-"):
        if words[at] in ("--no-pager", "-P"):
            return None
        paginated = paginated or words[at] in ("-p", "--paginate")
        if words[at] in ("-c", "-C") and at + 1 < len(words):
            at += 1
            if words[at - 1] == "-c" and words[at].lower().startswith("core.pager="):
                pager = words[at].partition("=")[2]
        at += 1
    kind = _pager_of(pager)
    return (kind, ()) if kind and (paginated or at < len(words) and words[at] in _GIT_PAGED) else None


def _less_prompt(line: str, words: tuple[str, ...]) -> bool | None:
    """Whether a last line is less's prompt and says the input ended (True) or more follows (False); None where it is
    not less's: ':', '(END)', or a file's name the command gives, with ' (END)' where the file ended."""
    if line == ":":
        return False
    ended = line.endswith(_LESS_ENDED) or line == "(END)"
    name = line[:-len(_LESS_ENDED)] if line.endswith(_LESS_ENDED) else line
    return ended if line == "(END)" or name in words else None


def _paged(output: list[str], command: str) -> tuple[list[str], str] | None:
    """For output that ends in the prompt of the pager the command runs: the lines it printed (not the prompt, nor
    the rows that fill the page past its input's end: less's '~', more's blank ones) and how the opening tells the
    rest; None where the last line is not that pager's prompt."""
    pager = _pager(command)
    last = output[-1].rstrip()
    if pager is None:
        return None
    kind, words = pager
    if kind == "less":
        ended = _less_prompt(last, words)
        if ended is None:
            return None
        filler, told = ("~", "'~' rows") if ended else (None, "")
    elif last == "(END)":
        filler, told = "", "blank rows"
    else:
        return None
    end = len(output) - 1
    while filler is not None and end > 0 and output[end - 1].rstrip() == filler:
        end -= 1
    rows = len(output) - 1 - end
    waits = f"the pager's prompt {quote(last)} waits for a key"
    if not rows:
        return output[:end], waits
    told = f"{rows} {told if rows > 1 else told[:-1]} {'fill' if rows > 1 else 'fills'} the rest of the page"
    return output[:end], f"{told} and {waits}"


def _same_prompt(line: str, prompt: str) -> bool:
    """Whether a line is the shell's prompt again: the same, or the same user and host in another directory
    ('root@sandbox:/work/repo#' after `cd repo`, which is not a line the command printed)."""
    if line == prompt:
        return True
    colon = prompt.find(":") + 1
    return colon > 1 and prompt.endswith(("#", "$")) and line.startswith(prompt[:colon]) and \
        line.endswith(prompt[-1]) and len(line) > colon + 1 and not any(c.isspace() for c in line[colon:])


def _element_line(text: str, domain: str, element) -> str | None:
    """The line of the tree that element id starts, without its indentation; a desktop element's id, role and name
    (elements.shown)."""
    if element is None:
        return None
    key = f"[{element}]"
    start = text.find(("\t" if domain == "web" else "\n") + key)
    while start >= 0:
        end = text.find("\n", start + 1)
        line = text[start + 1:end if end >= 0 else len(text)].lstrip("\t")
        if line.startswith(key + (" " if domain == "web" else "\t")):
            if domain == "os":
                row = cells(line)
                return shown(row) if row else line.split("\t", 1)[0]
            return line
        start = text.find(("\t" if domain == "web" else "\n") + key, start + 1)
    return None


def _desktop_element(text: str, role: str | None, name: str) -> str | None:
    """How the element a click by name (and role) lands on is named, told as a click by id is: the first row whose
    name, or text where it has no name, is that name, as collectors/os_desktop.py's find_element picks it from the
    same nodes in the same order; None where no row matches."""
    # Only the rows that hold the name are read (a desktop shows hundreds): the first of them in the text is the
    # first that matches, if any does.
    first = None
    for needle in row_needles(name):
        at = text.find(needle)
        while at >= 0 and (first is None or at < first[0]):
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            row = cells(text[start:end])
            if row and (row[2] or row[3]) == name and (role is None or row[1] == role.strip().replace(" ", "-")):
                first = (start, row)
                break
            at = text.find(needle, end)
    return shown(first[1]) if first else None


_WEB_VERBS = {"click": "Clicking", "dblclick": "Double-clicking", "double_click": "Double-clicking",
              "hover": "Hovering over", "focus": "Focusing", "clear": "Clearing", "right_click": "Right-clicking"}
_SIMPLE_ACTIONS = {"go_back": "Going back", "go_forward": "Going forward", "new_tab": "Opening a new tab",
                   "tab_close": "Closing the tab", "scroll": "Scrolling", "wait": "Waiting", "noop": "Waiting",
                   "report_infeasible": "Reporting the task infeasible"}


def _url(text: str) -> str | None:
    return text[5:text.find("\n")] if text.startswith("URL: ") else None


def _tree_start(text: str) -> int:
    """Where a web observation's tree starts, after its header lines (headers.WEB_PREFIXES)."""
    start = 0
    while text.startswith(WEB_PREFIXES, start):
        start = text.find("\n", start) + 1
        if not start:
            return len(text)
    return start


def _same_tree(state: str, text: str) -> bool:
    """Whether two web observations show the same elements, whatever their headers say (compared in place: a page's
    tree is kilobytes, and most differ in length)."""
    at, start = _tree_start(state), _tree_start(text)
    return len(state) - at == len(text) - start and state[at:] == text[start:]


@lru_cache(maxsize=512)
def _screen_call(action_text: str) -> tuple | None:
    """What a web or desktop action's call says without the state: its name, the element id it targets, the element
    its name and role give, the value it fills in or selects; how its subject is told around the element's target
    (before, after), where it has one, and the subject without one (None: the action as code). Cached: it reads the
    action alone, and an episode repeats its clicks."""
    call = code_call(action_text)
    if call is None:
        return None
    name, args, kwargs = call
    element = kwargs.get("element", args[0] if args and isinstance(args[0], str) and args[0].isdigit() else None)
    by_name = (kwargs.get("role"), kwargs["name"]) if isinstance(kwargs.get("name"), str) else None
    value = args[1] if len(args) > 1 and isinstance(args[1], str) else kwargs.get("text")
    around = (f"{_WEB_VERBS[name]} ", "") if name in _WEB_VERBS else \
        ("Filling ", f" with {quote(value)}") if name == "fill" and isinstance(value, str) else \
        (f"Selecting {quote(value)} in ", "") if name == "select_option" and isinstance(value, str) else None
    if around:
        # A call of these names is told as code where its element is not found (none of the names below).
        subject = None
    elif name in ("press", "keyboard_press") and args and isinstance(args[0], str):
        subject = f"Pressing {args[0]}"
    elif name == "hotkey" and args and all(isinstance(arg, str) for arg in args):
        subject = f"Pressing {'+'.join(args)}"
    elif name in ("type", "keyboard_type") and isinstance(args[0] if args else value, str):
        subject = f"Typing {quote(args[0] if args else value)}"
    elif name == "goto" and args and isinstance(args[0], str):
        subject = f"Going to {quote(args[0])}"
    elif name == "tab_focus" and args:
        subject = f"Switching to tab {json.dumps(args[0])}"
    elif name in _SIMPLE_ACTIONS:
        subject = _SIMPLE_ACTIONS[name]
    else:
        subject = f"The action {as_code(action_text)}"
    return name, element, by_name, value, around, subject


def screen_opening(state: str, text: str, action_text: str, domain: str) -> str | None:
    """What a web or desktop action does: its verb and the element of the state it targets (its line quoted, without
    the tree's indentation), then what the next observation shows: a new page (and its title), a page or screen
    changed in place or unchanged, a field showing the value filled in."""
    call = _screen_call(action_text)
    if call is None:
        return None
    name, element, by_name, value, around, subject = call
    line = _element_line(state, domain, element)
    if line is None and by_name and domain == "os" and isinstance(by_name[0], (str, type(None))):
        line = _desktop_element(state, *by_name)
    named = f"the {by_name[0] or 'element'} named {quote(by_name[1])}" if by_name else None
    target = (quote(line) if domain == "web" else line) if line else (f"element [{element}]" if element else named)
    if around and target:
        subject = around[0] + target + around[1]
    elif subject is None:
        subject = f"The action {as_code(action_text)}"
    place = "page" if domain == "web" else "screen"
    if text == state:
        return f"{subject} changes nothing on the {place}."
    url = _url(text)
    same_tree = url is not None and _same_tree(state, text)
    if domain == "web" and url is not None and url != _url(state):
        if same_tree:
            # A form sent to its own page (status?ref=) that shows the same elements: no new page to tell.
            return f"{subject} changes the address but leaves the page's elements as they were."
        # The title is told with the header's other changes, next. A tab's page was there already, and a new tab's
        # is blank: it is shown, not loaded.
        shown = name.startswith("tab_") or name == "new_tab"
        return f"{subject} {'shows another page' if shown else 'loads a new page'}."
    if same_tree:
        # Only the header changed (an action error, the focus, the tabs): the next sentences tell which.
        return f"{subject} leaves the page's elements as they were."
    told = f"{subject} changes the {place}" + (" at the same address" if url is not None else "")
    if name in ("wait", "noop"):
        # Waiting does nothing itself: the screen changed while the action waited (an app starting).
        told = f"While waiting, the {place} changes" + (" at the same address" if url is not None else "")
    if name == "fill" and line and isinstance(value, str) and value:
        after = _element_line(text, domain, element)
        # The element's new line is quoted by the line diff (and the focus) next: here only whether it holds the
        # value, masked (a password field's •) or not at all.
        # The field's value, as the renderer writes it (schemas/render/web.py: value='…'), matched whole: a field
        # showing '12' does not show a '2' filled in.
        held, masked = f"value={value!r}", f"value='{'•' * len(value)}'"
        told += "" if not after else "; the element shows the value" if held in after else \
            "; the element shows it masked" if masked in after else \
            "; the element no longer shows the value" if held in line else "; the element does not show the value"
    return told + "."


def command_output(state: str, text: str, action_text: str) -> list[str] | None:
    """The lines a command typed at the shell's prompt printed on the next screen, from the first (a pager's page too)
    to the screen's end; None where the screen does not show where its output starts: the line that echoes the
    command after the state's prompt, the last such line (a screen that scrolled still shows it, above the output,
    unless the output pushed it off). Nothing of the screen above that line is the command's."""
    typed = _keystrokes(action_text)
    if typed is None or typed[1] is None:
        return None
    commands = typed[1].split("\n")
    first = commands[0].strip()
    prompt = state[state.rfind("\n") + 1:].rstrip()
    if not prompt.endswith(("#", "$", "%")):
        return None
    lines = text.split("\n")
    for at in range(len(lines) - 1, -1, -1):
        line = lines[at]
        if line.startswith(prompt) and line[len(prompt):].strip() == first:
            # A heredoc's lines typed with it are echoed below it, after '> ', before what it printed.
            echoed = _echoed(lines, at, prompt, commands)
            return None if echoed is None else lines[echoed:]
    return None
