"""`worldline export --out` a folder holding files no export writes (the shards folder itself, a notes folder) is
refused without suggesting --overwrite: the message said "pass --overwrite", which was then refused too (second
walkthrough F12). A folder holding only an earlier export still points to --overwrite."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def export(kind: str, out: Path) -> str:
    # The --out check comes before the input is read, so any input folder will do.
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "export", kind, "--input", str(out), "--out",
                             str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    return " ".join(result.stderr.split())


@pytest.mark.parametrize("kind", ["agentworldbench", "atif"])
def test_the_shards_folder_is_refused_without_suggesting_overwrite(tmp_path, kind):
    for name in ("stage1", "stage2", "transitions"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part-0.parquet").write_bytes(b"PAR1")
    (tmp_path / "stats.json").write_text("{}")
    message = export(kind, tmp_path)
    assert f"which an {kind} export does not write: choose a new or empty folder" in message, message
    assert "pass --overwrite" not in message, message


def test_an_earlier_export_alone_still_points_to_overwrite(tmp_path):
    (tmp_path / "terminal_test.jsonl").write_text("{}\n")
    message = export("agentworldbench", tmp_path)
    assert "already holds an earlier agentworldbench export (terminal_test.jsonl): pass --overwrite" in message
