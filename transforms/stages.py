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


def _context(turns: list[dict], current: dict) -> tuple[list[dict], str]:
    """The chat prompt (stages 2 and 3) and the dynamics document (stage 1), made in one pass over the turns."""
    domain, instruction = current["domain"], current.get("instruction")
    opening_state = (turns[0] if turns else current).get("state_text") or ""
    messages = [{"role": "system", "content": _system_prompt(domain)}]
    document = [f"Environment: {domain}\n\nTask: {instruction or '(no instruction)'}\n\n"
                f"Observation:\n{opening_state}"]
    for row in turns + [current]:
        action, observation = row.get("action_text") or "", row.get("next_text") or ""
        content = turn_prompt(action) if len(messages) > 1 else first_turn_prompt(instruction, opening_state, action)
        messages.append({"role": "user", "content": content})
        if row is not current:
            # Earlier observations are written the way the model answers, so history and target agree.
            messages.append({"role": "assistant", "content": answer(observation)})
        document.append(f"\n\nAction:\n{action}\n\nObservation:\n{observation}")
    document.append("\n")
    return messages, "".join(document)


def split_spans(reference: str, volatile: list[dict], record: str) -> tuple[list[dict], list[dict]]:
    """(exact_spans, format_spans): the volatile spans, and every stretch of the reference outside them."""
    length = len(reference)
    exact_spans, format_spans, cursor = [], [], 0
    for span in sorted(volatile or [], key=_SPAN_ORDER):
        start, end = span["start"], span["end"]
        if not 0 <= start < end <= length:
            raise StageError(f"record {record}: volatile span [{start},{end}) is outside the observation "
                             f"of {length} characters or empty")
        format_spans.append({"start": start, "end": end, "kind": span.get("kind") or "volatile"})
        if start > cursor:
            exact_spans.append({"start": cursor, "end": start, "kind": "exact"})
        if end > cursor:
            cursor = end
    if cursor < length:
        exact_spans.append({"start": cursor, "end": length, "kind": "exact"})
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
    prompt, document = _context(turns, current)
    exact_spans, format_spans = split_spans(reference, current.get("next_volatile_spans"), record)
    stage1 = {**common, "text": document}
    stage2 = {**common, "messages": prompt, "target": f"<think>{trace}</think>\n{answer(reference)}",
              "reasoning_source": reasoning_source}
    stage3 = {**common, "prompt": prompt, "reference": reference, "exact_spans": exact_spans,
              "format_spans": format_spans, "rubric_id": rubric_id(current["domain"])}
    return stage1, stage2, stage3
