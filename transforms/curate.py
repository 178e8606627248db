"""The curation PTransform: raw transition files -> curated transitions, three training stages, dedupe list and
dead letters. `Curate.expand` only composes; each step is a small DoFn over a pure function.

    files -> Read -> Validate -> Normalize -> Mask -> Sketch --(LSH buckets)--> ResolveBuckets -> decisions
                                                        \\                                          |
                                                         +--------(by episode)---- CoGroupByKey ---+
                                                                                        |
                                                             BuildStages (history window, reasoning trace)

Only the small bucket entries (id, hash, 256-byte sketch) and one episode's rows are ever grouped together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.fileio import EmptyMatchTreatment

from schemas.validate import record_id
from transforms import dedupe, masking, stats
from transforms.io import dead_letter, is_hidden, raw_file_patterns
from transforms.normalize import NormalizeError, normalize_observation
from transforms.validate import DEAD_LETTER, ReadRawFn, ValidateTransitions

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


def episode_of(transition_id: str) -> str:
    return transition_id.rsplit(":", 1)[0]


# ---- DoFns ----------------------------------------------------------------------------------------------------

class NormalizeFn(beam.DoFn):
    def process(self, element):
        source, _, row = element
        try:
            yield curated_row(row)
        except NormalizeError as exc:
            stats.count(stats.DEAD, row["domain"], "normalize")
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(record_id(row), source, "normalize",
                                                                    str(exc), row))


class SketchFn(beam.DoFn):
    """(row, masked text) -> the row, plus one LSH bucket entry per band on the `buckets` output."""

    def __init__(self, options: dedupe.NearDupOptions):
        self.options = options

    def process(self, element):
        row, masked_text = element
        signature = dedupe.signature(masked_text, self.options)
        member = (row["id"], row["content_hash"], dedupe.sketch(signature))
        for key in dedupe.band_keys(signature, self.options, row["action_text"]):
            yield beam.pvalue.TaggedOutput(BUCKETS, (key, member))
        yield row


def resolve_bucket(element, options: dedupe.NearDupOptions):
    key, members = element
    first_band = key[:2] == b"\x00\x00"
    for member_id, kind, duplicate_of in dedupe.resolve_bucket(members, options, report_exact=first_band):
        yield member_id, (kind, duplicate_of)


class BuildStagesFn(beam.DoFn):
    """One episode's rows and dedupe decisions -> kept transitions, stage rows, dedupe list, dead letters."""

    def __init__(self, options: CurateOptions):
        self.options = options

    def setup(self):
        from transforms.reasoning import make_synthesizer
        self.synthesizer = make_synthesizer(self.options.reasoning, **self.options.reasoning_options)

    def process(self, element):
        from transforms.stages import build_stage_rows

        _, grouped = element
        rows = sorted(grouped["rows"], key=lambda r: (r["step"], r["content_hash"]))
        decisions = dict(grouped["decisions"])
        kept, history_of = [], {}
        history: list[dict] = []
        seen: dict[str, str] = {}
        for row in rows:
            history_of[row["id"]] = list(history)
            history.append(row)
            decision = decisions.get(row["id"])
            if decision is None and row["id"] in seen:
                if seen[row["id"]] != row["content_hash"]:
                    stats.count(stats.DEAD, row["domain"], "dedupe")
                    yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                        row["id"], "", "dedupe", "another record with the same id and different content was read",
                        row))
                    continue
                decision = (dedupe.EXACT, row["id"])
            seen.setdefault(row["id"], row["content_hash"])
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
                yield from self._emit(row, history_of[row["id"]], trace, build_stage_rows)

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

class ReadRawFiles(beam.PTransform):
    """A collection folder (local or gs://) -> (source, position, row) and dead letters for unreadable parts."""

    def __init__(self, input_dir: str):
        super().__init__()
        self.input_dir = input_dir

    def expand(self, pipeline):
        return (pipeline
                | "Patterns" >> beam.Create(raw_file_patterns(self.input_dir))
                | "Match" >> fileio.MatchAll(EmptyMatchTreatment.ALLOW)
                | "Paths" >> beam.FlatMap(lambda meta: [] if is_hidden(meta.path) else [meta.path])
                | "Spread" >> beam.Reshuffle()
                | "Read" >> beam.ParDo(ReadRawFn()).with_outputs(DEAD_LETTER, main="rows"))


class Dedupe(beam.PTransform):
    """Sketch bucket entries -> (episode_id, (id, (kind, duplicate_of))) for every removed transition."""

    def __init__(self, options: dedupe.NearDupOptions):
        super().__init__()
        self.options = options

    def expand(self, buckets):
        return (buckets
                | "GroupBuckets" >> beam.GroupByKey()
                | "ResolveBuckets" >> beam.FlatMap(resolve_bucket, self.options)
                | "OneDecisionPerId" >> beam.CombinePerKey(dedupe.decide)
                | "KeyByEpisode" >> beam.Map(lambda item: (episode_of(item[0]), item)))


class Curate(beam.PTransform):
    """Pipeline root -> dict of PCollections: transitions, stage1..3, duplicates, dead_letter."""

    def __init__(self, input_dir: str, options: CurateOptions = CurateOptions()):
        super().__init__()
        self.input_dir = input_dir
        self.options = options

    def expand(self, pipeline):
        read = pipeline | "ReadRaw" >> ReadRawFiles(self.input_dir)
        validated = read.rows | "Validate" >> ValidateTransitions()
        normalized = validated.valid | "Normalize" >> beam.ParDo(NormalizeFn()).with_outputs(DEAD_LETTER,
                                                                                              main="rows")
        sketched = (normalized.rows
                    | "Mask" >> beam.Map(with_volatile_spans)
                    | "Sketch" >> beam.ParDo(SketchFn(self.options.near_dup)).with_outputs(BUCKETS, main="rows"))
        decisions = sketched[BUCKETS] | "Dedupe" >> Dedupe(self.options.near_dup)
        by_episode = sketched.rows | "RowsByEpisode" >> beam.Map(lambda row: (row["episode_id"], row))
        built = ({"rows": by_episode, "decisions": decisions}
                 | "JoinEpisode" >> beam.CoGroupByKey()
                 | "BuildStages" >> beam.ParDo(BuildStagesFn(self.options)).with_outputs(
                     DEAD_LETTER, DUPLICATES, *STAGE_TAGS, main="transitions"))
        dead = ((read[DEAD_LETTER], validated[DEAD_LETTER], normalized[DEAD_LETTER], built[DEAD_LETTER])
                | "AllDeadLetters" >> beam.Flatten())
        return {"transitions": built.transitions, "dedupe": built[DUPLICATES], "dead_letter": dead,
                **{tag: built[tag] for tag in STAGE_TAGS}}
