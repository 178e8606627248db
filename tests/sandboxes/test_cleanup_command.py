"""`worldline sandbox cleanup`: by default only containers whose owning process is gone, never a live run's; and
always the temporary folders and empty cgroups of runs that died, wherever in the cgroup tree, never a live run's."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from sandboxes import cgroup
from sandboxes.docker_sandbox import DockerSandbox
from schemas.processes import start_time

REPO = Path(__file__).resolve().parents[2]


def _cleanup(*args, env=None):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "sandbox", "cleanup", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=env)


# A web and MCP collector's leftovers as a SIGKILL leaves them: the sites' folder, a driver's TMPDIR, a server's
# folder and a cgroup, made the way the collectors make them.
KILLED_COLLECTOR = """
import os, signal
from sandboxes import cgroup, leftovers
from sandboxes.sites.launcher import SiteLauncher
group = cgroup.make_group("test-cleanup", 64 << 20, 16)
print(SiteLauncher()._dir, leftovers.make_temp("wl-driver-"), leftovers.make_temp("wl-mcp-time-", "wl-mcp-"),
      *group.folders, sep="\\n", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_cleanup_leaves_a_running_runs_containers_unless_told(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        default = _cleanup()
        assert default.returncode == 0, default.stderr
        assert sandbox.name not in default.stdout.split()  # its owner (this process) is alive
        assert sandbox.exec("true").exit_code == 0
        assert _cleanup("--all", "--prefix", prefix).returncode == 2  # ambiguous: refused
        named = _cleanup("--prefix", prefix)
        assert named.returncode == 0 and sandbox.name in named.stdout.split()


def test_cleanup_removes_a_killed_runs_folders_and_cgroups_and_leaves_a_live_runs(tmp_path):
    """The killed run sat in a cgroup of its own (as a run from another shell or scope does), so its groups are
    nowhere near this command's: no collector started here would ever sweep them. Before: cleanup removed containers
    only, and the sites' folder had no owner in its name, so nothing could tell it was a dead run's."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    elsewhere = cgroup.make_group("test-cleanup-elsewhere", 256 << 20, 64)
    sleeper = subprocess.Popen(["sleep", "60"])
    own = cgroup.make_group("test-cleanup-live", 64 << 20, 16)  # this test's: a live run's
    left: list[Path] = []
    try:
        killed = subprocess.run(elsewhere.wrap([sys.executable, "-c", KILLED_COLLECTOR]), cwd=REPO,
                                capture_output=True, text=True, timeout=60, env=env)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        left = [Path(line) for line in killed.stdout.split()]
        assert len(left) >= 4 and all(path.is_dir() for path in left), left
        assert all(elsewhere.folders[0] in group.parents for group in left[3:4]), "made in the killed run's cgroup"
        live = Path(tempfile.mkdtemp(prefix=f"wl-browser-{sleeper.pid}.{start_time(sleeper.pid)}-", dir=tmp_path))

        cleaned = _cleanup(env=env)
        assert cleaned.returncode == 0, cleaned.stderr
        assert [str(path) for path in left if path.exists()] == []
        assert {str(path) for path in left} <= set(cleaned.stdout.split())
        said = re.search(r"removed (\d+) container\(s\), (\d+) temporary folder\(s\) and (\d+) cgroup\(s\)",
                         " ".join(cleaned.stderr.split()))
        assert said and int(said[2]) == 3 and int(said[3]) >= len(left) - 3, cleaned.stderr  # others' dead runs too
        assert live.is_dir() and all(folder.is_dir() for folder in own.folders)
    finally:
        sleeper.kill()
        sleeper.wait()
        own.close()
        for group in reversed(left[3:]):  # still there when cleanup failed: `elsewhere` cannot go before them
            if group.is_dir():
                group.rmdir()
        elsewhere.close()
