"""The dataset card (README.md) written beside the shards: YAML `configs` so `datasets.load_dataset(DIR, "stage2")`
finds each stage's Parquet files, then what the folders hold and the run's counts."""

from __future__ import annotations

import json

import yaml

from schemas.version import SCHEMA_VERSION, WORLDLINE_VERSION
from transforms.io import shard_prefix

# config name -> folder of Parquet shards. The stages are the training sets; the others are for inspection.
CONFIGS = {
    "stage1": "Dynamics documents for continued pretraining: history window, action, next observation.",
    "stage2": "Chat samples for SFT: a grounded reasoning trace, then the predicted observation.",
    "stage3": "RL prompts with the reference observation, exact and format-only spans, and a rubric id.",
    "transitions": "Curated transitions: normalized state and next observation, volatile spans, content hash.",
    "dedupe": "Transitions removed as exact or near duplicates, each with the id it duplicates.",
    "dead_letter": "Records rejected by a step, with the step, the reason and the record as read.",
}


# config name -> the stats.json count of its table's rows.
ROW_COUNTS = {"stage1": "out", "stage2": "out", "stage3": "out", "transitions": "out", "dedupe": "deduped",
              "dead_letter": "dead_lettered"}


def empty_configs(stats: dict) -> list[str]:
    """The configs whose table has no rows in this run. `datasets` cannot load a table without rows (5.x: its
    Parquet reader asks for batches of the first row group's size, 0 in an empty table's shard, and a shard with no
    row group at all gives a split that "corresponds to no data"), so the card leaves them out of `configs`. A
    count the stats do not have is taken as rows present."""
    return [name for name in CONFIGS if stats.get(ROW_COUNTS[name]) == 0]


def dataset_card(stats: dict, settings: dict, run_id: str = "") -> str:
    """The patterns name this run's shards (transforms.io.shard_prefix), so a re-curated folder never loads a
    previous run's rows from the `datasets` cache. Only tables with rows are configs (empty_configs); the prose
    names the empty ones."""
    pattern = f"{shard_prefix(run_id)}-*.parquet"
    empty = empty_configs(stats)
    configs = [{"config_name": name, "data_files": [{"split": "train", "path": f"{name}/{pattern}"}],
                **({"default": True} if name == "stage1" else {})} for name in CONFIGS if name not in empty]
    header = {
        **({"configs": configs} if configs else {}),
        "tags": ["world-model", "agents", "worldline"],
        "license": "other",
    }
    folders = "\n".join(f"- `{name}/`: {text}" + (" Empty in this run (no rows), so not a config: `datasets` cannot "
                                                  "load a table without rows." if name in empty else "")
                         for name, text in CONFIGS.items())
    domains = "\n".join(f"| {domain} | {d['in']} | {d['out']} | {d['dead_lettered']} | {d['deduped_exact']} | "
                        f"{d['deduped_near']} |" for domain, d in stats.get("domains", {}).items())
    return (f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n\n"
            "# worldline curated transitions\n\n"
            f"Written by worldline {WORLDLINE_VERSION} (raw schema {SCHEMA_VERSION}) from real environment "
            "transitions.\n\n"
            "```python\nfrom datasets import load_dataset\n"
            "ds = load_dataset(\"PATH/TO/THIS/FOLDER\", \"stage2\")\n```\n\n"
            f"## Folders\n\n{folders}\n- `stats.json`: counts of this run.\n\n"
            f"## Counts\n\nIn {stats.get('in', 0)}, out {stats.get('out', 0)}, dead-lettered "
            f"{stats.get('dead_lettered', 0)}, deduplicated {stats.get('deduped', 0)}.\n\n"
            "| domain | in | out | dead-lettered | exact dups | near dups |\n|---|---|---|---|---|---|\n"
            f"{domains}\n\n"
            f"## Settings\n\n```json\n{json.dumps(settings, indent=2, sort_keys=True)}\n```\n")
