"""stats.json and the card give each domain's stage-2 lengths and its share of the rows and of the target characters
(output audit 7, F3 and F5), and a row's prompt and target together, what a context limit must hold, with an
estimate in tokens (walkthrough F6), and they agree with the shards: a real curation (the `curated` fixture) read
back."""

import json
from collections import defaultdict

import duckdb
import numpy as np

from transforms.card import CHARS_PER_TOKEN
from transforms.stats import LENGTHS, length_bins, stage2_lengths


def _from_shards(out) -> dict[str, dict[str, list[int]]]:
    lengths = defaultdict(lambda: defaultdict(list))
    for domain, messages, target in duckdb.sql(f"SELECT domain, messages, target FROM "
                                               f"read_parquet('{out}/stage2/*.parquet')").fetchall():
        lengths[domain]["prompt_chars"].append(sum(len(message["content"]) for message in messages))
        lengths[domain]["target_chars"].append(len(target))
        lengths[domain]["prompt_target_chars"].append(lengths[domain]["prompt_chars"][-1] + len(target))
    return lengths


def _nearest_rank(values: list[int], q: float) -> int:
    return int(np.percentile(values, q * 100, method="inverted_cdf"))


def test_stats_hold_the_stage2_lengths_of_the_shards(curated):
    out, _, _ = curated
    stats = json.loads((out / "stats.json").read_text())["stage2_lengths"]
    shards = _from_shards(out)
    assert sorted(stats["domains"]) == sorted(shards)
    rows = sum(len(found["target_chars"]) for found in shards.values())
    target_total = sum(sum(found["target_chars"]) for found in shards.values())
    for domain, found in shards.items():
        figures = stats["domains"][domain]
        assert figures["rows"] == len(found["target_chars"])
        assert figures["share_of_rows"] == round(len(found["target_chars"]) / rows, 4)
        assert figures["share_of_target_chars"] == round(sum(found["target_chars"]) / target_total, 4)
        for name, values in found.items():
            assert figures[name]["max"] == max(values) and figures[name]["total"] == sum(values), (domain, name)
            # Read from a histogram whose bins are 5% wide: within 2.5% of the usual median and the nearest-rank p95.
            for quantile, true in (("median", np.median(values)), ("p95", _nearest_rank(values, 0.95))):
                assert abs(figures[name][quantile] - true) <= 0.025 * true, (domain, name, quantile)
    assert stats["all"]["rows"] == rows
    assert stats["all"]["target_chars"]["max"] == max(max(found["target_chars"]) for found in shards.values())
    assert stats["all"]["prompt_target_chars"]["max"] == max(max(found["prompt_target_chars"])
                                                            for found in shards.values())


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two():
    # Two groups of rows, as mcp's were (walkthrough F6): the lower middle row is the top of the short group.
    lengths = [3_000] * 10 + [14_000] * 10
    counters = {}
    for name in LENGTHS:  # the same lengths for each, as every row has all three
        counters |= {f"{name}|domain=mcp|bin={bin_}": int(rows)
                     for bin_, rows in zip(*np.unique(length_bins(np.array(lengths)), return_counts=True))}
        counters |= {f"{name}|domain=mcp|sum": sum(lengths), f"{name}|domain=mcp|max": max(lengths)}
    median = stage2_lengths(counters)["domains"]["mcp"]["prompt_chars"]["median"]
    assert abs(median - 8_500) <= 0.025 * 8_500


def test_the_card_shows_them(curated):
    out, _, _ = curated
    card = (out / "README.md").read_text()
    counts = card.split("## Counts")[1].split("\n## ")[0]
    lengths = json.loads((out / "stats.json").read_text())["stage2_lengths"]
    longest = {}
    for domain, figures in lengths["domains"].items():
        prompt, target, both = figures["prompt_chars"], figures["target_chars"], figures["prompt_target_chars"]
        longest[domain] = round(both["max"] / CHARS_PER_TOKEN[domain])
        assert (f"| {domain} | {figures['rows']:,} | {figures['share_of_rows']:.1%} | {prompt['median']:,} / "
                f"{prompt['p95']:,} / {prompt['max']:,} | {target['median']:,} / {target['p95']:,} / "
                f"{target['max']:,} | {both['median']:,} / {both['p95']:,} / {both['max']:,} | "
                f"~{round(both['p95'] / CHARS_PER_TOKEN[domain]):,} / ~{longest[domain]:,} | "
                f"{figures['share_of_target_chars']:.1%} |") in counts
    every = lengths["all"]
    cells = " | ".join(f"{every[name]['median']:,} / {every[name]['p95']:,} / {every[name]['max']:,}"
                       for name in ("prompt_chars", "target_chars", "prompt_target_chars"))
    assert f"| all | {every['rows']:,} | 100.0% | {cells} | - / ~{max(longest.values()):,} | 100.0% |" in counts
    prose = " ".join(counts.split())
    assert "set the limit above a domain's longest prompt+target in tokens" in prose
    assert "of an even count, the mean of the two middle rows" in prose
    assert "loses its target, the part the loss is on, under right-truncation" in prose
    assert "weight the loss or sample rows per domain" in prose

