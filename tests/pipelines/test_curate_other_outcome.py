"""`worldline curate` of the sixth audit's raced os episode (its two raw rows: the recording of step 0 lacks the
galculator window its replay showed): the row leaves stage 3 alone, dead-lettered with stage `stage3` and counted,
and every table the card lists loads with as many rows as the card's counts say."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.curate import run_curation
from tests.pipelines.test_card_configs import _card_configs, _load_every_config, _rows
from transforms.card import table_rows

RAW_ROWS = Path(__file__).parent.parent / "transforms" / "data" / "open_calculator_raced.parquet"
RACED, SETTLED = "os-terminal-open-calculator-s0-c787f727:0", "os-terminal-open-calculator-s0-c787f727:1"


def _ids(out, table):
    return sorted(pq.read_table(out / table, columns=["id"]).column("id").to_pylist())


def test_a_raced_row_has_no_stage_3_row_and_is_dead_lettered_for_it(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "transitions" / "os").mkdir(parents=True)
    shutil.copy(RAW_ROWS, raw / "transitions" / "os" / RAW_ROWS.name)
    stats = run_curation(str(raw), str(out))
    assert (stats["out"], stats["dead_lettered"], stats["stage3_dead_lettered"]) == (2, 0, 1)
    assert _ids(out, "transitions") == _ids(out, "stage1") == _ids(out, "stage2") == [RACED, SETTLED]
    assert _ids(out, "stage3") == [SETTLED]
    letters = pq.read_table(out / "dead_letter").to_pylist()
    assert [(letter["record_id"], letter["stage"]) for letter in letters] == [(RACED, "stage3")]
    assert letters[0]["reason"] == (f"{RACED}: no stage 3 row: replay 1 has 31 whole line(s) it lacks at the "
                                    "recording's line 8: another outcome, not values")
    listed = _card_configs(out)
    assert {name: table_rows(name, stats) for name in listed} == {name: _rows(out, name) for name in listed}
    assert _load_every_config(out, listed, tmp_path) == {name: _rows(out, name) for name in listed}
    assert "1 transitions have no stage 3 row" in (out / "README.md").read_text()
