"""Every config the dataset card lists loads with `datasets.load_dataset(OUT, name)` offline, including when a run's
dedupe or dead-letter table is empty (`datasets` cannot load a table without rows: the card leaves it out)."""

import json
import os
import stat
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import yaml

from collectors.store import EpisodeStore
from pipelines.curate import run_curation
from tests.pipelines.curation_raw_collection import _episode
from transforms.card import CONFIGS, dataset_card

LOAD_EVERY_CONFIG = """import json, sys, datasets
print(json.dumps({name: datasets.load_dataset(sys.argv[1], name)["train"].num_rows for name in sys.argv[2:]}))
"""


def _card_configs(out) -> list[str]:
    card = (out / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    return [config["config_name"] for config in header.get("configs", [])]


def _load_every_config(out, names, tmp_path) -> dict:
    # A fresh process: the offline switches are read when `datasets` is imported.
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}
    result = subprocess.run([sys.executable, "-c", LOAD_EVERY_CONFIG, str(out), *names], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def _rows(out, name) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in (out / name).glob("*.parquet"))


def test_a_run_without_duplicates_or_dead_letters_loads_every_listed_config(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    store = EpisodeStore(raw)
    _episode(store, "terminal", "clean-a", [("ls", "notes.txt todo.txt"), ("pwd", "/home/user")])
    _episode(store, "terminal", "clean-b", [("whoami", "root"), ("uname -s", "Linux")])
    stats = run_curation(str(raw), str(out))
    assert (stats["out"], stats["deduped"], stats["dead_lettered"]) == (4, 0, 0)
    assert _rows(out, "dedupe") == 0 and _rows(out, "dead_letter") == 0  # the tables are there, empty

    listed = _card_configs(out)
    assert listed == ["stage1", "stage2", "stage3", "transitions"]
    assert _load_every_config(out, listed, tmp_path) == {name: 4 for name in listed}
    card = (out / "README.md").read_text()
    for name in ("dedupe", "dead_letter"):
        assert f"- `{name}/`: " in card and "Empty in this run (no rows), so not a config" in \
            card.split(f"- `{name}/`: ")[1].split("\n")[0]
    assert "Empty in this run" not in card.split("- `stage1/`: ")[1].split("\n")[0]

    # The files written through a temporary name have the mode open() gives, as the shards do (0600 before).
    probe = tmp_path / "probe"
    probe.touch()
    expected = stat.S_IMODE(probe.stat().st_mode)
    files = [out / "README.md", out / "stats.json", *out.glob("*/*.parquet"), *raw.glob("episodes/*/*.json"),
             *raw.glob("transitions/*/*.parquet")]
    assert len(files) == 2 + 6 + 2 + 2
    assert {str(path): oct(stat.S_IMODE(path.stat().st_mode)) for path in files} == \
        {str(path): oct(expected) for path in files}


def test_every_config_of_a_run_with_every_table_filled_loads(curated, tmp_path):
    out, _, _ = curated
    listed = _card_configs(out)
    assert listed == list(CONFIGS)
    assert _load_every_config(out, listed, tmp_path) == {name: _rows(out, name) for name in listed}


@pytest.mark.parametrize("counts, listed", [
    ({"out": 0, "deduped": 0, "dead_lettered": 3}, ["dead_letter"]),
    ({"out": 2, "deduped": 1, "dead_lettered": 0}, ["stage1", "stage2", "stage3", "transitions", "dedupe"]),
    ({}, list(CONFIGS)),  # counts the stats do not have: the tables are taken as holding rows
])
def test_the_card_lists_the_tables_with_rows(counts, listed):
    header = yaml.safe_load(dataset_card(counts, {}, "run").split("---\n")[1])
    assert [config["config_name"] for config in header.get("configs", [])] == listed
    assert [config["config_name"] for config in header.get("configs", []) if config.get("default")] == \
        (["stage1"] if "stage1" in listed else [])


def test_a_card_without_any_rows_lists_no_config():
    header = yaml.safe_load(dataset_card({"out": 0, "deduped": 0, "dead_lettered": 0}, {}, "run").split("---\n")[1])
    assert "configs" not in header


def test_the_card_counts_replays_when_there_were_some():
    from transforms.card import dataset_card
    stats = {"in": 4, "out": 4, "replayed": {"rows": 3, "differs_within_rule_spans": 1, "differs_beyond_rules": 2,
                                             "diverged": 0, "constant_ids_unmasked": 5}}
    counts = dataset_card(stats, {}, "run").split("## Counts")[1].split("## Settings")[0]
    assert "Replayed (`collect --replays`): 3 transitions, of which 3 showed other text, 2 of them" in counts
    assert "5 id spans" in counts
    assert "Replayed" not in dataset_card({"in": 4, "out": 4}, {}, "run")
