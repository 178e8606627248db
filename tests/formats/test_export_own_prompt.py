"""`worldline export agentworldbench` writes the system prompt a shard's own stage-2 rows carry, so that an export
of shards curated by an older worldline (whose prompts said less) is faithful to them; only episodes whose rows hold
no system message get today's prompt, and the command says so in one note line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipelines.cli import build_cli
from schemas import STAGE2_SCHEMA
from transforms.prompts import system_prompt

TODAYS = system_prompt("terminal")
# What an older curation wrote: the same prompt without a sentence added since (as mcp's 1.0-era prompt lacked the
# sandbox's network and the error data sentences).
OLDER = TODAYS.replace(" Predict what the environment really returns, including errors, empty output and unchanged "
                       "screens; never describe it, never act for the agent.", "")


@pytest.fixture
def shard(stage3_curated, tmp_path) -> Path:
    """A copy of a real curate output (tests/formats/stage3_collection.py: one terminal episode)."""
    assert OLDER != TODAYS
    return Path(shutil.copytree(stage3_curated, tmp_path / "shard"))


def _rewrite_system(shard: Path, change) -> None:
    """Each stage-2 row's messages passed through change, as another curation would have written them."""
    for part in (shard / "stage2").glob("*.parquet"):
        rows = pq.read_table(part).to_pylist()
        assert rows and all(row["messages"][0] == {"role": "system", "content": TODAYS} for row in rows)
        for row in rows:
            row["messages"] = change(row["messages"])
        pq.write_table(pa.Table.from_pylist(rows, schema=STAGE2_SCHEMA), part)


def _export(shard: Path, out: Path) -> tuple[list[dict], list[str]]:
    result = CliRunner().invoke(build_cli(), ["export", "agentworldbench", "--input", str(shard), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (out / "terminal_test.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines
    return lines, [line for line in result.output.splitlines() if line.startswith("Note:")]


def test_the_export_carries_the_prompt_the_shards_rows_were_written_with(shard, tmp_path):
    _rewrite_system(shard, lambda messages: [{"role": "system", "content": OLDER}, *messages[1:]])
    lines, notes = _export(shard, tmp_path / "awb")
    assert {line["system_str"] for line in lines} == {OLDER}
    assert notes == []


def test_a_shard_with_todays_prompt_exports_it_without_a_note(shard, tmp_path):
    lines, notes = _export(shard, tmp_path / "awb")
    assert {line["system_str"] for line in lines} == {TODAYS}
    assert notes == []


@pytest.mark.parametrize("how", ["no system message", "no stage2 folder"])
def test_without_a_system_message_todays_prompt_and_one_note(shard, tmp_path, how):
    if how == "no stage2 folder":
        shutil.rmtree(shard / "stage2")
    else:
        _rewrite_system(shard, lambda messages: messages[1:])
    lines, notes = _export(shard, tmp_path / "awb")
    assert {line["system_str"] for line in lines} == {TODAYS}
    assert notes == [f"Note: {shard} has no stage-2 system message for 1 episode (terminal 1): their system_str is "
                     "this worldline's prompt, which may not be the one they were curated with."]
