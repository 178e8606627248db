"""The stage prompts fence the state (audit U5), every stage row carries its task_group (trainer walkthrough P8), and
curation counts the states an unfenced prompt would misread and the targets holding control characters (U5, U11).

The fences are read back by a real CommonMark parser (markdown-it-py, which rich brings); the counts come from real
curation runs."""

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from collectors.store import EpisodeStore
from pipelines.cli import build_cli
from pipelines.curate import run_curation
from schemas.stages import STAGE1_SCHEMA, STAGE2_SCHEMA, STAGE3_SCHEMA
from tests.pipelines.curation_raw_collection import write_episode
from transforms.curate import curated_table
from transforms.exports.agentworldbench import episode_lines
from transforms.prompts import turn_prompt
from transforms.stage_tables import build_stage_tables
from transforms.stages import build_stage_rows, episode_documents

# A screen showing what the turn prompt itself writes: an unclosed fence, a longer backtick run, a turn header and
# the section headers.
MARKUP_STATE = "$ cat m.md\n```json\n### Turn 9\n**Action:**\n**Current State:**\nsee ```` here\n$"


def _episode(steps: int = 6, group: str | None = "env-a") -> list[dict]:
    rows, state = [], MARKUP_STATE
    for step in range(steps):
        after = f"$ cmd{step}\nout{step}\n$"
        rows.append({"id": f"ep1:{step}", "episode_id": "ep1", "step": step, "domain": "terminal",
                     "instruction": "Run the commands.", "action_text": f"cmd{step}", "state_text": state,
                     "next_text": after, "next_volatile_spans": [], "task_group": group})
        state = after
    return rows


def _fences(markdown: str) -> list[str]:
    return [token.content for token in MarkdownIt("commonmark").parse(markdown) if token.type == "fence"]


def test_a_state_holding_the_prompts_markup_stays_one_code_block():
    rows = _episode(2)
    stage2 = build_stage_rows([], rows[0], "T")[1]
    opening = stage2["messages"][1]["content"]
    # The state is one block, the action the next: no header of the state is read as the prompt's.
    assert _fences(opening) == [MARKUP_STATE + "\n", "cmd0\n"]
    assert opening.count("\n**Action:**\n") == 1 + MARKUP_STATE.count("\n**Action:**\n")
    assert "\n`````\n" + MARKUP_STATE + "\n`````\n" in opening  # one backtick longer than the state's longest run
    # The export writes the state as the benchmark does, and there the state's fence swallows the action's.
    exported = episode_lines(rows)[0]["prompt"][0]
    assert exported == turn_prompt(1, "cmd0", "Run the commands.", MARKUP_STATE, fence_state=False)
    assert f"**Current State:**\n{MARKUP_STATE}\n\n**Action:**" in exported
    assert _fences(exported) != [MARKUP_STATE + "\n", "cmd0\n"]


@pytest.mark.parametrize("layout", ["window", "episode"])
def test_the_tables_carry_the_fenced_state_and_the_group_as_the_rows_built_one_by_one(layout):
    rows = _episode() + [{**row, "id": f"ep2:{row['step']}", "episode_id": "ep2", "task_group": None}
                         for row in _episode(3)]
    rows[1] = {**rows[1], "state_text": 5}  # a history-only value that is not a str, written as format() writes it
    currents = np.array([0, 2, 3, 4, 5, 6, 7, 8])
    starts = np.array([0, 0, 0, 0, 0, 6, 6, 6])
    built = build_stage_tables(rows, curated_table([rows[k] for k in currents]), currents, starts, currents,
                               ["T"] * len(currents), stage1_layout=layout)
    expected = [build_stage_rows(rows[start:current], rows[current], "T") for start, current in zip(starts, currents)]
    for index, (table, schema) in enumerate(zip((built.stage2, built.stage3), (STAGE2_SCHEMA, STAGE3_SCHEMA))):
        assert table.equals(pa.Table.from_pylist([rows_[index + 1] for rows_ in expected], schema=schema))
    documents = (pa.Table.from_pylist([rows_[0] for rows_ in expected], schema=STAGE1_SCHEMA) if layout == "window"
                 else pa.Table.from_pylist(episode_documents([rows[k] for k in currents]), schema=STAGE1_SCHEMA))
    assert built.stage1.equals(documents)
    assert built.stage2.column("task_group").to_pylist() == ["env-a"] * 5 + [None] * 3
    assert set(built.stage1.column("task_group").to_pylist()) == {"env-a", None}
    assert "**Current State:**\n```\n5\n```\n\n" in built.stage2.column("messages")[4][1]["content"].as_py()


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    root = tmp_path_factory.mktemp("fences")
    raw, out = root / "raw", root / "out"
    store = EpisodeStore(raw)
    write_episode(store, "t-markup-s0", "t-markup", [
        ("cat m.md", b"$ cat m.md\n```json\n### Turn 9\n**Action:**\n$"), ("echo a", b"a\n$"), ("echo b", b"b\n$")],
        "env-t")
    write_episode(store, "t-bytes-s0", "t-bytes", [
        ("cat c.bin", b"nul:\x00: esc:\x1b[31mred\x1b[0m bel:\x07 done"), ("echo c", b"c\n$")], "env-t")
    stats = run_curation(str(raw), str(out))
    return out, stats


def test_curation_counts_markup_states_and_control_targets_and_the_card_says_how_to_strip_them(curated):
    out, stats = curated
    assert stats["out"] == 5
    # t-markup's step 1 was taken in the screen showing the fence and headers; t-markup:0's state is "$ ".
    assert stats["states_with_prompt_markup"] == {"rows": 1, "domains": {"terminal": 1}}
    # t-bytes:0's next observation, and t-bytes:1's state (not a target), hold NUL, ESC and BEL.
    assert stats["targets_with_controls"] == {"rows": 1, "domains": {"terminal": 1},
                                              "characters": {"BEL": 1, "ESC": 1, "NUL": 1}}
    target = pq.read_table(out / "stage2", filters=[("id", "=", "t-bytes-s0:0")]).column("target")[0].as_py()
    assert "\x00" in target and "\x1b" in target
    card = (out / "README.md").read_text()
    sentence = card.split("**Control characters.**")[1].split("\n")[0]
    assert "In 1 transitions (terminal 1)" in sentence and "(BEL 1, ESC 1, NUL 1;" in sentence
    assert 're.sub(r"[\\x00-\\x08\\x0b-\\x1f]", "", text)' in sentence and "drop those rows" in sentence
    stage2 = pq.read_table(out / "stage2").to_pylist()
    assert {row["id"].split("-s0")[0]: row["task_group"] for row in stage2} == {"t-markup": "env-t",
                                                                                 "t-bytes": "env-t"}


def _without_task_group(folder):
    """An output as curate wrote it before the stage tables had task_group."""
    for stage in ("stage1", "stage2", "stage3"):
        for shard in (folder / stage).glob("*.parquet"):
            table = pq.read_table(shard)
            assert "task_group" in table.column_names
            pq.write_table(table.drop_columns(["task_group"]), shard)


def test_an_output_whose_stage_tables_lack_task_group_still_exports_scores_and_loads(curated, tmp_path):
    import shutil

    out, _ = curated
    before = tmp_path / "before"
    shutil.copytree(out, before)
    _without_task_group(before)
    cli = build_cli()
    exported = CliRunner().invoke(cli, ["export", "agentworldbench", "--input", str(before), "--out",
                                        str(tmp_path / "awb")])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in (tmp_path / "awb" / "terminal_test.jsonl").read_text().splitlines()]
    assert len(lines) == 5
    stage3 = pq.read_table(before / "stage3").to_pylist()
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": row["id"], "completion": f"<predicted_observation>"
                                               f"{row['reference']}</predicted_observation>"}) + "\n"
                                   for row in stage3))
    scored = CliRunner().invoke(cli, ["score", "--shards", str(before), "--predictions", str(predictions)])
    assert scored.exit_code == 0, scored.output
    assert f"scored {len(stage3)} of {len(stage3)} stage-3 rows" in scored.output
    queried = CliRunner().invoke(cli, ["query", str(before), "SELECT count(*) AS n FROM stage2", "--format", "csv"])
    assert queried.exit_code == 0 and queried.output.splitlines()[-1] == "5", queried.output
    # The older output's card has no task_group in its recipe; its configs load offline all the same.
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")}
    script = (f"from datasets import load_dataset\nds = load_dataset({str(before)!r}, 'stage2')['train']\n"
              "print(len(ds), 'task_group' in ds.column_names)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.split()[-2:] == ["5", "False"], result.stderr[-2000:]
