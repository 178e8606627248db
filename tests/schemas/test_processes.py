"""One answer to "does the process that owns this still run", for every place that asks it: a zombie has ended, a
pid reused by a later process is not its first owner, and another user's process whose /proc entry is hidden is
still there."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pipelines.staging import owned_folder, remove_stale
from sandboxes import leftovers
from schemas.processes import alive, owner_tag, pid_namespace, start_time

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def zombie():
    """A child that has exited and is not reaped yet."""
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
        assert time.monotonic() < deadline, "the child did not end"
        time.sleep(0.01)
    yield child.pid
    child.wait()


def test_a_live_process_is_alive_and_a_reused_pid_is_not_its_first_owner():
    start = start_time(os.getpid())
    assert alive(os.getpid()) and alive(os.getpid(), start)
    assert not alive(os.getpid(), start - 1)


def test_a_reaped_pid_and_pids_that_name_process_groups_are_not_alive():
    child = subprocess.Popen(["true"])
    child.wait()
    assert not alive(child.pid)
    assert not alive(0) and not alive(-1)  # kill(0, 0) would answer for this process's own group


def test_a_zombie_is_not_alive(zombie):
    assert not alive(zombie) and not alive(zombie, start_time(zombie))


def test_a_zombie_owners_staging_folder_is_removed(tmp_path, zombie):
    # Before, staging asked kill(0) only, which a zombie answers: its folder stayed until it was reaped.
    out = tmp_path / "out"
    mine = owned_folder(out, "curate")
    left = mine.with_name(mine.name.replace(f"-{owner_tag()}-", f"-{zombie}.{start_time(zombie)}.{pid_namespace()}-"))
    left.mkdir()
    assert remove_stale(out, ["curate"]) == [(left, str(zombie))]


def test_a_zombie_owners_temporary_folder_is_removed(zombie):
    # Before, leftovers found the zombie by kill(0) and its start time unchanged: the folder stayed.
    folder = Path(tempfile.mkdtemp(prefix=f"wl-test-zombie-{zombie}.{start_time(zombie)}-"))
    try:
        assert leftovers.remove_dead_temp("wl-test-zombie-") == [folder]
    finally:
        if folder.exists():
            folder.rmdir()


def test_another_users_process_behind_a_hidden_proc_is_alive():
    # /proc mounted hidepid=2 shows a user only its own processes; kill(0) then answers EPERM. Before, the sandbox
    # code read /proc only and took such a process for ended.
    pid = os.getpid()  # root's: hidden from the user the question is asked as
    ask = f"import os; from schemas.processes import alive; print(os.path.exists('/proc/{pid}'), alive({pid}))"
    shell = (f"mount -t proc -o hidepid=2 proc /proc && "
             f"exec setpriv --reuid=65534 --regid=65534 --clear-groups {sys.executable} -c \"{ask}\"")
    answer = subprocess.run(["unshare", "--mount", "sh", "-c", shell], cwd=ROOT, capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["False", "True"]  # hidden, and alive
