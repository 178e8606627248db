"""A raw collection keeps every recording once, whatever was merged into it or killed in it: pack deletes only
files it holds byte for byte, readers skip the copies a killed pack left, an episode whose transitions are gone is
damage, temp files of killed writers are swept, and a file this user may not read is an error, not damage."""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.api import Task
from collectors.command import plans_for
from collectors.pack import _write_pack, pack_collection
from schemas.packs import MEMBERS_KEY, is_pack
from collectors.runner import collect
from collectors.store import EpisodeStore, write_episode_table
from pipelines.views import open_views
from sandboxes.leftovers import owner_tag
from schemas.files import temp_file
from schemas.layout import transitions_path
from tests.collectors.test_pack import all_rows, collection
from tests.collectors.test_store_resume import ShellCollector
from transforms.curate import raw_file_paths

REPO = Path(__file__).resolve().parents[2]


def other_recording(root: Path, episode_id: str) -> bytes:
    """The bytes of another run's recording of an episode: the same id (domain, task, seed), one step differing."""
    table = pq.read_table(transitions_path(root, "terminal", episode_id))
    rows = table.to_pylist()
    rows[0]["next_observation"] = dict(rows[0]["next_observation"], raw=b"something only the second run saw")
    sink = pa.BufferOutputStream()
    write_episode_table(pa.Table.from_pylist(rows, schema=table.schema), sink)
    return sink.getvalue().to_pybytes()


def test_pack_keeps_another_recording_under_a_packed_name_and_names_it(tmp_path):
    collection(tmp_path)
    second = other_recording(tmp_path, "ep0")
    pack_collection(tmp_path)
    merged = transitions_path(tmp_path, "terminal", "ep0")
    merged.write_bytes(second)  # `cp -rn` of a second collection of the same tasks
    report = pack_collection(tmp_path)
    assert merged.read_bytes() == second
    assert report.leftovers_removed == 0 and report.packs_written == 0
    assert "holds another recording under this name" in dict(report.left)["transitions/terminal/ep0.parquet"]
    # Readers see both recordings: curate keeps one and dead-letters the other, as before the pack.
    assert raw_file_paths(None, str(tmp_path)).count(str(merged)) == 1


def write_legacy_pack(folder: Path, members: list[Path]) -> None:
    """A pack as written before packs recorded their members' digests: its members by name only."""
    written = _write_pack(folder, members, rows_per_group=100)
    [pack] = [path for path in folder.glob("*.parquet") if is_pack(path)]
    table = pq.read_table(pack)
    metadata = {**(table.schema.metadata or {}),
                MEMBERS_KEY: json.dumps([path.name for path in written.packed]).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), pack)


def test_a_legacy_pack_removes_only_the_leftovers_whose_rows_it_holds(tmp_path):
    collection(tmp_path)
    folder = tmp_path / "transitions" / "terminal"
    second = other_recording(tmp_path, "ep1")
    write_legacy_pack(folder, [transitions_path(tmp_path, "terminal", f"ep{i}") for i in range(2)])
    transitions_path(tmp_path, "terminal", "ep1").write_bytes(second)
    report = pack_collection(tmp_path)
    assert report.leftovers_removed == 1
    assert not transitions_path(tmp_path, "terminal", "ep0").exists()
    assert transitions_path(tmp_path, "terminal", "ep1").read_bytes() == second


def test_readers_skip_the_copies_a_killed_pack_left(tmp_path):
    collection(tmp_path)
    before = all_rows(tmp_path)
    folder = tmp_path / "transitions" / "terminal"
    members = [transitions_path(tmp_path, "terminal", f"ep{i}") for i in range(4)]
    _write_pack(folder, members, rows_per_group=100)  # killed here, before the members were deleted
    listed = raw_file_paths(None, str(tmp_path))
    assert not set(map(str, members)) & set(listed)
    connection, broken = open_views(tmp_path)
    assert not broken
    assert connection.execute("SELECT count(*) FROM raw_transitions").fetchone()[0] == len(before)
    # The next pack finishes the deletion.
    assert pack_collection(tmp_path).leftovers_removed == 4
    assert all_rows(tmp_path) == before


def test_an_episode_whose_transitions_are_gone_is_damage_unless_a_pack_holds_it(tmp_path):
    store = collection(tmp_path)
    pack_collection(tmp_path)
    store = EpisodeStore(tmp_path)
    assert store.damage("terminal", "ep0") is None and not store.has_own_file("terminal", "ep0")
    lost = transitions_path(tmp_path, "terminal", "broken")
    lost.unlink()
    assert store.damage("terminal", "broken") == f"{lost} is missing and no pack in its folder holds the episode"
    assert store.has_own_file("terminal", "broken")  # so resume records it again
    why = dict(pack_collection(tmp_path).left)["episodes/terminal/broken.json"]
    assert why.startswith("its transitions (transitions/terminal/broken.parquet) are missing and in no pack")


def test_resume_records_again_an_episode_whose_transitions_are_gone_but_not_one_in_a_pack(tmp_path):
    tasks = [Task(id=f"t{i}", instruction="echo", actions=[f"echo {i}"]) for i in range(4)]
    out = tmp_path / "out"
    collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks[:3]), out, domain="shelltest", progress=False)
    pack_collection(out)
    collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks), out, domain="shelltest", progress=False)
    [lost] = [path for path in (out / "transitions" / "shelltest").glob("*.parquet") if not is_pack(path)]
    lost.unlink()
    resumed = collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks), out, domain="shelltest",
                      progress=False)
    assert (resumed.skipped_complete, resumed.completed) == (3, 1)
    assert resumed.recollected_damaged == [f"{lost} is missing and no pack in its folder holds the episode"]
    assert pq.read_table(lost).num_rows == 1


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from collectors.store import atomic_write

def write(handle):
    handle.write(b"half written")
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)

atomic_write(Path(sys.argv[1]), write)
"""


def killed_writer_temp(target: Path) -> Path:
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], cwd=REPO, timeout=60)
    [temp] = target.parent.glob(".*.tmp")
    return temp


def test_temp_files_of_killed_writers_are_swept_by_the_store_and_by_pack(tmp_path):
    collection(tmp_path)
    folder = tmp_path / "transitions" / "terminal"
    episode_temp = killed_writer_temp(transitions_path(tmp_path, "terminal", "ep9"))
    EpisodeStore(tmp_path)
    assert not episode_temp.exists()
    pack_temp = killed_writer_temp(folder / "pack-")
    live_fd, live_temp = temp_file(folder, f"pack--{owner_tag()}-")  # a writer still at work: left alone
    os.close(live_fd)
    pack_collection(tmp_path)
    assert not pack_temp.exists() and Path(live_temp).exists()


CHECK_DAMAGE = """
import sys
from collectors.store import EpisodeStore
try:
    print("damage:", EpisodeStore(sys.argv[1]).damage("terminal", "ep0"))
except Exception as exc:
    print(type(exc).__name__, exc.errno, exc.filename)
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_file_this_user_may_not_read_is_an_error_naming_it_not_damage(tmp_path):
    collection(tmp_path)
    unreadable = transitions_path(tmp_path, "terminal", "ep0")
    os.chown(unreadable, 65534, 65534)
    unreadable.chmod(0o600)
    content = unreadable.read_bytes()
    result = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c",
                             CHECK_DAMAGE, str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stdout == f"StoreAccessError {errno.EACCES} {unreadable}\n"
    assert unreadable.read_bytes() == content
