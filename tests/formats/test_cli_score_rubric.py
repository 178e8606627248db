"""`worldline score` on a stage-3 row whose rubric it does not implement (a plugin's domain scored where the plugin
is not installed): one `Error:` line and exit 2, README's code for input a command cannot start on, found from the
ids before any sample is scored or --output written. It was exit 1, raised while scoring."""

from __future__ import annotations

import json
import shutil

import pyarrow.compute as pc
import pyarrow.parquet as pq
from click.testing import CliRunner

from pipelines.cli import build_cli


def test_an_unknown_rubric_id_is_a_usage_error_before_scoring(stage3_curated, tmp_path):
    shards = tmp_path / "shards"
    shutil.copytree(stage3_curated, shards)
    [path, *_] = sorted((shards / "stage3").glob("*.parquet"))
    table = pq.read_table(path)
    first = table.column("id")[0].as_py()
    rubric = pc.if_else(pc.equal(table.column("id"), first), "worldline/pyrepl/v1", table.column("rubric_id"))
    pq.write_table(table.set_column(table.schema.get_field_index("rubric_id"), "rubric_id", rubric), path)
    predictions, output = tmp_path / "predictions.jsonl", tmp_path / "scores.jsonl"
    predictions.write_text(json.dumps({"id": first, "completion": "<predicted_observation>x</predicted_observation>"})
                           + "\n")

    result = CliRunner().invoke(build_cli(), ["score", "--shards", str(shards), "--predictions", str(predictions),
                                              "--output", str(output)], catch_exceptions=False)

    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert message.startswith(f"Error: stage-3 row {first} ({predictions}:1): unknown rubric id "
                              "'worldline/pyrepl/v1': this scorer implements "), message
    assert len(result.stderr.strip().splitlines()) == 1 and not output.exists() and "scored" not in result.stdout
