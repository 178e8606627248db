"""Grounded reasoning: a trace built only from the difference between the state and the next observation, or, where
the observation answers one call (mcp, search, swe), from the answer itself.

It opens with one sentence that ties the action to what it did: the command, call or element the action names, as
its collector wrote it, and what the next observation shows of it (the lines a command printed and whether the prompt
returned, the page loaded or changed, which of a call's argument values the answer gives back).

Every sentence states something checkable against the record itself (which lines appeared, disappeared or changed,
which files and line numbers the new output names, the exit status or a timeout, the reported error, the volatile
values the state does not already show), so a model trained on it learns to reason from evidence rather than to
invent explanations. Deterministic and offline.

This module puts a trace together (grounded_trace, GroundedSynthesizer) and tells what only the whole row shows: the
files the new lines name and the new volatile values. Its parts: openings (the first sentence), phone (an android
action's first sentence), screens (a screen's line diff), elements (a desktop's rows, by the cells that changed,
and the sentences that list elements), views (a phone's view lines, by the fields that changed; a screen's app),
answers (an answer's lines or JSON facts), diffs (what a diff changes: a swe answer's, or one a terminal command
printed on the screen, whole or cut off at its bottom), record (metadata and the reported error), faults
(perturbation labels), headers (a screen's header fields), actions (reading the action).
"""

from __future__ import annotations

import re

from transforms.copied_values import MIN_COPIED_CHARS, copied_spans
from transforms.reasoning import ReasoningError
# Which volatile values are new: compiled, as a process table has a hundred of them.
from transforms.reasoning._linediff import MAX_LISTED, new_spans
from transforms.reasoning.answers import ANSWERS, answer_sentences
from transforms.reasoning.diffs import changed_files, diff_sentence, terminal_diff
from transforms.reasoning.faults import fault_sentences
from transforms.reasoning.openings import answer_subject, command_output
from transforms.reasoning.phone import foreground_sentence, opens
from transforms.reasoning.record import error_sentence, meta_sentences, row_meta, state_meta
from transforms.reasoning.screens import screen_sentences

# file.py:12 / path/to/x.c:40:2 in compiler, test and traceback output; `+++ b/path` headers of a unified diff.
_FILE_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z][\w]{0,7}):(\d+)")
# A `+++ b/` at a line's start, then its file up to the first whitespace (what ^\+\+\+ b/(\S+) finds, multi-line).
_DIFF_HEADER = "+++ b/"
_NOT_SPACE = re.compile(r"\S+")
# Every file:line match contains this; searching for it first skips the costly scan on most outputs.
_FILE_LINE_HINT = re.compile(r"\.[A-Za-z]\w{0,7}:\d")


def _listed(files: list[str]) -> str:
    shown = ", ".join(files[:MAX_LISTED])
    more = len(files) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _diff_files(text: str) -> list[str]:
    """The files of a unified diff's `+++ b/` lines, in order."""
    files = []
    at = text.find(_DIFF_HEADER)
    while at >= 0:
        if not at or text[at - 1] == "\n":
            name = _NOT_SPACE.match(text, at + len(_DIFF_HEADER))
            if name:
                files.append(name[0])
        at = text.find(_DIFF_HEADER, at + 1)
    return files


def _files_named(text: str) -> list[str]:
    """The files (and file:line) named in the new lines, joined by newlines. Only the lines with a hint are scanned,
    which finds what a scan of them all finds: no match spans a newline, each holds a hint, and the lookbehind accepts
    the newline before a line's start as it accepts the start of a lone line. The regex starts with that lookbehind,
    so it costs ~30 ns a character wherever it runs: a pytest run's rows of dots cost 100-350 us a row."""
    # Every hint starts with a dot: the first is searched for from the first dot (found at memchr speed).
    first_dot = text.find(".")
    hinted = first_dot >= 0 and _FILE_LINE_HINT.search(text, first_dot)
    if _DIFF_HEADER in text:
        files = dict.fromkeys(_diff_files(text))
    elif hinted:
        files = {}
    else:
        return []  # most outputs
    while hinted:
        start = text.rfind("\n", 0, hinted.start()) + 1
        end = text.find("\n", hinted.end())
        end = len(text) if end < 0 else end
        for path, number in _FILE_LINE.findall(text, start, end):
            files.setdefault(f"{path}:{number}")
        hinted = _FILE_LINE_HINT.search(text, end)
    return list(files)


# A replay span has no kind of value: it is text a replay showed differently.
_KIND_NAMES = {"replay": "text that differed on replay"}


def _volatile_sentence(state: str, action: str, text: str, spans: list[dict], sentences: list[str]) -> None:
    """How many of the next observation's volatile values are new, and of which kinds. A value the state already
    shows whole (the local site's port in the URL line, the host name in a prompt, the rows of an earlier `top` still
    on screen) differs from run to run, but not from the state: it can be copied, so it is not counted; nor is an
    identifier stage 3 asks for exactly as the action or state names it (`kill 4242`, a sha the action passes); when
    no value is left, the sentence is left out. A value shorter than MIN_COPIED_CHARS is shown only on a line the
    state shows whole, as stage 3 copies one: top's `Tasks:   8 total` is new though the state's ps row is pid `8`."""
    new = new_spans(state, text, spans, MIN_COPIED_CHARS)
    if new:
        copied = set(map(id, copied_spans(text, new, (action, state))))
        new = [span for span in new if id(span) not in copied]
    if new:
        # Counted where they are, not as distinct texts: top's %CPU column shows `0.0` for most processes, each its
        # own reading.
        kinds = sorted({_KIND_NAMES.get(kind, kind) for kind in (span.get("kind") or "value" for span in new)})
        sentences.append(f"New values that vary between runs: {len(new)} ({', '.join(kinds)}).")


def _terminal_diff(state: str, after_text: str, action_text: str) -> tuple[str, list[str]] | None:
    """The sentence for the diff the command printed (diffs.terminal_diff) and the files it names; most screens show
    no `+++ ` and cost a search."""
    if "\n+++ " not in after_text:
        return None
    output = command_output(state, after_text, action_text)
    return terminal_diff(output) if output else None


def grounded_trace(row: dict) -> str:
    state = row.get("state_text") or ""
    after_text = row.get("next_text") or ""
    domain = row.get("domain") or ""
    action_text = row.get("action_text") or ""
    named: list[str] = []  # the files a terminal's diff sentence names
    if domain in ANSWERS:
        opening = answer_subject(domain, action_text)
        sentences, new_text = answer_sentences(state, after_text, ANSWERS[domain], opening), after_text
        changes = diff_sentence(after_text) if domain == "swe" else None
        if changes:
            sentences.append(changes)
    else:
        sentences, new_text = screen_sentences(state, after_text, domain, action_text)
        # The row's own state meta (state_meta_json), so an episode's first step and the LLM synthesizer's facts,
        # which see one row, tell it as well; a row curated before that column says nothing of the foreground.
        before = state_meta(row) if domain == "android" else None
        foreground = foreground_sentence(state, after_text, before, row_meta(row)) if before else None
        if foreground:
            # Beside the opening, which tells the app that came to the front as the screens show it.
            sentences.insert(1 if sentences and opens(state, after_text, action_text) else 0, foreground)
        # A diff a command printed on a terminal is told as swe's answers are, where the screen shows it below the
        # command (openings.command_output, diffs.terminal_diff): its start and every hunk, and that it ended; or,
        # where the screen's bottom cuts a hunk off, the hunks above it and where that one starts.
        shown = _terminal_diff(state, after_text, action_text) if domain == "terminal" else None
        changes, named = shown if shown else (None, named)
        if changes:
            sentences.append(changes)
    files = _files_named(new_text)
    if files and changes:
        # The diff sentence already names each file it changes ("The diff adds 10 lines in F. It names F." said F
        # twice); what it leaves, a file:line the answer shows, is still told.
        told = set(changed_files(after_text) if domain in ANSWERS else named)
        files = [name for name in files if name not in told]
    if files:
        sentences.append(f"{'It' if domain in ANSWERS else 'The new output'} names {_listed(files)}.")
    meta = row_meta(row)
    if meta:  # most are '{}'
        meta_sentences(meta, row.get("error"), sentences)
    if row.get("perturbations"):
        fault_sentences(row, sentences)
    if row.get("error"):
        error_sentence(row["error"], sentences)
    spans = row.get("next_volatile_spans")
    if spans:
        _volatile_sentence(state, action_text, after_text, spans, sentences)
    if row.get("done"):
        sentences.append("The episode ends after this step.")
    return " ".join(sentences)


class GroundedSynthesizer:
    name = "grounded"

    def traces(self, rows: list[dict]) -> list[str | Exception]:
        out: list[str | Exception] = []
        for row in rows:
            try:
                out.append(grounded_trace(row))
            # KeyError: a volatile span without its start or end.
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                out.append(ReasoningError(str(row.get("id", "<unknown>")), f"{type(exc).__name__}: {exc}"))
        return out
