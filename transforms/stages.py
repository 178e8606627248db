"""Stage rows for one curated transition: the dynamics document (stage 1), the reason-then-predict chat sample
(stage 2) and the RL prompt with its checkable reference (stage 3).

All three see the episode as it was recorded: the task, the observation just before the window, the last `window`
steps (action -> observation; a step curation removed as a duplicate is still one, since it happened) and the
current action. The window is `worldline curate --history-steps` (HISTORY_STEPS by default; 0: none, the prompt
opening with the state the current action was taken in; None, `all` on the command line: every earlier step, for
environments whose state is the whole transcript, a REPL's definitions made any number of steps back).

Stages 2 and 3 write it as a conversation in AgentWorldBench's layout (transforms/prompts.py turn_prompt), each turn
numbered by its recorded step (`### Turn {step + 1}`), as the AgentWorldBench export numbers its turns. The RL spans
are character offsets into the reference; a volatile value the prompt already shows (copied_spans) is asked for
exactly, not in format only.

Stage 1 has two layouts (`worldline curate --stage1-layout`). `window`: a document per transition, as above, so the
documents of an episode overlap (an observation is in up to `window` + 1 of them). `episode`: a document per run of
consecutive steps curation writes (a removed or dead-lettered step is not one), from the observation before its first
step, so each transition is a step of one document only.

build_stage_rows makes one transition's rows, episode_documents the episode layout's stage 1 rows. This module is the
readable reference: curation writes the same rows for many transitions at once, as Arrow tables, with
transforms/stage_tables.py (build_stage_tables), from the formats and checks here; tests/formats/test_stages.py and
tests/transforms/test_stage1_layout.py check that the tables equal what these functions make.
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral
from operator import itemgetter
from string import Formatter

import numpy as np

from transforms.prompts import ANSWER_TAG, DOMAINS, GENERIC, plugin_domains, system_prompt, turn_prompt
from transforms.copied_values import copied_spans
from transforms.replay import OTHER_OUTCOME

REQUIRED_KEYS = ("id", "domain", "step")
HISTORY_STEPS = 4  # the window's steps by default
ALL_HISTORY = "all"  # how --history-steps and stats.json's settings spell a window of every earlier step (None)
WINDOW, EPISODE = "window", "episode"
STAGE1_LAYOUTS = (WINDOW, EPISODE)
# An episode-layout document is split before a step that would take it past this many characters (~150k tokens),
# the next document opening with the state that step was taken in. Unsplit, a document grows with its episode (a
# 1,000-step terminal episode of 5 KB screens is 5 MB): past any context a trainer packs, and the rows of its steps
# would be built at once (Finish builds a document's rows together). 600,000 is about the longest a window document
# gets under the default --max-observation-chars: its opening observation and 5 next observations of 100,000
# characters; so a reader that takes window documents takes these. A document holds one step at least, so a step
# longer than this on its own is a document of its own.
EPISODE_DOCUMENT_CHARS = 600_000
_STEP = itemgetter("step")
_SPAN_ORDER = itemgetter("start", "end")
# The prompt is a pure function of the domain, and there are a handful of domains.
_system_prompt = lru_cache(maxsize=64)(system_prompt)


class StageError(ValueError):
    """A transition whose stage rows cannot be built; names the record and the reason."""


# The formats of the pieces of stage text: str.format fields named after the row values between literal parts. The
# one-row helpers below fill them in; transforms/stage_tables.py splits them into pieces (_Pieces.format) and joins
# the pieces of all rows at once. A chat's user turns are transforms/prompts.py's TURN_HEADER and sections.
ANSWER = f"<{ANSWER_TAG}>{{observation}}</{ANSWER_TAG}>"
DOCUMENT_OPENING = "Environment: {domain}\n\nTask: {instruction}\n\nObservation:\n{state}"
DOCUMENT_TURN = "\n\nAction:\n{action}\n\nObservation:\n{observation}"
DOCUMENT_END = "\n"
REASONED_ANSWER = "<think>{trace}</think>\n" + ANSWER  # stage 2's target: the reasoning trace, then the answer
NO_INSTRUCTION = "(no instruction)"


def instruction_text(instruction: str | None) -> str:
    return instruction or NO_INSTRUCTION


def answer(observation: str) -> str:
    return ANSWER.format(observation=observation)


def document_opening(domain: str, instruction: str | None, state_text: str) -> str:
    """The dynamics document's start: the environment, the task and the observation before its first action."""
    return DOCUMENT_OPENING.format(domain=domain, instruction=instruction_text(instruction), state=state_text)


def document_turn(action_text: str, observation: str) -> str:
    return DOCUMENT_TURN.format(action=action_text, observation=observation)


# The target's own tags, as a trace may quote them from an observation that shows them (a page or file about this
# data). A reader splits a target at its first </think> (chat templates that move reasoning into a field of its own,
# AgentWorldBench's eval), so inside a trace each is written with `&lt;` for its `<`: the trace is the model's text,
# scored nowhere, while the observation after it stays exact.
_TARGET_TAGS = ("<think>", "</think>", f"<{ANSWER_TAG}>", f"</{ANSWER_TAG}>")


def tag_safe(trace: str) -> str:
    """trace with the target's tags in it written `&lt;think>`, `&lt;/think>`...: one trace cannot end early."""
    if "<" not in trace:
        return trace
    for tag in _TARGET_TAGS:
        trace = trace.replace(tag, "&lt;" + tag[1:])
    return trace


def reasoned_answer(trace: str, reference: str) -> str:
    """Stage 2's target: the reasoning trace (tag_safe), then the answer."""
    return REASONED_ANSWER.format(trace=tag_safe(trace), observation=reference)


def rubric_id(domain: str) -> str:
    """`worldline/<domain>/v1` for a shipped domain or one an installed plugin describes, else the generic rubric's
    id (the rules are the same for all: transforms/rewards.py)."""
    described = domain in DOMAINS or (domain != GENERIC and domain in plugin_domains())
    return f"worldline/{domain if described else GENERIC}/v1"


def check_window(window: int | None) -> None:
    """Raises ValueError, in one line, for a window that is not a number of steps (0 or more) or None (all)."""
    if window is not None and (isinstance(window, bool) or not isinstance(window, Integral) or window < 0):
        raise ValueError(f"history steps must be a whole number of steps, 0 or more, or the whole episode; "
                         f"not {window!r}")


def _window(history: list[dict], current: dict, window: int | None) -> list[dict]:
    """The last `window` steps of history before current's (None: all of them), in step order."""
    if window == 0:
        return []
    step = current["step"]
    steps = list(map(_STEP, history))
    if not steps or (steps[-1] < step and steps == sorted(steps)):
        # The curation caller passes the episode's earlier rows in step order: the window is the tail.
        earlier = history
    else:
        earlier = [row for row in history if row["step"] < step]
        earlier.sort(key=_STEP)
    return earlier[-window:] if window else list(earlier)


def _document(steps: list[dict], current: dict) -> str:
    """The dynamics document: the opening (with the observation before the first step), each step, the end."""
    opening_state = (steps[0] if steps else current).get("state_text") or ""
    parts = [document_opening(current["domain"], current.get("instruction"), opening_state)]
    parts += [document_turn(row.get("action_text") or "", row.get("next_text") or "") for row in steps + [current]]
    parts.append(DOCUMENT_END)
    return "".join(parts)


def _conversation(turns: list[dict], current: dict) -> list[dict]:
    """The chat prompt (stages 2 and 3): the system prompt, then the window's turns and the current one, each a user
    prompt (the first with the task and the state before it) and, before the current one, the observation written
    the way the model answers, so that history and target agree."""
    opening_state = (turns[0] if turns else current).get("state_text") or ""
    messages = [{"role": "system", "content": _system_prompt(current["domain"])}]
    for row in turns + [current]:
        opens = len(messages) == 1
        messages.append({"role": "user", "content": turn_prompt(
            (row.get("step") or 0) + 1, row.get("action_text") or "", current.get("instruction") if opens else None,
            opening_state if opens else "")})
        if row is not current:
            messages.append({"role": "assistant", "content": answer(row.get("next_text") or "")})
    return messages


def check_keys(current: dict) -> None:
    """Raises StageError when the transition lacks a key every stage row needs."""
    for key in REQUIRED_KEYS:
        if current.get(key) is None:
            raise StageError(f"record {current.get('id')}: {key} is missing")


def split_spans(reference: str, volatile: list[dict], record: str,
                shown: tuple[str, ...] = ()) -> tuple[list[dict], list[dict]]:
    """(exact_spans, format_spans): the volatile spans, and every stretch of the reference outside them. shown: the
    texts the prompt shows that a value may be copied from (the action and the state before it); a span copied_spans
    finds there is not a format span, its text is exact like the stretches around it."""
    length = len(reference)
    format_spans = []
    for span in sorted(volatile or [], key=_SPAN_ORDER):
        start, end = span["start"], span["end"]
        if not 0 <= start < end <= length:
            raise StageError(f"record {record}: volatile span [{start},{end}) is outside the observation "
                             f"of {length} characters or empty")
        format_spans.append({"start": start, "end": end, "kind": span.get("kind") or "volatile"})
    copied = set(map(id, copied_spans(reference, format_spans, shown)))
    if copied:
        format_spans = [span for span in format_spans if id(span) not in copied]
    exact_spans, cursor = [], 0
    for span in format_spans:
        start, end = span["start"], span["end"]
        if start > cursor:
            exact_spans.append({"start": cursor, "end": start, "kind": "exact"})
        if end > cursor:
            cursor = end
    if cursor < length:
        exact_spans.append({"start": cursor, "end": length, "kind": "exact"})
    return exact_spans, format_spans


def build_stage_rows(history: list[dict], current: dict, trace: str, *, window: int | None = HISTORY_STEPS,
                     reasoning_source: str = "grounded") -> tuple[dict, dict, dict | None]:
    """history: transitions of the same episode as recorded (any order; only steps before current's are used).
    window: how many of them the rows show, the last ones (None: all). No stage-3 row for a transition whose
    replays showed another outcome (stage3_left_out). The reference (test oracle) of what curation writes: tests
    check that transforms/stage_tables.build_stage_tables makes these rows exactly."""
    check_window(window)
    record = str(current.get("id"))
    check_keys(current)
    reference = current.get("next_text") or ""
    exact_spans, format_spans = split_spans(reference, current.get("next_volatile_spans"), record, _shown(current))
    steps = _window(history, current, window)
    prompt = _conversation(steps, current)
    common = {"id": record, "domain": current["domain"], "episode_id": current.get("episode_id"),
              "step": current["step"]}
    group = {"task_group": current.get("task_group")}  # last, as in schemas/stages.py
    stage1 = {**common, "text": _document(steps, current), **group}
    stage2 = {**common, "messages": prompt, "target": reasoned_answer(trace, reference),
              "reasoning_source": reasoning_source, **group}
    stage3 = {**common, "prompt": prompt, "reference": reference, "exact_spans": exact_spans,
              "format_spans": format_spans, "rubric_id": rubric_id(current["domain"]), **group}
    return stage1, stage2, None if stage3_left_out(current) else stage3


def stage3_left_out(current: dict) -> str | None:
    """Why the transition has no stage-3 row, or None: its replays showed another outcome than the recording
    (transforms.replay.other_outcome, which transforms.prepare stores in the row), so its reference is one side of
    a race that an RL reward would grade as exact. Stages 1 and 2 keep it: the recording is what happened."""
    return current.get(OTHER_OUTCOME)


def _shown(current: dict) -> tuple[str, str]:
    """The texts of the prompt a value of the reference may be copied from: the current action, and the state it was
    taken in (the previous step's next observation, which the prompt shows as the window's last answer, or as the
    opening state when the window is empty)."""
    return current.get("action_text") or "", current.get("state_text") or ""


def episode_documents(rows: list[dict], max_chars: int = EPISODE_DOCUMENT_CHARS) -> list[dict]:
    """The episode layout's stage 1 rows. rows: the transitions curation writes, each episode's together and in step
    order (a removed or dead-lettered one is left out). A document per run document_starts finds, named by its first
    transition (`id`, `step`)."""
    begins = np.flatnonzero(document_starts(rows, max_chars)).tolist()
    return [_episode_row(rows[first:end]) for first, end in zip(begins, begins[1:] + [len(rows)])]


def _episode_row(run: list[dict]) -> dict:
    first = run[0]
    opening = document_opening(first["domain"], first.get("instruction"), first.get("state_text") or "")
    turns = [document_turn(row.get("action_text") or "", row.get("next_text") or "") for row in run]
    return {"id": str(first["id"]), "domain": first["domain"], "episode_id": first.get("episode_id"),
            "step": first["step"], "text": "".join([opening, *turns, DOCUMENT_END]),
            "task_group": first.get("task_group")}


def document_starts(rows: list[dict], max_chars: int = EPISODE_DOCUMENT_CHARS) -> np.ndarray:
    """Which of rows (as episode_documents takes them) begin an episode-layout document: one that does not follow
    the row before (another episode, or steps left out between them: its action was not taken in that row's next
    observation), and one that would take its document past max_chars characters (0: no limit). A document opens
    with the state its first step was taken in, so after either it is restated."""
    begins = np.ones(len(rows), dtype=bool)
    chars = 0
    for position, row in enumerate(rows):
        turn = _turn_chars(row)
        if position and _follows(rows[position - 1], row) and not (max_chars and chars + turn > max_chars):
            begins[position] = False
            chars += turn
        else:
            chars = _opening_chars(row) + turn
    return begins


def _follows(previous: dict, row: dict) -> bool:
    """Whether row is the step right after previous in the same episode."""
    return (row.get("episode_id") == previous.get("episode_id") and previous.get("step") is not None
            and row.get("step") == previous["step"] + 1)


def _opening_chars(row: dict) -> int:
    """The characters of a document's opening and end, as the row would open it."""
    return (_literal_chars(DOCUMENT_OPENING) + len(DOCUMENT_END) + len(row.get("domain") or "")
            + len(instruction_text(row.get("instruction"))) + len(row.get("state_text") or ""))


def _turn_chars(row: dict) -> int:
    return _literal_chars(DOCUMENT_TURN) + len(row.get("action_text") or "") + len(row.get("next_text") or "")


@lru_cache(maxsize=None)
def _split_format(template: str) -> tuple[tuple[str, str | None], ...]:
    """(literal, field) pairs of a format, in order: str.format's own parse."""
    return tuple((literal, field) for literal, field, _, _ in Formatter().parse(template))


@lru_cache(maxsize=None)
def _literal_chars(template: str) -> int:
    return sum(len(literal) for literal, _ in _split_format(template))
