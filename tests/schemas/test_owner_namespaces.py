"""Owner tags across pid namespaces and thread groups: a live collector in its own pid namespace (a container,
`unshare -p`) keeps its temporary folders, staging folders and containers when a collector outside sweeps; a process
whose main thread ended while others run is alive; an orphan container's owner pid reused by a later process does
not keep it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipelines.staging import remove_stale
from sandboxes import leftovers
from sandboxes.container_registry import LABEL, OWNER_LABEL, OWNER_TAG_LABEL, remove_orphans
from schemas.processes import alive, owner_tag, pid_namespace, start_time

ROOT = Path(__file__).resolve().parents[2]

# Run in a new pid namespace: picks its own pid there (ns_last_pid) so that the same number names no process
# outside, as a collector's pid in a container usually does; makes what a collector makes, then waits for stdin.
INNER = textwrap.dedent("""
    import os, sys, json
    free_pid, out, image, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    with open("/proc/sys/kernel/ns_last_pid", "w") as handle:
        handle.write(str(free_pid - 1))
    if os.fork():
        os.wait()
        sys.exit(0)
    from pathlib import Path
    from pipelines.staging import owned_folder
    from sandboxes import leftovers
    from sandboxes.docker_sandbox import DockerSandbox
    temp = leftovers.make_temp("wl-test-pidns-")
    staging = owned_folder(Path(out), "curate")
    staging.mkdir()
    sandbox = DockerSandbox(image, name_prefix=prefix)
    sandbox.client.api.create_container(image, command="true", name=sandbox.name, labels=sandbox.labels)
    print(json.dumps([os.getpid(), str(temp), str(staging), sandbox.name]), flush=True)
    sys.stdin.read()
""")


def _free_pid() -> int:
    """A pid no process has outside (its number, used inside the namespace, must name nothing here)."""
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    return next(pid for pid in range(pid_max - 10, 300, -1) if not Path(f"/proc/{pid}").exists())


@pytest.fixture
def inner_collector(tmp_path, base_image, prefix):
    out = tmp_path / "out"
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", INNER,
                             str(_free_pid()), str(out), base_image, prefix],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        pytest.fail(f"the collector in its own pid namespace did not start: {proc.stderr.read()}")
    pid, temp, staging, container = json.loads(line)
    yield pid, Path(temp), Path(staging), out, container
    proc.stdin.close()
    proc.wait(timeout=30)
    if Path(temp).exists():
        Path(temp).rmdir()


def test_a_collector_in_another_pid_namespace_keeps_what_it_made(inner_collector, docker_client, containers_named):
    # Before, its tag's pid was read here: it named no process (or one that started at another time) and a sweep
    # outside removed its live temporary folder, staging folder and container.
    pid, temp, staging, out, container = inner_collector
    assert not Path(f"/proc/{pid}").exists(), "the inner pid must name no process here for this test to mean it"
    assert leftovers.owner_of(temp.name) is None  # cannot be told from here
    assert temp not in leftovers.remove_dead_temp("wl-test-pidns-") and temp.is_dir()
    assert remove_stale(out, ["curate"]) == [] and staging.is_dir()
    assert container not in remove_orphans(docker_client) and containers_named(container) == [container]
    docker_client.api.remove_container(container, force=True)


def test_a_tag_of_this_namespace_is_read_with_its_start_time():
    tag = owner_tag()
    assert tag == f"{os.getpid()}.{start_time(os.getpid())}.{pid_namespace()}"
    assert leftovers.owner_of(f"wl-x-{tag}-abc") == (os.getpid(), start_time(os.getpid()))
    assert leftovers.owner_of(f"wl-x-{os.getpid()}.7-abc") == (os.getpid(), 7)  # named before namespaces


def _orphan(docker_client, image: str, name: str, owner: dict) -> None:
    docker_client.api.create_container(image, command="true", name=name, labels={LABEL: "1", **owner})


def test_an_orphan_whose_owner_pid_was_reused_is_removed_and_an_old_label_is_still_read(docker_client, base_image,
                                                                                       prefix, containers_named):
    # Before, the label held the pid alone: a later process with the same pid kept the orphan forever.
    host, me, start = socket.gethostname(), os.getpid(), start_time(os.getpid())
    gone = subprocess.Popen(["true"])
    gone.wait()
    labels = {f"{prefix}-reused": {OWNER_LABEL: f"{host}:{me}", OWNER_TAG_LABEL: f"{me}.{start - 1}.{pid_namespace()}"},
              f"{prefix}-live": {OWNER_LABEL: f"{host}:{me}", OWNER_TAG_LABEL: owner_tag()},
              f"{prefix}-old-label": {OWNER_LABEL: f"{host}:{gone.pid}"},
              f"{prefix}-other-host": {OWNER_LABEL: f"not-{host}:{gone.pid}"}}
    for name, owner in labels.items():
        _orphan(docker_client, base_image, name, owner)
    removed = remove_orphans(docker_client)
    # Gone rather than in `removed`: a collector started beside this test (another pytest worker) sweeps orphans
    # with the same code and may take them first.
    assert containers_named(f"{prefix}-reused") == [] and containers_named(f"{prefix}-old-label") == []
    assert not {f"{prefix}-live", f"{prefix}-other-host"} & set(removed)
    assert containers_named(f"{prefix}-live") and containers_named(f"{prefix}-other-host")
    for name in (f"{prefix}-live", f"{prefix}-other-host"):
        docker_client.api.remove_container(name, force=True)


# The main thread leaves with pthread_exit (ctypes: what a C extension or an embedding runtime can do) while a
# worker thread goes on: /proc shows the process as Z.
LEADER_LEAVES = textwrap.dedent("""
    import ctypes, sys, threading
    from sandboxes import leftovers
    def work():
        print(leftovers.make_temp("wl-test-leader-"), flush=True)
        sys.stdin.read()
    threading.Thread(target=work).start()
    ctypes.CDLL(None).pthread_exit(None)
""")


def test_a_process_whose_main_thread_ended_while_others_run_is_alive():
    # Before, its Z state alone made it gone: its folder was removed while its worker still wrote there.
    child = subprocess.Popen([sys.executable, "-c", LEADER_LEAVES], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        folder = Path(child.stdout.readline().strip())
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
            assert time.monotonic() < deadline, "the main thread did not end"
            time.sleep(0.01)
        assert alive(child.pid) and alive(child.pid, start_time(child.pid))
        assert leftovers.remove_dead_temp("wl-test-leader-") == [] and folder.is_dir()
    finally:
        child.kill()  # an interpreter whose main thread left cannot finalize
        child.wait()
    assert not alive(child.pid)
    assert leftovers.remove_dead_temp("wl-test-leader-") == [folder]


# A collector's interrupt sweep removes the containers it owns: by host:pid before, which a collector in another pid
# namespace on a host of the same name can share.
SWEEPER = textwrap.dedent("""
    import os, socket, sys
    from collectors.runner import _remove_live_sandboxes
    from sandboxes.container_registry import LABEL, OWNER_LABEL, OWNER_TAG_LABEL
    from sandboxes.engine import engine_client
    from schemas.processes import owner_tag, pid_namespace, start_time
    image, prefix = sys.argv[1], sys.argv[2]
    me, client = f"{socket.gethostname()}:{os.getpid()}", engine_client()
    other = f"{os.getpid()}.{start_time(os.getpid())}.{pid_namespace() + 1}"
    for name, tag in ((f"{prefix}-mine", owner_tag()), (f"{prefix}-other-namespace", other)):
        client.api.create_container(image, command="true", name=name,
                                    labels={LABEL: "1", OWNER_LABEL: me, OWNER_TAG_LABEL: tag})
    _remove_live_sandboxes(sweep=True)
""")


def test_the_interrupt_sweep_leaves_a_container_of_another_pid_namespace(docker_client, base_image, prefix):
    subprocess.run([sys.executable, "-c", SWEEPER, base_image, prefix], cwd=ROOT, check=True, timeout=120)
    left = {c.name for c in docker_client.containers.list(all=True) if c.name.startswith(prefix)}
    assert left == {f"{prefix}-other-namespace"}
    docker_client.api.remove_container(f"{prefix}-other-namespace", force=True)
