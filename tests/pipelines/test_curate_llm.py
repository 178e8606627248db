"""`worldline curate --reasoning llm` end to end against a real llama.cpp server with a tiny model made here
(tests/llama_server.py): the stage-2 targets carry the model's traces, everything else is what the grounded run
(the `curated` fixture) wrote."""

import json
import os
import re
import subprocess
import sys

import pyarrow.parquet as pq

from tests.llama_server import MODEL_NAME

THINK = re.compile(r"^<think>(.*)</think>(.*)$", re.DOTALL)


def _stage2(out):
    return {row["id"]: row for row in pq.read_table(out / "stage2").to_pylist()}


def test_llm_reasoning_fills_stage2_with_the_models_traces(curated, raw_collection, tmp_path, llama_url):
    grounded_out, _, _ = curated
    raw, _ = raw_collection
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                             str(out), "--reasoning", "llm", "--llm-endpoint", llama_url, "--llm-model", MODEL_NAME,
                             "--llm-max-tokens", "48", "--llm-concurrency", "2", "--llm-cache",
                             str(tmp_path / "traces.sqlite"), "--runner=FnApiRunner"],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "WORLDLINE_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    # The same counts; only the targets' lengths differ (the model's traces are not the grounded ones).
    grounded = json.loads((grounded_out / "stats.json").read_text())
    assert stats["stage2_lengths"]["all"]["prompt_chars"] == grounded["stage2_lengths"]["all"]["prompt_chars"]
    assert stats == {**grounded, "settings": stats["settings"], "llm": stats["llm"],
                     "stage2_lengths": stats["stage2_lengths"]}
    assert stats["llm"]["failures"] == 0 and stats["llm"]["calls"] + stats["llm"]["cache_hits"] == stats["out"]

    llm_rows, grounded_rows = _stage2(out), _stage2(grounded_out)
    assert llm_rows.keys() == grounded_rows.keys() and llm_rows
    for row_id, row in llm_rows.items():
        think, prediction = THINK.match(row["target"]).groups()
        grounded_think, grounded_prediction = THINK.match(grounded_rows[row_id]["target"]).groups()
        assert row["reasoning_source"] == "llm"
        assert think and think.isprintable() and think != grounded_think, row_id
        assert len(think) <= 48, row_id  # one token per character with the byte-level vocabulary
        assert prediction == grounded_prediction and row["messages"] == grounded_rows[row_id]["messages"]
    assert (tmp_path / "traces.sqlite").exists() and not (tmp_path / "cache").exists()
