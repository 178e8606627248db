"""An export killed with SIGKILL leaves its hidden staging folder beside --out; the next export into the same --out
removes it, where it stayed for good. Only folders whose owner process is gone: a running export's staging folder,
or one another host made, is left alone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import CURATED_TRANSITION_SCHEMA
from tests.formats.test_exports import _row

REPO = Path(__file__).resolve().parents[2]
EPISODES = 4_000  # one ATIF file each: an export that runs for seconds, long enough to be killed midway


def curated(root: Path, episodes: int = EPISODES) -> Path:
    folder = root / "transitions"
    folder.mkdir(parents=True)
    rows = [_row("terminal", f"e{number:05d}", 0, '[{"keystrokes": "ls\\n", "duration": 0.1}]', "$", "$ ls\n$")
            for number in range(episodes)]
    pq.write_table(pa.Table.from_pylist(rows, schema=CURATED_TRANSITION_SCHEMA), folder / "part-00000.parquet")
    return root


def export_command(source: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "export", "atif", "--input", str(source), "--out", str(out)]


def hidden(parent: Path) -> list[str]:
    return sorted(entry.name for entry in parent.iterdir() if entry.name.startswith("."))


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_the_next_export_removes_the_staging_folder_a_killed_one_left(tmp_path):
    source, parent = curated(tmp_path / "curated"), tmp_path / "exports"
    parent.mkdir()
    out = parent / "atif"
    killed = subprocess.Popen(export_command(source, out), cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(folder.is_dir() and any(folder.iterdir()) for folder in parent.glob(".atif.export-*")):
        assert killed.poll() is None and time.monotonic() < deadline, "the export ended before it could be killed"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    [left] = hidden(parent)
    assert left.startswith(f".atif.export-{socket.gethostname()}-{killed.pid}.") and not out.exists()

    again = subprocess.run(export_command(source, out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"removed {parent / left}, left by an export (pid {killed.pid}) that was killed" in \
        " ".join(again.stderr.split()), again.stderr
    assert hidden(parent) == [] and len(list((out / "terminal").iterdir())) == EPISODES


def test_only_folders_of_exports_that_are_gone_are_removed(tmp_path):
    source, parent = curated(tmp_path / "curated", episodes=3), tmp_path / "exports"
    out, host, gone = parent / "atif", socket.gethostname(), dead_pid()
    kept = [f".atif.export-{host}-{os.getpid()}-0000000a",  # a running export's (this test's process is alive)
            f".atif.export-elsewhere.example-{gone}-0000000b",  # another host's: its pids mean nothing here
            f".atif.replaced-{host}-{gone}-0000000c",  # the only copy of an earlier export, while --out is missing
            f".other.export-{host}-{gone}-0000000d"]  # another --out's
    for name in [*kept, f".atif.export-{host}-{gone}-0000000e"]:
        (parent / name).mkdir(parents=True)
        (parent / name / "file.json").write_text("{}")
    assert subprocess.run(export_command(source, out), cwd=REPO, capture_output=True, timeout=300).returncode == 0
    assert hidden(parent) == sorted(kept)

    # Once --out holds an export again, an earlier one renamed aside by a killed --overwrite goes too.
    replaced = subprocess.run([*export_command(source, out), "--overwrite"], cwd=REPO, capture_output=True,
                              timeout=300)
    assert replaced.returncode == 0
    assert hidden(parent) == sorted(name for name in kept if ".replaced-" not in name)
