"""The disk quota against the real engine: the writable space (tmpfs, counted against the memory cap) fits under that
cap, so filling it fails the writes with ENOSPC instead of OOM-killing the container."""

from __future__ import annotations

import dataclasses

import pytest

from sandboxes.attached_exec import SandboxError
from sandboxes.docker_sandbox import DockerSandbox
from sandboxes.limits import DEV_TMPFS, Limits, LimitsError

MIB = 2**20
# Every memory-backed filesystem a root shell in the sandbox can write to.
MEMORY_BACKED = ("/work", "/tmp", "/root", "/var/tmp", "/dev/shm", "/dev")


def sizes_inside(sandbox, paths) -> dict[str, int]:
    """The size of each mount as the container sees it (df), in bytes."""
    rows = sandbox.exec(["df", "--output=target,size", "-B1", *paths]).stdout.decode().splitlines()[1:]
    return {target: int(size) for target, size in (row.split() for row in rows)}


def test_filling_work_fails_with_enospc_and_the_writable_space_fits_under_the_memory_cap(base_image, prefix):
    limits = Limits()
    with DockerSandbox(base_image, limits, name_prefix=prefix) as sandbox:
        sizes = sizes_inside(sandbox, MEMORY_BACKED)
        # disk is the total of the writable paths (/work the biggest), and with /dev/shm and /dev it leaves a quarter
        # of the memory cap to the processes.
        assert sum(sizes[path] for path in limits.writable_paths) == limits.disk_bytes == 256 * MIB
        assert sizes["/work"] == max(sizes.values()) and sizes["/dev/shm"] == limits.shm_bytes == 64 * MIB
        assert sum(sizes.values()) <= limits.memory_bytes * 3 // 4
        fill = sandbox.exec("head -c 1G /dev/zero > /work/fill")
        assert fill.exit_code != 0 and b"No space left on device" in fill.output
        assert int(sandbox.exec("stat -c %s /work/fill").stdout) <= sizes["/work"]
        assert sandbox.exec("echo alive").stdout == b"alive\n"


def test_filling_every_writable_path_does_not_oom_kill_the_container(base_image, prefix, docker_client):
    with DockerSandbox(base_image, Limits(), name_prefix=prefix) as sandbox:
        fill = sandbox.exec("for p in " + " ".join(MEMORY_BACKED) + "; do head -c 1G /dev/zero > $p/fill; "
                            "echo \"$p $?\"; done", timeout=60)
        assert fill.exit_code == 0, fill.output
        assert fill.stdout.decode().split() == [word for path in MEMORY_BACKED for word in (path, "1")]
        assert fill.stderr.count(b"No space left on device") == len(MEMORY_BACKED)
        state = docker_client.api.inspect_container(sandbox.container_id)["State"]
        assert state["Running"] and not state["OOMKilled"]
        # With every file still there, the processes keep the headroom: a follow-up command and a 64 MiB allocation.
        assert sandbox.exec("echo alive").stdout == b"alive\n"
        grow = sandbox.exec(["python3", "-c", "b = bytearray(64 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
                                              "print('allocated')"])
        assert (grow.exit_code, grow.stdout) == (0, b"allocated\n"), grow.output
        assert sandbox.exec("ls /work/fill /dev/shm/fill").exit_code == 0


def test_dev_shm_is_capped_and_counted_in_the_budget(base_image, prefix, docker_client):
    # 256m of memory: a quarter for processes, 64m for Docker's /dev, and shm takes a quarter of the rest.
    limits = Limits(memory="256m")
    with DockerSandbox(base_image, limits, name_prefix=prefix) as sandbox:
        assert sizes_inside(sandbox, ["/dev/shm"]) == {"/dev/shm": 32 * MIB}
        assert docker_client.api.inspect_container(sandbox.container_id)["HostConfig"]["ShmSize"] == 32 * MIB
        assert (limits.shm_bytes, limits.disk_bytes) == (32 * MIB, 96 * MIB)
        fill = sandbox.exec("head -c 1G /dev/zero > /dev/shm/fill")
        assert fill.exit_code != 0 and b"No space left on device" in fill.output
        assert int(sandbox.exec("stat -c %s /dev/shm/fill").stdout) <= 32 * MIB
    with DockerSandbox(base_image, Limits(shm="8m"), name_prefix=prefix) as sandbox:
        assert sizes_inside(sandbox, ["/dev/shm"]) == {"/dev/shm": 8 * MIB}


SYSV_SEGMENT = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
size = 100 * 2**20
segment = libc.shmget(0, ctypes.c_size_t(size), 0o600 | 0o1000)
if segment < 0:
    sys.exit(f"shmget failed: errno {ctypes.get_errno()}")
ctypes.memset(libc.shmat(segment, None, 0), 1, size)
print("filled")
"""


def test_a_system_v_shared_memory_segment_goes_away_with_its_process(base_image, prefix):
    # Left behind, a segment holds memory no process owns: a few would fill the memory cap for good.
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        for _ in range(2):
            assert sandbox.exec(["python3", "-c", SYSV_SEGMENT]).stdout == b"filled\n"
        segments = sandbox.exec("tail -n +2 /proc/sysvipc/shm").stdout
        assert segments.strip() == b"", f"segments left behind: {segments!r}"


def test_limits_whose_writable_space_does_not_fit_under_the_memory_cap_are_refused():
    with pytest.raises(LimitsError) as caught:
        Limits(memory="512m", disk="512m")
    message = str(caught.value)
    for part in ("memory='512m'", "disk 512m + shm 64m + Docker's /dev 64m = 640m", "allows 384m",
                 "a quarter (128m) is kept for processes", "Lower disk to at most 256m", "raise memory to at least"):
        assert part in message, (part, message)
    with pytest.raises(LimitsError, match="memory 64m is too small .* Raise memory to at least"):
        Limits(memory="64m")
    with pytest.raises(LimitsError, match="disk 256m"):  # lowering memory keeps an explicit disk: it must still fit
        dataclasses.replace(Limits(memory="1g", disk="256m"), memory="256m")
    with pytest.raises(LimitsError, match="is not a size"):
        Limits(disk="lots")
    with pytest.raises(LimitsError, match="positive"):
        Limits(shm="0")  # shm_size 0 would mean the engine's default, not nothing
    # The defaults fit, and so do the defaults for another memory cap (disk and shm take what fits).
    for memory in ("96m", "128m", "512m", "1g", "4g"):
        limits = Limits(memory=memory)
        files = limits.disk_bytes + limits.shm_bytes + DEV_TMPFS
        assert files <= limits.memory_bytes * 3 // 4, memory


@pytest.mark.parametrize("extra, error", [
    ({"tmpfs": {"/data": "mode=1777"}}, "no size= option"),  # a tmpfs without a size may take half the host's RAM
    ({"tmpfs": {path: "size=64m" for path in Limits().writable_paths}}, "take 256m, more than the disk quota 64m"),
    ({"shm_size": "1g"}, "shm_size 1g"),
])
def test_tmpfs_and_shm_given_beside_the_limits_must_keep_to_the_quota(base_image, prefix, extra, error):
    with pytest.raises(SandboxError, match=error):
        with DockerSandbox(base_image, Limits(disk="64m"), name_prefix=prefix, extra_run_kwargs=extra):
            pass
