"""`worldline pack` says what it removed as what it is, and a signal ends it with a line saying what is whole, or,
once every pack is published, does not end it at all: the pack is complete and exits 0 with its summary."""

import subprocess
import sys
import time
from pathlib import Path

from collectors.pack import _write_pack, pack_collection
from collectors.store import EpisodeStore
from pipelines.views import open_views
from schemas.layout import transitions_path
from schemas.packs import is_pack
from tests.collectors.test_pack import all_rows, collection, write_episode

REPO = Path(__file__).resolve().parents[2]
# `worldline pack ARGS...` with collectors.pack's function NAME wrapped to send the process SIGTERM once it returns:
# the signal lands at a known point of the run, as a timed one would not.
SIGNALLED_AFTER = """
import os, signal, sys
import collectors.pack as pack
from pipelines.cli import main

name, real = sys.argv[1], getattr(pack, sys.argv[1])

def then_terminated(*args, **kwargs):
    result = real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    return result

setattr(pack, name, then_terminated)
sys.argv = ["worldline", "pack", *sys.argv[2:]]
main()
"""


def pack_signalled_after(name: str, root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SIGNALLED_AFTER, name, str(root), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def pack_command(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "pack", str(root)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_files_merged_in_after_their_pack_are_not_called_leftovers_of_an_interrupted_pack(tmp_path):
    collection(tmp_path)
    merged = {f"ep{i}": transitions_path(tmp_path, "terminal", f"ep{i}").read_bytes() for i in range(2)}
    pack_collection(tmp_path)
    store = EpisodeStore(tmp_path)
    for number in (4, 5):
        write_episode(store, f"ep{number}", 2)
    before = all_rows(tmp_path)
    killed = [transitions_path(tmp_path, "terminal", f"ep{i}") for i in (4, 5)]
    _write_pack(tmp_path / "transitions" / "terminal", killed, rows_per_group=100)  # killed before deleting them
    time.sleep(0.05)  # the kernel stamps ctime from a coarse clock (a tick of up to 10 ms)
    for episode_id, data in merged.items():  # `cp -rn` of the same recordings into the packed collection
        transitions_path(tmp_path, "terminal", episode_id).write_bytes(data)
    result = pack_command(tmp_path)
    assert result.returncode == 0, result.stderr
    # It said "removed 4 files an interrupted pack had already copied".
    assert ("removed 2 files an interrupted pack had already copied; removed 2 files merged in after the pack that "
            "holds them byte for byte was written") in result.stdout, result.stdout
    assert all_rows(tmp_path) == before


def test_a_sigterm_after_the_last_pack_is_published_ends_it_normally(tmp_path):
    collection(tmp_path)
    before = all_rows(tmp_path)
    result = pack_signalled_after("pack_collection", tmp_path)
    # It exited 143 (killed by the signal, saying nothing) though the pack was whole.
    assert result.returncode == 0, result.stderr
    assert "packed 4 episodes (14 transitions) into 1 files" in result.stdout
    assert result.stderr.strip() == "Terminated (SIGTERM): every pack is published whole; finishing"
    assert all_rows(tmp_path) == before


def test_a_sigterm_between_packs_stops_with_a_line_and_the_rerun_packs_the_rest(tmp_path):
    collection(tmp_path)
    before = all_rows(tmp_path)
    result = pack_signalled_after("_write_pack", tmp_path, "--rows-per-pack", "5")
    assert result.returncode == 143, result.stderr
    assert ("Terminated (SIGTERM): the pack stopped; every pack file it published is whole, and the episodes not "
            "packed yet are as they were: run the same command again to pack them.") in result.stderr
    assert "Traceback" not in result.stderr
    folder = tmp_path / "transitions" / "terminal"
    assert len([path for path in folder.glob("*.parquet") if is_pack(path)]) == 1
    assert not list(folder.glob(".*.tmp"))
    # The signal came before the published pack's members were deleted: readers skip them, the rerun deletes them.
    connection, broken = open_views(tmp_path)
    assert not broken
    assert connection.execute("SELECT count(*) FROM raw_transitions").fetchone()[0] == len(before)
    rerun = pack_command(tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "removed 1 files an interrupted pack had already copied" in rerun.stdout
    assert all_rows(tmp_path) == before
