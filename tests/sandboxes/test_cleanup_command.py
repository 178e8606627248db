"""`worldline sandbox cleanup`: by default only containers whose owning process is gone, never a live run's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sandboxes.docker_sandbox import DockerSandbox

REPO = Path(__file__).resolve().parents[2]


def _cleanup(*args):
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "sandbox", "cleanup", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_cleanup_leaves_a_running_runs_containers_unless_told(base_image, prefix):
    with DockerSandbox(base_image, name_prefix=prefix) as sandbox:
        default = _cleanup()
        assert default.returncode == 0, default.stderr
        assert sandbox.name not in default.stdout.split()  # its owner (this process) is alive
        assert sandbox.exec("true").exit_code == 0
        assert _cleanup("--all", "--prefix", prefix).returncode == 2  # ambiguous: refused
        named = _cleanup("--prefix", prefix)
        assert named.returncode == 0 and sandbox.name in named.stdout.split()
