"""pack, curate, query and collect on one collection at the same time (fault audit 3, findings 1-6): pack holds the
collection's lock exclusively, curate and query shared, and collect writes without it. Real files, real `worldline
pack` and `worldline query` processes; the moment a reader has listed the files is made exact by running the other
command from inside the first one at that point, which is what a slow listing and a quick pack do by chance."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

import collectors.pack as pack_module
import pipelines.views as views
import transforms.curate as transforms_curate
from collectors.pack import UnreadableMember, _read_member, pack_collection
from collectors.store import EpisodeStore
from pipelines.commands.query import Format, query
from pipelines.curate import run_curation
from schemas.collection_lock import LOCK_FILE, collection_lock
from schemas.layout import transition_files
from tests.interrupts import with_default_sigint
from tests.pipelines.curation_raw_collection import _episode
from tests.test_cli_os_errors import assert_one_error_line, disk, fill, worldline  # noqa: F401 (disk: a fixture)
from transforms.io import raw_files, records_without_rows

EPISODES, STEPS = 12, 3
WORLDLINE = [sys.executable, "-m", "pipelines.cli"]


def write_collection(root: Path) -> None:
    store = EpisodeStore(root)
    for index in range(EPISODES):
        _episode(store, "terminal", f"term-{index:02d}",
                 [(f"echo {index}-{step}", f"output {index} of step {step}") for step in range(STEPS)])


def start_pack(root: Path, *args: str) -> subprocess.Popen:
    """`worldline pack ROOT` in its own process, returned once it has either finished or said it waits for the
    lock: a reader calling this at its listing point then goes on while pack is blocked (or, without the lock,
    after pack has deleted what it listed)."""
    return start_and_watch([*WORLDLINE, "pack", str(root), "--rows-per-pack", "6", *args])


def start_and_watch(command: list[str]) -> subprocess.Popen:
    """`command` started, returned once it has said it waits (`waited`: that line; `before`: what it printed on
    stderr before it) or ended."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parents[2], preexec_fn=with_default_sigint)
    process.waited = process.before = ""
    for line in process.stderr:
        if "waiting for" in line:
            process.waited = line
            break
        process.before += line
    return process


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, process.waited + err


def transition_ids(root: Path) -> list[str]:
    files = [str(path) for path in sorted(root.glob("transitions/*/*.parquet"))]
    return [row[0] for row in duckdb.sql(
        f"SELECT episode_id || ':' || step FROM read_parquet({files}, union_by_name = true)").fetchall()]


def test_curate_reads_every_row_when_pack_starts_after_its_listing(tmp_path, monkeypatch):
    """Finding 1: pack deleted the files curate had listed; curate dead-lettered each as unreadable, never read the
    pack holding their rows, and published 0 of 36 rows with exit 0. Now pack waits until curate is done."""
    raw = tmp_path / "raw"
    write_collection(raw)
    packs = []

    def listed_then_pack(input_dir):
        paths = raw_files(input_dir)
        packs.append(start_pack(raw))
        return paths

    monkeypatch.setattr(transforms_curate, "raw_files", listed_then_pack)
    stats = run_curation(str(raw), str(tmp_path / "out"))

    code, out, err = finish(packs[0])
    assert stats["in"] == EPISODES * STEPS and stats["dead_lettered"] == 0, stats
    assert code == 0, err
    assert f"worldline curate or query (pid {os.getpid()}), which is reading {raw}, to finish ..." in err, err
    assert f"packed {EPISODES} episodes" in out
    assert sorted(transition_ids(raw)) == sorted(f"term-{i:02d}:{s}" for i in range(EPISODES) for s in range(STEPS))


def test_two_packs_at_once_put_every_row_in_one_pack(tmp_path, monkeypatch):
    """Finding 2: a second pack started while the first had published a pack but not deleted its members removed
    them; the first then failed on its deletes (exit 2, a bare "No such file"), and with different groupings
    episodes ended in two packs. Now the second waits, then packs what a collect added meanwhile."""
    raw = tmp_path / "raw"
    write_collection(raw)
    second = []
    original = pack_module._write_pack

    def published_then_pack(folder, members, rows_per_group):
        written = original(folder, members, rows_per_group)
        if not second:
            _episode(EpisodeStore(raw), "terminal", "term-new", [("echo new", "a new episode")])
            second.append(start_pack(raw))
        return written

    monkeypatch.setattr(pack_module, "_write_pack", published_then_pack)
    report = pack_collection(raw, rows_per_pack=6)

    code, out, err = finish(second[0])
    assert report.episodes_packed == EPISODES and code == 0, err
    assert f"waiting for worldline pack (pid {os.getpid()}), which is packing {raw}, to finish ..." in err, err
    assert "packed 1 episodes" in out, out
    ids = transition_ids(raw)
    assert len(ids) == len(set(ids)) == EPISODES * STEPS + 1
    assert all(path.name.startswith("pack-") for path in raw.glob("transitions/terminal/*.parquet"))


def test_a_file_collect_rewrites_after_pack_read_it_is_kept(tmp_path, monkeypatch):
    """Finding 3: collect added a replay (as `collect --replays` does) after the pack holding the episode was
    published; pack then deleted the file and the replay was in no file. Now the changed file stays."""
    raw = tmp_path / "raw"
    write_collection(raw)
    original = pack_module._write_pack
    rewritten = []

    def published_then_rewritten(folder, members, rows_per_group):
        written = original(folder, members, rows_per_group)
        if not rewritten:
            path = written.packed[0]
            store = EpisodeStore(raw)
            table = store.read_transitions(folder.name, path.stem)
            store.add_replays(folder.name, path.stem, table, [[row["next_observation"] for row in table.to_pylist()]])
            rewritten.append(path)
        return written

    monkeypatch.setattr(pack_module, "_write_pack", published_then_rewritten)
    report = pack_collection(raw, rows_per_pack=6)

    path = rewritten[0]
    assert path.exists()
    assert EpisodeStore(raw).stored_replays("terminal", path.stem) == 1
    assert dict(report.left)[str(path.relative_to(raw))].startswith("changed after it was packed (a collect rewrote")


def test_query_started_before_a_pack_reads_every_row(tmp_path, monkeypatch, capsys):
    """Finding 5: a pack deleting the files a query had listed failed it with duckdb's "Cannot open file". Now the
    pack waits for the query."""
    raw = tmp_path / "raw"
    write_collection(raw)
    original = views._raw_transition_files
    packs = []

    def listed_then_pack(root):
        files = original(root)
        if not packs:
            # The listing is a glob duckdb expands when the view is made: expand it here, as it would be.
            files = "[" + ", ".join(f"'{path}'" for path in sorted(root.glob("transitions/*/*.parquet"))) + "]"
            packs.append(start_pack(raw))
        return files

    monkeypatch.setattr(views, "_raw_transition_files", listed_then_pack)
    query(raw, "SELECT count(*), count(DISTINCT episode_id || ':' || step) FROM raw_transitions", limit=10,
          output_format=Format.csv)

    code, _, err = finish(packs[0])
    assert capsys.readouterr().out.splitlines()[-1] == f"{EPISODES * STEPS},{EPISODES * STEPS}"
    assert code == 0 and f"(pid {os.getpid()}), which is reading {raw}" in err, err


def test_query_during_a_pack_waits_for_it(tmp_path, monkeypatch):
    """A query started while a pack runs waits (saying for what) and then reads the packed collection."""
    raw = tmp_path / "raw"
    write_collection(raw)
    original = pack_module._write_pack
    queries = []

    def published_then_query(folder, members, rows_per_group):
        written = original(folder, members, rows_per_group)
        if not queries:
            queries.append(start_and_watch([*WORLDLINE, "query", str(raw), "SELECT count(*) FROM raw_transitions",
                                            "--format", "csv"]))
        return written

    monkeypatch.setattr(pack_module, "_write_pack", published_then_query)
    pack_collection(raw, rows_per_pack=6)

    code, out, err = finish(queries[0])
    assert code == 0, err
    assert f"waiting for worldline pack (pid {os.getpid()}), which is packing {raw}" in err, err
    assert out.splitlines()[-1] == str(EPISODES * STEPS)


def test_an_episode_finished_during_the_listing_is_not_called_missing(tmp_path):
    """Finding 4: an episode collect stored (file, then record) after the transition files were listed and before
    the records were: its record was taken for one whose transitions are gone (a `missing` dead letter)."""
    raw = tmp_path / "raw"
    write_collection(raw)
    pack_collection(raw, rows_per_pack=6)
    _episode(EpisodeStore(raw), "terminal", "term-gone", [("echo gone", "its file is deleted")])
    (raw / "transitions" / "terminal" / "term-gone.parquet").unlink()
    listed = [path for path in raw_files(str(raw)) if path.endswith(".parquet")]

    _episode(EpisodeStore(raw), "terminal", "term-late", [("echo late", "finished during the listing")])
    gone = raw / "episodes" / "terminal" / "term-gone.json"

    missing = records_without_rows(str(raw), listed)
    assert str(raw / "episodes" / "terminal" / "term-late.json") not in missing
    assert str(gone) in missing


def test_a_member_cut_after_the_check_is_left_not_a_traceback(tmp_path):
    """Finding 6: a member whose footer is gone when pack reads it stopped the pack with a traceback."""
    with pytest.raises(UnreadableMember, match="not readable Parquet"):
        _read_member(tmp_path / "terminal" / "term-00.parquet", b"PAR1 cut short")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounts a tmpfs: needs root")
def test_a_pack_out_of_space_says_how_much_it_needs(disk):
    """Finding 8: a disk with less free space than one pack never packs, and the error named only the folder."""
    write_collection(disk / "raw")
    fill(disk)
    line = assert_one_error_line(worldline("pack", disk / "raw", "--rows-per-pack", "30"), "No space left on device")
    assert "a pack needs about its own size free (up to --rows-per-pack 30 transitions)" in line, line
    assert "pass a smaller --rows-per-pack" in line, line


def curate_command(raw: Path, out: Path) -> list[str]:
    return [*WORLDLINE, "curate", "--input", str(raw), "--output", str(out), "--direct_num_workers", "1"]


def during_a_pack(raw: Path, monkeypatch, start: Callable[[], subprocess.Popen]) -> subprocess.Popen:
    """`start()` called while an in-process pack holds the lock (its first pack written, the rest to come)."""
    original = pack_module._write_pack
    started = []

    def published_then_start(folder, members, rows_per_group):
        written = original(folder, members, rows_per_group)
        if not started:
            started.append(start())
        return written

    monkeypatch.setattr(pack_module, "_write_pack", published_then_start)
    pack_collection(raw, rows_per_pack=6)
    return started[0]


def test_a_curate_waiting_for_a_pack_says_so_first_and_counts_the_files_after(tmp_path, monkeypatch):
    """Walkthrough F1 and F7b: curate printed its file count (and on a terminal drew its bars) before it waited,
    the count of the files the pack then merged; the wait line said "another worldline pack"."""
    raw = tmp_path / "raw"
    write_collection(raw)
    curate = during_a_pack(raw, monkeypatch, lambda: start_and_watch(curate_command(raw, tmp_path / "out")))

    code, _, err = finish(curate)
    assert code == 0, err
    assert curate.before == "", curate.before
    assert curate.waited == (f"waiting for worldline pack (pid {os.getpid()}), which is packing {raw}, to finish "
                             "...\n")
    files = len(transition_files(raw))
    assert files < EPISODES and f"Curating {files} raw files of {raw}" in err, err


def test_ctrl_c_on_a_curate_waiting_for_the_lock_says_nothing_was_read(tmp_path, monkeypatch):
    """Walkthrough F7c: it said "the workers are stopped", though none had started."""
    raw = tmp_path / "raw"
    write_collection(raw)

    def start_then_interrupt():
        curate = start_and_watch(curate_command(raw, tmp_path / "out"))
        curate.send_signal(signal.SIGINT)
        curate.result = finish(curate)
        return curate

    code, _, err = during_a_pack(raw, monkeypatch, start_then_interrupt).result
    assert code == 130, err
    assert err.splitlines()[-1] == f"Interrupted while waiting for {raw}: nothing was read or written.", err
    assert not (tmp_path / "out").exists()


def start_on_terminal(command: list[str]) -> tuple[subprocess.Popen, int]:
    """`command` with its stdout and stderr on a pseudo-terminal, as a user's, so that it draws its progress display;
    the terminal's other end, to read that from."""
    reader, writer = pty.openpty()
    process = subprocess.Popen(command, stdout=writer, stderr=writer, cwd=Path(__file__).parents[2],
                               preexec_fn=with_default_sigint)
    os.close(writer)
    return process, reader


def read_until(reader: int, text: str, seen: str = "", timeout: float = 120) -> str:
    """What the terminal shows up to `text`: all of it when the process ends first, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while text not in seen and select.select([reader], [], [], max(0.0, deadline - time.monotonic()))[0]:
        try:
            chunk = os.read(reader, 4096)
        except OSError:  # EIO: the process ended
            break
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
    return seen


def wait_until_held(raw: Path, pid: int) -> None:
    """Until process `pid` holds the collection's lock, by /proc/locks ("1: FLOCK ADVISORY READ PID MAJ:MIN:INODE ...")."""
    deadline = time.monotonic() + 120
    while not any(fields[4] == str(pid) and (raw / LOCK_FILE).exists()
                  and fields[5].endswith(f":{(raw / LOCK_FILE).stat().st_ino}")
                  for fields in map(str.split, Path("/proc/locks").read_text().splitlines()) if len(fields) > 5):
        assert time.monotonic() < deadline, f"pid {pid} never took the lock of {raw}"
        time.sleep(0.02)


def test_a_pack_waiting_for_a_curate_names_it_draws_no_bar_and_says_when_another_holder_came(tmp_path):
    """Walkthrough F1 and F7b, d: a pack waiting for a curate drew "packing episodes" while it waited, said
    "waiting for another worldline curate", and said nothing when another command took the lock before it."""
    raw = tmp_path / "raw"
    write_collection(raw)
    curate = subprocess.Popen(curate_command(raw, tmp_path / "out"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    wait_until_held(raw, curate.pid)
    curate.send_signal(signal.SIGSTOP)
    pack, terminal = start_on_terminal([*WORLDLINE, "pack", str(raw), "--rows-per-pack", "6"])
    try:
        shown = read_until(terminal, "to finish ...", timeout=30)
        assert shown.strip() == (f"waiting for worldline curate (pid {curate.pid}), which is reading {raw}, to "
                                 "finish ..."), shown[:400]
        with collection_lock(raw, exclusive=False):  # this process takes its turn before the curate ends
            curate.send_signal(signal.SIGCONT)
            assert curate.wait(timeout=300) == 0, curate.stderr.read()
            shown = read_until(terminal, "now waiting", shown)
            shown = read_until(terminal, "to finish ...", shown[shown.index("now waiting"):])
            assert "packing episodes" not in shown and shown.startswith("now waiting for worldline "), shown[:400]
            # The curate may still hold it too when the pack looks: the line names every holder then.
            assert f" (pid {os.getpid()})" in shown and f"reading {raw}, to finish ..." in shown, shown
        assert "packing episodes" in read_until(terminal, f"packed {EPISODES} episodes")
        assert pack.wait(timeout=120) == 0
    finally:
        os.close(terminal)
        for process in (curate, pack):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_ctrl_c_on_a_pack_waiting_for_the_lock_says_nothing_was_packed(tmp_path, monkeypatch):
    """It said the published pack files were whole and the rest as they were, of a pack that had not begun."""
    raw = tmp_path / "raw"
    write_collection(raw)

    def start_then_interrupt():
        pack = start_pack(raw)
        pack.send_signal(signal.SIGINT)
        pack.result = finish(pack)
        return pack

    code, out, err = during_a_pack(raw, monkeypatch, start_then_interrupt).result
    assert code == 130, err
    assert err.splitlines()[-1] == f"Interrupted while waiting for {raw}: nothing was packed.", err
    assert out == ""
