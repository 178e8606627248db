"""sandboxes/cgroup.py on this machine's real cgroup filesystem: the caps hold for a sandbox's processes together,
a program joins before it starts anything, and a user who cannot make groups gets a reason instead."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandboxes import cgroup, leftovers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def group():
    made = cgroup.make_group("test", 96 << 20, 24)
    yield made
    made.close()


def test_the_group_is_made_under_the_collectors_own_cgroup(group):
    own = cgroup._cgroups()
    for folder in group.folders:
        assert folder.is_dir() and folder.name.startswith(f"worldline-test-{leftovers.owner_tag()}-")
    controller = "memory" if group.version == "v1" else ""
    assert str(group.folders[0].parent).endswith(own[controller].rstrip("/")), "a cap above the collector holds"


def test_a_program_is_born_inside_and_its_children_count_together(group):
    listed = subprocess.run(group.wrap(["cat", "/proc/self/cgroup"]), capture_output=True, text=True, check=True)
    assert all(folder.name in listed.stdout for folder in group.folders)
    # Three children of 48 MiB each: any one fits under 96 MiB, all three together do not.
    fill = "block = bytearray(48 << 20); block[::4096] = b'x' * len(block[::4096]); import time; time.sleep(3)"
    script = f"for i in 1 2 3; do {sys.executable} -c \"{fill}\" & done; wait"
    subprocess.run(group.wrap(["sh", "-c", script]), capture_output=True, timeout=60)
    assert group.oom_kills() >= 1
    assert group.peak_memory_bytes() <= 96 << 20


def test_forks_stop_at_the_process_cap(group):
    spawned = subprocess.run(group.wrap(["sh", "-c", "for i in $(seq 40); do sleep 5 & done; wait"]),
                             capture_output=True, text=True, timeout=60)
    assert "fork" in spawned.stderr.lower() or "resource temporarily unavailable" in spawned.stderr.lower()


def test_busy_children_together_stay_under_the_cpu_cap():
    capped = cgroup.make_group("test-cpu", 96 << 20, 24, cpus=0.1)
    try:
        assert capped.record()["cpus"] == 0.1
        busy = f"{sys.executable} -c 'import time; t = time.time()\nwhile time.time() - t < 2: pass'"
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        subprocess.run(capped.wrap(["sh", "-c", f"{busy} & {busy} & wait"]), check=True, timeout=60)
        after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - started
        used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        # Two busy loops could hold both cores (~4 CPU s); the group gets a tenth of one core per wall second, plus
        # the period it starts in and the interpreters' start-up.
        assert used <= 0.1 * wall + 0.3, (used, wall)
        assert capped.cpu_throttled() > 0
    finally:
        capped.close()


def test_no_cpu_cap_unless_asked(group):
    assert group.record()["cpus"] is None and group.cpu_throttled() == 0
    assert not any((folder / "cpu.cfs_quota_us").exists() for folder in group.folders)


def test_close_kills_what_is_left_and_removes_the_group(group):
    child = subprocess.Popen(group.wrap(["sleep", "60"]))
    try:
        for _ in range(100):
            if group.members():
                break
            subprocess.run(["sleep", "0.02"])
        assert group.members() == [child.pid]
        group.close()
        assert child.wait(timeout=10) == -9
        assert not any(folder.exists() for folder in group.folders)
    finally:
        child.kill()


def test_a_user_who_cannot_make_groups_is_told_why():
    if os.geteuid() != 0:
        pytest.fail("run as root (as CI does), so both paths are tested: a group, and a user without one")
    program = ("from sandboxes import cgroup\n"
               "try:\n    cgroup.make_group('x', 1 << 30, 10)\n"
               "except cgroup.Unavailable as exc:\n    print('unavailable:', exc)\n")
    refused = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                              program], cwd=REPO, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert refused.stdout.startswith("unavailable:") and "ermission denied" in refused.stdout, refused.stderr
    assert cgroup.unavailable_record("no write access") == {"cgroup": None, "why": "no write access"}


def test_on_cgroup_v2_the_search_for_a_delegating_ancestor_and_joining_run_on_the_real_hierarchy():
    """This machine mounts the unified (v2) hierarchy too, but its memory, pids and cpu controllers are bound to v1,
    so no v2 group can get caps here. What can run for real: the search up from this process's v2 group for an
    ancestor that hands memory and pids down (there is none, and the reason says so), and a program joining a v2
    group before it starts (wrap, members, close are the same code on both versions)."""
    own, mounts = cgroup._cgroups(), cgroup._mounts()
    if "" not in mounts or "memory" not in mounts:
        pytest.fail("this test is for the hybrid layout (v1 controllers, an empty v2 hierarchy) this machine and CI "
                    "have; on a v2-only machine the other tests here run the v2 path with caps")
    with pytest.raises(cgroup.Unavailable, match="hands the memory and pids controllers to its children"):
        cgroup._make_v2("worldline-test-v2", 96 << 20, 24, 0.5, own, mounts)
    folder = cgroup._folder("", own, mounts) / f"worldline-test-v2-{os.getpid()}"
    folder.mkdir()
    group = cgroup.Group("v2", [folder], 96 << 20, 24)
    child = subprocess.Popen(group.wrap(["sleep", "60"]))
    try:
        for _ in range(100):
            if group.members():
                break
            time.sleep(0.02)
        assert group.members() == [child.pid]
        assert f"0::/{folder.relative_to(mounts[''][0])}" in Path(f"/proc/{child.pid}/cgroup").read_text()
        group.close()
        assert child.wait(timeout=10) == -9 and not folder.exists()
    finally:
        group.close()
        child.kill()


def test_group_of_finds_the_group_another_maker_put_a_process_in():
    # What DockerSandbox asks for a container's init: the group its maker put it in, seen through this process's
    # mounts (memory and cpu on v1), and that group's OOM kills.
    made = cgroup.make_group("test-of", 64 << 20, 16, cpus=0.5)
    hog = "block = bytearray(256 << 20); block[::4096] = b'x' * len(block[::4096])"
    sleeper = subprocess.Popen(made.wrap(["sh", "-c", f"{sys.executable} -c \"{hog}\"; exec sleep 60"]))
    try:
        deadline = time.monotonic() + 30
        while len(made.members()) != 1 or made.oom_kills() == 0:  # the hog killed, the sleep left
            assert sleeper.poll() is None and time.monotonic() < deadline, "the hog was not killed at the cap"
            time.sleep(0.02)
        found = cgroup.group_of(made.members()[0], 64 << 20, 16, 0.5)
        expected = [made.folders[0], made.folders[2]] if made.version == "v1" else made.folders  # memory, cpu
        assert found.folders == expected and found.usage()["oom_kills"] == 1
    finally:
        made.close()
        sleeper.wait()
    with pytest.raises(cgroup.Unavailable, match=f"cannot read the cgroup of process {sleeper.pid}"):
        cgroup.group_of(sleeper.pid, 64 << 20, 16, 0.5)
