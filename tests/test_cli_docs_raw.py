"""What the docs tell a new user holds: the JSONL line docs/formats.md shows is curated as written (its base64 raw
bytes included), every end_reason and outcome the runner writes is in its table, the plugin doc lists every task key
load_tasks accepts, and no doc sends a user to a folder outside the repository."""

import json
import re
import subprocess
import sys
from pathlib import Path

from collectors.tasks import TASK_FIELDS

REPO = Path(__file__).resolve().parents[1]
FORMATS = (REPO / "docs" / "formats.md").read_text()


def raw_section() -> str:
    return FORMATS[FORMATS.index("## Raw collection"):]


def test_the_documented_jsonl_line_is_curated_as_written(tmp_path):
    section = raw_section()
    block = section[section.index("One line curation accepts"):]
    block = block[block.index("```json") + len("```json"):]
    row = json.loads(block[:block.index("```")])
    drop = tmp_path / "raw" / "transitions" / "notes.jsonl"
    drop.parent.mkdir(parents=True)
    drop.write_text(json.dumps(row) + "\n")
    out = tmp_path / "shards"
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(drop.parents[1]),
                          "--output", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["out"] == 1 and stats["dead_lettered"] == 0, stats
    query = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(out),
                            "SELECT next_text FROM transitions", "--format", "jsonl"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert json.loads(query.stdout)["next_text"] == "17 notes", query.stdout + query.stderr


def test_every_end_reason_and_outcome_is_documented():
    source = (REPO / "collectors" / "runner.py").read_text()
    body = source[source.index("def run_episode"):source.index("class RecordedActions")]
    reasons = set(re.findall(r'end_reason(?:, outcome)? = "([a-z_]+)"', body)) - {"interrupted"}  # never stored
    outcomes = set(re.findall(r'"(success|failure|error|unknown)"', body))
    table = raw_section()
    assert reasons == {"script_done", "budget", "done"} and outcomes == {"success", "failure", "error", "unknown"}
    for value in reasons | outcomes:
        assert f"| `{value}`" in table or f"`{value}` |" in table or f"`{value}` /" in table, value
    assert "`error: Type: message`" in table


def test_plugin_doc_lists_every_task_key():
    doc = (REPO / "docs" / "adding-a-collector.md").read_text()
    item = doc[doc.index("4. **A task file**"):doc.index("## A complete example")]
    assert {key for key in TASK_FIELDS if f"`{key}`" not in item} == set()


def test_no_doc_points_outside_the_repository():
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        assert "../shared" not in path.read_text(), path
