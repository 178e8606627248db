"""`worldline curate` mistakes stop the command with one line saying what to pass, before the output folder is made:
a runner Beam does not know, an input that does not exist or is a collection's transitions/ folder, and an output
folder holding files curate did not write."""

import subprocess
import sys
from pathlib import Path

from pipelines.output_folder import check_output_apart

REPO = Path(__file__).resolve().parents[2]


def curate(source, out, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(source), "--output",
                           str(out), *extra], cwd=REPO, capture_output=True, text=True, timeout=300)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_an_unknown_runner_is_refused_before_the_output_is_made(raw_collection, tmp_path):
    line = one_error_line(curate(raw_collection[0], tmp_path / "shards", "--runner=Bogus"))
    assert line.startswith("Error: --runner Bogus: Unexpected pipeline runner: Bogus. Valid values are "), line
    assert "FnApiRunner" in line
    assert not (tmp_path / "shards").exists()


def test_an_input_that_does_not_exist_is_named_as_such(tmp_path):
    line = one_error_line(curate(tmp_path / "nope", tmp_path / "shards"))
    assert line == f"Error: {tmp_path / 'nope'} is not a raw collection: it does not exist"
    assert not (tmp_path / "shards").exists()


def test_a_collections_transitions_folder_names_the_folder_above(raw_collection, tmp_path):
    raw = raw_collection[0]
    line = one_error_line(curate(raw / "transitions", tmp_path / "shards"))
    assert line == f"Error: {raw / 'transitions'} is the transitions/ folder of a collection: pass {raw}, the " \
                   "folder above it"


def test_an_output_holding_other_files_is_refused_and_they_are_named(raw_collection, curated, tmp_path):
    out = tmp_path / "awb"
    out.mkdir()
    (out / "terminal_test.jsonl").write_text("{}\n")
    line = one_error_line(curate(raw_collection[0], out, "--overwrite"))
    assert line == (f"Error: --output {out} already holds files curate did not write (terminal_test.jsonl); choose "
                    "an empty or new folder")
    assert sorted(path.name for path in out.iterdir()) == ["terminal_test.jsonl"]
    # A curate output stays one with a file of the user's beside it: --overwrite may still replace it.
    (curated[0] / "NOTES.txt").write_text("mine")
    try:
        check_output_apart(str(raw_collection[0]), str(curated[0]))
    finally:
        (curated[0] / "NOTES.txt").unlink()
