"""Stage rows for one curated transition: the dynamics document (stage 1), the reason-then-predict chat sample
(stage 2) and the RL prompt with its checkable reference (stage 3).

All three see the same context: the task, the observation just before the window, the last `window` turns of the
episode (action -> observation) and the current action. The RL spans are character offsets into the reference.

build_stage_rows makes one transition's rows; build_stage_tables makes the same rows for many transitions at once,
as Arrow tables (what curation writes), from the same format helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.stages import MESSAGE, SPAN, STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from transforms.prompts import ANSWER_TAG, DOMAINS, system_prompt

REQUIRED_KEYS = ("id", "domain", "step")
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


def document_opening(domain: str, instruction: str | None, state_text: str) -> str:
    """The dynamics document's start: the environment, the task and the observation before its first action."""
    return f"Environment: {domain}\n\nTask: {instruction or '(no instruction)'}\n\nObservation:\n{state_text}"


def document_turn(action_text: str, observation: str) -> str:
    return f"\n\nAction:\n{action_text}\n\nObservation:\n{observation}"


DOCUMENT_END = "\n"


def reasoned_answer(trace: str, reference: str) -> str:
    """Stage 2's target: the reasoning trace, then the answer."""
    return f"<think>{trace}</think>\n{answer(reference)}"


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
    document = [document_opening(domain, instruction, opening_state)]
    for row in turns + [current]:
        action, observation = row.get("action_text") or "", row.get("next_text") or ""
        content = turn_prompt(action) if len(messages) > 1 else first_turn_prompt(instruction, opening_state, action)
        messages.append({"role": "user", "content": content})
        if row is not current:
            # Earlier observations are written the way the model answers, so history and target agree.
            messages.append({"role": "assistant", "content": answer(observation)})
        document.append(document_turn(action, observation))
    document.append(DOCUMENT_END)
    return messages, "".join(document)


def check_keys(current: dict) -> None:
    """Raises StageError when the transition lacks a key every stage row needs."""
    for key in REQUIRED_KEYS:
        if current.get(key) is None:
            raise StageError(f"record {current.get('id')}: {key} is missing")


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
    check_keys(current)
    turns = _window(history, current, window)
    reference = current.get("next_text") or ""
    common = {"id": record, "domain": current["domain"], "episode_id": current.get("episode_id"),
              "step": current["step"]}
    prompt, document = _context(turns, current)
    exact_spans, format_spans = split_spans(reference, current.get("next_volatile_spans"), record)
    stage1 = {**common, "text": document}
    stage2 = {**common, "messages": prompt, "target": reasoned_answer(trace, reference),
              "reasoning_source": reasoning_source}
    stage3 = {**common, "prompt": prompt, "reference": reference, "exact_spans": exact_spans,
              "format_spans": format_spans, "rubric_id": rubric_id(current["domain"])}
    return stage1, stage2, stage3


# ---- a file's stage rows at once, as Arrow tables --------------------------------------------------------------
# Every row's pieces (its user turn, its answer, its document turn) are formatted once, and each window is assembled
# from them by index (Arrow take + list offsets): a row appears in up to `window` + 1 windows.

_ROLES = pa.array(["system", "user", "assistant"])
_SYSTEM, _USER, _ASSISTANT = range(3)


@dataclass(frozen=True)
class StageTables:
    """The stage tables of the transitions whose rows could be built, and why the others could not."""
    built: np.ndarray  # positions (into the `currents` given) of the tables' rows, in order
    stage1: pa.Table
    stage2: pa.Table
    stage3: pa.Table
    errors: list[tuple[int, StageError]]  # (position into `currents`, reason)


def build_stage_tables(rows: list[dict], curated: pa.Table, currents: np.ndarray, history_starts: np.ndarray,
                       history_ends: np.ndarray, traces: list[str], *, window: int = 4,
                       reasoning_source: str = "grounded") -> StageTables:
    """What build_stage_rows(rows[history_starts[k]:history_ends[k]], rows[currents[k]], traces[k]) makes, for
    every k, as three tables. rows: a file's curated transitions, each episode's together and in step order (as
    Finish sorts them); each history range lies in its current row's episode. curated: the rows[currents] as a
    CURATED_TRANSITION_SCHEMA table. Only the rows from the first history to the last current row are read and
    formatted, so a caller may build a file's tables a slice of current rows at a time."""
    low, high = (int(history_starts.min()), int(currents.max()) + 1) if len(currents) else (0, 0)
    rows, currents, history_starts, history_ends = (rows[low:high], currents - low, history_starts - low,
                                                    history_ends - low)
    errors = _stage_errors(rows, curated, currents)
    failed = np.array([position for position, _ in errors], dtype=np.int64)
    built = np.setdiff1d(np.arange(len(currents)), failed)
    if len(built) < len(currents):
        curated = curated.take(built)
    currents, history_starts, history_ends = currents[built], history_starts[built], history_ends[built]
    turns_start, turns_end = _windows(rows, currents, history_starts, history_ends, window)
    current_rows = [rows[position] for position in currents.tolist()]
    domains = [row["domain"] for row in current_rows]
    instructions = [row.get("instruction") for row in current_rows]
    openings = np.where(turns_end > turns_start, turns_start, currents)
    opening_states = [rows[position].get("state_text") or "" for position in openings.tolist()]
    actions = [row.get("action_text") or "" for row in rows]
    observations = [row.get("next_text") or "" for row in rows]
    messages = _messages(domains, instructions, opening_states, actions, observations, openings, currents,
                         turns_start, turns_end)
    text = _documents(domains, instructions, opening_states, actions, observations, currents, turns_start,
                      turns_end)
    reference = pc.fill_null(curated.column("next_text"), "")
    exact_spans, format_spans = _span_columns(curated.column("next_volatile_spans"), reference)
    common = {name: curated.column(name) for name in ("id", "domain", "episode_id", "step")}
    target = [reasoned_answer(traces[k], observations[position])
              for k, position in zip(built.tolist(), currents.tolist())]
    rubrics = {domain: rubric_id(domain) for domain in set(domains)}
    stage1 = pa.Table.from_arrays([*common.values(), text], schema=STAGE1_SCHEMA)
    stage2 = pa.Table.from_arrays([*common.values(), messages, pa.array(target, pa.string()),
                                   pa.array([reasoning_source] * len(built), pa.string())], schema=STAGE2_SCHEMA)
    stage3 = pa.Table.from_arrays([*common.values(), messages, reference, exact_spans, format_spans,
                                   pa.array([rubrics[domain] for domain in domains], pa.string())],
                                  schema=STAGE3_SCHEMA)
    return StageTables(built, stage1, stage2, stage3, errors)


def _stage_errors(rows: list[dict], curated: pa.Table, currents: np.ndarray) -> list[tuple[int, StageError]]:
    """(position, StageError) of the current rows build_stage_rows would refuse: found by array checks, and
    explained by the one-row checks themselves so that the reasons are the same."""
    bad = np.zeros(len(curated), dtype=bool)
    for key in REQUIRED_KEYS:
        bad |= pc.is_null(curated.column(key)).to_numpy()
    lengths = pc.utf8_length(pc.fill_null(curated.column("next_text"), "")).to_numpy()
    spans = curated.column("next_volatile_spans").combine_chunks()
    starts, ends = (pc.fill_null(pc.list_flatten(spans).field(name), -1).to_numpy(zero_copy_only=False)
                    for name in ("start", "end"))
    owners = pc.list_parent_indices(spans).to_numpy()
    bad[owners[(starts < 0) | (ends <= starts) | (ends > lengths[owners])]] = True
    errors = []
    for position in np.flatnonzero(bad).tolist():
        current = rows[currents[position]]
        try:
            check_keys(current)
            split_spans(current.get("next_text") or "", current.get("next_volatile_spans"), str(current["id"]))
        except StageError as exc:
            errors.append((position, exc))
    return errors


def _windows(rows, currents, history_starts, history_ends, window) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) in `rows` of each current row's turns: its history's rows of earlier steps, the last `window`.
    The history is in step order, so those are the ones before the first row of the current row's step."""
    steps = np.fromiter((row["step"] if row.get("step") is not None else 0 for row in rows), np.int64, len(rows))
    new_step = np.ones(len(rows), dtype=bool)
    new_step[1:] = steps[1:] != steps[:-1]
    step_start = np.maximum.accumulate(np.where(new_step, np.arange(len(rows)), 0))
    turns_end = np.minimum(history_ends, np.maximum(history_starts, step_start[currents]))
    turns_start = np.maximum(history_starts, turns_end - window) if window > 0 else turns_end
    return turns_start, turns_end


def _ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position) of every position in the ranges [starts[k], ends[k]), range after range."""
    counts = ends - starts
    owners = np.repeat(np.arange(len(counts)), counts)
    firsts = np.cumsum(counts) - counts
    return owners, starts[owners] + np.arange(counts.sum()) - firsts[owners]


def _list_offsets(counts: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _messages(domains, instructions, opening_states, actions, observations, openings, currents, turns_start,
              turns_end) -> pa.ListArray:
    """The chat prompts: system, the opening user turn, then (answer, next user turn) for every turn of the window.
    Contents are taken from one pool: system prompts, opening turns, every row's user turn, every row's answer."""
    systems = sorted(set(domains))
    opening_turns = [first_turn_prompt(instruction, state, actions[position])
                     for instruction, state, position in zip(instructions, opening_states, openings.tolist())]
    pool = pa.array([*map(_system_prompt, systems), *opening_turns, *map(turn_prompt, actions),
                     *map(answer, observations)], pa.string())
    openings_base = len(systems)
    users_base = openings_base + len(opening_turns)
    answers_base = users_base + len(actions)
    counts = 2 * (turns_end - turns_start) + 2
    offsets = _list_offsets(counts)
    firsts = offsets[:-1].astype(np.int64)
    content = np.empty(offsets[-1], dtype=np.int64)
    role = np.empty(offsets[-1], dtype=np.int64)
    system_index = {domain: index for index, domain in enumerate(systems)}
    content[firsts] = [system_index[domain] for domain in domains]
    role[firsts] = _SYSTEM
    content[firsts + 1] = openings_base + np.arange(len(domains))
    role[firsts + 1] = _USER
    owners, turns = _ranges(turns_start, turns_end)
    answer_slots = firsts[owners] + 2 + 2 * (turns - turns_start[owners])
    content[answer_slots] = answers_base + turns
    role[answer_slots] = _ASSISTANT
    # After a turn's answer comes the next turn's action; after the last, the current row's.
    next_turns = np.where(turns + 1 < turns_end[owners], turns + 1, currents[owners])
    content[answer_slots + 1] = users_base + next_turns
    role[answer_slots + 1] = _USER
    values = pa.StructArray.from_arrays([_ROLES.take(role), pool.take(content)], fields=list(MESSAGE))
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=pa.list_(MESSAGE))


def _documents(domains, instructions, opening_states, actions, observations, currents, turns_start,
               turns_end) -> pa.Array:
    """The dynamics documents: the opening, each turn of the window, the current turn, the end."""
    openings = [document_opening(domain, instruction, state)
                for domain, instruction, state in zip(domains, instructions, opening_states)]
    pool = pa.array([*openings, *map(document_turn, actions, observations), DOCUMENT_END], pa.string())
    turns_base, end = len(openings), len(openings) + len(actions)
    counts = turns_end - turns_start + 3
    offsets = _list_offsets(counts)
    firsts = offsets[:-1].astype(np.int64)
    parts = np.empty(offsets[-1], dtype=np.int64)
    parts[firsts] = np.arange(len(openings))
    owners, turns = _ranges(turns_start, turns_end)
    parts[firsts[owners] + 1 + turns - turns_start[owners]] = turns_base + turns
    parts[offsets[1:] - 2] = turns_base + currents
    parts[offsets[1:] - 1] = end
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), pool.take(parts)), "")


def _span_columns(volatile: pa.ChunkedArray, reference: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """split_spans over a column: (exact_spans, format_spans). Every span must lie inside its reference."""
    spans = volatile.combine_chunks()
    owners = pc.list_parent_indices(spans).to_numpy()
    flat = pc.list_flatten(spans)
    starts, ends = (flat.field(name).to_numpy(zero_copy_only=False).astype(np.int64) for name in ("start", "end"))
    order = np.lexsort((ends, starts, owners))  # stable, as sorted() by (start, end) within a row
    owners, starts, ends = owners[order], starts[order], ends[order]
    kinds = flat.field("kind").take(order)
    kinds = pc.if_else(pc.fill_null(pc.equal(kinds, ""), True), "volatile", kinds)
    rows = len(spans)
    format_spans = pa.ListArray.from_arrays(
        pa.array(_list_offsets(np.bincount(owners, minlength=rows))),
        pa.StructArray.from_arrays([pa.array(starts, pa.int32()), pa.array(ends, pa.int32()), kinds],
                                   fields=list(SPAN)), type=pa.list_(SPAN))
    return _exact_spans(owners, starts, ends, pc.utf8_length(reference).to_numpy().astype(np.int64)), format_spans


def _exact_spans(owners, starts, ends, lengths) -> pa.Array:
    """The stretches outside the sorted spans: before each span that starts past the ones before it, and after
    the last. A row's cursor is the furthest end so far (spans may overlap)."""
    rows = len(lengths)
    # The furthest end so far, per row: a running maximum over (row, end) keys, rows kept apart by a stride.
    stride = int(lengths.max(initial=0)) + 1
    furthest = np.maximum.accumulate(owners * stride + ends) - owners * stride
    first_of_row = np.ones(len(owners), dtype=bool)
    first_of_row[1:] = owners[1:] != owners[:-1]
    cursors = np.where(first_of_row, 0, np.concatenate(([0], furthest[:-1])))
    gaps = starts > cursors
    last_of_row = np.ones(len(owners), dtype=bool)
    last_of_row[:-1] = first_of_row[1:]
    row_end = np.zeros(rows, dtype=np.int64)
    row_end[owners[last_of_row]] = furthest[last_of_row]
    tails = row_end < lengths
    gap_owners = np.concatenate((owners[gaps], np.flatnonzero(tails)))
    gap_starts = np.concatenate((cursors[gaps], row_end[tails]))
    gap_ends = np.concatenate((starts[gaps], lengths[tails]))
    order = np.argsort(gap_owners, kind="stable")  # each row's gaps before its tail
    values = pa.StructArray.from_arrays(
        [pa.array(gap_starts[order], pa.int32()), pa.array(gap_ends[order], pa.int32()),
         pa.array(np.full(len(order), "exact", dtype=object), pa.string())], fields=list(SPAN))
    return pa.ListArray.from_arrays(pa.array(_list_offsets(np.bincount(gap_owners, minlength=rows))), values,
                                    type=pa.list_(SPAN))
