"""A screen's trace (terminal, web, desktop, phone): the opening sentence, then what the line diff of the state and
the next observation shows appeared, disappeared, changed or was renumbered, and the new lines."""

from __future__ import annotations

from collections import Counter

# What appeared, disappeared and changed (difflib's matching blocks over the lines): compiled, it is most of a
# trace's work.
from transforms.reasoning._linediff import MAX_LISTED, line_diff, renumbered, unindented
from transforms.reasoning.elements import element_sentences
from transforms.reasoning.headers import HEADERS
from transforms.reasoning.openings import screen_opening, terminal_opening
from transforms.reasoning.phone import phone_opening
from transforms.reasoning.views import view_sentences


# How a line of each domain's observation is called in the trace.
_UNIT = {"web": "element", "android": "element", "os": "element"}


# An element line's id after its indentation: web's `[12] link 'x'` (schemas/render/web.py), the desktop's
# `[31]\ttext\t…` (schemas/render/os.py), android's `[ 5] | …` padded to two places (schemas/render/android.py).
# A desktop's and a phone's ids are positions in the tree's walk, and a web page's are given again when it loads, so
# a menu that opens renumbers every element after it: lines equal apart from their id are one element renumbered,
# not one gone and one new. renumbered() (compiled: over every line of each changed region in Python it was ~9% of
# curation on scrolling screens) gives such lines of the state their new ids, so line_diff counts only real changes,
# and returns each one's id shift; tests/transforms/test_grounded_renumbered_native.py holds the Python it replaced.
_NUMBERED = frozenset({"web", "os", "android"})
# A web tree's indentation is its depth, not the element's text (schemas/render/web.py): a quote of an element line
# leaves it out (R2), as the escaped tabs it would start with ("\t\t\t[30] link …") read as part of the element.
# Only at a quote's start, before an id, a role (`StaticText`) or a lower-case role and its name (the browser's own
# `alert "Please include an '@'…"`): a tab the element's own text starts with stays. unindented() is compiled (as a
# regex with a callback per quote it was ~4.6 us a web row); tests/transforms/test_grounded_unindent_native.py holds
# the Python it replaced.
# A desktop's rows are the renderer's table (schemas/render/os.py): quoted whole, a row reads as escaped tabs and
# coordinates ('[31]\ttext\t\t0\t\t\t(481, 268)…'). line_diff pairs them as it pairs any lines, so the counts stay its
# own, and hands them to element_sentences, which names each element by its id, role and name and tells which of
# its cells changed. A phone's view lines (schemas/render/android.py) likewise, quoted whole, repeat bounds,
# resource ids and flags ('[ 3] | android.widget.Button | res="com.app:id/ok" | … | bounds=[42,149][147,275]'):
# view_sentences names each by its id, class and text ("[3] Button 'OK'") in the same sentences.
_DESCRIBED = {"os": element_sentences, "android": view_sentences}


def _renumbered_sentence(shifts: list[int], unit: str) -> str:
    """"28 elements are renumbered (ids +4)", with each shift and how many took it when there are a few."""
    count = len(shifts)
    by_shift = sorted(Counter(shifts).items(), key=lambda item: (-item[1], item[0]))
    if len(by_shift) == 1:
        told = f"{'id' if count == 1 else 'ids'} {by_shift[0][0]:+d}"
    elif len(by_shift) <= MAX_LISTED:
        told = "ids " + ", ".join(f"{shift:+d} for {many}" for shift, many in by_shift)
    else:
        told = f"ids shift by {min(shifts):+d} to {max(shifts):+d}"
    return f"{count} {unit}{'' if count == 1 else 's'} {'is' if count == 1 else 'are'} renumbered ({told})"


def screen_sentences(state: str, after_text: str, domain: str, action_text: str) -> tuple[list[str], str]:
    """A screen's trace (terminal, web, desktop, phone): the opening that ties the action to what it did, then what
    appeared, disappeared, changed or was renumbered; and the new lines, where files are named."""
    if domain == "terminal":
        opened = terminal_opening(state, after_text, action_text)
        if opened and opened[1] is not None:
            # It tells the whole change (the command, what it printed, the prompt): the line diff would say it again
            # as lines appearing, so it is not run.
            return [opened[0]], opened[1]
    else:
        told = screen_opening(state, after_text, action_text, domain) if domain in ("web", "os") else \
            phone_opening(state, after_text, action_text) if domain == "android" else None
        opened = (told, None) if told else None
    unit = _UNIT.get(domain, "line")
    numbered, shifts = renumbered(state, after_text) if domain in _NUMBERED and state.strip() else (state, [])
    sentences, new_text = line_diff(numbered, after_text, unit, HEADERS.get(domain), _DESCRIBED.get(domain))
    if domain == "web":
        sentences = unindented(sentences)
    if shifts:
        # The state as line_diff saw it has the new ids: "does not change" would hide that they are new.
        alone = sentences == ["The observation does not change."]
        sentences = [*sentences[:0 if alone else len(sentences)],
                     _renumbered_sentence(shifts, unit) + ("; nothing else changes." if alone else ".")]
    if opened:
        # An opening that says nothing changed stands for line_diff's "does not change".
        sentences = [opened[0], *([] if sentences == ["The observation does not change."] else sentences)]
    return sentences, new_text
