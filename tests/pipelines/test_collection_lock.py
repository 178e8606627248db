"""pack, curate, query and collect on one collection at the same time (fault audit 3, findings 1-6): pack holds the
collection's lock exclusively, curate and query shared, and collect writes without it. Real files, real `worldline
pack` and `worldline query` processes; the moment a reader has listed the files is made exact by running the other
command from inside the first one at that point, which is what a slow listing and a quick pack do by chance."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parents[2])
    process.waited = ""
    for line in process.stderr:
        if "waiting for" in line:
            process.waited = line
            break
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
    assert "waiting for another worldline" in err and str(raw) in err, err
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
    assert "waiting for another worldline pack" in err, err
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
    assert code == 0 and "waiting for another worldline" in err, err


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
    assert "waiting for another worldline pack" in err, err
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
