"""Stage rows for one curated transition: the dynamics document (stage 1), the reason-then-predict chat sample
(stage 2) and the RL prompt with its checkable reference (stage 3).

All three see the same context: the task, the observation just before the window, the last `window` turns of the
episode (action -> observation) and the current action. The RL spans are character offsets into the reference.
"""

from __future__ import annotations

from functools import lru_cache
from operator import itemgetter

from transforms.prompts import ANSWER_TAG, DOMAINS, system_prompt

_STEP = itemgetter("step")
_SPAN_ORDER = itemgetter("start", "end")
# The prompt is a pure function of the domain, and there are a handful of domains.
_system_prompt = lru_cache(maxsize=64)(system_prompt)


class StageError(ValueError):
    """A transition whose stage rows cannot be built; names the record and the reason."""


def first_turn_prompt(instruction: str | None, state_text: str, action_text: str) -> str:
    """The user turn that opens a conversation: it alone carries the task and the observation before any action."""
    return (f"Task: {instruction or '(no instruction)'}\n\nCurrent observation:\n{state_text}\n\n"
            f"Action:\n{action_text}")


def turn_prompt(action_text: str) -> str:
    return f"Action:\n{action_text}"


def answer(observation: str) -> str:
    return f"<{ANSWER_TAG}>{observation}</{ANSWER_TAG}>"


def rubric_id(domain: str) -> str:
    return f"worldline/{domain if domain in DOMAINS else 'generic'}/v1"


def _window(history: list[dict], current: dict, window: int) -> list[dict]:
    step = current["step"]
    steps = list(map(_STEP, history))
    if window > 0 and (not steps or (steps[-1] < step and steps == sorted(steps))):
        # The curation caller passes the episode's earlier rows in step order: the window is the tail.
        return history[-window:]
    earlier = [row for row in history if row["step"] < step]
    earlier.sort(key=_STEP)
    return earlier[-window:] if window > 0 else []


def _chat_prompt(turns: list[dict], current: dict) -> list[dict]:
    opening = turns[0] if turns else current
    first = first_turn_prompt(current.get("instruction"), opening.get("state_text") or "",
                              opening.get("action_text") or "")
    messages = [{"role": "system", "content": _system_prompt(current["domain"])}, {"role": "user", "content": first}]
    for i, row in enumerate(turns):
        # Earlier observations are written the way the model answers, so history and target agree.
        messages.append({"role": "assistant", "content": answer(row.get("next_text") or "")})
        if i + 1 < len(turns):
            messages.append({"role": "user", "content": turn_prompt(turns[i + 1].get("action_text") or "")})
    if turns:
        messages.append({"role": "user", "content": turn_prompt(current.get("action_text") or "")})
    return messages


def _dynamics_document(turns: list[dict], current: dict) -> str:
    opening = turns[0] if turns else current
    head = (f"Environment: {current['domain']}\n\nTask: {current.get('instruction') or '(no instruction)'}\n\n"
            f"Observation:\n{opening.get('state_text') or ''}")
    steps = "".join(f"\n\nAction:\n{row.get('action_text') or ''}\n\nObservation:\n{row.get('next_text') or ''}"
                    for row in turns)
    return (f"{head}{steps}\n\nAction:\n{current.get('action_text') or ''}\n\n"
            f"Observation:\n{current.get('next_text') or ''}\n")


def split_spans(reference: str, volatile: list[dict], record: str) -> tuple[list[dict], list[dict]]:
    """(exact_spans, format_spans): the volatile spans, and every stretch of the reference outside them."""
    format_spans = []
    for span in sorted(volatile or [], key=_SPAN_ORDER):
        start, end = span["start"], span["end"]
        if not 0 <= start < end <= len(reference):
            raise StageError(f"record {record}: volatile span [{start},{end}) is outside the observation "
                             f"of {len(reference)} characters or empty")
        format_spans.append({"start": start, "end": end, "kind": span.get("kind") or "volatile"})
    exact_spans, cursor = [], 0
    for span in format_spans:
        if span["start"] > cursor:
            exact_spans.append({"start": cursor, "end": span["start"], "kind": "exact"})
        cursor = max(cursor, span["end"])
    if cursor < len(reference):
        exact_spans.append({"start": cursor, "end": len(reference), "kind": "exact"})
    return exact_spans, format_spans


def build_stage_rows(history: list[dict], current: dict, trace: str, *, window: int = 4,
                     reasoning_source: str = "grounded") -> tuple[dict, dict, dict]:
    """history: curated transitions of the same episode (any order; only steps before current's are used)."""
    record = str(current.get("id"))
    for key in ("id", "domain", "step"):
        if current.get(key) is None:
            raise StageError(f"record {record}: {key} is missing")
    turns = _window(history, current, window)
    reference = current.get("next_text") or ""
    common = {"id": record, "domain": current["domain"], "episode_id": current.get("episode_id"),
              "step": current["step"]}
    prompt = _chat_prompt(turns, current)
    exact_spans, format_spans = split_spans(reference, current.get("next_volatile_spans"), record)
    stage1 = {**common, "text": _dynamics_document(turns, current)}
    stage2 = {**common, "messages": prompt, "target": f"<think>{trace}</think>\n{answer(reference)}",
              "reasoning_source": reasoning_source}
    stage3 = {**common, "prompt": prompt, "reference": reference, "exact_spans": exact_spans,
              "format_spans": format_spans, "rubric_id": rubric_id(current["domain"])}
    return stage1, stage2, stage3
