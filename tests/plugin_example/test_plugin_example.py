"""A collector shipped as its own package: pip-installing it makes `worldline collect sqlite-demo` exist, with no
change to worldline, and it writes raw episodes in the shared schema; its `worldline.domains` entry point gives the
sqlite domain's curated rows their system prompt, rubric id and token estimates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from schemas import validate_transition
from transforms.prompts import system_prompt

PLUGIN = Path(__file__).parent


def test_installed_plugin_collects_end_to_end(tmp_path):
    # Built from a copy so the in-tree build leaves nothing in the repository; installed into its own folder so the
    # shared venv is untouched. That folder on PYTHONPATH is what a venv's site-packages is to entry points. The
    # build runs in pip's isolated build environment (setuptools from PyPI), as a user's `pip install` would.
    source = tmp_path / "src"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("test_*", "__pycache__", "*.egg-info", "build"))
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              "--target", str(site), str(source)], capture_output=True, text=True, timeout=180)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    worldline = [sys.executable, "-m", "pipelines.cli", "collect"]

    listed = subprocess.run([*worldline, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert "sqlite-demo" in listed.stdout
    without = subprocess.run([*worldline, "--help"], capture_output=True, text=True, timeout=60)
    assert "sqlite-demo" not in without.stdout  # it is the installed package that adds the command

    out = tmp_path / "out"
    done = subprocess.run([*worldline, "sqlite-demo", "--tasks", str(PLUGIN / "tasks.yaml"), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = pq.read_table(next((out / "transitions" / "sqlite").glob("*.parquet"))).to_pylist()
    for row in rows:
        validate_transition(row)
    texts = [row["next_observation"]["text"] for row in rows]
    assert texts[0] == "name | price\nkiwi | 2\n(1 row(s))"
    assert texts[1] == "OK, 3 row(s) affected"
    assert texts[2] == "name | price\napple | 4\nkiwi | 3\nmango | 6\n(3 row(s))"
    assert texts[3] == "Error: no such column: nope" and rows[3]["error"] == "no such column: nope"
    assert rows[0]["state"]["text"] == "tables: fruit"
    episode = json.loads(next((out / "episodes" / "sqlite").glob("*.json")).read_text())
    assert episode["domain"] == "sqlite" and episode["steps"] == 4

    # Curated, the domain gets the prompt and rubric its plugin registers (worldline.domains), not the generic ones.
    shards = tmp_path / "shards"
    curated = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(out),
                              "--output", str(shards)], capture_output=True, text=True, env=env, timeout=300)
    assert curated.returncode == 0, curated.stderr
    described = subprocess.run([sys.executable, "-c", "import json; from transforms.prompts import system_prompt; "
                                "print(json.dumps(system_prompt('sqlite')))"],
                               capture_output=True, text=True, env=env, timeout=60)
    prompt = json.loads(described.stdout)
    assert "You simulate an in-memory SQLite database." in prompt and prompt != system_prompt("sqlite")
    stage2 = pq.read_table(shards / "stage2").to_pylist()
    stage3 = pq.read_table(shards / "stage3").to_pylist()
    assert len(stage2) == len(stage3) == 4
    assert {row["messages"][0]["content"] for row in stage2} == {prompt}
    assert {row["prompt"][0]["content"] for row in stage3} == {prompt}
    assert {row["rubric_id"] for row in stage3} == {"worldline/sqlite/v1"}
    # The card's token estimates use the plugin's chars_per_token (3.4), where it said "not measured".
    lengths = json.loads((shards / "stats.json").read_text())["stage2_lengths"]["domains"]["sqlite"]
    both = lengths["prompt_target_chars"]
    card = (shards / "README.md").read_text()
    assert f"| ~{round(both['p95'] / 3.4):,} / ~{round(both['max'] / 3.4):,} |" in card
    assert ("sqlite (from worldline-sqlite-demo 0.1.0): the description its collector plugin gives "
            "(`worldline.domains`)") in card

    # The AgentWorldBench export evaluates the domain under the prompt it was trained with.
    awb = tmp_path / "awb"
    exported = subprocess.run([sys.executable, "-m", "pipelines.cli", "export", "agentworldbench",
                               "--input", str(shards), "--out", str(awb)],
                              capture_output=True, text=True, env=env, timeout=120)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in (awb / "sqlite_test.jsonl").read_text().splitlines()]
    assert lines and {line["system_str"] for line in lines} == {prompt}
