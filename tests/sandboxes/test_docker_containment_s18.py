"""Containment gaps of Docker sandboxes found by the session-18 audit, against the real engine: a writable
/sys/fs/cgroup outside the disk quota (cgroup v1 engines), and timed-out commands of a non-root container left
running."""

from __future__ import annotations

import logging
import threading

import pytest

from sandboxes import proc_view
from sandboxes.docker_sandbox import DockerSandbox
from sandboxes.limits import Limits

# Filesystems that hold no file data (pseudo filesystems): writable, but nothing written there takes memory.
NO_STORAGE = {"proc", "devpts", "mqueue", "sysfs", "cgroup", "cgroup2"}
NOBODY = "65534:65534"


def writable_mounts(sandbox) -> dict[str, str]:
    """mount point -> filesystem type of every mount the container sees as read-write (mountinfo fields 5, 6 and the
    type after the " - " separator), but the engine's binds of /dev/null over masked /proc files (writes vanish)."""
    mounts = {}
    for line in sandbox.exec("cat /proc/self/mountinfo").stdout.decode().splitlines():
        head, _, tail = line.partition(" - ")
        fields = head.split()
        if "rw" in fields[5].split(",") and fields[3] != "/null":
            mounts[fields[4]] = tail.split()[0]
    return mounts


def test_root_writes_only_to_the_budgeted_memory_backed_paths(base_image, prefix):
    limits = Limits()
    with DockerSandbox(base_image, limits, name_prefix=prefix) as sandbox:
        storage = {path: kind for path, kind in writable_mounts(sandbox).items() if kind not in NO_STORAGE}
        # The writable paths, /dev/shm and Docker's /dev: exactly what Limits counts against the memory cap.
        assert set(storage) == {*limits.writable_paths, "/dev/shm", "/dev"}, storage
        fill = sandbox.exec("head -c 1M /dev/zero > /sys/fs/cgroup/fill")
        assert fill.exit_code != 0 and b"Read-only file system" in fill.output


def test_programs_still_see_the_memory_cap_once_the_cgroup_files_are_covered(base_image, prefix):
    with DockerSandbox(base_image, Limits(memory="512m"), name_prefix=prefix) as sandbox:
        if sandbox.proc_view != proc_view.LXCFS:
            pytest.skip("lxcfs is not serving /proc here (scripts/setup.d/15-lxcfs.sh)")
        assert sandbox.exec("grep MemTotal /proc/meminfo").stdout.split() == [b"MemTotal:", b"524288", b"kB"]


def test_a_timed_out_command_in_a_non_root_container_is_killed_with_its_escaped_children(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix, user=NOBODY) as sandbox:
        result = sandbox.exec("setsid sleep 999 & while :; do :; done", timeout=1)
        assert result.timed_out
        left = sandbox.exec("ps -eo args").stdout.decode().splitlines()
        assert not [line for line in left if "while" in line or line == "sleep 999"], left


def test_a_process_the_kill_is_not_permitted_to_end_is_logged_by_pid(base_image, prefix, caplog):
    with DockerSandbox(base_image, name_prefix=prefix, user=NOBODY) as sandbox:
        # Root starts a job while nobody's command runs: started since the command, it is the kill's to end, and
        # nobody may not signal it.
        root_job = threading.Timer(0.5, sandbox.exec, ["sleep 888 >/dev/null 2>&1 &"], {"user": "root"})
        root_job.start()
        with caplog.at_level(logging.WARNING, logger="sandboxes.docker_sandbox"):
            result = sandbox.exec("sleep 100", timeout=2)
        root_job.join()
        assert result.timed_out
        survivor = sandbox.exec("pgrep -x -u root sleep").stdout.split()
        assert len(survivor) == 1
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(sandbox.name in message and f"{survivor[0].decode()} (sleep)" in message for message in warnings), \
            warnings
        assert b"sleep 100" not in sandbox.exec("ps -eo args").stdout


def test_an_oom_kill_inside_a_container_that_keeps_running_is_counted(base_image, prefix, docker_client):
    with DockerSandbox(base_image, Limits(memory="128m"), name_prefix=prefix) as sandbox:
        before = sandbox.usage()
        if before is None:
            pytest.skip("the container's cgroup is not visible from this process (remote engine or namespaces)")
        assert before["oom_kills"] == 0
        grow = sandbox.exec(["python3", "-c", "b = bytearray(200 * 2**20); b[::4096] = bytes(len(b) // 4096)"])
        assert grow.exit_code == 137 and sandbox.stopped_reason() is None
        # What Docker reports says nothing: its init was not the one killed.
        assert not docker_client.api.inspect_container(sandbox.container_id)["State"]["OOMKilled"]
        after = sandbox.usage()
        assert after["oom_kills"] == 1 and after["peak_memory_bytes"] >= 100 * 2**20


def test_processes_that_end_while_the_kill_scans_them_are_not_reported_as_survivors(base_image, prefix, caplog):
    # The kill's scan reads every /proc/PID/stat it listed; a process that ends between the listing and the read made
    # the shell print "cannot open /proc/87/stat", which was taken for a survivor and logged as a process "not
    # permitted to kill" (a `make run`'s swe step). Short-lived processes in a loop make that window likely.
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        sandbox.exec("nohup sh -c 'while :; do /bin/true; done' >/dev/null 2>&1 &")
        with caplog.at_level(logging.WARNING, logger="sandboxes.docker_sandbox"):
            for _ in range(5):
                assert sandbox.exec("sleep 100", timeout=0.5).timed_out
        assert not [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert b"sleep 100" not in sandbox.exec("ps -eo args").stdout
