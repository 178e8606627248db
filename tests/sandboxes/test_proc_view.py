"""A sandbox's /proc describes the sandbox (lxcfs, started by scripts/setup.d/15-lxcfs.sh), not the machine the
collection ran on: `free` shows the memory cap. But not its uptime: ps computes ages and CPU shares from the uptime
and process start times counted from the host's boot, so a container's uptime made them nonsense."""

from __future__ import annotations

import dataclasses
import re

import docker

from sandboxes import proc_view
from sandboxes.docker_sandbox import DockerSandbox
from sandboxes.limits import Limits


def test_free_shows_the_sandbox_not_the_host(base_image, prefix):
    assert proc_view.lxcfs_answers(), "lxcfs is not serving /var/lib/lxcfs: run scripts/setup.d/15-lxcfs.sh"
    limits = dataclasses.replace(Limits(), memory="384m")
    with DockerSandbox(base_image, limits, name_prefix=prefix) as sandbox:
        assert sandbox.proc_view == proc_view.LXCFS
        meminfo = sandbox.exec("cat /proc/meminfo").stdout.decode()
        total_kib = int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1))
        assert total_kib * 1024 == 384 << 20
        host_total = int(re.search(r"MemTotal:\s+(\d+) kB", open("/proc/meminfo").read()).group(1))
        assert total_kib < host_total
        # /proc stays read-only where it is bound: the sandbox cannot write the daemon's files.
        assert sandbox.exec("echo 1 > /proc/meminfo").exit_code != 0


def test_ps_ages_and_cpu_shares_agree_with_the_clock(base_image, prefix):
    # Before: `441077233-05:48:16` elapsed and 0.0 %CPU for a busy loop.
    with DockerSandbox(base_image, Limits(), name_prefix=prefix) as sandbox:
        assert sandbox.proc_view == proc_view.LXCFS
        shown = sandbox.exec("timeout 5 sh -c 'yes > /dev/null' & sleep 2; ps -o etimes=,pcpu=,comm= -C yes")
        elapsed_s, cpu_percent, command = shown.stdout.decode().split()
        assert command == "yes" and 1 <= int(elapsed_s) <= 10
        assert 30 <= float(cpu_percent) <= 105, shown.stdout  # one core's cap (Limits().cpus), on a loaded machine


def test_an_engine_on_another_machine_keeps_the_hosts_view():
    # A bind's source is read on the engine's host, where lxcfs may not run: only a local engine gets the binds.
    remote = docker.DockerClient(base_url="tcp://192.0.2.1:2375", version="1.41")
    assert not proc_view.engine_is_local(remote) and proc_view.proc_mounts(remote) == []
    assert proc_view.engine_is_local(docker.from_env())


def test_a_dead_daemon_keeps_the_hosts_view(tmp_path):
    (tmp_path / "proc").mkdir()
    for name in proc_view.PROC_FILES[:-1]:
        (tmp_path / "proc" / name).write_text("x")
    assert not proc_view.lxcfs_answers(tmp_path)  # one file missing: not used half-way
    (tmp_path / "proc" / proc_view.PROC_FILES[-1]).write_text("x")
    assert proc_view.lxcfs_answers(tmp_path)
