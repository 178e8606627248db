"""A SIGKILLed collector never closes its cgroups: the next group made beside them removes the empty ones whose maker
has ended (on this machine's real cgroup filesystem), and leaves a live maker's, a busy one, and a reused pid's
live process alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandboxes import cgroup, leftovers
from schemas.processes import alive, start_time

REPO = Path(__file__).resolve().parents[2]
# A collector that makes a group, says where it is, then dies without closing it; with "busy", a process it started
# in the group outlives it (in a session of its own).
KILLED_MAKER = """
import os, signal, subprocess, sys, time
from sandboxes import cgroup
group = cgroup.make_group("test-sweep", 64 << 20, 16)
if sys.argv[1] == "busy":
    sleep = subprocess.Popen(group.wrap(["sleep", "60"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    while sleep.pid not in group.members():  # its shell joins the group after Popen returns
        time.sleep(0.01)
    print(sleep.pid)
print(*group.folders, sep="\\n", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_maker(mode: str = "empty") -> tuple[list[Path], int | None]:
    """(the folders of a group whose maker was SIGKILLed, the pid still in it with mode "busy")."""
    made = subprocess.run([sys.executable, "-c", KILLED_MAKER, mode], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert made.returncode == -signal.SIGKILL, made.stderr
    lines = made.stdout.split()
    busy = int(lines.pop(0)) if mode == "busy" else None
    folders = [Path(line) for line in lines]
    assert folders and all(folder.is_dir() for folder in folders)
    return folders, busy


def parents(group: cgroup.Group) -> list[Path]:
    return [folder.parent for folder in group.folders]


@pytest.fixture
def sleeper():
    child = subprocess.Popen(["sleep", "60"])
    yield child
    child.kill()
    child.wait()


def test_the_next_group_removes_a_killed_makers_groups():
    folders, _ = killed_maker()
    group = cgroup.make_group("test-sweep", 64 << 20, 16)
    try:
        assert set(parents(group)) >= {folder.parent for folder in folders}, "made beside each other"
        assert not any(folder.exists() for folder in folders), folders
    finally:
        group.close()


def test_a_live_makers_group_is_left_and_a_reused_pids_is_removed(sleeper):
    own = cgroup.make_group("test-sweep", 64 << 20, 16)
    own.close()
    parent = parents(own)[0]
    start = start_time(sleeper.pid)
    live = parent / f"worldline-test-sweep-{sleeper.pid}.{start}-0"
    reused = parent / f"worldline-test-sweep-{sleeper.pid}.{start - 1}-0"  # that pid's earlier process
    untimed_live = parent / f"worldline-test-sweep-{sleeper.pid}-0"  # named before start times were
    untimed_dead = parent / f"worldline-test-sweep-{_reaped_pid()}-0"
    made = [live, reused, untimed_live, untimed_dead]
    for folder in made:
        folder.mkdir()
    try:
        cgroup.make_group("test-sweep", 64 << 20, 16).close()
        assert [folder.exists() for folder in made] == [True, False, True, False]
    finally:
        for folder in made:
            if folder.exists():
                folder.rmdir()


def _reaped_pid() -> int:
    """The pid of a process that has ended and been reaped (so no process has it, until the kernel reuses it)."""
    child = subprocess.Popen(["true"])
    child.wait()
    assert not alive(child.pid)
    return child.pid


def test_a_killed_makers_group_with_a_process_left_in_it_goes_once_that_process_ends():
    folders, busy = killed_maker("busy")
    try:
        group = cgroup.make_group("test-sweep", 64 << 20, 16)  # rmdir fails with EBUSY: no error, the group stays
        group.close()
        assert all(folder.is_dir() for folder in folders)
        assert busy in [int(pid) for pid in (folders[0] / "cgroup.procs").read_text().split()]
    finally:
        os.kill(busy, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (folders[0] / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.02)  # the killed sleep is not our child: init reaps it
    cgroup.make_group("test-sweep", 64 << 20, 16).close()
    assert not any(folder.exists() for folder in folders)
