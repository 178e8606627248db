"""Counts of what each curation step did, kept as Beam Metrics and summed into the run's stats.json.

Every record is counted once when read (`in`) and once where it leaves: written (`out`), dead-lettered or
deduplicated, overall and per domain, so `in = out + dead_lettered + deduped` can be checked after any run. A
written record whose reasoning trace failed has no stage-2 row: it is counted `out` and `stage2_dead_lettered`.

The stage-2 rows' lengths (prompt, target and both) are counted too (count_stage2_lengths), and the stage-1 documents'
(count_stage1_lengths), so the card can say what context limit a trainer needs at each stage and what share of the
loss each domain holds. Curation never holds all rows, so a domain's lengths are kept as counters of a fixed log-scale
histogram (bins BIN_RATIO wide: a median or p95 read from it is within 2.5% of the true one), beside their exact sum
and an exact maximum; counters of any number of workers add up to the run's.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from transforms.prompts import PROMPT_MARKUP_PATTERN

NAMESPACE = "worldline.curate"
IN, OUT, DEAD, EXACT, NEAR = "in", "out", "dead_lettered", "dedupe_exact", "dedupe_near"
# Rows whose next observation was replayed (collect --replays), with a detail when a replay showed some of it
# differently: only where rule spans are, or also elsewhere; or when it went elsewhere altogether
# (transforms.replay.MAX_CHANGED_SHARE). Not a leaving event: the row goes on.
REPLAYED = "replayed"
REPLAY_BY_RULES, REPLAY_BEYOND_RULES, REPLAY_DIVERGED = "differs_within_rule_spans", "differs_beyond_rules", "diverged"
# Rule spans that every replay showed again, so not masked (transforms.replay.REPRODUCED_ARE_CONSTANT): spans, not
# rows; of drawn identifiers (hex_id, uuid) and of sizes (byte_size) apart.
REPLAY_CONSTANT_IDS, REPLAY_CONSTANT_SIZES = "constant_ids_unmasked", "constant_sizes_unmasked"
# Written records without a stage-2 row (their trace failed; dead-lettered with stage `reasoning`). Not a leaving
# event: the transition and its stage 1 and 3 rows are written.
STAGE2_DEAD = "stage2_dead_lettered"
# Written records without a stage-3 row: their replays showed another outcome (transforms.replay.other_outcome;
# dead-lettered with stage `stage3`). Not a leaving event either.
STAGE3_DEAD = "stage3_dead_lettered"
# Episodes whose record (episodes/DOMAIN/ID.json) names transitions no file holds (transforms.io.records_without_rows):
# each is a dead letter with stage `missing`, counted here, not in `in`: its transitions were never read.
RECORDS_WITHOUT_ROWS = "records_without_rows"
# What an LLM synthesizer spent, by detail: LLM_SPEND (calls, retries included; rows answered from the cache; tokens
# the endpoint reported; rows whose call failed).
LLM = "llm"
LLM_SPEND = ("calls", "cache_hits", "tokens", "failures")
# Valid rows read, by their raw schema_version (counters `NAME|VERSION`): older records lack what was added since
# (task groups, replays, some observation meta), which a reader of the output cannot tell from the rows.
INPUT_VERSIONS = "input_schema_version"
# Rows curated (before dedupe) from records older than task groups (raw schema < 1.2, no task.group), whose
# task_group is their task id: a split by task_group may then put one environment (a site, a server) in both of its
# parts. Per domain.
GROUP_FROM_TASK_ID = "task_group_from_task_id"
UNKNOWN_DOMAIN = "<unknown>"
# curate --redact (transforms.redact): curated rows (before dedupe) in which a pattern matched, and the matches,
# per domain; dead letters apart (detail DEAD_LETTER_DETAIL), as their records are the raw rows.
REDACTED, REDACTED_MATCHES = "redacted", "redacted_matches"
DEAD_LETTER_DETAIL = "dead_letter"
# Characters (code points) of each stage-2 row's prompt (every message's content), of its target, and of both
# together (what a context limit must hold: the longest prompt and the longest target are seldom the same row's), per
# domain: as counters `NAME|domain=D|bin=B` (rows whose length is in bin B), `NAME|domain=D|sum`, and a Distribution
# read as `NAME|domain=D|max`.
PROMPT_CHARS, TARGET_CHARS, ROW_CHARS = "stage2_prompt_chars", "stage2_target_chars", "stage2_prompt_target_chars"
LENGTHS = (PROMPT_CHARS, TARGET_CHARS, ROW_CHARS)
# Characters of each stage-1 document's `text`, per domain, as the same counters: a window-layout document ends with
# its row's own transition, so a context limit below it cuts exactly what the row is for.
STAGE1_CHARS = "stage1_text_chars"
# Curated rows with stage rows (as Finish builds them), per domain, whose text a reader of the rows may trip on:
# - STATE_MARKUP: the state before the action holds a line a Markdown reader takes for prompt structure (a code fence,
#   a `### Turn` or section header: transforms.prompts.PROMPT_MARKUP_PATTERN). The stage prompts fence the state; the
#   AgentWorldBench export writes it as the benchmark does, unfenced, where such a line breaks the turn's sections.
# - TARGET_CONTROLS: the next observation (stage 2's target holds it, and stage 3's reference is it) holds a C0
#   control character other than tab and newline (NUL, BEL, ESC, a CR...), kept as the environment returned it; also
#   counted per character as `TARGET_CONTROLS|char=NAME` (rows holding it).
STATE_MARKUP, TARGET_CONTROLS = "states_with_prompt_markup", "targets_with_controls"
TEXT_FLAGS = (STATE_MARKUP, TARGET_CONTROLS)
_CONTROLS_PATTERN = r"[\x00-\x08\x0b-\x1f]"  # RE2's escapes (pyarrow.compute)
C0_NAMES = ("NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR", "SO", "SI",
            "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US")
_COUNTED_CONTROLS = frozenset(chr(code) for code in range(32)) - {"\t", "\n"}
# Bin b >= 1 holds lengths in [BIN_RATIO**(b-1), BIN_RATIO**b), and is read as its geometric middle: off by at most
# BIN_RATIO**0.5 - 1 = 2.5%. Below ~20 characters a bin holds one length at most, so short ones are exact. Bin 0
# holds the empty ones.
BIN_RATIO = 1.05
P95 = 0.95


def domain_of(row, source: str = "") -> str:
    """The row's own domain; for a row without one, the folder its file is in (domain_of_path)."""
    domain = row.get("domain") if isinstance(row, dict) else None
    return domain if isinstance(domain, str) and domain else domain_of_path(source)


def domain_of_path(source: str) -> str:
    """The domain a raw file's place names, `.../transitions/{domain}/...`: what a record that could not be read
    (or holds no domain) is counted under, so a broken mcp file shows in the mcp row. UNKNOWN_DOMAIN for a file
    directly under transitions/ (a user's JSONL file may be put there)."""
    parts = source.split("/")[:-1]  # the file's name is no domain
    if "transitions" not in parts:
        return UNKNOWN_DOMAIN
    below = parts[len(parts) - parts[::-1].index("transitions"):]
    return below[0] if below and below[0] else UNKNOWN_DOMAIN


@lru_cache(maxsize=None)
def _counter(name: str):
    return Metrics.counter(NAMESPACE, name)


def count(event: str, domain: str, detail: str | None = None, records: int = 1) -> None:
    """`records` records reached `event`; `detail` (e.g. the dead-letter stage) is counted beside the total.
    Callers with many records count them per domain at once: each update costs a few microseconds."""
    _counter(event).inc(records)
    _counter(f"{event}|domain={domain}").inc(records)
    if detail:
        _counter(f"{event}|{detail}").inc(records)


def count_total(event: str, records: int = 1) -> None:
    """`records` things counted under `event` alone, not per domain."""
    _counter(event).inc(records)


def count_detail(event: str, detail: str, records: int) -> None:
    """`records` things counted under `event`'s detail alone: not records reaching the event (its total)."""
    _counter(f"{event}|{detail}").inc(records)


@lru_cache(maxsize=None)
def _distribution(name: str):
    return Metrics.distribution(NAMESPACE, name)


def length_bins(lengths: np.ndarray) -> np.ndarray:
    """The histogram bin of each length (see BIN_RATIO)."""
    lengths = np.asarray(lengths, dtype=np.float64)
    bins = np.zeros(len(lengths), dtype=np.int64)
    positive = lengths > 0
    bins[positive] = np.floor(np.log(lengths[positive]) / np.log(BIN_RATIO)).astype(np.int64) + 1
    return bins


def stage2_lengths_of(stage2: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's prompt characters (all its messages' content), target characters and their sum (LENGTHS' order)."""
    messages = stage2.column("messages").combine_chunks()
    contents = pc.utf8_length(pc.struct_field(pc.list_flatten(messages), "content")).fill_null(0)
    prompt = np.bincount(pc.list_parent_indices(messages).to_numpy(), weights=contents.to_numpy(),
                         minlength=stage2.num_rows).astype(np.int64)
    target = pc.utf8_length(stage2.column("target")).fill_null(0).to_numpy().astype(np.int64)
    return prompt, target, prompt + target


def count_stage2_lengths(stage2: pa.Table) -> None:
    """A table of written stage-2 rows, into the length counters: a few updates per domain and bin, not per row."""
    if stage2.num_rows:
        _count_lengths(stage2, zip(LENGTHS, stage2_lengths_of(stage2)))


def count_stage1_lengths(stage1: pa.Table) -> None:
    """A table of written stage-1 documents, into their length counters (STAGE1_CHARS)."""
    if stage1.num_rows:
        _count_lengths(stage1, [(STAGE1_CHARS, pc.utf8_length(stage1.column("text")).fill_null(0).to_numpy()
                                 .astype(np.int64))])


def _count_lengths(table: pa.Table, named_lengths) -> None:
    """Each (counter name, per-row lengths) of a table's rows into its counters, per the rows' domain."""
    domains = np.asarray(table.column("domain").to_pylist())
    for name, lengths in named_lengths:
        for domain in np.unique(domains).tolist():
            chosen = lengths[domains == domain]
            for bin_, rows in zip(*np.unique(length_bins(chosen), return_counts=True)):
                _counter(f"{name}|domain={domain}|bin={bin_}").inc(int(rows))
            _counter(f"{name}|domain={domain}|sum").inc(int(chosen.sum()))
            _distribution(f"{name}|domain={domain}").update(int(chosen.max()))


def count_text_flags(curated: pa.Table) -> None:
    """The curated rows whose stage rows were built (a CURATED_TRANSITION_SCHEMA table), into the TEXT_FLAGS
    counters: a column scan each (RE2), and a look at the characters of the few rows that hold controls."""
    if not curated.num_rows:
        return
    domains = np.asarray(curated.column("domain").to_pylist())
    texts = {STATE_MARKUP: curated.column("state_text"), TARGET_CONTROLS: curated.column("next_text")}
    patterns = {STATE_MARKUP: PROMPT_MARKUP_PATTERN, TARGET_CONTROLS: _CONTROLS_PATTERN}
    for name in TEXT_FLAGS:
        flagged = pc.fill_null(pc.match_substring_regex(texts[name], patterns[name]), False).to_numpy(
            zero_copy_only=False)
        if not flagged.any():
            continue
        for domain, rows in zip(*np.unique(domains[flagged], return_counts=True)):
            count(name, str(domain), records=int(rows))
        if name == TARGET_CONTROLS:
            held = Counter(character for text in texts[name].filter(pa.array(flagged)).to_pylist()
                           for character in _COUNTED_CONTROLS.intersection(text))
            for character, rows in held.items():
                count_detail(name, f"char={C0_NAMES[ord(character)]}", rows)


def text_flags(counters: dict[str, int]) -> dict:
    """TEXT_FLAGS' figures: rows overall and per domain; for TARGET_CONTROLS also per control character."""
    figures = {}
    for name in TEXT_FLAGS:
        figures[name] = {"rows": counters.get(name, 0),
                         "domains": dict(sorted((key.partition("|domain=")[2], value) for key, value in counters.items()
                                                if key.startswith(f"{name}|domain=")))}
    figures[TARGET_CONTROLS]["characters"] = dict(sorted(
        (key.partition("|char=")[2], value) for key, value in counters.items()
        if key.startswith(f"{TARGET_CONTROLS}|char=")))
    return figures


def _at_rank(histogram: dict[int, int], rank: int, largest: int) -> int:
    """The rank-th smallest (from 1) of the lengths a histogram counts, as its bin's middle (never past the largest)."""
    seen = 0
    for bin_ in sorted(histogram):
        seen += histogram[bin_]
        if seen >= rank:
            return 0 if bin_ == 0 else min(largest, round(BIN_RATIO ** (bin_ - 0.5)))
    raise AssertionError("a rank past the histogram's rows")


def _median(histogram: dict[int, int], largest: int) -> int:
    """The usual median: of an even count, the mean of the two middle lengths, not the lower one, which in a domain
    of two groups of rows (a few long, a few short) is the top of the lower group."""
    rows = sum(histogram.values())
    return round((_at_rank(histogram, (rows + 1) // 2, largest) + _at_rank(histogram, rows // 2 + 1, largest)) / 2)


def _length_figures(histogram: dict[int, int], total: int, largest: int) -> dict:
    p95 = _at_rank(histogram, max(1, int(np.ceil(P95 * sum(histogram.values())))), largest)  # nearest rank
    return {"median": _median(histogram, largest), "p95": p95, "max": largest, "total": total}


def _length_counters(counters: dict[str, int], names=LENGTHS):
    """The length counters of `names` by (name, domain): histograms (bin -> rows), sums and maxima."""
    histograms, sums, maxima = defaultdict(Counter), Counter(), Counter()
    for key, value in counters.items():
        name, _, rest = key.partition("|")
        if name not in names:
            continue
        domain, _, field = rest.removeprefix("domain=").rpartition("|")
        if field.startswith("bin="):
            histograms[name, domain][int(field.removeprefix("bin="))] += value
        elif field == "sum":
            sums[name, domain] += value
        elif field == "max":
            maxima[name, domain] = max(maxima[name, domain], value)
    return histograms, sums, maxima


def stage2_lengths(counters: dict[str, int]) -> dict | None:
    """Per domain and over all: stage-2 rows, characters of the prompt, the target and both (median, p95, max,
    total), and the domain's share of the rows and of the target characters (where the loss is). None when no length
    was counted (no stage-2 row, or a run before these counters)."""
    histograms, sums, maxima = _length_counters(counters)
    if not histograms:
        return None
    domains = sorted({domain for _, domain in histograms})
    rows = {domain: histograms[PROMPT_CHARS, domain].total() for domain in domains}
    target_total = sum(sums[TARGET_CHARS, domain] for domain in domains)
    figures = {domain: {"rows": rows[domain], "share_of_rows": round(rows[domain] / sum(rows.values()), 4),
                        "share_of_target_chars": round(sums[TARGET_CHARS, domain] / target_total, 4)
                        if target_total else 0.0,
                        **{name.removeprefix("stage2_"): _length_figures(histograms[name, domain],
                                                                         sums[name, domain], maxima[name, domain])
                           for name in LENGTHS}}
               for domain in domains}
    # A histogram over all domains is the sum of theirs: the bins are the same everywhere.
    overall = {name.removeprefix("stage2_"): _length_figures(sum((histograms[name, d] for d in domains), Counter()),
                                                             sum(sums[name, d] for d in domains),
                                                             max(maxima[name, d] for d in domains))
               for name in LENGTHS}
    return {"bin_ratio": BIN_RATIO, "all": {"rows": sum(rows.values()), **overall}, "domains": figures}


def stage1_lengths(counters: dict[str, int]) -> dict | None:
    """Per domain and over all: stage-1 documents and the characters of their `text` (median, p95, max, total). None
    when none was counted (no stage-1 row, or a run before these counters)."""
    histograms, sums, maxima = _length_counters(counters, (STAGE1_CHARS,))
    if not histograms:
        return None
    domains = sorted(domain for _, domain in histograms)
    figures = {domain: {"rows": histograms[STAGE1_CHARS, domain].total(),
                        "text_chars": _length_figures(histograms[STAGE1_CHARS, domain], sums[STAGE1_CHARS, domain],
                                                      maxima[STAGE1_CHARS, domain])}
               for domain in domains}
    overall = _length_figures(sum((histograms[STAGE1_CHARS, d] for d in domains), Counter()),
                              sum(sums[STAGE1_CHARS, d] for d in domains),
                              max(maxima[STAGE1_CHARS, d] for d in domains))
    return {"bin_ratio": BIN_RATIO, "all": {"rows": sum(f["rows"] for f in figures.values()), "text_chars": overall},
            "domains": figures}


def stats_from_counters(counters: dict[str, int]) -> dict:
    events = (IN, OUT, DEAD, EXACT, NEAR)
    totals = {name: counters.get(name, 0) for name in events}
    domains: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(events, 0))
    llm = {name: 0 for name in LLM_SPEND}
    dead_by_stage: dict[str, int] = {}
    replayed = {"rows": counters.get(REPLAYED, 0), REPLAY_BY_RULES: 0, REPLAY_BEYOND_RULES: 0, REPLAY_DIVERGED: 0,
                REPLAY_CONSTANT_IDS: 0, REPLAY_CONSTANT_SIZES: 0}
    versions: dict[str, int] = {}
    grouped_by_task: dict[str, int] = {}
    for name, value in counters.items():
        event, _, detail = name.partition("|")
        if event in LENGTHS or event == STAGE1_CHARS:
            continue  # stage2_lengths and stage1_lengths read them
        if event in (REDACTED, REDACTED_MATCHES):
            continue  # redacted() reads them
        if event in TEXT_FLAGS:
            continue  # text_flags() reads them
        if event == INPUT_VERSIONS:
            versions[detail] = value
        elif event == GROUP_FROM_TASK_ID:
            if detail:
                grouped_by_task[detail.removeprefix("domain=")] = value
        elif event == REPLAYED:
            if detail in replayed:
                replayed[detail] = value
        elif event == LLM:
            llm[detail] = value
        elif detail.startswith("domain="):
            domains[detail.removeprefix("domain=")][event] += value
        elif event == DEAD and detail:
            dead_by_stage[detail] = value

    def summary(numbers: dict[str, int]) -> dict:
        deduped = numbers[EXACT] + numbers[NEAR]
        return {"in": numbers[IN], "out": numbers[OUT], "dead_lettered": numbers[DEAD], "deduped": deduped,
                "deduped_exact": numbers[EXACT], "deduped_near": numbers[NEAR],
                "balanced": numbers[IN] == numbers[OUT] + numbers[DEAD] + deduped}

    return {**summary(totals), STAGE2_DEAD: counters.get(STAGE2_DEAD, 0), STAGE3_DEAD: counters.get(STAGE3_DEAD, 0),
            RECORDS_WITHOUT_ROWS: counters.get(RECORDS_WITHOUT_ROWS, 0),
            "dead_lettered_by_stage": dict(sorted(dead_by_stage.items())),
            "replayed": replayed,
            "input_schema_versions": dict(sorted(versions.items())),
            # Only a run with such rows has the key: an all-1.2 run's stats stay as they were.
            **({GROUP_FROM_TASK_ID: {"rows": counters[GROUP_FROM_TASK_ID],
                                     "domains": dict(sorted(grouped_by_task.items()))}}
               if counters.get(GROUP_FROM_TASK_ID) else {}),
            **({"stage1_lengths": lengths} if (lengths := stage1_lengths(counters)) else {}),
            **({"stage2_lengths": lengths} if (lengths := stage2_lengths(counters)) else {}),
            **text_flags(counters),
            # Only a run given --redact has them (pipelines.curate adds zeros where no pattern matched).
            **({REDACTED: redacted(counters)} if any(name.partition("|")[0] in (REDACTED, REDACTED_MATCHES)
                                                     for name in counters) else {}),
            # Only a run that asked an LLM has its spend: a grounded run's stats stay as they were.
            **({LLM: llm} if any(name.startswith(f"{LLM}|") for name in counters) else {}),
            "domains": {domain: summary(numbers) for domain, numbers in sorted(domains.items())}}


def redacted(counters: dict[str, int]) -> dict:
    """What curate --redact replaced: curated rows with a match and the matches, overall and per domain, and in
    the dead letters. Never the values themselves."""
    def figures(detail: str | None) -> dict:
        suffix = f"|{detail}" if detail else ""
        return {"rows": counters.get(REDACTED + suffix, 0), "matches": counters.get(REDACTED_MATCHES + suffix, 0)}

    domains = sorted({name.partition("|domain=")[2] for name in counters
                      if name.startswith((f"{REDACTED}|domain=", f"{REDACTED_MATCHES}|domain="))})
    return {**figures(None), "dead_letters": figures(DEAD_LETTER_DETAIL),
            "domains": {domain: figures(f"domain={domain}") for domain in domains}}


def counters_from_result(result) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    counters: dict[str, int] = defaultdict(int)
    for counter in query["counters"]:
        # A counter is reported once per step that incremented it: the run's figure is their sum.
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[counter.key.metric.name] += value or 0
    # The length maxima (count_stage1_lengths, count_stage2_lengths): a step's is its largest value, and the run's the
    # largest of those.
    for distribution in query["distributions"]:
        data = distribution.committed if distribution.committed is not None else distribution.attempted
        name = f"{distribution.key.metric.name}|max"
        if data is not None and data.count:
            counters[name] = max(counters.get(name, 0), data.max)
    return dict(counters)


def to_json(stats: dict) -> str:
    return json.dumps(stats, indent=2, sort_keys=True) + "\n"
