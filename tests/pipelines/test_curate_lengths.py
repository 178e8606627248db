"""stats.json and the card give each domain's stage-2 lengths and its share of the rows and of the target characters
(output audit 7, F3 and F5), and they agree with the shards: a real curation (the `curated` fixture) read back."""

import json
from collections import defaultdict

import duckdb
import numpy as np


def _from_shards(out) -> dict[str, dict[str, list[int]]]:
    lengths = defaultdict(lambda: defaultdict(list))
    for domain, messages, target in duckdb.sql(f"SELECT domain, messages, target FROM "
                                               f"read_parquet('{out}/stage2/*.parquet')").fetchall():
        lengths[domain]["prompt_chars"].append(sum(len(message["content"]) for message in messages))
        lengths[domain]["target_chars"].append(len(target))
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
            for quantile, q in (("median", 0.5), ("p95", 0.95)):
                # Read from a histogram whose bins are 5% wide: within 2.5% of the nearest-rank value.
                assert abs(figures[name][quantile] - _nearest_rank(values, q)) <= 0.025 * _nearest_rank(values, q)
    assert stats["all"]["rows"] == rows
    assert stats["all"]["target_chars"]["max"] == max(max(found["target_chars"]) for found in shards.values())


def test_the_card_shows_them(curated):
    out, _, _ = curated
    card = (out / "README.md").read_text()
    counts = card.split("## Counts")[1].split("\n## ")[0]
    for domain, figures in json.loads((out / "stats.json").read_text())["stage2_lengths"]["domains"].items():
        prompt, target = figures["prompt_chars"], figures["target_chars"]
        assert (f"| {domain} | {figures['rows']:,} | {figures['share_of_rows']:.1%} | {prompt['median']:,} / "
                f"{prompt['p95']:,} / {prompt['max']:,} | {target['median']:,} / {target['p95']:,} / "
                f"{target['max']:,} | {figures['share_of_target_chars']:.1%} |") in counts
    prose = " ".join(counts.split())
    assert "loses its target, the part the loss is on, under right-truncation" in prose
    assert "weight the loss or sample rows per domain" in prose

