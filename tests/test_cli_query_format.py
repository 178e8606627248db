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


# A page's own bytes: an SGR colour, an OSC title (BEL-ended), NUL, CR, a C1 CSI, and what Rich would read as markup.
HOSTILE = "red:\x1b[31mRED\x1b[0m title:\x1b]2;OWNED\x07 nul:\x00 cr:\r c1:\x9b2J [/nope] [bold]B[/bold] :smile:"


def test_the_table_shows_control_characters_and_markup_as_text(tmp_path):
    raw = tmp_path / "raw"
    _episode(EpisodeStore(raw), "web", "web-odd", [("click", HOSTILE)])
    table = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(raw),
                            "SELECT next_observation.text AS text FROM raw_transitions"], cwd=REPO,
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    # Nothing the terminal would act on reaches it: not ESC, BEL, NUL, CR or the C1 CSI.
    assert not [c for c in table.stdout if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0], table.stdout
    words = " ".join(line.strip("│ ") for line in table.stdout.splitlines()).split()
    for shown in ("red:\\x1b[31mRED\\x1b[0m", "title:\\x1b]2;OWNED\\x07", "nul:\\x00", "cr:\\x0d", "c1:\\x9b2J",
                  "[/nope]", "[bold]B[/bold]", ":smile:"):
        assert shown in words, (shown, table.stdout)

    # The formats meant for programs keep every character.
    rows = [json.loads(line) for line in query(raw, "--format", "jsonl").stdout.splitlines()]
    assert rows[0]["text"] == HOSTILE and rows[0]["raw"] == HOSTILE
    # As bytes: text mode would read the CR as a newline.
    table_csv = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(raw), SQL, "--format", "csv"],
                               cwd=REPO, capture_output=True, timeout=120)
    parsed = list(csv.DictReader(io.StringIO(table_csv.stdout.decode(), newline="")))
    assert parsed[0]["text"] == HOSTILE
