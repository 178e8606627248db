"""The curation PTransform: raw transition files -> curated transitions, three training stages, dedupe list and
dead letters. `Curate.expand` only composes; each step is a small DoFn over a pure function.

    paths -> Keys (read, validate, normalize, mask, sketch) --(LSH buckets)--> Dedupe ------> removed ids --+
                                                           +--(ids)------> IdCollisions --> repeated ids --+
                                                                                                           |
    paths -> CurateFiles (read, validate, normalize, mask, one episode at a time) <--- side inputs ---------+
                 -> transitions, stage1..3, dedupe list, dead letters

Each raw file is read twice. Only light records (bucket key, id, hash, 256-byte sketch) are ever shuffled; full
rows stay in the worker that read them, one file's rows at a time (a Parquet file is one episode), so memory grows
with the number of ids, not with the bytes of the collection. The side inputs hold only the removed ids and the
ids read more than once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections import defaultdict
from functools import lru_cache

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.fileio import EmptyMatchTreatment

from schemas.validate import record_id
from transforms import dedupe, masking, stats
from transforms.io import dead_letter, is_hidden, raw_file_patterns
from transforms.normalize import NormalizeError, normalize_observation
from transforms.validate import DEAD_LETTER, Rejected, read_valid_rows

BUCKETS = "buckets"
STAGE_TAGS = ("stage1", "stage2", "stage3")
DUPLICATES = "duplicates"


@dataclass(frozen=True)
class CurateOptions:
    near_dup: dedupe.NearDupOptions = dedupe.NearDupOptions()
    reasoning: str = "grounded"
    reasoning_options: dict = field(default_factory=dict)
    reasoning_batch: int = 32  # rows per synthesizer call: an LLM synthesizer batches its requests


# ---- pure functions -------------------------------------------------------------------------------------------

def curated_row(row: dict) -> dict:
    """A valid raw row -> a curated-transition dict (CURATED_TRANSITION_SCHEMA) without spans and hash yet.
    Raises NormalizeError naming the observation that cannot be rendered."""
    task, action = row.get("task") or {}, row["action"]
    provenance = row.get("provenance") or {}
    state = row.get("state")
    return {
        "id": record_id(row),
        "episode_id": row["episode_id"],
        "step": row["step"],
        "domain": row["domain"],
        "task_id": task.get("id"),
        "instruction": task.get("instruction"),
        "action_kind": action.get("kind"),
        "action_text": action.get("text") or action.get("arguments_json") or "",
        "state_text": _normalized(state) if state is not None else "",
        "next_text": _normalized(row["next_observation"]),
        "done": row.get("done"),
        "error": row.get("error"),
        "perturbations": row.get("perturbations") or [],
        "collector": provenance.get("collector"),
        "stand_in": provenance.get("stand_in"),
        # Not a column of the curated table: the reasoning synthesizer reads exit status and url from it.
        "next_meta_json": row["next_observation"].get("meta_json"),
    }


def _normalized(observation: dict) -> str:
    raw = observation.get("raw")
    return _normalize_cached(observation.get("raw_format"), bytes(raw) if raw else None, observation.get("meta_json"),
                             observation.get("text"))


# A state is the previous step's next observation, so rows read in order hit this cache for every state.
@lru_cache(maxsize=256)
def _normalize_cached(raw_format, raw, meta_json, text) -> str:
    return normalize_observation({"raw_format": raw_format, "raw": raw, "meta_json": meta_json, "text": text})


def with_volatile_spans(row: dict) -> tuple[dict, str]:
    """Add next_volatile_spans and content_hash; return the row and the masked text the sketch is made from."""
    _, state_masked = masking.mask(row["state_text"])
    spans, next_masked = masking.mask(row["next_text"])
    row["next_volatile_spans"] = spans
    row["content_hash"] = dedupe.hash_text(state_masked, row["action_text"], next_masked)
    return row, f"{state_masked}\n{row['action_text']}\n{next_masked}"


def prepared_rows(path: str, count: bool = True):
    """One raw file -> (source, position, curated row with spans and hash, masked text), or Rejected."""
    for item in read_valid_rows(path, count):
        if isinstance(item, Rejected):
            yield item
            continue
        source, position, row = item
        try:
            curated = curated_row(row)
        except NormalizeError as exc:
            if count:
                stats.count(stats.DEAD, row["domain"], "normalize")
            yield Rejected(dead_letter(record_id(row), source, "normalize", str(exc), row))
            continue
        curated, masked_text = with_volatile_spans(curated)
        yield source, position, curated, masked_text


def resolve_bucket(element, options: dedupe.NearDupOptions):
    key, members = element
    first_band = key[:2] == b"\x00\x00"
    for member_id, kind, duplicate_of in dedupe.resolve_bucket(members, options, report_exact=first_band):
        yield member_id, (kind, duplicate_of)


def id_collisions(element):
    """Every copy of one id -> ((source, position), same content?) for each copy but the first. The copy with the
    smallest content hash is the one kept; a later copy with the same content is its exact duplicate, one with
    other content a conflict."""
    _, copies = element
    copies = sorted(copies)
    for content_hash, source, position in copies[1:]:
        yield (source, position), content_hash == copies[0][0]


# ---- DoFns ----------------------------------------------------------------------------------------------------

class KeysFn(beam.DoFn):
    """file path -> LSH bucket entries (`buckets` output) and (id, (content_hash, source, position)): all dedupe
    needs, without the rows. Counts nothing: CurateFilesFn reads the same file again and counts it."""

    def __init__(self, options: dedupe.NearDupOptions):
        self.options = options

    def process(self, path: str):
        for item in prepared_rows(path, count=False):
            if isinstance(item, Rejected):
                continue
            source, position, row, masked_text = item
            signature = dedupe.signature(masked_text, self.options)
            member = (row["id"], row["content_hash"], dedupe.sketch(signature))
            for key in dedupe.band_keys(signature, self.options, row["action_text"]):
                yield beam.pvalue.TaggedOutput(BUCKETS, (key, member))
            yield row["id"], (row["content_hash"], source, position)


class CurateFilesFn(beam.DoFn):
    """file path + removed ids + repeated ids -> kept transitions, stage rows, dedupe list, dead letters. Rows are
    grouped by episode within the file (a Parquet file holds one episode; a JSONL drop may hold several)."""

    def __init__(self, options: CurateOptions):
        self.options = options

    def setup(self):
        from transforms.reasoning import make_synthesizer
        self.synthesizer = make_synthesizer(self.options.reasoning, **self.options.reasoning_options)

    def process(self, path: str, removed: dict, collisions: dict):
        episodes = defaultdict(list)
        for item in prepared_rows(path):
            if isinstance(item, Rejected):
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, item.letter)
                continue
            source, position, row, _ = item
            episodes[row["episode_id"]].append((source, position, row))
        for rows in episodes.values():
            yield from self._episode(rows, removed, collisions)

    def _episode(self, rows, removed, collisions):
        from transforms.stages import build_stage_rows

        rows.sort(key=lambda item: (item[2]["step"], item[2]["content_hash"]))
        history = [row for _, _, row in rows]
        kept, history_end = [], {}
        for index, (source, position, row) in enumerate(rows):
            history_end[row["id"]] = index
            decision = removed.get(row["id"])
            if decision is None:
                same_content = collisions.get((source, position))
                if same_content is False:
                    stats.count(stats.DEAD, row["domain"], "dedupe")
                    yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                        row["id"], "", "dedupe", "another record with the same id and different content was read",
                        row))
                    continue
                if same_content:
                    decision = (dedupe.EXACT, row["id"])
            if decision is None:
                kept.append(row)
                continue
            kind, duplicate_of = decision
            stats.count(stats.EXACT if kind == dedupe.EXACT else stats.NEAR, row["domain"])
            yield beam.pvalue.TaggedOutput(DUPLICATES, {
                "id": row["id"], "duplicate_of": duplicate_of, "kind": kind, "domain": row["domain"],
                "episode_id": row["episode_id"], "content_hash": row["content_hash"]})
        for start in range(0, len(kept), self.options.reasoning_batch):
            batch = kept[start:start + self.options.reasoning_batch]
            for row, trace in zip(batch, self.synthesizer.traces(batch)):
                yield from self._emit(row, history[:history_end[row["id"]]], trace, build_stage_rows)

    def _emit(self, row, history, trace, build_stage_rows):
        if isinstance(trace, Exception):
            stats.count(stats.DEAD, row["domain"], "reasoning")
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(row["id"], "", "reasoning", str(trace),
                                                                    row))
            return
        try:
            stage_rows = build_stage_rows(history, row, trace, reasoning_source=self.options.reasoning)
        except Exception as exc:  # noqa: BLE001 - a row builder failure is dead-lettered with its reason
            stats.count(stats.DEAD, row["domain"], "stages")
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(row["id"], "", "stages",
                                                                    f"{type(exc).__name__}: {exc}", row))
            return
        stats.count(stats.OUT, row["domain"])
        yield row
        for tag, stage_row in zip(STAGE_TAGS, stage_rows):
            yield beam.pvalue.TaggedOutput(tag, stage_row)


# ---- composites -----------------------------------------------------------------------------------------------

class RawFilePaths(beam.PTransform):
    """A collection folder (local or gs://) -> the paths of its raw transition files, spread over workers."""

    def __init__(self, input_dir: str):
        super().__init__()
        self.input_dir = input_dir

    def expand(self, pipeline):
        return (pipeline
                | "Patterns" >> beam.Create(raw_file_patterns(self.input_dir))
                | "Match" >> fileio.MatchAll(EmptyMatchTreatment.ALLOW)
                | "Paths" >> beam.FlatMap(lambda meta: [] if is_hidden(meta.path) else [meta.path])
                | "Spread" >> beam.Reshuffle())


class Dedupe(beam.PTransform):
    """Sketch bucket entries -> (id, (kind, duplicate_of)) for every removed transition."""

    def __init__(self, options: dedupe.NearDupOptions):
        super().__init__()
        self.options = options

    def expand(self, buckets):
        return (buckets
                | "GroupBuckets" >> beam.GroupByKey()
                | "ResolveBuckets" >> beam.FlatMap(resolve_bucket, self.options)
                | "OneDecisionPerId" >> beam.CombinePerKey(dedupe.decide))


class Curate(beam.PTransform):
    """Pipeline root -> dict of PCollections: transitions, stage1..3, dedupe, dead_letter."""

    def __init__(self, input_dir: str, options: CurateOptions = CurateOptions()):
        super().__init__()
        self.input_dir = input_dir
        self.options = options

    def expand(self, pipeline):
        paths = pipeline | "ReadRaw" >> RawFilePaths(self.input_dir)
        keys = paths | "Keys" >> beam.ParDo(KeysFn(self.options.near_dup)).with_outputs(BUCKETS, main="ids")
        removed = keys[BUCKETS] | "Dedupe" >> Dedupe(self.options.near_dup)
        collisions = (keys.ids
                      | "GroupIds" >> beam.GroupByKey()
                      | "IdCollisions" >> beam.FlatMap(id_collisions))
        built = paths | "CurateFiles" >> beam.ParDo(
            CurateFilesFn(self.options), removed=beam.pvalue.AsDict(removed),
            collisions=beam.pvalue.AsDict(collisions)).with_outputs(DEAD_LETTER, DUPLICATES, *STAGE_TAGS,
                                                                    main="transitions")
        return {"transitions": built.transitions, "dedupe": built[DUPLICATES], "dead_letter": built[DEAD_LETTER],
                **{tag: built[tag] for tag in STAGE_TAGS}}
