"""A collector in another time namespace (`unshare --time`, a CRIU-restored container) sharing /tmp: the kernel
shows every process's start time shifted by the reader's boottime offset, so it read each live owner's start time
as another, called the pid reused, and removed the live owner's temporary folders (containment audit 3, S4)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from sandboxes import leftovers
from schemas.processes import start_time

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ("import json, os; from sandboxes import leftovers; from schemas.processes import start_time; "
         "print(json.dumps([start_time(int(os.environ['OWNER'])), "
         "[path.name for path in leftovers.remove_dead_temp('wl-test-timens-')]]))")

def test_a_sweep_from_another_time_namespace_keeps_a_live_owners_folder():
    live = leftovers.make_temp("wl-test-timens-")
    try:
        swept = subprocess.run(["unshare", "--time", "--boottime", "100000", sys.executable, "-c", SWEEP],
                               capture_output=True, text=True, timeout=60, cwd=ROOT,
                               env={**os.environ, "OWNER": str(os.getpid())})
        assert swept.returncode == 0, swept.stderr
        seen_start, removed = json.loads(swept.stdout)
        assert seen_start == start_time(os.getpid())
        assert removed == [] and live.is_dir()
    finally:
        if live.exists():
            live.rmdir()
