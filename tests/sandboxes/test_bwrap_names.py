"""A bubblewrap sandbox (MCP servers, Chromium) names itself `sandbox`, as the Docker terminal does: it showed the
host's name and the host's /etc/hosts (here `vm` and `runsc`), which an observation (`hostname`, a server's
status page, a traceback) would carry into training data."""

import socket
import subprocess

from sandboxes import bwrap

LIMITS = bwrap.Limits(data_bytes=256 << 20, file_size_bytes=1 << 20, open_files=64, processes=32)


def run_sandboxed(script: str, uid: int | None) -> str:
    argv = bwrap.command(["/bin/sh", "-c", script], bwrap.bind_args(list(bwrap.SYSTEM_PATHS), set()), LIMITS,
                         network=False, uid=uid)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout



def test_the_sandbox_has_its_own_host_name_and_hosts_file():
    uid = bwrap.take_sandbox_uid()
    try:
        shown = run_sandboxed("uname -n; cat /etc/hosts; getent hosts localhost", uid)
    finally:
        bwrap.release_sandbox_uid(uid)
    lines = shown.splitlines()
    assert lines[0] == "sandbox"
    host = socket.gethostname()
    assert host != "sandbox" and host not in shown
    assert "127.0.1.1\tsandbox" in lines
    assert any(line.split()[:2] in (["127.0.0.1", "localhost"], ["::1", "localhost"]) for line in lines[-1:])
