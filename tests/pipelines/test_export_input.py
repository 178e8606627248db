"""`worldline export` reads a curate output only: a raw collection, a killed run's folder or a folder of other
Parquet files is refused with a message saying what to pass, never exported as empty lines or a traceback."""

import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

KINDS = ("agentworldbench", "atif")


def _export(kind, source, out):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "export", kind, "--input", str(source), "--out",
                           str(out)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("under", ["", "transitions"])
def test_a_raw_collection_is_refused_and_the_curate_output_named(raw_collection, tmp_path, kind, under):
    raw, _ = raw_collection
    result = _export(kind, raw / under if under else raw, tmp_path / "export")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert "is a raw collection" in message and "not a curate output" in message, message
    assert "the curate output folder" in message and "worldline curate --input" in message, message
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_parquet_without_curated_columns_is_refused(raw_collection, tmp_path, kind):
    """Raw rows dropped straight into transitions/ (no episodes/, no domain folders) look like shards by name."""
    raw, _ = raw_collection
    folder = tmp_path / "other"
    (folder / "transitions").mkdir(parents=True)
    shutil.copy(next((raw / "transitions" / "terminal").glob("*.parquet")), folder / "transitions" / "a.parquet")
    assert "action_text" not in pq.read_schema(folder / "transitions" / "a.parquet").names
    result = _export(kind, folder, tmp_path / "export")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert "does not hold curated transitions (no action_text, next_text column)" in message, message
    assert "the curate output folder" in message
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_runs_folder_is_refused_without_reading_its_work_parts(curated, tmp_path, kind):
    """A run killed before publishing leaves .work/ with half-written parts and no transitions/: the recursive glob
    read those and leaked duckdb's traceback ("No magic bytes found at end of file")."""
    killed = tmp_path / "killed"
    (killed / ".work" / "parts" / "dedupe").mkdir(parents=True)
    (killed / ".work" / "parts" / "dedupe" / "0123abcd.parquet").write_bytes(b"PAR1 half a part")
    (killed / ".work" / "parts" / "transitions").mkdir()
    shutil.copy(next((curated[0] / "transitions").glob("*.parquet")),
                killed / ".work" / "parts" / "transitions" / "4567.parquet")
    result = _export(kind, killed, tmp_path / "export")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "magic bytes" not in result.stderr and len(result.stderr.splitlines()) < 10, result.stderr
    message = " ".join(result.stderr.split())
    assert f"{killed} has no curated transitions ({killed}/transitions/*.parquet)" in message, message
    assert "did not finish" in message and "--overwrite" in message, message
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_folder_without_transitions_says_what_to_pass(tmp_path, kind):
    (tmp_path / "empty").mkdir()
    result = _export(kind, tmp_path / "empty", tmp_path / "export")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert "has no curated transitions" in message and "the curate output folder" in message, message


def test_a_curate_output_with_a_leftover_work_folder_exports_its_shards_only(curated, tmp_path):
    """Only OUT/transitions/*.parquet and OUT/stage2/*.parquet are read, never folders below or beside them."""
    out = tmp_path / "out"
    shutil.copytree(curated[0], out)
    (out / ".work" / "parts" / "transitions").mkdir(parents=True)
    (out / ".work" / "parts" / "transitions" / "x.parquet").write_bytes(b"PAR1 half a part")
    (out / "stage2" / "old").mkdir()
    (out / "stage2" / "old" / "x.parquet").write_bytes(b"PAR1 half a part")
    for kind in KINDS:
        result = _export(kind, out, tmp_path / kind)
        assert result.returncode == 0, result.stderr
    lines = sum(len(path.read_text().splitlines()) for path in (tmp_path / "agentworldbench").glob("*.jsonl"))
    assert lines == pq.read_table(out / "transitions").num_rows


def test_a_broken_shard_is_a_one_line_error(curated, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(curated[0], out)
    (out / "transitions" / "part-broken-00000-of-00001.parquet").write_bytes(b"not parquet at all")
    result = _export("atif", out, tmp_path / "atif")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "cannot read" in result.stderr and "part-broken" in " ".join(result.stderr.split())
