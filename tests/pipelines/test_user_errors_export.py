"""`worldline export` into a folder that already holds files: refused unless --overwrite, which replaces an earlier
export whole once the new one is complete; a second export used to add its files to the first one's."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# A file only an earlier export from other shards would hold, for each kind.
STALE = {"agentworldbench": "retired_test.jsonl", "atif": "terminal/retired-episode.json"}


def export(kind, source, out, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "export", kind, "--input", str(source), "--out",
                           str(out), *extra], cwd=REPO, capture_output=True, text=True, timeout=120)


def files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("kind", sorted(STALE))
def test_an_earlier_export_is_kept_unless_overwrite_replaces_it_whole(curated, tmp_path, kind):
    out = tmp_path / kind
    assert export(kind, curated[0], out).returncode == 0
    exported = files(out)
    (out / STALE[kind]).write_text("{}\n")
    before = files(out)

    again = export(kind, curated[0], out)
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr
    message = " ".join(again.stderr.split())
    assert message.startswith(f"Error: --out {out} already holds ") and "pass --overwrite" in message, message
    assert files(out) == before

    replaced = export(kind, curated[0], out, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert files(out) == exported  # the stale file is gone with the rest of the earlier export
    assert sorted(path.name for path in tmp_path.iterdir()) == [kind]  # no staging or replaced folder left


@pytest.mark.parametrize("kind", sorted(STALE))
def test_overwrite_leaves_a_folder_holding_other_files_alone(curated, tmp_path, kind):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = export(kind, curated[0], out, "--overwrite")
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert f"--out {out} holds notes.txt, which an {kind} export does not write" in message, message
    assert files(out) == {"notes.txt": b"mine"}


def test_a_missing_input_or_query_folder_is_said_not_to_exist(tmp_path):
    # Both said "is not a folder" of a path that was not there at all (a typo), as of a file given instead.
    missing, a_file = tmp_path / "shrads", tmp_path / "notes.txt"
    a_file.write_text("x")
    for source, said in ((missing, "does not exist"), (a_file, "is a file, not a folder")):
        exported = export("atif", source, tmp_path / "atif")
        assert exported.returncode == 2 and said in " ".join(exported.stderr.split()), exported.stderr
        queried = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(source), "SELECT 1"], cwd=REPO,
                                 capture_output=True, text=True, timeout=120)
        assert queried.returncode == 2 and f"{source} {said}" in queried.stderr, queried.stderr
