"""`worldline query --format csv|jsonl` prints whole values (the table cuts a cell at 120 characters), with nothing
but the rows on stdout, so the output can go to a file or another program."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from collectors.store import EpisodeStore
from tests.pipelines.curation_raw_collection import _episode

REPO = Path(__file__).resolve().parents[1]
LONG = "a page of " + "words " * 60 + "end"
TRICKY = 'café "quoted", and a comma\non two lines'
SQL = "SELECT step, next_observation.text AS text, next_observation.raw AS raw FROM raw_transitions ORDER BY step"


def query(raw: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(raw), SQL, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def collection(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    _episode(EpisodeStore(raw), "web", "web-long", [("click", LONG), ("type", TRICKY), ("scroll", "third")])
    return raw


def test_jsonl_and_csv_print_whole_values(tmp_path):
    raw = collection(tmp_path)
    table = query(raw)
    assert table.returncode == 0 and LONG not in table.stdout and "…" in table.stdout

    lines = query(raw, "--format", "jsonl")
    assert lines.returncode == 0, lines.stderr
    rows = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [row["text"] for row in rows] == [LONG, TRICKY, "third"]
    assert rows[1]["raw"] == TRICKY  # raw bytes, decoded

    table_csv = query(raw, "--format", "csv")
    assert table_csv.returncode == 0, table_csv.stderr
    parsed = list(csv.DictReader(io.StringIO(table_csv.stdout)))
    assert [row["text"] for row in parsed] == [LONG, TRICKY, "third"] and parsed[0]["step"] == "0"


def test_the_row_cap_note_stays_off_stdout(tmp_path):
    capped = query(collection(tmp_path), "--format", "jsonl", "--limit", "2")
    assert capped.returncode == 0, capped.stderr
    assert len(capped.stdout.splitlines()) == 2 and "first 2 rows shown" in capped.stderr
