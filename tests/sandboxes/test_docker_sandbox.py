"""DockerSandbox against the real engine: limits really hold, commands time out, containers always go away."""

from __future__ import annotations

import dataclasses
import gc
import os

import pytest

from sandboxes import proc_view
from sandboxes.attached_exec import SandboxError
from sandboxes.docker_sandbox import DockerSandbox, SandboxPool
from sandboxes.limits import Limits


def test_exec_returns_output_exit_code_and_reads_stdin(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        result = sandbox.exec("echo out; echo err >&2; exit 3")
        assert (result.exit_code, result.stdout, result.stderr, result.timed_out) == (3, b"out\n", b"err\n", False)
        assert sorted(result.output.splitlines()) == [b"err", b"out"]
        assert sandbox.exec(["tr", "a-z", "A-Z"], stdin=b"shout").stdout == b"SHOUT"
        assert sandbox.exec("pwd", workdir="/tmp").stdout == b"/tmp\n"
        assert sandbox.exec("echo $GREETING", env={"GREETING": "hi"}).stdout == b"hi\n"


def test_exec_timeout_kills_the_command_and_its_children(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        result = sandbox.exec("sleep 30 | cat", timeout=0.5)
        assert result.timed_out and result.exit_code is None
        assert result.duration_s < 5
        assert b"sleep 30" not in sandbox.exec("ps -eo args").stdout


def test_action_timeout_is_the_default_exec_timeout(base_image, prefix):
    limits = dataclasses.replace(Limits(), action_timeout_s=0.5)
    with DockerSandbox(base_image, limits, name_prefix=prefix) as sandbox:
        assert sandbox.exec("sleep 10").timed_out


def test_container_has_no_network(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        interfaces = sandbox.exec("tail -n +3 /proc/net/dev | cut -d: -f1").stdout.split()
        assert interfaces == [b"lo"]
        probe = sandbox.exec(["python3", "-c", "import socket; socket.create_connection(('1.1.1.1', 53), timeout=2)"])
        assert probe.exit_code != 0 and b"Network is unreachable" in probe.output
        assert sandbox.exec("getent hosts pypi.org").exit_code != 0


def test_limits_reach_the_engine_and_nothing_from_the_host_is_mounted(base_image, prefix, docker_client):
    limits = Limits(memory="128m", pids=64, cpus=0.5, disk="16m")
    with DockerSandbox(base_image, limits, name_prefix=prefix, labels={"purpose": "test"}) as sandbox:
        info = docker_client.api.inspect_container(sandbox.container_id)
        host = info["HostConfig"]
        assert host["Memory"] == 128 * 2**20 and host["MemorySwap"] == 128 * 2**20
        assert (host["PidsLimit"], host["NanoCpus"], host["NetworkMode"]) == (64, 500_000_000, "none")
        # Nothing from the host but lxcfs's /proc files (read-only; they describe the container, not the host), and
        # on a cgroup v1 engine an empty read-only tmpfs over the engine's writable /sys/fs/cgroup.
        assert host["ReadonlyRootfs"] and not host.get("Binds")
        cover = [("", "/sys/fs/cgroup", False)] if docker_client.info()["CgroupVersion"] == "1" else []
        assert sorted((m["Source"], m["Destination"], m["RW"]) for m in info["Mounts"]) == cover + [
            (f"/var/lib/lxcfs/proc/{name}", f"/proc/{name}", False) for name in proc_view.PROC_FILES]
        # disk is the total of the writable paths: /work gets the most, the sizes add up to 16m.
        assert host["Tmpfs"] == {path: f"size={size},mode=1777,exec" for path, size in limits.tmpfs_sizes().items()}
        assert limits.tmpfs_sizes() == {"/work": "10m", "/tmp": "2m", "/root": "2m", "/var/tmp": "2m"}
        assert host["ShmSize"] == limits.shm_bytes == 8 * 2**20
        assert info["Config"]["Labels"]["worldline"] == "1" and info["Config"]["Labels"]["purpose"] == "test"
        assert sandbox.image_digest.startswith("sha256:")


def test_disk_fill_is_contained_by_the_tmpfs_quota(base_image, prefix):
    with DockerSandbox(base_image, Limits(disk="32m"), name_prefix=prefix) as sandbox:
        fill = sandbox.exec("head -c 200M /dev/zero > /work/fill; head -c 200M /dev/zero > /tmp/fill")
        assert fill.exit_code != 0 and b"No space left on device" in fill.output
        filled = sandbox.exec("stat -c %s /work/fill /tmp/fill").stdout.split()
        assert int(filled[0]) + int(filled[1]) <= 32 * 2**20  # disk is the total, not the size of each path
        root = sandbox.exec("echo x > /opt/outside")
        assert root.exit_code != 0 and b"Read-only file system" in root.output


def test_memory_hog_is_killed_and_the_sandbox_survives(base_image, prefix):
    with DockerSandbox(base_image, Limits(memory="128m"), name_prefix=prefix) as sandbox:
        hog = sandbox.exec(["python3", "-c", "b = bytearray(512 * 1024 * 1024); print('allocated')"])
        assert hog.exit_code == 137 and b"allocated" not in hog.output
        assert sandbox.exec("echo alive").stdout == b"alive\n"


def test_fork_bomb_is_capped_by_pids_and_removed(base_image, prefix, docker_client):
    with DockerSandbox(base_image, Limits(pids=48), name_prefix=prefix) as sandbox:
        bomb = sandbox.exec(["bash", "-c", "bomb() { bomb | bomb & }; bomb; sleep 3"], timeout=2)
        assert bomb.timed_out or bomb.exit_code is not None
        stats = docker_client.api.stats(sandbox.container_id, stream=False, one_shot=True)
        assert 0 < stats["pids_stats"]["current"] <= 48
        assert stats["pids_stats"]["limit"] == 48
    # close() removed it even though every pid in it was taken (the prefix fixture checks nothing is left).


def test_files_round_trip_through_exec(base_image, prefix):
    payload = bytes(range(256)) * 300
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        sandbox.put_file("/work/sub/data.bin", payload, mode=0o600)
        assert sandbox.get_file("/work/sub/data.bin") == payload
        assert sandbox.exec("stat -c %a /work/sub/data.bin").stdout == b"600\n"
        with pytest.raises(SandboxError, match="/etc/blocked"):
            sandbox.put_file("/etc/blocked", b"x")
        with pytest.raises(SandboxError, match="/work/missing"):
            sandbox.get_file("/work/missing")


def test_containers_are_removed_on_error_and_close_is_idempotent(containers_named, base_image, prefix):
    with pytest.raises(RuntimeError, match="boom"):
        with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
            assert containers_named(prefix) == [sandbox.name]
            raise RuntimeError("boom")
    assert containers_named(prefix) == []
    sandbox.close()
    with pytest.raises(SandboxError, match="closed"):
        sandbox.start()


def test_a_failed_start_leaves_nothing(containers_named, prefix):
    import docker.errors
    sandbox = DockerSandbox("worldline/no-such-image:none", name_prefix=prefix)
    with pytest.raises(docker.errors.ImageNotFound):
        sandbox.start()
    assert containers_named(prefix) == []


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_closed_sandbox_leaves_no_engine_connection_open(base_image, prefix):
    """With the cyclic GC off, as between two of its gen-2 collections in a long run. Before: each sandbox made its own
    docker client and never closed it; docker-py's client sits in reference cycles, so its pooled engine sockets
    stayed open until such a collection (a terminal run's fds rose by ~12 an episode, dockerd holding the peers)."""
    episodes = 6
    with DockerSandbox(base_image, name_prefix=prefix) as warm:  # imports, the engine's first answers
        warm.exec("true")
    gc.collect()
    gc.disable()
    try:
        before = _open_fds()
        for _ in range(episodes):
            with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
                assert sandbox.exec("echo hi").stdout == b"hi\n"
                sandbox.oom_kills()
        grown = _open_fds() - before
    finally:
        gc.enable()
    assert grown < episodes // 2, f"{grown} more fds open after {episodes} sandboxes were closed"


def test_pool_hands_out_started_sandboxes_and_never_reuses_them(containers_named, base_image, prefix):
    prepared = []
    with SandboxPool(base_image, Limits(), size=1, prepare=lambda sb: prepared.append(sb.name),
                     name_prefix=prefix) as pool:
        first = pool.acquire()
        assert first.exec("echo ready").stdout == b"ready\n"
        assert first.name in prepared
        pool.release(first)
        second = pool.acquire()
        assert second.name != first.name and second.exec("true").exit_code == 0
        pool.release(second)
    assert containers_named(prefix) == []
