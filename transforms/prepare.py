"""One raw file -> its curated rows before dedupe: validated, normalized, masked, hashed and sketched.

Pure functions: the Beam step (transforms.curate.PrepareFn) reads chunks with transforms.validate.read_valid_chunks,
hands one or several (small ones merged) to `prepare_chunk`, writes the rows and the sketches where the later steps
read them and sends the dedupe keys on.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from schemas.render import without_surrogates
from schemas.validate import record_id
from transforms import dedupe, masking, replay, stats
from transforms.redact import Redactions
from transforms.io import dead_letter, read_parquet_rows
from transforms.normalize import NormalizeError, normalize_observation
from transforms.validate import Rejected, read_valid_chunks, recorded_at


# Longest normalized observation (state or next) a transition may have to be curated, in characters (~25k tokens):
# a longer one is dead-lettered, not clipped, since a clipped target would teach the model to predict the clip.
MAX_OBSERVATION_CHARS = 100_000
REPLAY_TEXTS = "replay_texts"  # a curated row's key until with_masks: its replays' normalized next observations
# A JSON escape of a UTF-16 surrogate: only a meta_json holding one can parse to a str that is not valid Unicode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# Raw schema versions before task.group (schemas/version.py): their rows' task_group is the task id.
GROUPLESS_VERSIONS = frozenset({"1.0", "1.1"})


class ObservationTooLarge(ValueError):
    def __init__(self, which: str, chars: int, cap: int):
        super().__init__(f"the {which} is {chars:,} characters after normalizing, more than "
                         f"--max-observation-chars {cap:,} (raise it, or 0 for no cap, to keep it)")


class FromStandIn(ValueError):
    """A transition recorded from a stand-in for the real environment (the Android replay device): it tests the
    collector's code, but its next observation is a recording, not what the environment did, so it is kept out of
    training shards unless asked for."""
    stage = "stand_in"

    def __init__(self, stand_in: str):
        super().__init__(f"recorded from a stand-in environment ({stand_in}), not a real one: kept out of the "
                         "training shards (curate with --keep-stand-ins to include it)")


@dataclass
class PreparedFile:
    # Curated-transition dicts plus where each came from (source, position), in file order.
    rows: list[dict] = field(default_factory=list)
    band_keys: np.ndarray | None = None  # uint64 [rows, bands]
    sketches: np.ndarray | None = None  # uint8 [rows, num_perm]: only near-duplicate candidates' are ever read
    changes: list[bytes] = field(default_factory=list)  # dedupe.change_signature of each row, read as sketches are
    letters: list[dict] = field(default_factory=list)  # dead letters


def curated_row(row: dict, max_chars: int = MAX_OBSERVATION_CHARS) -> dict:
    """A valid raw row -> a curated-transition dict (CURATED_TRANSITION_SCHEMA) without spans and hash yet.
    Raises NormalizeError naming the observation that cannot be rendered, ObservationTooLarge naming the one longer
    than max_chars (0: no limit)."""
    task, action = row.get("task") or {}, row["action"]
    action_text = action.get("text")
    provenance = row.get("provenance") or {}
    next_observation, state = row["next_observation"], row.get("state")
    state_text = _state_text(state)
    next_text = normalize_observation(next_observation)
    _previous.pair = next_observation, next_text
    if max_chars:
        for which, text in (("next observation", next_text), ("state", state_text)):
            if len(text) > max_chars:
                raise ObservationTooLarge(which, len(text), max_chars)
    return {
        "id": record_id(row),
        "episode_id": row["episode_id"],
        "step": row["step"],
        "domain": row["domain"],
        "task_id": task.get("id"),
        "task_group": task.get("group") or task.get("id"),
        "instruction": task.get("instruction"),
        "action_kind": action.get("kind"),
        # Only a null text falls back: an empty one is the action as the domain writes it (an empty line).
        "action_text": action_text if action_text is not None else action.get("arguments_json") or "",
        "state_text": state_text,
        "next_text": next_text,
        "done": row.get("done"),
        "error": row.get("error"),
        "perturbations": row.get("perturbations") or [],
        "collector": provenance.get("collector"),
        "stand_in": provenance.get("stand_in"),
        # The reasoning synthesizer reads exit status and url from it.
        "next_meta_json": _valid_meta_json(next_observation.get("meta_json")),
        # An android trace compares it with next_meta_json: which app and activity were in front before.
        "state_meta_json": _valid_meta_json(state.get("meta_json")) if state is not None else None,
        "action_started_at": _microseconds(recorded_at(row)),
        # Read by with_masks, which removes it.
        REPLAY_TEXTS: _replay_texts(row.get("replay_observations")),
    }


def _valid_meta_json(meta_json: str | None) -> str | None:
    """meta_json as written, unless it escapes a lone UTF-16 surrogate (`"\\ud83d"`, as a server's text quoted in
    a client_error may): then the same JSON with each such surrogate as U+FFFD, as the renderers show one
    (schemas.render.without_surrogates). The escape itself is valid text, but the reasoning synthesizer parses the
    meta and quotes its values into a trace, whose lone surrogate no UTF-8 writer takes: it ended the whole run."""
    if not meta_json or "\\u" not in meta_json or not _SURROGATE_ESCAPE.search(meta_json):
        return meta_json
    try:
        value = json.loads(meta_json)
    except (ValueError, RecursionError):
        return meta_json  # normalize dead-letters a meta_json that is not JSON, with its reason
    # ensure_ascii=False writes each lone surrogate as itself, for without_surrogates to find; pairs parse as one
    # character, so a meta_json holding only pairs is kept as written.
    text = json.dumps(value, ensure_ascii=False)
    repaired = without_surrogates(text)
    return meta_json if repaired is text else repaired


def _microseconds(seconds: float | None) -> int | None:
    """Epoch seconds (recorded_at divides the raw microseconds) -> those microseconds again, as Arrow takes a
    timestamp[us]. Whole seconds apart: round(seconds * 1e6) adds the product's own rounding to the division's and
    is a microsecond off for some times from 2106 on; the fraction alone is exact until 2242, where the division's
    error (half a double's spacing, times 1e6) reaches half a microsecond."""
    if seconds is None:
        return None
    whole = int(seconds)
    return whole * 1_000_000 + round((seconds - whole) * 1_000_000)


def _replay_texts(replays: list[dict] | None) -> list[str]:
    """The normalized next observations of a row's replays; one that cannot be rendered is left out (it says
    nothing about which spans vary, and the recorded observation itself rendered)."""
    texts = []
    for replay in replays or ():
        try:
            texts.append(normalize_observation(replay))
        except NormalizeError:
            continue
    return texts


class _PreviousObservation(threading.local):
    """(next observation, its text) of the row this thread curated last: per thread, as a worker's threads each
    curate their own rows in order, and one thread's pair must never be read half replaced by another's. One
    attribute: a thread-local's are slower to reach than a plain object's."""
    pair: tuple[dict | None, str] = (None, "")


_previous = _PreviousObservation()


def _state_text(state: dict | None) -> str:
    """A state is usually the previous row's next observation (rows are read in episode order): found so first (the
    same dict, as transforms.validate.curation_rows reads a long table, or dict ==, whose raw bytes compare by length
    then memcmp), it reuses that text, the same str object, without rendering it again or hashing its raw bytes for
    a cache key."""
    if state is None:
        return ""
    observation, text = _previous.pair
    if state is observation or state == observation:
        return text
    return normalize_observation(state)


def with_masks(rows: list[dict], recorded_times: list[float | None] | None = None) -> list[tuple[str, str, str]]:
    """Add next_volatile_spans and content_hash to curated rows; return each row's sketch parts: the masked state,
    the action and the masked next observation. Each text is masked once, all in one masking.mask_many call (it
    scans many texts per rule): a state that is the previous row's next text (the same object, see _state_text)
    takes that text's mask, so its masked state is the very str of the previous row's masked next observation,
    which minhash.union_signatures and dedupe.change_signatures find again by identity. `recorded_times`: when each
    row's action started (epoch seconds, None if unknown): a full date far from it is content, not a clock reading
    (masking.without_distant_dates). A state equal to the next text of its episode's previous step elsewhere in
    `rows` (rows out of step order: a JSONL file, another tool's Parquet) takes that mask too, so the masked state,
    and with it the content hash, does not depend on the order of the rows."""
    texts, state_indexes, next_indexes, owners, previous_next, apart = [], [], [], [], None, []
    for index, row in enumerate(rows):
        if row["state_text"] is not previous_next:
            texts.append(row["state_text"])
            owners.append(index)
            if row["step"]:
                apart.append(index)
        state_indexes.append(len(texts) - 1)
        previous_next = row["next_text"]
        next_indexes.append(len(texts))
        texts.append(previous_next)
        owners.append(index)
    if apart:
        _share_previous_steps(rows, apart, state_indexes, next_indexes)
    masks = masking.mask_many(texts)
    if recorded_times is not None:
        # Looked up once a chunk; a text with no span (half of a real collection's) has nothing it could drop.
        without_distant_dates = masking.without_distant_dates
        for position, (text, owner) in enumerate(zip(texts, owners)):
            spans = masks[position][0]
            if spans and (kept := without_distant_dates(text, spans, recorded_times[owner])) is not spans:
                masks[position] = kept, masking.masked(text, kept)
    for row, next_index in zip(rows, next_indexes):
        replay_texts = row.pop(REPLAY_TEXTS, None)
        if replay_texts:
            # The next text's mask, which the next step's state shares: a value a replay showed differently is
            # masked in both, as a rule span would be.
            masks[next_index] = _with_replays(row, texts[next_index], masks[next_index], replay_texts)
    parts = []
    for row, state_index, next_index in zip(rows, state_indexes, next_indexes):
        state_masked = masks[state_index][1]
        row["next_volatile_spans"], next_masked = masks[next_index]
        conditions = dedupe.conditions_text(row["perturbations"], row["error"])
        row["content_hash"] = dedupe.hash_text(state_masked, row["action_text"], next_masked, conditions)
        parts.append((state_masked, row["action_text"], next_masked))
    return parts


def _share_previous_steps(rows: list[dict], apart: list[int], state_indexes: list[int],
                          next_indexes: list[int]) -> None:
    """Point each row of `apart` (a state not right after its previous step's row) at its previous step's next
    text, where that row is in `rows` (the first of them, if an id repeats) and its next text equals the state; the
    row's own state text is then masked but unused. Rows in step order rarely call this: `apart` then holds only
    the steps whose state is not the previous step's next observation."""
    previous: dict[tuple, list[int]] = {}
    for index, row in enumerate(rows):
        previous.setdefault((row["episode_id"], row["step"] + 1), []).append(index)
    for index in apart:
        row = rows[index]
        for candidate in previous.get((row["episode_id"], row["step"]), ()):
            if rows[candidate]["next_text"] == row["state_text"]:
                state_indexes[index] = next_indexes[candidate]
                break


def _with_replays(row: dict, text: str, mask: tuple[list[dict], str], replay_texts: list[str]
                  ) -> tuple[list[dict], str]:
    ranges = replay.replay_spans(text, replay_texts)
    outcome = replay.other_outcome(text, replay_texts)
    if outcome:
        row[replay.OTHER_OUTCOME] = outcome
    rule_spans = mask[0] if ranges is None else replay.without_reproduced_values(mask[0], text, ranges)
    spans = replay.with_replay_spans(rule_spans, ranges or [])
    # How often replays find what the rules did not: the measure of the rules' misses.
    found = (stats.REPLAY_DIVERGED if ranges is None else stats.REPLAY_BEYOND_RULES if spans is not rule_spans
             else stats.REPLAY_BY_RULES if ranges else None)
    stats.count(stats.REPLAYED, row["domain"], found)
    if rule_spans is not mask[0]:
        _count_unmasked(mask[0], rule_spans)
    return (spans, masking.masked(text, spans)) if spans is not mask[0] else mask


# The stats detail that counts a kind's rule spans a replay showed to be constant (transforms.replay).
_UNMASKED_DETAIL = {"hex_id": stats.REPLAY_CONSTANT_IDS, "uuid": stats.REPLAY_CONSTANT_IDS,
                    "byte_size": stats.REPLAY_CONSTANT_SIZES}


def _count_unmasked(spans: list[dict], kept: list[dict]) -> None:
    kept_ids = {id(span) for span in kept}
    unmasked = Counter(_UNMASKED_DETAIL[span["kind"]] for span in spans if id(span) not in kept_ids)
    for detail, count in unmasked.items():
        stats.count_detail(stats.REPLAYED, detail, count)


def _normalize_letters(failed: list[tuple[str, int, dict, ValueError]], count: bool) -> list[Rejected]:
    """The dead letters of rows whose observations cannot be rendered, each with the full raw row: valid Parquet rows
    were read without the columns curation ignores, so their row groups are read again, each once per chunk. A row
    whose row group cannot be read whole keeps the columns read."""
    partial: dict[str, list[int]] = {}
    for source, position, row, _ in failed:
        if "timings" not in row and source.endswith(".parquet"):
            partial.setdefault(source, []).append(position)
    whole = {(source, position): row for source, positions in partial.items()
             for position, row in read_parquet_rows(source, positions).items()}
    letters = []
    for source, position, row, exc in failed:
        stage = getattr(exc, "stage", "normalize")
        if count:
            stats.count(stats.DEAD, row["domain"], stage)
        letters.append(Rejected(dead_letter(record_id(row), source, stage, str(exc),
                                            whole.get((source, position), row))))
    return letters


def _redact(rows: list[dict], redactions: Redactions, count: bool) -> None:
    """A chunk's curated rows redacted in place (curate --redact), counted per domain at once."""
    counts = redactions.rows(rows, REPLAY_TEXTS)
    if count:
        for domain, (redacted, matches) in counts.items():
            stats.count(stats.REDACTED, domain, records=redacted)
            stats.count(stats.REDACTED_MATCHES, domain, records=matches)


def _grouped_by_task(row: dict) -> bool:
    """Whether a row's task_group is its task id because its record predates task.group. A 1.2 record without
    a group is not counted: 1.2 collectors always write one (the task id itself for terminal tasks)."""
    task = row.get("task") or {}
    return row.get("schema_version") in GROUPLESS_VERSIONS and not task.get("group") and bool(task.get("id"))


def _count_versions(versions: Counter, grouped_by_task: Counter) -> None:
    """A chunk's rows by raw schema version, and its rows grouped by task id per domain, into the run's counters:
    per chunk, not per row (a counter update costs a few microseconds)."""
    for version, rows in versions.items():
        stats.count_detail(stats.INPUT_VERSIONS, str(version), rows)
    for domain, rows in grouped_by_task.items():
        stats.count(stats.GROUP_FROM_TASK_ID, domain, records=rows)


def prepared_rows(path: str, count: bool = True, max_chars: int = MAX_OBSERVATION_CHARS,
                  keep_stand_ins: bool = False, redactions: Redactions | None = None):
    """One raw file -> (source, position, curated row with spans and hash, masked parts), or Rejected."""
    for chunk in read_valid_chunks(path, count):
        yield from _prepared(chunk, count, max_chars, keep_stand_ins, redactions)


def _prepared(items, count: bool = True, max_chars: int = MAX_OBSERVATION_CHARS, keep_stand_ins: bool = False,
              redactions: Redactions | None = None):
    curated, failed, times = [], [], []
    versions, grouped_by_task = Counter(), Counter()
    for item in items:
        if isinstance(item, Rejected):
            yield item
            continue
        source, position, row = item
        versions[row.get("schema_version")] += 1
        try:
            stand_in = None if keep_stand_ins else (row.get("provenance") or {}).get("stand_in")
            if stand_in:
                raise FromStandIn(stand_in)
            curated.append((source, position, curated_row(row, max_chars)))
            times.append(recorded_at(row))
            if _grouped_by_task(row):
                grouped_by_task[row["domain"]] += 1
        except (NormalizeError, ObservationTooLarge, FromStandIn) as exc:
            failed.append((source, position, row, exc))
    if count:
        _count_versions(versions, grouped_by_task)
    yield from _normalize_letters(failed, count)
    if redactions is not None:
        # Before with_masks: spans and the content hash are of the redacted texts.
        _redact([row for _, _, row in curated], redactions, count)
    parts = with_masks([row for _, _, row in curated], times)
    for (source, position, row), row_parts in zip(curated, parts):
        yield source, position, row, row_parts


def prepare_chunk(items: list, options: dedupe.NearDupOptions, max_chars: int = MAX_OBSERVATION_CHARS,
                  keep_stand_ins: bool = False, redactions: Redactions | None = None) -> PreparedFile:
    """Validated items of whole episodes (read_valid_chunks' chunks, one or several) -> their PreparedFile."""
    prepared = PreparedFile()
    parts_per_row, keys = [], []
    for item in _prepared(items, max_chars=max_chars, keep_stand_ins=keep_stand_ins, redactions=redactions):
        if isinstance(item, Rejected):
            prepared.letters.append(item.letter)
            continue
        source, position, row, parts = item
        row["source"], row["position"] = source, position
        prepared.rows.append(row)
        parts_per_row.append(parts)
        # In every LSH key: near duplicates share the action, perturbations and error (dedupe.conditions_text).
        conditions = dedupe.conditions_text(row["perturbations"], row["error"])
        keys.append(row["action_text"] + dedupe.SEPARATOR + conditions if conditions else row["action_text"])
    prepared.band_keys, prepared.sketches = dedupe.file_part_signatures(parts_per_row, keys, options)
    prepared.changes = dedupe.change_signatures(parts_per_row, options.ngram)
    return prepared
