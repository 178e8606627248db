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

build_stage_rows makes one transition's rows, episode_documents the episode layout's stage 1 rows; build_stage_tables
makes the same rows for many transitions at once, as Arrow tables (what curation writes), from the same formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral
from operator import itemgetter
from string import Formatter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.stages import MESSAGE, SPAN, STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from transforms import _stages
from transforms.prompts import (ACTION_SECTION, ANSWER_TAG, DOMAINS, GENERIC, INSTRUCTION_SECTION, STATE_SECTION,
                                TURN_HEADER, action_block, plugin_domains, system_prompt, turn_prompt)
from transforms.copied_values import IDENTIFIER_KINDS, copied_spans
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


class StageTextTooLarge(ValueError):
    """The stage texts of the rows asked for at once do not fit in one Arrow string array (2 GiB)."""


# An Arrow string array's offsets are int32.
MAX_COLUMN_BYTES = np.iinfo(np.int32).max


# The formats of the pieces of stage text: str.format fields named after the row values between literal parts. The
# one-row helpers below fill them in; build_stage_tables splits them into pieces (_Pieces.format) and joins the
# pieces of all rows at once. A chat's user turns are transforms/prompts.py's TURN_HEADER and sections.
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


def reasoned_answer(trace: str, reference: str) -> str:
    """Stage 2's target: the reasoning trace, then the answer."""
    return REASONED_ANSWER.format(trace=trace, observation=reference)


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
    replays showed another outcome (stage3_left_out)."""
    check_window(window)
    record = str(current.get("id"))
    check_keys(current)
    reference = current.get("next_text") or ""
    exact_spans, format_spans = split_spans(reference, current.get("next_volatile_spans"), record, _shown(current))
    steps = _window(history, current, window)
    prompt = _conversation(steps, current)
    common = {"id": record, "domain": current["domain"], "episode_id": current.get("episode_id"),
              "step": current["step"]}
    stage1 = {**common, "text": _document(steps, current)}
    stage2 = {**common, "messages": prompt, "target": reasoned_answer(trace, reference),
              "reasoning_source": reasoning_source}
    stage3 = {**common, "prompt": prompt, "reference": reference, "exact_spans": exact_spans,
              "format_spans": format_spans, "rubric_id": rubric_id(current["domain"])}
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
            "step": first["step"], "text": "".join([opening, *turns, DOCUMENT_END])}


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


# ---- a file's stage rows at once, as Arrow tables --------------------------------------------------------------
# A stage text is written straight into its Arrow column from its pieces (transforms/_stages.c): the literal parts of
# its format and the row values between them, each held once in a pool. A row's action and observation are part of
# up to `window` + 1 windows; they are copied into each text, never made into a str of their own.

_ROLES = pa.array(["system", "user", "assistant"])
_SYSTEM, _USER, _ASSISTANT = range(3)
_EMPTY = 0  # the pool's empty piece: it pads a text of fewer pieces than the others of its column


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
    target = pieces.column(pieces.format(REASONED_ANSWER, trace=pieces.values([traces[k] for k in built.tolist()]),
                                         observation=values["observation"][currents]))
    reference = pc.fill_null(curated.column("next_text"), "")
    exact_spans, format_spans = _exact_spans(spans), _format_spans(spans)
    common = {name: curated.column(name) for name in ("id", "domain", "episode_id", "step")}
    rubrics = {domain: rubric_id(domain) for domain in set(domains)}
    if stage1_layout == EPISODE:
        stage1 = _episode_table(pieces, values, curated, current_rows, currents, max_document_chars)
    else:
        stage1 = pa.Table.from_arrays([*common.values(), _documents(pieces, values, currents, steps_start,
                                                                    steps_end)], schema=STAGE1_SCHEMA)
    stage2 = pa.Table.from_arrays([*common.values(), messages, target,
                                   pa.repeat(reasoning_source, len(built))], schema=STAGE2_SCHEMA)
    stage3 = pa.Table.from_arrays([*common.values(), messages, reference, exact_spans, format_spans,
                                   pa.array([rubrics[domain] for domain in domains], pa.string())],
                                  schema=STAGE3_SCHEMA)
    left_out = [(position, reason) for position, row in enumerate(current_rows) if (reason := stage3_left_out(row))]
    if left_out:
        keep = np.ones(len(current_rows), dtype=bool)
        keep[[position for position, _ in left_out]] = False
        stage3 = stage3.filter(pa.array(keep))
    return StageTables(built, stage1, stage2, stage3, errors, left_out)


@lru_cache(maxsize=None)
def _split_format(template: str) -> tuple[tuple[str, str | None], ...]:
    """(literal, field) pairs of a format, in order: str.format's own parse."""
    return tuple((literal, field) for literal, field, _, _ in Formatter().parse(template))


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


@lru_cache(maxsize=None)
def _literal_chars(template: str) -> int:
    return sum(len(literal) for literal, _ in _split_format(template))


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


_IDENTIFIER_KINDS = pa.array(sorted(IDENTIFIER_KINDS), pa.string())


def _without_copied(spans: _Spans, current_rows: list[dict]) -> _Spans:
    """spans less those copied_spans finds in their rows' prompts (split_spans's exact spans). Only the spans that
    may be copied (an identifier kind, of any length: a short one may stand on a line the prompt shows whole) are
    made into dicts and looked for, their rows' alone: most rows have none. Each dict carries its span's position in
    spans ("at") through copied_spans, which returns the dicts it is given."""
    kinds = spans.column.flatten().field("kind")
    if spans.order is not None:
        kinds = kinds.take(spans.order)
    candidates = np.flatnonzero(pc.is_in(kinds, value_set=_IDENTIFIER_KINDS).to_numpy(zero_copy_only=False))
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
    content[firsts + 1, columns[0]:columns[1]] = _section(pieces, INSTRUCTION_SECTION, "instruction",
                                                          [row.get("instruction") or "" for row in current_rows])
    states = [rows[position].get("state_text") or "" for position in openings.tolist()]
    content[firsts + 1, columns[1]:columns[2]] = _section(pieces, STATE_SECTION, "state", states)
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


def _section(pieces: _Pieces, template: str, field: str, texts: list[str]) -> np.ndarray:
    """A section's pieces for each text, none where the text is empty: the section is left out."""
    section = pieces.format(template, **{field: pieces.values(texts)})
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
    return pa.Table.from_arrays([*common, text], schema=STAGE1_SCHEMA)


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
