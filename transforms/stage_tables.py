"""A file's stage rows at once, as Arrow tables: what curation writes (transforms/curate.py).

build_stage_tables makes, for many transitions of a file at once, exactly the rows that transforms/stages.py, the
readable reference, makes one transition at a time (build_stage_rows; episode_documents in the episode layout), from
that module's formats and checks: the same texts, spans, left-out rows and error reasons. A change here must keep
them equal. tests/formats/test_stages.py test_stage_tables_equal_the_rows_built_one_by_one checks it in the window
layout, and in the episode layout tests/transforms/test_stage1_layout.py
test_the_episode_table_equals_the_documents_built_one_by_one_and_the_other_stages_do_not_change.

A stage text is written straight into its Arrow column from its pieces (transforms/_stages.c): the literal parts of
its format and the row values between them, each held once in a pool. A row's action and observation are part of
up to `window` + 1 windows; they are copied into each text, never made into a str of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.stages import MESSAGE, SPAN, STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from transforms import _stages, stats
from transforms.copied_values import CANDIDATE_KINDS, copied_spans
from transforms.prompts import (ACTION_SECTION, INSTRUCTION_SECTION, STATE_SECTION, TURN_HEADER, action_block,
                                fence_for)
from transforms.stages import (ANSWER, DOCUMENT_END, DOCUMENT_OPENING, DOCUMENT_TURN, EPISODE, EPISODE_DOCUMENT_CHARS,
                               HISTORY_STEPS, REASONED_ANSWER, REQUIRED_KEYS, WINDOW, StageError, _shown,
                               _split_format, _system_prompt, check_keys, check_window, document_starts,
                               instruction_text, rubric_id, split_spans, stage3_left_out, tag_safe)

_ROLES = pa.array(["system", "user", "assistant"])
_SYSTEM, _USER, _ASSISTANT = range(3)
_EMPTY = 0  # the pool's empty piece: it pads a text of fewer pieces than the others of its column


class StageTextTooLarge(ValueError):
    """The stage texts of the rows asked for at once do not fit in one Arrow string array (2 GiB)."""


# An Arrow string array's offsets are int32.
MAX_COLUMN_BYTES = np.iinfo(np.int32).max


@dataclass(frozen=True)
class StageTables:
    """The stage tables of the transitions whose rows could be built, and why the others could not."""
    built: np.ndarray  # positions (into the `currents` given) of the tables' rows, in order
    stage1: pa.Table  # in the episode layout, a row per document of the built rows
    stage2: pa.Table
    stage3: pa.Table
    errors: list[tuple[int, StageError]]  # (position into `currents`, reason)
    stage3_left_out: list[tuple[int, str]]  # (position into `built`, reason) of the rows stage3 lacks


def build_stage_tables(rows: list[dict], curated: pa.Table, currents: np.ndarray, history_starts: np.ndarray,
                       history_ends: np.ndarray, traces: list[str], *, window: int | None = HISTORY_STEPS,
                       reasoning_source: str = "grounded", stage1_layout: str = WINDOW,
                       max_document_chars: int = EPISODE_DOCUMENT_CHARS) -> StageTables:
    """What build_stage_rows(rows[history_starts[k]:history_ends[k]], rows[currents[k]], traces[k]) makes, for
    every k, as three tables; in the episode layout, stage1 is what episode_documents makes of the rows[currents]
    built. rows: a file's transitions, each episode's together and in step order (as Finish sorts them); each
    history range lies in its current row's episode. curated: the rows[currents] as a CURATED_TRANSITION_SCHEMA
    table. Only the rows from the first history to the last current row are read and formatted, so a caller may
    build a file's tables a slice of current rows at a time (in the episode layout, a slice begins a document)."""
    check_window(window)
    low, high = (int(history_starts.min()), int(currents.max()) + 1) if len(currents) else (0, 0)
    rows, currents, history_starts, history_ends = (rows[low:high], currents - low, history_starts - low,
                                                    history_ends - low)
    current_rows = [rows[position] for position in currents.tolist()]
    # Characters (code points) of each reference, as spans count them: len() of the str, not a scan of the column.
    lengths = np.array([len(row.get("next_text") or "") for row in current_rows], dtype=np.int64)
    spans = _flat_spans(curated, lengths)
    errors = _stage_errors(current_rows, curated, spans)
    if errors:
        built = np.setdiff1d(np.arange(len(currents)), [position for position, _ in errors])
        curated = curated.take(built)
        current_rows = [current_rows[k] for k in built.tolist()]
        spans = _flat_spans(curated, lengths[built])
    else:
        built = np.arange(len(currents))
    spans = _without_copied(spans, current_rows)
    currents, history_starts, history_ends = currents[built], history_starts[built], history_ends[built]
    steps = np.array([row.get("step") or 0 for row in rows], dtype=np.int64)
    steps_start, steps_end = _windows(steps, currents, history_starts, history_ends, window)
    domains = [row["domain"] for row in current_rows]
    openings = np.where(steps_end > steps_start, steps_start, currents)
    pieces = _Pieces()
    values = {"action": pieces.values([row.get("action_text") or "" for row in rows]),
              "observation": pieces.values([row.get("next_text") or "" for row in rows]),
              "instruction": pieces.values([instruction_text(row.get("instruction")) for row in current_rows]),
              "state": pieces.values([rows[position].get("state_text") or "" for position in openings.tolist()]),
              "domain": pieces.values(domains)}
    messages = _messages(pieces, values, rows, steps, current_rows, openings, currents, steps_start, steps_end)
    target = pieces.column(pieces.format(REASONED_ANSWER, trace=pieces.values([tag_safe(traces[k]) for k in built.tolist()]),
                                         observation=values["observation"][currents]))
    reference = pc.fill_null(curated.column("next_text"), "")
    exact_spans, format_spans = _exact_spans(spans), _format_spans(spans)
    common = {name: curated.column(name) for name in ("id", "domain", "episode_id", "step")}
    rubrics = {domain: rubric_id(domain) for domain in set(domains)}
    group = curated.column("task_group")
    if stage1_layout == EPISODE:
        stage1 = _episode_table(pieces, values, curated, current_rows, currents, max_document_chars)
    else:
        stage1 = pa.Table.from_arrays([*common.values(), _documents(pieces, values, currents, steps_start,
                                                                    steps_end), group], schema=STAGE1_SCHEMA)
    stage2 = pa.Table.from_arrays([*common.values(), messages, target,
                                   pa.repeat(reasoning_source, len(built)), group], schema=STAGE2_SCHEMA)
    stage3 = pa.Table.from_arrays([*common.values(), messages, reference, exact_spans, format_spans,
                                   pa.array([rubrics[domain] for domain in domains], pa.string()), group],
                                  schema=STAGE3_SCHEMA)
    left_out = [(position, reason) for position, row in enumerate(current_rows) if (reason := stage3_left_out(row))]
    if left_out:
        keep = np.ones(len(current_rows), dtype=bool)
        keep[[position for position, _ in left_out]] = False
        stage3 = stage3.filter(pa.array(keep))
    # Counted here, once the tables are made, so that a build retried in halves (StageTextTooLarge) counts once.
    stats.count_text_flags(curated)
    return StageTables(built, stage1, stage2, stage3, errors, left_out)


class _Pieces:
    """The pieces stage texts of many rows are made of, each held once (literals and row values) in a pool, and
    the formats filled with them as arrays of pool indices."""

    def __init__(self):
        self.pool = [""]  # _EMPTY
        self.literals = {"": _EMPTY}
        self.sizes = None  # UTF-8 sizes of the pool's pieces, made again when the pool has grown

    def literal(self, text: str) -> int:
        index = self.literals.get(text)
        if index is None:
            index = self.literals[text] = len(self.pool)
            self.pool.append(text)
        return index

    def values(self, texts: list[str]) -> np.ndarray:
        """The pool indices of texts, added as they are (a value repeated by several rows is added per row)."""
        first = len(self.pool)
        self.pool += texts
        return np.arange(first, len(self.pool))

    def format(self, template: str, **fields: np.ndarray) -> np.ndarray:
        """A row of pool indices per text: the pieces of `template` filled in with that text's fields."""
        count = len(next(iter(fields.values())))
        columns = []
        for literal, field in _split_format(template):
            if literal:
                columns.append(np.full(count, self.literal(literal)))
            if field is not None:
                columns.append(fields[field])
        return np.column_stack(columns)

    def column(self, parts: np.ndarray) -> pa.StringArray:
        """The texts whose pieces are the rows of parts (pool indices; _EMPTY pads), as an Arrow string array."""
        return self.joined(parts.ravel(), np.full(len(parts), parts.shape[1]))

    def joined(self, pieces: np.ndarray, counts: np.ndarray) -> pa.StringArray:
        """The texts made of pieces (pool indices), counts[k] of them for text k, in order, as an Arrow string
        array."""
        if self.sizes is None or len(self.sizes) < len(self.pool):
            self.sizes = np.frombuffer(self._utf8_sizes(), dtype=np.int64)
        bytes_before, pieces_before = np.zeros(len(pieces) + 1, dtype=np.int64), np.zeros(len(counts) + 1,
                                                                                          dtype=np.int64)
        np.cumsum(self.sizes[pieces], out=bytes_before[1:])
        np.cumsum(counts, out=pieces_before[1:])
        offsets = bytes_before[pieces_before]
        if offsets[-1] > MAX_COLUMN_BYTES:
            raise StageTextTooLarge(f"{offsets[-1]} bytes of stage text: more than an Arrow string array holds")
        data = pa.allocate_buffer(int(offsets[-1]))
        _stages.join_into(self.pool, np.ascontiguousarray(pieces, dtype=np.int64), data)
        return pa.Array.from_buffers(pa.string(), len(counts), [None, pa.py_buffer(offsets.astype(np.int32)), data])

    def _utf8_sizes(self) -> bytes:
        try:
            return _stages.utf8_sizes(self.pool)
        except TypeError:
            # A value that is not a str, in a row Finish keeps as history only (its own trace failed on it): written
            # as the one-row helpers write it, by format().
            self.pool = [piece if isinstance(piece, str) else format(piece) for piece in self.pool]
            return _stages.utf8_sizes(self.pool)


def _widest(*templates: str) -> int:
    """The most pieces a text of these formats has."""
    return max(sum(bool(literal) + (field is not None) for literal, field in _split_format(template))
               for template in templates)


@dataclass(frozen=True)
class _Spans:
    """A curated table's volatile spans, flat and in split_spans's order (by row, then start and end): the row
    (owner), start and end of each (-1 where null); `order`, their positions in the column, or None when the
    column holds them in that order already (and no span was left out as copied: _without_copied); and the length
    of each row's reference."""
    column: pa.ListArray
    owners: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    order: np.ndarray | None
    lengths: np.ndarray


def _flat_spans(curated: pa.Table, lengths: np.ndarray) -> _Spans:
    column = curated.column("next_volatile_spans")
    column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    flat = column.flatten()
    owners = pc.list_parent_indices(column).to_numpy()
    starts, ends = (_int64(flat.field(name)) for name in ("start", "end"))
    same_row, same_start = owners[1:] == owners[:-1], starts[1:] == starts[:-1]
    if not np.any(same_row & ((starts[1:] < starts[:-1]) | (same_start & (ends[1:] < ends[:-1])))):
        return _Spans(column, owners, starts, ends, None, lengths)
    order = np.lexsort((ends, starts, owners))  # stable, as sorted() by (start, end) within a row
    return _Spans(column, owners[order], starts[order], ends[order], order, lengths)


_CANDIDATE_KINDS = pa.array(sorted(CANDIDATE_KINDS), pa.string())


def _without_copied(spans: _Spans, current_rows: list[dict]) -> _Spans:
    """spans less those copied_spans finds in their rows' prompts (split_spans's exact spans). Only the spans that
    may be copied (an identifier kind, of any length: a short one may stand on a line the prompt shows whole; a
    duration, which the action's arguments may set) are made into dicts and looked for, their rows' alone: most rows
    have none. Each dict carries its span's position in spans ("at") through copied_spans, which returns the dicts
    it is given."""
    kinds = spans.column.flatten().field("kind")
    if spans.order is not None:
        kinds = kinds.take(spans.order)
    candidates = np.flatnonzero(pc.is_in(kinds, value_set=_CANDIDATE_KINDS).to_numpy(zero_copy_only=False))
    if not len(candidates):
        return spans
    by_row: dict[int, list[dict]] = {}
    for at, owner, start, end, kind in zip(candidates.tolist(), spans.owners[candidates].tolist(),
                                           spans.starts[candidates].tolist(), spans.ends[candidates].tolist(),
                                           kinds.take(candidates).to_pylist()):
        by_row.setdefault(owner, []).append({"start": start, "end": end, "kind": kind, "at": at})
    copied = [span["at"] for owner, row_spans in by_row.items() for span in copied_spans(
        current_rows[owner].get("next_text") or "", row_spans, _shown(current_rows[owner]))]
    if not copied:
        return spans
    keep = np.ones(len(spans.owners), dtype=bool)
    keep[copied] = False
    order = np.flatnonzero(keep) if spans.order is None else spans.order[keep]
    return _Spans(spans.column, spans.owners[keep], spans.starts[keep], spans.ends[keep], order, spans.lengths)


def _int64(values: pa.Array) -> np.ndarray:
    """Null as -1: no span starts or ends there."""
    return (values.fill_null(-1) if values.null_count else values).to_numpy(zero_copy_only=False).astype(np.int64)


def _stage_errors(current_rows: list[dict], curated: pa.Table, spans: _Spans) -> list[tuple[int, StageError]]:
    """(position, StageError) of the current rows build_stage_rows would refuse: found by array checks, and
    explained by the one-row checks themselves so that the reasons are the same."""
    bad = np.zeros(len(curated), dtype=bool)
    for key in REQUIRED_KEYS:
        if curated.column(key).null_count:
            bad |= pc.is_null(curated.column(key)).to_numpy()
    owners, starts, ends = spans.owners, spans.starts, spans.ends
    bad[owners[(starts < 0) | (ends <= starts) | (ends > spans.lengths[owners])]] = True
    errors = []
    for position in np.flatnonzero(bad).tolist():
        current = current_rows[position]
        try:
            check_keys(current)
            split_spans(current.get("next_text") or "", current.get("next_volatile_spans"), str(current["id"]))
        except StageError as exc:
            errors.append((position, exc))
    return errors


def _windows(steps, currents, history_starts, history_ends, window) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) in `rows` of each current row's document steps: its history's rows of earlier steps, the last
    `window` (None: all). The history is in step order, so those are the ones before the first row of the current
    row's step."""
    new_step = np.ones(len(steps), dtype=bool)
    new_step[1:] = steps[1:] != steps[:-1]
    step_start = np.maximum.accumulate(np.where(new_step, np.arange(len(steps)), 0))
    steps_end = np.minimum(history_ends, np.maximum(history_starts, step_start[currents]))
    if window is None:
        return np.minimum(history_starts, steps_end), steps_end
    steps_start = np.maximum(history_starts, steps_end - window) if window > 0 else steps_end
    return steps_start, steps_end


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


def _messages(pieces: _Pieces, values: dict[str, np.ndarray], rows: list[dict], steps: np.ndarray,
              current_rows: list[dict], openings, currents, steps_start, steps_end) -> pa.ListArray:
    """The chat prompts: system, then (user turn, answer) for every step of the window, then the current user turn.
    A user turn's pieces sit in fixed columns: its header, the task and state sections (on the opening turn only,
    each left out when its value is empty), the action section."""
    columns = np.cumsum([1, _widest(INSTRUCTION_SECTION), _widest(STATE_SECTION), _widest(ACTION_SECTION)])
    counts = 2 * (steps_end - steps_start) + 2
    offsets = _list_offsets(counts)
    firsts = offsets[:-1].astype(np.int64)
    content = np.full((offsets[-1], max(columns[-1], _widest(ANSWER))), _EMPTY, dtype=np.int64)
    role = np.full(offsets[-1], _USER, dtype=np.int64)
    domains = [row["domain"] for row in current_rows]
    systems = {domain: pieces.literal(_system_prompt(domain)) for domain in set(domains)}
    content[firsts, 0] = [systems[domain] for domain in domains]
    role[firsts] = _SYSTEM
    owners, answered = _ranges(steps_start, steps_end)
    answer_slots = firsts[owners] + 2 + 2 * (answered - steps_start[owners])
    content[answer_slots, :_widest(ANSWER)] = pieces.format(ANSWER, observation=values["observation"][answered])
    role[answer_slots] = _ASSISTANT
    # Each window step's user turn comes just before its answer; the current row's is the last message.
    user_slots = np.concatenate((answer_slots - 1, offsets[1:] - 1))
    user_rows = np.concatenate((answered, currents))
    content[user_slots, 0] = _turn_headers(pieces, steps[user_rows] + 1)
    content[user_slots, columns[2]:columns[3]] = pieces.format(ACTION_SECTION, action=_action_blocks(
        pieces, rows, user_rows))
    instructions = [row.get("instruction") or "" for row in current_rows]
    content[firsts + 1, columns[0]:columns[1]] = _section(pieces, INSTRUCTION_SECTION, instructions,
                                                          instruction=pieces.values(instructions))
    states = [rows[position].get("state_text") or "" for position in openings.tolist()]
    content[firsts + 1, columns[1]:columns[2]] = _section(pieces, STATE_SECTION, states, state=pieces.values(states),
                                                          fence=_fences(pieces, states))
    messages = pa.StructArray.from_arrays([_ROLES.take(role), pieces.column(content)], fields=list(MESSAGE))
    return pa.ListArray.from_arrays(pa.array(offsets), messages, type=pa.list_(MESSAGE))


def _turn_headers(pieces: _Pieces, numbers: np.ndarray) -> np.ndarray:
    """Each number's `### Turn N` line, a literal: a file has a few distinct numbers (not counted with bincount as
    row positions are: a step may be any int32)."""
    distinct, where = np.unique(numbers, return_inverse=True)
    return np.array([pieces.literal(TURN_HEADER.format(turn=number)) for number in distinct.tolist()],
                    dtype=np.int64)[where]


def _action_blocks(pieces: _Pieces, rows: list[dict], positions: np.ndarray) -> np.ndarray:
    """The code blocks of rows[positions]' actions, each row's made once: a row is a turn of up to window + 1 chats.
    An action is small; the observations are never made into a str of their own."""
    distinct = _distinct(positions)
    return _spread(distinct, pieces.values([action_block(rows[position].get("action_text") or "")
                                            for position in distinct.tolist()]), positions)


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct small non-negative ints of keys, ascending: counted, not sorted."""
    return np.flatnonzero(np.bincount(keys))


def _spread(distinct: np.ndarray, values, keys: np.ndarray) -> np.ndarray:
    """The value of each key, values being those of the distinct keys."""
    lookup = np.zeros(int(distinct[-1]) + 1 if len(distinct) else 0, dtype=np.int64)
    lookup[distinct] = values
    return lookup[keys]


def _fences(pieces: _Pieces, texts: list[str]) -> np.ndarray:
    """The code fence of each text (fence_for), a literal: a file has a few distinct ones."""
    return np.array([pieces.literal(fence_for(text)) for text in texts], dtype=np.int64)


def _section(pieces: _Pieces, template: str, texts: list[str], **fields: np.ndarray) -> np.ndarray:
    """A section's pieces for each text (its fields filled in), none where the text is empty: the section is left
    out."""
    section = pieces.format(template, **fields)
    section[np.array([not text for text in texts], dtype=bool)] = _EMPTY
    return section


def _documents(pieces: _Pieces, values: dict[str, np.ndarray], currents, steps_start, steps_end) -> pa.Array:
    """The dynamics documents: the opening, each step of the window, the current step, the end. A row's steps fill
    slots of a fixed width, the current one in the slot after them; the slots past it stay empty."""
    step_counts = (steps_end - steps_start)[:, None]
    slots = np.arange(int(step_counts.max(initial=0)) + 1)
    step_rows = np.where(slots < step_counts, steps_start[:, None] + slots, currents[:, None]).ravel()
    steps = pieces.format(DOCUMENT_TURN, action=values["action"][step_rows],
                          observation=values["observation"][step_rows])
    steps[(slots > step_counts).ravel()] = _EMPTY
    opening = pieces.format(DOCUMENT_OPENING, domain=values["domain"], instruction=values["instruction"],
                            state=values["state"])
    end = np.full((len(currents), 1), pieces.literal(DOCUMENT_END))
    return pieces.column(np.hstack((opening, steps.reshape(len(currents), steps.shape[1] * len(slots)), end)))


def _episode_table(pieces: _Pieces, values: dict[str, np.ndarray], curated: pa.Table, current_rows: list[dict],
                   currents: np.ndarray, max_chars: int) -> pa.Table:
    """The episode layout's stage 1 table of the current rows: a row per document, named by its first transition."""
    firsts = np.flatnonzero(document_starts(current_rows, max_chars))
    states = pieces.values([current_rows[first].get("state_text") or "" for first in firsts.tolist()])
    text = _episode_documents(pieces, values, currents, firsts, states)
    common = [curated.column(name).take(firsts) for name in ("id", "domain", "episode_id", "step")]
    return pa.Table.from_arrays([*common, text, curated.column("task_group").take(firsts)], schema=STAGE1_SCHEMA)


def _episode_documents(pieces: _Pieces, values: dict[str, np.ndarray], currents, firsts, states) -> pa.Array:
    """The documents of runs of current rows, the runs beginning at `firsts`: the opening (the domain and task of
    the run's first row, and `states`), each row's step, the end. Their pieces are laid out as lines of one width,
    a document's lines in turn: its opening, a line per step, its end."""
    documents, steps = len(firsts), len(currents)
    openings = pieces.format(DOCUMENT_OPENING, domain=values["domain"][firsts],
                             instruction=values["instruction"][firsts], state=states)
    turns = pieces.format(DOCUMENT_TURN, action=values["action"][currents],
                          observation=values["observation"][currents])
    ends = np.full((documents, 1), pieces.literal(DOCUMENT_END))
    width = _widest(DOCUMENT_OPENING, DOCUMENT_TURN, DOCUMENT_END)
    lines = np.vstack([np.pad(part, ((0, 0), (0, width - part.shape[1])), constant_values=_EMPTY)
                       for part in (openings, turns, ends)])
    begins = np.zeros(steps, dtype=bool)
    begins[firsts] = True
    document = np.cumsum(begins) - 1  # of each step
    lasts = np.append(firsts[1:], steps) - 1
    # The lines in document order, by their index in `lines`: a document's lines come after the steps of the
    # documents before it and their 2 lines each (opening, end).
    order = np.empty(steps + 2 * documents, dtype=np.int64)
    order[firsts + 2 * np.arange(documents)] = np.arange(documents)
    order[np.arange(steps) + 2 * document + 1] = documents + np.arange(steps)
    order[lasts + 2 * np.arange(documents) + 2] = documents + steps + np.arange(documents)
    return pieces.joined(lines[order].ravel(), (lasts - firsts + 3) * width)


def _format_spans(spans: _Spans) -> pa.Array:
    """split_spans's format spans over a column: each row's spans in order, a missing kind made "volatile", no
    spans an empty list. Most columns are all that already: then the column itself, as a list array without
    nulls."""
    kinds = spans.column.flatten().field("kind")
    if spans.order is None and not kinds.null_count and not np.any(pc.binary_length(kinds).to_numpy() == 0) \
            and not _holds_null_lists_with_values(spans.column):
        return pa.ListArray.from_arrays(spans.column.offsets, spans.column.values, type=pa.list_(SPAN))
    if spans.order is not None:
        kinds = kinds.take(spans.order)
    kinds = pc.if_else(pc.fill_null(pc.equal(kinds, ""), True), "volatile", kinds)
    return pa.ListArray.from_arrays(
        pa.array(_list_offsets(np.bincount(spans.owners, minlength=len(spans.column)))),
        pa.StructArray.from_arrays([pa.array(spans.starts, pa.int32()), pa.array(spans.ends, pa.int32()), kinds],
                                   fields=list(SPAN)), type=pa.list_(SPAN))


def _holds_null_lists_with_values(column: pa.ListArray) -> bool:
    """Whether a null list of the column spans values (Arrow allows it): its offsets would not make it empty."""
    if not column.null_count:
        return False
    return bool(np.any(np.diff(column.offsets.to_numpy())[column.is_null().to_numpy(zero_copy_only=False)]))


def _exact_spans(spans: _Spans) -> pa.Array:
    """The stretches outside the sorted spans: before each span that starts past the ones before it, and after
    the last. A row's cursor is the furthest end so far (spans may overlap)."""
    owners, starts, ends, lengths = spans.owners, spans.starts, spans.ends, spans.lengths
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
         pa.repeat("exact", len(order))], fields=list(SPAN))
    return pa.ListArray.from_arrays(pa.array(_list_offsets(np.bincount(gap_owners, minlength=rows))), values,
                                    type=pa.list_(SPAN))
