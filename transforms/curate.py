"""The curation PTransform: raw transition files -> curated transitions, three training stages, dedupe list and
dead letters. `Curate.expand` only composes; each step is a small DoFn over pure functions (transforms.prepare,
transforms.dedupe, transforms.finish, transforms.stage_tables).

    paths -> Prepare (read, validate, normalize, mask, hash, MinHash; a row group at a time, small ones merged)
               -> a prepared file per chunk (WORK/prepared/) and its sketches (WORK/sketches/), dead letters,
               and the packed dedupe keys, one file per partition and flush (WORK/keys/)
    key files -> GroupByKey(partition) -> Resolve -> exact duplicates, ids read twice, and the groups of near
               candidates (every copy of each content: the ids name it), written by group partition (WORK/groups/)
    ids read twice with other content -> their episodes' sources -> by episode -> the one source kept whole
    candidate group files -> GroupByKey(group partition) -> distinct groups, their rows packed by prepared file
               -> by prepared file -> their sketches, written by group partition (WORK/near/)
               -> GroupByKey(group partition) -> Verify -> near duplicates
    exact and near decisions, written by id partition (WORK/decisions/) -> GroupByKey(id partition)
               -> one decision per removed id (dedupe.decide)
    prepared files + removed ids + repeated ids + episode sources (side inputs) -> Finish -> part files of
               transitions and stage1..3 (WORK/parts/, published by io.commit_parts), dedupe list, dead letters

Every raw file is read and normalized once. Rows, sketches and dedupe keys stay in work files, read back one file
(or one partition) at a time; the shuffles carry paths, and each prepared file's candidate rows packed (one bytes
value a group partition). FnApiRunner holds what it shuffles and its side inputs in its own process; of those, what
grows most with the input is now the removed-id side input (h246). Verify takes no side input: a candidate group
brings the ids of every copy of its contents, so it names each content by its kept id itself (h251).
So no step holds the collection: a worker's memory grows only with one partition's keys or candidate sketches
(NearDupOptions.partitions, scaled with the input by the pipeline) and with the side inputs, which hold the removed
ids and the ids read more than once.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindows

from schemas.stages import (CURATED_TRANSITION_SCHEMA, DEAD_LETTER_SCHEMA, STAGE1_SCHEMA, STAGE2_SCHEMA,
                            STAGE3_SCHEMA)
from transforms import dedupe, near_files, stats
from transforms.decision_files import DecisionFiles, decided
from transforms.finish import decide_file
from transforms.io import BundleParts, InputPaths, dead_letter, raw_files, read_pickled, write_pickled
from transforms.memory import freeze_worker_heap, gc_paused, release_arrow_memory
from transforms.prepare import MAX_OBSERVATION_CHARS, prepare_chunk
from transforms.redact import Redactions
from transforms.stage_tables import StageTextTooLarge, build_stage_tables
from transforms.stages import EPISODE_DOCUMENT_CHARS, HISTORY_STEPS, WINDOW, check_window, document_starts
from transforms.validate import DEAD_LETTER, read_valid_chunks

KEYS, PREPARED, CANDIDATES, COLLISIONS, PARTS = "keys", "prepared", "candidates", "collisions", "parts"
DECIDED = "decided"
STAGE_TAGS = ("stage1", "stage2", "stage3")
TABLE_OUTPUTS = ("transitions", *STAGE_TAGS)  # written by Finish as it builds their rows
TABLE_SCHEMAS = dict(zip(TABLE_OUTPUTS, (CURATED_TRANSITION_SCHEMA, STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA)))
DUPLICATES = "duplicates"
# Every output folder and its schema; all are written as part files (transforms.io.PartFiles).
OUTPUT_SCHEMAS = {**TABLE_SCHEMAS, "dedupe": dedupe.DUPLICATE_SCHEMA, DEAD_LETTER: DEAD_LETTER_SCHEMA}
# Rows below which a read chunk is merged with the next ones into one prepared file (a pack's row group has ~2,000).
MERGE_ROWS = 2000
# Keys a Prepare worker buffers before writing them out (one file per partition): ~6 MB, and ~15k transitions
# of a packed input per file.
KEY_BUFFER_ENTRIES = 200_000
# Candidate sketch records a Sketches worker buffers before writing them out, one file per group partition: ~800
# bytes each, so ~16 MB.
SKETCH_BUFFER_RECORDS = 20_000
# Distinct candidate groups a Resolve worker buffers before writing them out, one file per group partition (the
# benchmark's 100k transitions make 4,180 in all: a flush before the bundle's end is for millions).
CANDIDATE_BUFFER_GROUPS = 100_000
# Rows whose stage rows Finish builds at once: ~30 KB of stage text a row, plus the pieces it is assembled from.
BUILD_ROWS = 250


@dataclass(frozen=True)
class CurateOptions:
    near_dup: dedupe.NearDupOptions = dedupe.NearDupOptions()
    reasoning: str = "grounded"
    reasoning_options: dict = field(default_factory=dict)
    reasoning_batch: int = 32  # rows per synthesizer call: an LLM synthesizer batches its requests
    max_observation_chars: int = MAX_OBSERVATION_CHARS  # 0: no cap
    keep_stand_ins: bool = False  # curate transitions recorded from a stand-in (prepare.FromStandIn)
    stage1_layout: str = WINDOW  # stages.STAGE1_LAYOUTS
    stage1_max_chars: int = EPISODE_DOCUMENT_CHARS  # an episode-layout document's budget; 0: none
    # Earlier steps of its episode a stage row shows (stage 1 in the window layout, stages 2 and 3); None: all.
    history_steps: int | None = HISTORY_STEPS
    # curate --redact: read where the run is launched, carried to the workers with these options.
    redactions: Redactions | None = None

    def __post_init__(self):
        check_window(self.history_steps)  # here, not in a worker: a bad value stops the run before any work


def prepared_path(work_dir: str, chunks: int) -> str:
    """A new prepared file's path; its name says how many chunks it holds (for the progress display). Unique per
    write: which chunks a file merges depends on the bundle, so a retried bundle must not overwrite another try's."""
    return f"{work_dir.rstrip('/')}/prepared/{uuid.uuid4().hex}-{chunks}.pickle.lz4"


def chunks_in(prepared_name: str) -> int:
    """How many read chunks a prepared file (or its finished marker) stands for."""
    count = prepared_name.split(".", 1)[0].rpartition("-")[2]
    return int(count) if count.isdigit() else 1


def sketches_path(prepared: str) -> str:
    """The (ids, content hashes, sketches) of a prepared file's rows, apart from the rows: the near-duplicate check
    reads a few rows' sketches from many files, and Finish never needs them."""
    folder, name = prepared.rsplit("/prepared/", 1)
    return f"{folder}/sketches/{name}"


def keys_path(work_dir: str, partition: int) -> str:
    return f"{work_dir.rstrip('/')}/keys/{partition:05d}-{uuid.uuid4().hex}.pickle.lz4"


# ---- DoFns ----------------------------------------------------------------------------------------------------

class PrepareFn(beam.DoFn):
    """raw file path -> prepared files (written), (file key, prepared path) on `prepared`, dead letters, and (main
    output) the paths of the dedupe key files, per partition.

    Chunks smaller than MERGE_ROWS (an episode file is one 20-step chunk) are merged with the next ones of the
    bundle into one prepared file: masking, MinHash, key packing and each work file have a fixed cost per call
    that a 20-row chunk pays ~100 times over per row. Chunks hold whole episodes, so a merged file does too."""

    def __init__(self, options: CurateOptions, work_dir: str):
        self.options = options
        self.work_dir = work_dir

    def setup(self):
        freeze_worker_heap()  # the first curation step a worker runs: its heap is Beam's and this stage's

    def start_bundle(self):
        self.buffer, self.buffered = defaultdict(list), 0
        self.pending, self.pending_chunks = [], 0

    def process(self, path: str):
        # Made under one GC pause (memory.gc_paused), then handed on: Beam's code between two outputs runs as usual.
        with gc_paused():
            outputs = list(self._read(path))
        yield from outputs

    def _read(self, path: str):
        for chunk in read_valid_chunks(path):
            self.pending += chunk
            self.pending_chunks += 1
            if len(self.pending) >= MERGE_ROWS:
                yield from self._prepare_pending()

    def _prepare_pending(self):
        items, chunks, self.pending, self.pending_chunks = self.pending, self.pending_chunks, [], 0
        prepared = prepare_chunk(items, self.options.near_dup, self.options.max_observation_chars,
                                 self.options.keep_stand_ins, self.options.redactions)
        for letter in prepared.letters:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, letter)
        if not prepared.rows:
            return
        target = prepared_path(self.work_dir, chunks)
        write_pickled(target, prepared.rows)
        ids = [row["id"] for row in prepared.rows]
        hashes = [row["content_hash"] for row in prepared.rows]
        write_pickled(sketches_path(target), (ids, hashes, prepared.sketches, prepared.changes))
        key = dedupe.file_key(target)
        yield beam.pvalue.TaggedOutput(PREPARED, (key, target))
        for partition, batch in dedupe.partitioned_keys(key, ids, hashes, prepared.band_keys,
                                                        self.options.near_dup.partitions,
                                                        dedupe.CopyOrder.of_rows(prepared.rows)).items():
            self.buffer[partition].append(batch)
            self.buffered += len(batch)
        if self.buffered >= KEY_BUFFER_ENTRIES:
            yield from self._flush()

    def finish_bundle(self):
        with gc_paused():
            outputs = [*self._prepare_pending(), *self._flush()]
        for item in outputs:
            if isinstance(item, beam.pvalue.TaggedOutput):
                yield beam.pvalue.TaggedOutput(item.tag, GlobalWindows.windowed_value(item.value))
            else:
                yield GlobalWindows.windowed_value(item)

    def _flush(self):
        """Each partition's keys to a file of their own, and its path on: a runner holding every shuffled element
        in memory (FnApiRunner) then holds a path per partition and flush, not the keys of the whole run."""
        buffer, self.buffer, self.buffered = self.buffer, defaultdict(list), 0
        for partition, batches in buffer.items():
            path = keys_path(self.work_dir, partition)
            write_pickled(path, dedupe.KeyBatch.concat(batches))
            yield partition, path


class ResolveFn(beam.DoFn):
    """The key files of one partition -> exact decisions written by id partition ((id partition, path), main),
    repeated ids (tagged), and the near candidate groups written to work files by group partition
    (near_files.GroupFiles), (group partition, path) on `candidates`; the runner then carries paths, not every copy
    of every group and decision."""

    def __init__(self, work_dir: str, partitions: int):
        self.work_dir = work_dir
        self.partitions = partitions

    def start_bundle(self):
        self.groups = near_files.GroupFiles(self.work_dir, self.partitions)
        self.decisions = DecisionFiles(self.work_dir, self.partitions)

    def process(self, element):
        _, paths = element
        batch = dedupe.KeyBatch.concat([read_pickled(path) for path in sorted(paths)])
        for record_id, kind, duplicate_of in dedupe.exact_duplicates(batch):
            self.decisions.add(record_id, (kind, duplicate_of))
        for ref, same_content, kept in dedupe.id_collisions(batch):
            yield beam.pvalue.TaggedOutput(COLLISIONS, (ref, same_content, kept))
        for group in dedupe.near_candidates(batch):
            self.groups.add(group, dedupe.group_key(group))
        if self.groups.count >= CANDIDATE_BUFFER_GROUPS:
            for item in self.groups.flush():
                yield beam.pvalue.TaggedOutput(CANDIDATES, item)

    def finish_bundle(self):
        for item in self.groups.flush():
            yield beam.pvalue.TaggedOutput(CANDIDATES, GlobalWindows.windowed_value(item))
        for item in self.decisions.flush():
            yield GlobalWindows.windowed_value(item)


def candidate_rows_by_file(element):
    """(group partition, its candidate group files) -> (prepared file, packed [(row, group key)]) for each file
    holding rows of the partition's distinct groups."""
    _, paths = element
    groups = near_files.distinct_groups(read_pickled(path) for path in sorted(paths))
    yield from near_files.packed_rows_by_file(groups).items()


class SketchFilesFn(beam.DoFn):
    """(prepared file key, packed [(row, group key)] from each group partition) -> the wanted rows' sketch records
    written to work files by group partition (transforms.near_files), and (group partition, path) of each file on.
    Records are buffered over the bundle and written one file per partition and flush, as PrepareFn writes key
    files: a file per prepared file and partition made ~10k files of a few KB at 1M transitions."""

    def __init__(self, work_dir: str, partitions: int):
        self.work_dir = work_dir
        self.partitions = partitions

    def start_bundle(self):
        self.buffer, self.buffered = defaultdict(list), 0

    def process(self, element, paths: dict):
        file, packed = element
        wanted = near_files.unpacked_rows(packed)
        sketches = read_pickled(sketches_path(paths[file]))
        for partition, records in near_files.partitioned_records(wanted, sketches, self.partitions).items():
            self.buffer[partition] += records
            self.buffered += len(records)
        if self.buffered >= SKETCH_BUFFER_RECORDS:
            yield from self._flush()

    def finish_bundle(self):
        for item in self._flush():
            yield GlobalWindows.windowed_value(item)

    def _flush(self):
        buffer, self.buffer, self.buffered = self.buffer, defaultdict(list), 0
        for partition, records in buffer.items():
            yield partition, near_files.write_records(self.work_dir, partition, records)


def by_kept_file(collision):
    """A conflicting copy of an id -> (prepared file of the copy kept, (the copy's ref, the kept copy's row))."""
    ref, _, (kept_file, kept_row) = collision
    return kept_file, (ref, kept_row)


def kept_sources(element, paths: dict):
    """(prepared file, [(ref, row)]) -> (ref, (False, where the copy kept for that ref's id was read, the kept
    copy's ref)): the dead letter of a conflicting copy names both sources, so a user can tell which two inputs
    disagree."""
    file, wanted = element
    rows = read_pickled(paths[file])
    for ref, row in wanted:
        yield ref, (False, _location(rows[row]), (file, row))


def _location(row: dict) -> str:
    source = row["source"]
    return f"{source} {'line' if source.endswith('.jsonl') else 'row'} {row['position']}"


def clash_rows(collision):
    """A conflicting copy of an id -> (prepared file, row) of it and of the copy kept: both recordings' sides."""
    ref, _, kept = collision
    yield ref
    yield kept


def clash_sources(element, paths: dict):
    """(prepared file, [rows of conflicting copies]) -> (episode id, (source, first action start, rows, {id:
    location})) for every source in that file holding rows of those episodes: what settle_episode compares. A
    chunk holds whole episodes, so a source's rows of an episode are all in one prepared file."""
    file, wanted = element
    rows = read_pickled(paths[file])
    clashing = {rows[row]["episode_id"] for row in set(wanted)}
    wanted_ids = {rows[row]["id"] for row in set(wanted)}
    found: dict[tuple, list] = {}
    for row in rows:
        if row["episode_id"] not in clashing:
            continue
        _add_rows(found.setdefault((row["episode_id"], row["source"]), [None, 0, {}]), row.get("action_started_at"),
                  1, {row["id"]: _location(row)} if row["id"] in wanted_ids else {})
    for (episode_id, source), (started, count, locations) in found.items():
        yield episode_id, (source, started, count, locations)


def settle_episode(element):
    """(episode id, its sources' entries) -> ((episode id, source), verdict) for each source of an episode that
    two sources hold with differing rows: None for the one kept whole, (kept source, reason, {id: where the kept
    copy was read}) for the others. Keeping rows of each would build every stage row from a history mixing two
    recordings (an episode re-collected beside a pack that still held it). The later recording is kept: it is the
    one collect wrote the episode record for; without action times, the source holding more of its rows.
    Repeats within one source are left to the per-id settling."""
    episode_id, entries = element
    merged: dict[str, list] = {}
    for source, started, count, locations in entries:
        _add_rows(merged.setdefault(source, [None, 0, {}]), started, count, locations)
    if len(merged) < 2:
        return
    kept = max(merged, key=lambda source: (merged[source][0] is not None, merged[source][0] or 0, merged[source][1],
                                           source))
    started, count, locations = merged[kept]
    why = (f"the later recording, begun {_iso(started)}" if started is not None and any(
        merged[source][0] != started for source in merged if source != kept) else
           f"it holds more of its rows ({count})" if any(merged[source][1] != count for source in merged
                                                          if source != kept) else "the last by name")
    yield (episode_id, kept), None
    for source, (other_started, other_count, _) in merged.items():
        if source == kept:
            continue
        begun = f", begun {_iso(other_started)}" if other_started is not None else ""
        reason = (f"episode {episode_id} is recorded differently in {len(merged)} sources: {kept} (kept whole: "
                  f"{why}) and {source} ({other_count} rows{begun}, all dead-lettered), as rows of each would make a "
                  "history that never happened")
        yield (episode_id, source), (kept, reason, locations)


def _add_rows(entry: list, started, count: int, locations: dict) -> None:
    """Adds rows of one source to its [first action start, row count, {id: location}] entry."""
    if started is not None and (entry[0] is None or started < entry[0]):
        entry[0] = started
    entry[1] += count
    entry[2].update(locations)


def _iso(microseconds: int) -> str:
    return datetime.fromtimestamp(microseconds / 1e6, timezone.utc).isoformat(timespec="seconds")


def resolve_near(element, options: dedupe.NearDupOptions):
    """(candidate group, members: every copy of its contents) -> near decisions. A content stands for all its rows:
    it is named by the id kept for it (dedupe.kept_members, as exact_duplicates keeps it), as the whole cluster
    would be."""
    group, members = element
    kept = dedupe.kept_members(members, group)
    for member_id, kind, duplicate_of in dedupe.resolve_bucket(kept, options, report_exact=False):
        yield member_id, (kind, duplicate_of)


def resolve_near_files(element, options: dedupe.NearDupOptions):
    """(group partition, its sketch files) -> the near decisions of each of its groups (resolve_near), the files
    read one at a time: a worker holds one partition's sketches, never the run's."""
    _, paths = element
    members = near_files.group_members(sorted(paths))
    for group in sorted(members):
        yield from resolve_near((group, members.pop(group)), options)


class VerifyFn(beam.DoFn):
    """(group partition, its sketch files) -> nothing until the bundle's end, then (id partition, path) of the near
    decisions (resolve_near_files) written by id partition (DecisionFiles)."""

    def __init__(self, options: dedupe.NearDupOptions, work_dir: str):
        self.options, self.work_dir = options, work_dir

    def start_bundle(self):
        self.decisions = DecisionFiles(self.work_dir, self.options.partitions)

    def process(self, element):
        for record_id, decision in resolve_near_files(element, self.options):
            self.decisions.add(record_id, decision)

    def finish_bundle(self):
        for item in self.decisions.flush():
            yield GlobalWindows.windowed_value(item)


def decide_partition(element):
    """(id partition, its decision files) -> (id, its one decision) for each removed id of the partition."""
    _, paths = element
    yield from decided(read_pickled(path) for path in sorted(paths)).items()


class FinishFn(beam.DoFn):
    """(file key, prepared path) + removed ids + repeated rows -> kept transitions, stage rows, dedupe list, dead
    letters. Rows are grouped by episode within the file (a Parquet file holds one episode; a JSONL drop may hold
    several). What becomes of each row is transforms.finish's decision; this reads, counts, synthesizes and writes."""

    def __init__(self, options: CurateOptions, work_dir: str):
        from transforms.reasoning import make_synthesizer

        self.options = options
        self.work_dir = work_dir
        # Made once, where the pipeline is built, and shipped to every worker pickled: the copies then share one run
        # id, and so one LLM budget (made in setup, each worker's synthesizer had a budget of its own).
        self.synthesizer = make_synthesizer(options.reasoning, **options.reasoning_options)

    def setup(self):
        freeze_worker_heap()  # a worker that ran no Prepare bundle gets here first

    def start_bundle(self):
        self.parts = BundleParts(self.work_dir, TABLE_SCHEMAS)
        # Rows written, per domain: counted once a bundle (a counter update costs a few microseconds a call).
        self.written = Counter()

    def finish_bundle(self):
        for part in self.parts.close():
            yield beam.pvalue.TaggedOutput(PARTS, GlobalWindows.windowed_value(part))
        for domain, records in self.written.items():
            stats.count(stats.OUT, domain, records=records)

    def process(self, element, removed: dict, collisions: dict, episodes: dict | None = None):
        # Made under one GC pause (memory.gc_paused), then handed on, as in PrepareFn.
        with gc_paused():
            outputs = list(self._finish(element, removed, collisions, episodes or {}))
        release_arrow_memory()
        yield from outputs

    def _finish(self, element, removed: dict, collisions: dict, episodes: dict):
        file, path = element
        decided = decide_file(file, read_pickled(path), removed, collisions, episodes)
        for letter in decided.letters:
            yield self._dead(letter.row, "dedupe", letter.reason, source=letter.row["source"])
        for duplicate in decided.duplicates:
            stats.count(stats.EXACT if duplicate["kind"] == dedupe.EXACT else stats.NEAR, duplicate["domain"])
            yield beam.pvalue.TaggedOutput(DUPLICATES, duplicate)
        rows, kept = decided.rows, decided.kept
        # A trace, or the Exception saying why there is none: only the stage-2 row needs one.
        traces: list[str | Exception] = []
        for start in range(0, len(kept), self.options.reasoning_batch):
            traces += self.synthesizer.traces([rows[i] for i in kept[start:start + self.options.reasoning_batch]])
            self._count_spend()
        yield from self._write(rows, kept, decided.history_starts, decided.history_ends, traces)
        if "://" not in self.work_dir:  # a local run's progress display counts these; Dataflow has its own
            mark = Path(self.work_dir) / "finished" / Path(path).name
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.touch()

    def _count_spend(self):
        """An LLM synthesizer's calls, cache hits, tokens and failed rows, into the run's counters."""
        drain = getattr(self.synthesizer, "drain_counts", None)
        for name, value in (drain() if drain else {}).items():
            stats.count_detail(stats.LLM, name, value)

    @staticmethod
    def _dead(row, stage, reason, source=""):
        stats.count(stats.DEAD, row["domain"], stage)
        return beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(row["id"], source, stage, reason, row))

    def _write(self, rows, currents, history_starts, history_ends, traces):
        """The kept transitions' stage rows, built about BUILD_ROWS at a time: the four tables go to the batches,
        failures out. In the episode layout a slice ends where a stage 1 document does, so that no document is cut
        where a slice happens to end (a document of more rows makes a longer slice: its rows are one file's, and
        the document's characters are bounded by stage1_max_chars)."""
        if self.options.stage1_layout == WINDOW:
            begins = range(len(currents))
        else:
            begins = np.flatnonzero(document_starts([rows[position] for position in currents],
                                                    self.options.stage1_max_chars)).tolist()
        for part in build_slices(begins, len(currents), self._build_rows(history_starts, history_ends)):
            yield from self._write_slice(rows, currents[part], history_starts[part], history_ends[part],
                                         traces[part])

    def _build_rows(self, history_starts, history_ends) -> int:
        """Rows to build at once: BUILD_ROWS with the default window, fewer with a longer one, so that a slice
        holds about as many steps' texts (each row's window and its own step) whatever --history-steps is."""
        window = self.options.history_steps
        if window is None:
            window = max((end - start for start, end in zip(history_starts, history_ends)), default=0)
        return max(1, BUILD_ROWS * (HISTORY_STEPS + 1) // (window + 1))

    def _write_slice(self, rows, currents, history_starts, history_ends, traces):
        curated = curated_table([rows[position] for position in currents])
        try:
            built = build_stage_tables(rows, curated, np.array(currents, dtype=np.int64),
                                       np.array(history_starts, dtype=np.int64),
                                       np.array(history_ends, dtype=np.int64),
                                       ["" if isinstance(trace, Exception) else trace for trace in traces],
                                       window=self.options.history_steps,
                                       reasoning_source=self.options.reasoning,
                                       stage1_layout=self.options.stage1_layout,
                                       max_document_chars=self.options.stage1_max_chars)
        except StageTextTooLarge as exc:
            # Observations of many MB, each repeated in the windows of the next steps: build fewer rows at once,
            # down to one, whose texts alone may still not fit; that row is dead-lettered. (An episode-layout
            # document cut here is two, the second restating its state.)
            if len(currents) == 1:
                yield self._dead(rows[currents[0]], "stages", f"{type(exc).__name__}: {exc}")
                return
            half = len(currents) // 2
            for part in (slice(None, half), slice(half, None)):
                yield from self._write_slice(rows, currents[part], history_starts[part], history_ends[part],
                                             traces[part])
            return
        for position, exc in built.errors:
            yield self._dead(rows[currents[position]], "stages", f"{type(exc).__name__}: {exc}")
        transitions = curated.take(built.built) if built.errors else curated
        self.written.update(transitions.column("domain").to_pylist())
        stage2 = yield from self._without_failed_traces(built.stage2, [traces[k] for k in built.built.tolist()],
                                                        [rows[currents[k]] for k in built.built.tolist()])
        stats.count_stage1_lengths(built.stage1)
        stats.count_stage2_lengths(stage2)
        for position, reason in built.stage3_left_out:
            stats.count_total(stats.STAGE3_DEAD)
            row = rows[currents[int(built.built[position])]]
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(row["id"], row.get("source", ""), "stage3",
                                                                    f"{row['id']}: no stage 3 row: {reason}", row))
        for name, table in zip(TABLE_OUTPUTS, (transitions, built.stage1, stage2, built.stage3)):
            self.parts.add_table(name, table)

    @staticmethod
    def _without_failed_traces(stage2: pa.Table, traces: list, rows: list[dict]):
        """The stage-2 rows that have a trace; the others' transitions are dead-lettered for stage 2 alone (a
        failed LLM call must not put an untraced row into the shards, nor take the row's transition, stage 1 and
        stage 3 rows, which need no trace, out with it). Returns the table; yields the dead letters."""
        failed = [isinstance(trace, Exception) for trace in traces]
        if not any(failed):
            return stage2
        for row, trace in zip(rows, traces):
            if isinstance(trace, Exception):
                stats.count_total(stats.STAGE2_DEAD)
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(row["id"], row.get("source", ""), "reasoning",
                                                                        str(trace), row))
        return stage2.filter(pa.array([not flag for flag in failed]))


def build_slices(begins, count: int, rows: int) -> list[slice]:
    """Slices of `count` items, cut only at `begins` (ascending positions), each at the first of them `rows` or
    more past the last cut."""
    cuts = [0]
    for begin in begins:
        if begin - cuts[-1] >= rows:
            cuts.append(begin)
    return [slice(start, end) for start, end in zip(cuts, cuts[1:] + [count]) if end > start]


def curated_table(rows: list[dict]) -> pa.Table:
    """Curated rows -> the transitions table. Arrow's own row loop: ~4 us a row against ~6.5 for a Python list per
    column converted with pa.array (1,000 prepared rows of raw20kp)."""
    return pa.Table.from_pylist(rows, schema=CURATED_TRANSITION_SCHEMA)


class WriteRowsFn(beam.DoFn):
    """Row dicts of one output (dedupe list, dead letters) -> its part files; emits (output name, part path).
    Applied right after the step that makes the rows, so the runner fuses the two and never holds the rows, as it
    would between a step and Beam's Parquet sink (which takes a side input). Dead letters are made by every stage
    with the file paths it read; `paths` names them relative to the input folder here, in one place, for all."""

    def __init__(self, name: str, work_dir: str, paths: InputPaths | None = None,
                 redactions: Redactions | None = None):
        self.name = name
        self.work_dir = work_dir
        self.paths = paths
        self.redactions = redactions

    def start_bundle(self):
        self.parts = BundleParts(self.work_dir, {self.name: OUTPUT_SCHEMAS[self.name]})

    def process(self, row: dict):
        if self.paths is not None:
            row = self.paths.letter(row)
        if self.redactions is not None:
            # Every dead letter passes here, a raw record's included (the curated rows' are redacted already).
            row, matches = self.redactions.letter(row)
            if matches:
                stats.count_detail(stats.REDACTED, stats.DEAD_LETTER_DETAIL, 1)
                stats.count_detail(stats.REDACTED_MATCHES, stats.DEAD_LETTER_DETAIL, matches)
        self.parts.add(self.name, row)

    def finish_bundle(self):
        for part in self.parts.close():
            yield GlobalWindows.windowed_value(part)


# ---- composites -----------------------------------------------------------------------------------------------

# Each step costs a run ~30 ms of CPU however small its input (13 fewer ParDos: 0.45 s less on 20 rows): Beam
# inspects every method of a step's DoFn and rebuilds its options several times per step while it builds,
# translates and starts the graph. So the composites below use as few steps as do the job.

def raw_file_paths(_impulse, input_dir: str) -> list[str]:
    """The raw transition files of a collection (local or gs://), without the hidden files atomic writers leave or
    the copies a killed pack left (transforms.io.raw_files). Listed when the pipeline runs, on a worker: listing a
    bucket at construction time would need credentials."""
    return raw_files(input_dir)


class RawFilePaths(beam.PTransform):
    """A collection folder (local or gs://) -> the paths of its raw transition files, spread over workers."""

    def __init__(self, input_dir: str):
        super().__init__()
        self.input_dir = input_dir

    def expand(self, pipeline):
        # One step lists every pattern: beam.Create of the patterns and fileio.MatchAll make the same
        # FileSystems.match calls with seven more steps and a shuffle (Create reshuffles more than one element).
        return (pipeline
                | "Start" >> beam.Impulse()
                | "Paths" >> beam.FlatMap(raw_file_paths, self.input_dir)
                | "Spread" >> beam.Reshuffle())


class Dedupe(beam.PTransform):
    """Packed dedupe keys -> (id, (kind, duplicate_of)) for every removed transition (main output) and
    ((file, row), (same content?, where the copy kept was read, for a conflict, the kept copy's (file, row))) for
    every repeated id (`collisions`), and ((episode id, source), verdict) for the sources of an episode that two
    sources hold differently (`settle_episode`)."""

    def __init__(self, options: dedupe.NearDupOptions, prepared_paths, work_dir: str):
        super().__init__()
        self.options = options
        self.prepared_paths = prepared_paths
        self.work_dir = work_dir  # candidate groups go to WORK/groups/, their sketch files to WORK/near/

    def expand(self, keys):
        resolved = (keys
                    | "GroupPartitions" >> beam.GroupByKey()
                    | "Resolve" >> beam.ParDo(ResolveFn(self.work_dir, self.options.partitions)).with_outputs(
                        CANDIDATES, COLLISIONS, main=DECIDED))
        near = (resolved[CANDIDATES]
                | "GroupCandidateFiles" >> beam.GroupByKey()
                | "CandidateRows" >> beam.FlatMap(candidate_rows_by_file)
                | "GroupByFile" >> beam.GroupByKey()
                | "Sketches" >> beam.ParDo(SketchFilesFn(self.work_dir, self.options.partitions),
                                           beam.pvalue.AsDict(self.prepared_paths))
                | "GroupSketchFiles" >> beam.GroupByKey()
                | "Verify" >> beam.ParDo(VerifyFn(self.options, self.work_dir)))
        removed = ((resolved[DECIDED], near)
                   | "Decisions" >> beam.Flatten()
                   | "GroupDecisionFiles" >> beam.GroupByKey()
                   | "OneDecisionPerId" >> beam.FlatMap(decide_partition))
        repeated = resolved[COLLISIONS] | "SameContent?" >> beam.Partition(lambda c, _: int(c[1]), 2)
        conflicts = (repeated[0]
                     | "ByKeptFile" >> beam.Map(by_kept_file)
                     | "GroupByKeptFile" >> beam.GroupByKey()
                     | "KeptSources" >> beam.FlatMap(kept_sources, beam.pvalue.AsDict(self.prepared_paths)))
        same = repeated[1] | "Repeats" >> beam.Map(lambda c: (c[0], (True, None, c[2])))
        episodes = (repeated[0]
                    | "ClashRows" >> beam.FlatMap(clash_rows)
                    | "GroupClashRows" >> beam.GroupByKey()
                    | "ClashSources" >> beam.FlatMap(clash_sources, beam.pvalue.AsDict(self.prepared_paths))
                    | "GroupByEpisode" >> beam.GroupByKey()
                    | "SettleEpisodes" >> beam.FlatMap(settle_episode))
        return removed, (conflicts, same) | "Collisions" >> beam.Flatten(), episodes


class Curate(beam.PTransform):
    """Pipeline root -> the (output name, part file) of every output in OUTPUT_SCHEMAS, to publish with
    io.commit_parts once the run has succeeded. Work files and parts go to `work_dir` (local or gs://); the caller
    removes it after the run."""

    def __init__(self, input_dir: str, work_dir: str, options: CurateOptions = CurateOptions()):
        super().__init__()
        self.input_dir = input_dir
        self.work_dir = work_dir
        self.options = options

    def expand(self, pipeline):
        paths = pipeline | "ReadRaw" >> RawFilePaths(self.input_dir)
        prepared = paths | "Prepare" >> beam.ParDo(PrepareFn(self.options, self.work_dir)).with_outputs(
            DEAD_LETTER, PREPARED, main=KEYS)
        removed, collisions, episodes = prepared[KEYS] | "Dedupe" >> Dedupe(self.options.near_dup,
                                                                             prepared[PREPARED], self.work_dir)
        built = (prepared[PREPARED]
                 | "SpreadPrepared" >> beam.Reshuffle()
                 | "Finish" >> beam.ParDo(
                     FinishFn(self.options, self.work_dir), removed=beam.pvalue.AsDict(removed),
                     collisions=beam.pvalue.AsDict(collisions), episodes=beam.pvalue.AsDict(episodes)
                 ).with_outputs(DEAD_LETTER, DUPLICATES, PARTS))
        paths = InputPaths(self.input_dir)
        written = [
            rows | label >> beam.ParDo(WriteRowsFn(name, self.work_dir, *((paths, self.options.redactions)
                                                                         if name == DEAD_LETTER else ())))
            for label, name, rows in (("WritePrepareDeadLetters", DEAD_LETTER, prepared[DEAD_LETTER]),
                                      ("WriteFinishDeadLetters", DEAD_LETTER, built[DEAD_LETTER]),
                                      ("WriteDedupe", "dedupe", built[DUPLICATES]))]
        return (built[PARTS], *written) | "Parts" >> beam.Flatten()

