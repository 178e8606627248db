"""Containers do not outlive the process that started them: Ctrl-C, SIGTERM, and (on the next run) SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sandboxes.container_registry import remove_orphans
from tests.interrupts import with_default_sigint

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOLDER = textwrap.dedent("""
    import sys, time
    from sandboxes.docker_sandbox import DockerSandbox, SandboxPool
    image, prefix = sys.argv[1], sys.argv[2]
    sandbox = DockerSandbox(image, name_prefix=prefix)
    sandbox.start()
    pool = SandboxPool(image, size=1, name_prefix=prefix)
    pool.acquire()
    print("ready", flush=True)
    time.sleep(120)
""")


def start_holder(image: str, prefix: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, image, prefix], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=with_default_sigint)
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        pytest.fail(f"the holder process did not start its containers (exit {proc.wait()}): {proc.stderr.read()}")
    return proc


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_removes_every_container(containers_named, base_image, prefix, signum):
    proc = start_holder(base_image, prefix)
    assert len(containers_named(prefix)) >= 2
    proc.send_signal(signum)
    assert proc.wait(timeout=60) != 0
    assert containers_named(prefix) == []


def test_containers_of_a_sigkilled_process_are_removed_as_orphans(containers_named, base_image, prefix,
                                                                   docker_client):
    proc = start_holder(base_image, prefix)
    proc.kill()
    proc.wait(timeout=30)
    time.sleep(0.2)
    left = containers_named(prefix)
    assert left, "SIGKILL gives no chance to clean up, so containers must still be there"
    remove_orphans(docker_client)
    # Gone rather than in what this call removed: a collector started beside this test (another pytest worker)
    # sweeps orphans with the same code and may take them first, and may still be removing them.
    deadline = time.monotonic() + 30
    while containers_named(prefix) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert containers_named(prefix) == []
