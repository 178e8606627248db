"""Grounded reasoning: a trace built only from the difference between the state and the next observation.

Every sentence states something checkable against the record itself (which lines appeared, disappeared or changed,
which files and line numbers the new output names, the exit status, the reported error, the volatile values), so a
model trained on it learns to reason from evidence rather than to invent explanations. Deterministic and offline.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from functools import lru_cache
from itertools import repeat

from transforms.reasoning import ReasoningError

# How a line of each domain's observation is called in the trace.
_UNIT = {"web": "element", "android": "element", "os": "element"}
_MAX_LISTED = 3
_MAX_CHARS = 72

# file.py:12 / path/to/x.c:40:2 in compiler, test and traceback output; `+++ b/path` headers of a unified diff.
_FILE_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z][\w]{0,7}):(\d+)")
_DIFF_FILE = re.compile(r"^\+\+\+ b/(\S+)", re.M)
# Every file:line match contains this; searching for it first skips the costly scan on most outputs.
_FILE_LINE_HINT = re.compile(r"\.[A-Za-z]\w{0,7}:\d")
_EXIT_KEYS = ("exit_status", "exit_code", "returncode", "status_code")
# Past this many equal-line pairs per line, difflib finds the matching blocks faster than the run regions do.
_MAX_PAIRS_PER_LINE = 1


def _quote(line: str) -> str:
    line = line.strip()
    return repr(line if len(line) <= _MAX_CHARS else line[: _MAX_CHARS - 1] + "…")


def _listed(lines: list[str], quote=_quote) -> str:
    shown = ", ".join(map(quote, lines[:_MAX_LISTED]))
    more = len(lines) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _counted(count: int, unit: str, verb: str) -> str:
    """'1 line appears', '2 lines appear'."""
    return f"{_plural(count, unit)} {verb + 's' if count == 1 else verb}"


# Collectors write the same few metadata documents over and over ('{}', '{"exit_status": 0}'); the parsed value is
# only read here, never handed out, so one parse per distinct text is shared. Broken JSON raises every time.
_parsed_meta = lru_cache(maxsize=1024)(json.loads)


def _meta(row: dict) -> dict:
    meta = row.get("next_meta")
    if meta is None and row.get("next_meta_json"):
        text = row["next_meta_json"]
        meta = _parsed_meta(text) if isinstance(text, str) else json.loads(text)
    return meta if isinstance(meta, dict) else {}


# The last text split into lines, by identity: a row's state is usually the very str object that was the previous
# row's next observation (normalization caches it, pickling the prepared rows keeps it shared).
_last_split: tuple[str, list[str]] = ("", [])


def _lines(text: str) -> list[str]:
    """text.splitlines(), the previous call's list when handed the same object again: nothing here mutates it."""
    global _last_split
    last_text, last_lines = _last_split  # one read: another thread may swap it meanwhile
    if text is last_text:
        return last_lines
    lines = text.splitlines()
    _last_split = (text, lines)
    return lines


def _unique_runs(a: list[str], b: list[str], lines_of_b: set[str]) -> list[tuple[int, int, int]]:
    """_runs when the lines of b are unique (screens usually are): a line of a pairs with one line of b at most."""
    in_b = list(map(lines_of_b.__contains__, a))
    shared = in_b.count(True)
    if not shared:
        return []
    # After a scroll or an edit at the head or the tail, the shared lines sit on one diagonal: every equal pair is
    # on it, so it is the only run, found with C-level scans instead of a walk over the lines.
    i = in_b.index(True)
    j = b.index(a[i])
    if a[i:i + shared] == b[j:j + shared]:
        return [(-shared, i, j)]
    # Else a run goes on exactly when the next pair is the previous one shifted by (1, 1).
    index = dict(zip(b, range(len(b))))
    runs = []
    last_i = last_j = -2
    for i, j in enumerate(map(index.get, a)):
        if j is None:
            continue
        if i == last_i + 1 and j == last_j + 1:
            runs[-1][0] -= 1
        else:
            runs.append([-1, i, j])
        last_i, last_j = i, j
    runs = [tuple(run) for run in runs]
    runs.sort()
    return runs


def _runs(a: list[str], b: list[str]) -> list[tuple[int, int, int]] | None:
    """Every maximal diagonal run as (-k, i, j): a[i:i+k] == b[j:j+k], extendable neither way; longest first, then
    by (i, j). None when lines repeat so much (pretty-printed JSON: '},' everywhere) that pairs outnumber lines."""
    lines_of_b = set(b)
    if len(lines_of_b) == len(b):
        return _unique_runs(a, b, lines_of_b)
    la, lb = len(a), len(b)
    if sum(map(Counter(b).get, a, repeat(0, la))) > _MAX_PAIRS_PER_LINE * (la + lb):
        return None
    runs = []
    b2j: dict[str, list[int]] = {}
    for j, line in enumerate(b):
        b2j.setdefault(line, []).append(j)
    for i, line in enumerate(a):
        for j in b2j.get(line, ()):
            if i and j and a[i - 1] == b[j - 1]:
                continue  # inside a run that started earlier
            k = 1
            while i + k < la and j + k < lb and a[i + k] == b[j + k]:
                k += 1
            runs.append((-k, i, j))
    runs.sort()
    return runs


def _matching_blocks(a: list[str], b: list[str]) -> list[tuple[int, int, int]]:
    """The blocks (i, j, size) of difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks(), sorted,
    ending with the sentinel (len(a), len(b), 0); adjacent blocks may stay unmerged. Computed from runs of equal lines.

    difflib finds the longest matching block of a region, then recurses left and right of it, walking every line
    of `a` in every region. Here the maximal runs are found once; the longest block of a region is the longest run
    clipped to it, ties going to the earliest start in a, then in b, which is the block difflib picks. So the
    blocks are the same, and as runs are visited longest first a region usually stops at its first run.
    """
    runs = _runs(a, b)
    if runs is None:
        # Regions would each filter a crowd of short runs; difflib's own walk is cheaper there.
        return difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks()
    if len(runs) == 1:
        blocks = [(runs[0][1], runs[0][2], -runs[0][0])]  # the only equal pairs: difflib's one matching block
    elif runs:
        blocks = []
        regions = [(0, len(a), 0, len(b), runs)]
        while regions:
            alo, ahi, blo, bhi, runs = regions.pop()
            best_i = best_j = best_k = 0
            for negative_k, i, j in runs:
                k = -negative_k
                if k < best_k:
                    break  # clipping only shortens a run: none of the rest can reach best_k
                skip = max(alo - i, blo - j, 0)
                size = min(k, ahi - i, bhi - j) - skip
                if size > best_k or (size == best_k and size and (i + skip, j + skip) < (best_i, best_j)):
                    best_i, best_j, best_k = i + skip, j + skip, size
                if size == k:
                    break  # a whole run: the rest are shorter, or as long and starting later
            if not best_k:
                continue
            blocks.append((best_i, best_j, best_k))
            # Each side keeps the runs that may reach into it, still longest first.
            left = [run for run in runs if run[1] < best_i and run[2] < best_j]
            if left:
                regions.append((alo, best_i, blo, best_j, left))
            end_i, end_j = best_i + best_k, best_j + best_k
            right = [run for run in runs if run[1] - run[0] > end_i and run[2] - run[0] > end_j]
            if right:
                regions.append((end_i, ahi, end_j, bhi, right))
        blocks.sort()
    else:
        blocks = []
    blocks.append((len(a), len(b), 0))
    return blocks


def _changed_regions(a: list[str], b: list[str]) -> list[tuple[int, int, int, int]]:
    """(i1, i2, j1, j2) of each opcode of difflib's get_opcodes() that is not 'equal' (a replace, delete or insert),
    in order: the gaps between consecutive matching blocks, whether or not adjacent blocks were merged."""
    regions = []
    i = j = 0
    for block_i, block_j, size in _matching_blocks(a, b):
        if i < block_i or j < block_j:
            regions.append((i, block_i, j, block_j))
        i, j = block_i + size, block_j + size
    return regions


def _diff_sentences(before: list[str], after: list[str], unit: str) -> tuple[list[str], list[str]]:
    """Sentences about what appeared, disappeared and changed, and the lines of `after` that are new."""
    added, removed, new_lines = [], [], []
    changed_old, changed_new = [], []  # the changed pairs shown: _MAX_LISTED at most
    changes = 0
    for i1, i2, j1, j2 in _changed_regions(before, after):
        new_lines += after[j1:j2]
        # A replace pairs its lines in order; what is left over on either side appears or disappears. Inserts and
        # deletes pair nothing.
        pairs = min(i2 - i1, j2 - j1)
        if pairs:
            shown = min(pairs, _MAX_LISTED - len(changed_old))
            changed_old += before[i1:i1 + shown]
            changed_new += after[j1:j1 + shown]
            changes += pairs
        removed += before[i1 + pairs:i2]
        added += after[j1 + pairs:j2]
    sentences = []
    # Blank lines carry nothing a reader could check. The rest are kept stripped: quoting strips them anyway.
    if added:
        added = list(filter(None, map(str.strip, added)))
        if added:
            sentences.append(f"{_counted(len(added), unit, 'appear')}: {_listed(added)}.")
    if removed:
        removed = list(filter(None, map(str.strip, removed)))
        if removed:
            sentences.append(f"{_counted(len(removed), unit, 'disappear')}: {_listed(removed)}.")
    if changes:
        shown = "; ".join([f"{_quote(old)} becomes {_quote(new)}" for old, new in zip(changed_old, changed_new)])
        more = changes - _MAX_LISTED
        tail = f" and {more} more." if more > 0 else "."
        sentences.append(f"{_counted(changes, unit, 'change')}: {shown}{tail}")
    return sentences, new_lines


def _files_named(new_lines: list[str]) -> list[str]:
    # One scan over the joined lines finds what a scan per line finds: no match spans a newline, and the lookbehind
    # accepts the newline before a line's start as it accepts the start of a lone line.
    text = "\n".join(new_lines)
    # Every hint starts with a dot: the regex scans from the first one (found at memchr speed), often near the end.
    first_dot = text.find(".")
    hinted = first_dot >= 0 and _FILE_LINE_HINT.search(text, first_dot)
    if "+++ b/" in text:
        files = dict.fromkeys(_DIFF_FILE.findall(text))
    elif hinted:
        files = {}
    else:
        return []  # most outputs
    if hinted:
        for path, number in _FILE_LINE.findall(text):
            files.setdefault(f"{path}:{number}")
    return list(files)


def _meta_sentences(meta: dict, sentences: list[str]) -> None:
    for key in _EXIT_KEYS:
        if meta.get(key) is not None:
            sentences.append(f"The command exits with status {meta[key]}.")
            break
    # Flags the MCP collector sets from the response itself.
    if meta.get("jsonrpc_error"):
        sentences.append("The server answers with a protocol error instead of a result.")
    elif meta.get("is_error"):
        sentences.append("The tool result is marked as an error.")


def grounded_trace(row: dict) -> str:
    state = row.get("state_text") or ""
    after_text = row.get("next_text") or ""
    unit = _UNIT.get(row.get("domain") or "", "line")
    before, after = _lines(state), _lines(after_text)  # in this order: the state was the last call's text
    sentences = []
    if not state or state.isspace():
        sentences.append(f"There is no earlier observation; the environment shows {_plural(len(after), unit)}.")
        new_lines = after
    elif before == after:
        sentences.append("The observation does not change.")
        new_lines = []
    else:
        diff, new_lines = _diff_sentences(before, after, unit)
        sentences += diff
    files = _files_named(new_lines)
    if files:
        sentences.append(f"The new output names {_listed(files, quote=str)}.")
    meta = _meta(row)
    if meta:  # most are '{}'
        _meta_sentences(meta, sentences)
    if row.get("error"):
        sentences.append(f"The environment reports an error: {_quote(row['error'])}.")
    spans = row.get("next_volatile_spans") or []
    if spans:
        kinds = sorted({span.get("kind") or "value" for span in spans})
        sentences.append(f"Values that vary between runs: {len(spans)} ({', '.join(kinds)}).")
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
            except (ValueError, TypeError, AttributeError) as exc:
                out.append(ReasoningError(str(row.get("id", "<unknown>")), f"{type(exc).__name__}: {exc}"))
        return out
