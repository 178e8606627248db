"""Counts of what each curation step did, kept as Beam Metrics and summed into the run's stats.json.

Every record is counted once when read (`in`) and once where it leaves: written (`out`), dead-lettered or
deduplicated, overall and per domain, so `in = out + dead_lettered + deduped` can be checked after any run. A
written record whose reasoning trace failed has no stage-2 row: it is counted `out` and `stage2_dead_lettered`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import lru_cache

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

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
UNKNOWN_DOMAIN = "<unknown>"


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


def stats_from_counters(counters: dict[str, int]) -> dict:
    events = (IN, OUT, DEAD, EXACT, NEAR)
    totals = {name: counters.get(name, 0) for name in events}
    domains: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(events, 0))
    llm = {name: 0 for name in LLM_SPEND}
    dead_by_stage: dict[str, int] = {}
    replayed = {"rows": counters.get(REPLAYED, 0), REPLAY_BY_RULES: 0, REPLAY_BEYOND_RULES: 0, REPLAY_DIVERGED: 0,
                REPLAY_CONSTANT_IDS: 0, REPLAY_CONSTANT_SIZES: 0}
    for name, value in counters.items():
        event, _, detail = name.partition("|")
        if event == REPLAYED:
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
            # Only a run that asked an LLM has its spend: a grounded run's stats stay as they were.
            **({LLM: llm} if any(name.startswith(f"{LLM}|") for name in counters) else {}),
            "domains": {domain: summary(numbers) for domain, numbers in sorted(domains.items())}}


def counters_from_result(result) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    counters: dict[str, int] = defaultdict(int)
    for counter in query["counters"]:
        # A counter is reported once per step that incremented it: the run's figure is their sum.
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[counter.key.metric.name] += value or 0
    return dict(counters)


def to_json(stats: dict) -> str:
    return json.dumps(stats, indent=2, sort_keys=True) + "\n"
