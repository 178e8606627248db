"""stats.json and the card give stage 1's document lengths per domain, as they do stage 2's, and the card says what
right-truncation does to a window-layout document and the limits this output needs (trainer walkthrough P2-P4): a
real curation (the `curated` fixture) read back."""

import json
import math
from collections import defaultdict

import duckdb
import numpy as np

from transforms.card import CHARS_PER_TOKEN, STAGE1_ROOM, STAGE2_ROOM


def _limit(estimate: int, room: float) -> int:
    return math.ceil(round(estimate * (1 + room)) / 256) * 256


def test_stats_hold_the_stage1_lengths_of_the_shards(curated):
    out, _, _ = curated
    stats = json.loads((out / "stats.json").read_text())["stage1_lengths"]
    shards = defaultdict(list)
    for domain, text in duckdb.sql(f"SELECT domain, text FROM read_parquet('{out}/stage1/*.parquet')").fetchall():
        shards[domain].append(len(text))
    assert sorted(stats["domains"]) == sorted(shards)
    for domain, lengths in shards.items():
        figures = stats["domains"][domain]
        assert figures["rows"] == len(lengths)
        assert figures["text_chars"]["max"] == max(lengths) and figures["text_chars"]["total"] == sum(lengths)
        true_median = np.median(lengths)
        assert abs(figures["text_chars"]["median"] - true_median) <= 0.025 * true_median, domain
    every = [length for lengths in shards.values() for length in lengths]
    assert stats["all"]["rows"] == len(every) and stats["all"]["text_chars"]["max"] == max(every)


def test_the_card_shows_them_and_what_truncation_cuts(curated):
    out, _, _ = curated
    card = (out / "README.md").read_text()
    counts = card.split("## Counts")[1].split("\n## ")[0]
    stats = json.loads((out / "stats.json").read_text())
    stage1 = stats["stage1_lengths"]
    longest = {}
    for domain, figures in stage1["domains"].items():
        text = figures["text_chars"]
        longest[domain] = round(text["max"] / CHARS_PER_TOKEN[domain])
        assert (f"| {domain} | {figures['rows']:,} | {text['median']:,} / {text['p95']:,} / {text['max']:,} | "
                f"~{round(text['p95'] / CHARS_PER_TOKEN[domain]):,} / ~{longest[domain]:,} |") in counts
    prose = " ".join(counts.split())
    assert "A stage 1 document ends with its own row's transition" in prose
    assert "cuts exactly what the row is for" in prose
    assert (f"for this output at least {_limit(max(longest.values()), STAGE1_ROOM):,}: its longest document is "
            f"~{max(longest.values()):,} by the estimate") in prose
    assert "`--stage1-layout episode`" in prose


def test_the_card_names_both_effects_of_a_short_limit_in_trl_and_the_limits_needed(curated):
    out, _, _ = curated
    prose = " ".join((out / "README.md").read_text().split("## Counts")[1].split("\n## ")[0].split())
    domains = json.loads((out / "stats.json").read_text())["stage2_lengths"]["domains"]
    row = max(round(figures["prompt_target_chars"]["max"] / CHARS_PER_TOKEN[domain])
              for domain, figures in domains.items())
    target = max(round(figures["target_chars"]["max"] / CHARS_PER_TOKEN[domain]) for domain, figures in domains.items())
    assert f"this output needs `max_length` of at least {_limit(row, STAGE2_ROOM):,} tokens" in prose
    assert "is dropped (a progress bar" in prose and "the shares of rows above no longer hold" in prose
    assert "keeps a target cut before `</predicted_observation>`, which teaches answers that never close" in prose
    assert (f"`GRPOConfig.max_completion_length` (512 by default) to at least {_limit(target, STAGE2_ROOM):,}"
            in prose)
