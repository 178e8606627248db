"""`worldline curate --overwrite` killed part-way leaves the earlier output whole. It used to remove the earlier output
before the new run started, so a kill (or a full disk, or a crash) left only `.curate.lock` and `.work`: the new
output is now staged beside the folder and swapped onto it in one rename(2) when complete."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from benchmarks.bench_curate import generate
from pipelines.output_folder import publish
from pipelines.staging import exchange

REPO = Path(__file__).resolve().parents[2]


def curate_command(raw: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output", str(out),
            "--keep-stand-ins", *extra]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A raw collection curated for ~10 s, and a complete output of it: (raw, output, its run id, stage1 rows)."""
    root = tmp_path_factory.mktemp("swap")
    raw, out = root / "raw", root / "earlier"
    generate(raw, 3000)
    result = subprocess.run(curate_command(raw, out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return raw, out, run_id(out), stage1_rows(out)


def run_id(out: Path) -> str:
    return json.loads((out / "stats.json").read_text())["settings"]["run_id"]


def stage1_rows(out: Path) -> int:
    with duckdb.connect() as con:
        return con.execute("SELECT count(*) FROM read_parquet(?)", [str(out / "stage1" / "*.parquet")]).fetchone()[0]


def kill_when(command: list[str], ready, deadline_s: float = 120) -> subprocess.Popen:
    """Start `command`, SIGKILL it as soon as `ready()` holds (polled every ms) and return it, waited for."""
    run = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + deadline_s
    while not ready():
        assert run.poll() is None, f"the run ended before the kill point: {run.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.001)
    run.send_signal(signal.SIGKILL)
    run.wait()
    return run


def new_shards(out: Path, old_run: str) -> bool:
    """Whether a stage1 shard of a run other than `old_run` is in the output or a folder staged beside it."""
    folders = [out / "stage1", *(staged / "stage1" for staged in out.parent.glob(f".{out.name}.curate-*"))]
    return any(not shard.name.startswith(f"part-{old_run}-") for folder in folders if folder.is_dir()
               for shard in folder.glob("*.parquet"))


def assert_whole(out: Path, rows: int) -> None:
    """The output is a finished one: stats.json, and every stage1 row its card names loads with `datasets`."""
    from datasets import load_dataset

    assert (out / "stats.json").is_file(), sorted(os.listdir(out))
    assert stage1_rows(out) == rows
    assert load_dataset(str(out), "stage1", cache_dir=str(out.parent / "hf-cache"))["train"].num_rows == rows


def test_a_kill_mid_run_leaves_the_earlier_output_and_the_next_run_removes_the_staging(earlier, tmp_path):
    raw, source, old_run, rows = earlier
    out = tmp_path / "out"
    shutil.copytree(source, out)
    (out / "NOTES.md").write_text("kept by --overwrite\n")

    kill_when(curate_command(raw, out, "--overwrite"),
              lambda: any((out / ".work").glob("*/*")))  # the pipeline is writing its work files

    assert run_id(out) == old_run
    assert_whole(out, rows)
    left = list(tmp_path.glob(".out.curate-*"))
    assert len(left) == 1  # the killed run's staging folder, beside the output

    again = subprocess.run(curate_command(raw, out, "--overwrite"), cwd=REPO, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"removed {left[0]}, left by a curation run" in again.stderr and "WARNING:" not in again.stderr
    assert not list(tmp_path.glob(".out.curate-*"))
    assert run_id(out) != old_run
    assert_whole(out, rows)
    assert (out / "NOTES.md").read_text() == "kept by --overwrite\n"  # the user's file survives the swap
    assert not (out / ".curate.lock").exists() and not (out / ".work").exists()


def test_a_kill_while_publishing_leaves_one_output_whole(earlier, tmp_path):
    """Killed the moment the new shards appear: publishing in place, the earlier output was already gone and the
    new one had no stats.json yet. Now the output is the earlier one (or, had the swap come first, the new one)."""
    raw, source, old_run, rows = earlier
    out = tmp_path / "out"
    shutil.copytree(source, out)

    kill_when(curate_command(raw, out, "--overwrite"), lambda: new_shards(out, old_run))

    assert_whole(out, rows)
    assert {shard_run(shard) for shard in (out / "stage1").glob("*.parquet")} == {run_id(out)}  # not a mix


def shard_run(shard: Path) -> str:
    """RUN of part-RUN-NNNNN-of-MMMMM.parquet."""
    return shard.name.removeprefix("part-").rsplit("-", 3)[0]


def test_publish_swaps_the_whole_folder_and_keeps_the_users_files(tmp_path):
    out, staging = tmp_path / "out", tmp_path / ".out.curate-host-1-0123abcd"
    (out / "stage1").mkdir(parents=True)
    (out / "stage1" / "part-OLD-00000-of-00001.parquet").write_text("old")
    (out / "stats.json").write_text("{}")
    (out / "notes" / "deep").mkdir(parents=True)
    (out / "notes" / "deep" / "a.txt").write_text("mine")
    (staging / "stage1").mkdir(parents=True)
    (staging / "stage1" / "part-NEW-00000-of-00001.parquet").write_text("new")
    (staging / "stats.json").write_text('{"new": 1}')
    earlier = out.stat().st_ino

    publish(str(staging), str(out))

    assert os.listdir(out / "stage1") == ["part-NEW-00000-of-00001.parquet"]
    assert (out / "stats.json").read_text() == '{"new": 1}'
    assert (out / "notes" / "deep" / "a.txt").read_text() == "mine"
    assert staging.stat().st_ino == earlier  # the earlier output, whole, for the caller to remove
    assert os.listdir(staging / "stage1") == ["part-OLD-00000-of-00001.parquet"]


def test_exchange_names_both_paths_when_it_fails(tmp_path):
    with pytest.raises(FileNotFoundError) as failure:
        exchange(tmp_path / "missing", tmp_path)
    assert str(tmp_path / "missing") in str(failure.value)


def test_an_export_overwrite_exchanges_the_folders_in_one_step(tmp_path, monkeypatch):
    # Before: the earlier export was renamed aside and the new one renamed in, two steps with no --out between them.
    from pipelines.commands import export

    out, new = tmp_path / "awb", tmp_path / ".awb.export-host-1-0123abcd"
    out.mkdir()
    (out / "terminal_test.jsonl").write_text("old\n")
    new.mkdir()
    (new / "terminal_test.jsonl").write_text("new\n")
    monkeypatch.setattr(export.os, "rename", lambda *a: pytest.fail(f"renamed {a} instead of exchanging"))
    export._replace_folder(new, out)
    assert (out / "terminal_test.jsonl").read_text() == "new\n" and not new.exists()
