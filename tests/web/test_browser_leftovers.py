"""What a SIGKILLed collector's browser leaves (its launcher folder, the driver's TMPDIR, its cgroup) goes when the next
browser starts, while a live collector's folders stay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandboxes import leftovers
from schemas.processes import start_time
from tests.web.browser_helpers import require_chromium, running_browser

REPO = Path(__file__).resolve().parents[2]
KILLED_COLLECTOR = """
import os, signal
from sandboxes.browser import Browser
browser = Browser()
browser.start()
print(browser._base, browser._driver_tmp, *browser._group.folders, sep="\\n", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_collectors_browser() -> list[Path]:
    """The launcher folder, driver TMPDIR and cgroup folders of a browser whose collector was SIGKILLed, once the
    processes in its group have ended (the driver sees its pipe close and exits; Chromium dies with it)."""
    require_chromium()
    ran = subprocess.run([sys.executable, "-c", KILLED_COLLECTOR], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert ran.returncode == -signal.SIGKILL, ran.stderr
    folders = [Path(line) for line in ran.stdout.split()]
    assert len(folders) >= 4 and all(folder.is_dir() for folder in folders), folders
    procs = folders[2] / "cgroup.procs"
    deadline = time.monotonic() + 30
    while procs.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not procs.read_text().strip(), "the killed collector's Chromium outlived it"
    return folders


def test_the_next_browser_removes_a_killed_collectors_folders_and_cgroup():
    left = killed_collectors_browser()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        start = start_time(sleeper.pid)
        live = Path(tempfile.mkdtemp(prefix=f"wl-browser-{sleeper.pid}.{start}-"))
        reused = Path(tempfile.mkdtemp(prefix=f"wl-browser-{sleeper.pid}.{start - 1}-"))  # its pid's earlier process
        untagged = Path(tempfile.mkdtemp(prefix="wl-browser-"))  # made before names held the owner: cannot be told
        with running_browser() as browser:
            assert not any(folder.exists() for folder in left), [str(f) for f in left if f.exists()]
            assert browser._base.name.startswith(f"wl-browser-{leftovers.owner_tag()}-")
            assert [live.exists(), reused.exists(), untagged.exists()] == [True, False, True]
    finally:
        sleeper.kill()
        sleeper.wait()
        for folder in (live, reused, untagged):
            if folder.exists():
                folder.rmdir()
