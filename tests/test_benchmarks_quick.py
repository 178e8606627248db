"""The benchmarks docs/performance.md tells users to run must run. `python -m benchmarks minhash` crashed (second
walkthrough F8): it kept prepared rows with isinstance(item, tuple), which let transforms.validate.Rejected (a
NamedTuple) through, and every generated row was a stand-in, so it was dead-lettered and none was sketched.

Only minhash and curate have a quick mode; curate's takes a couple of minutes (too long here), and the other
benchmarks need Docker, Chromium, adb or MCP servers, so this runs minhash's quick mode through the real entry point.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_minhash_quick_mode_runs_and_sketches_every_generated_transition():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "minhash"], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "WORLDLINE_BENCH_QUICK": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2000 masked texts in 100 file batches" in result.stdout, result.stdout
    recalls = [float(value) for value in re.findall(r"recall (\d\.\d+)", result.stdout)]
    assert len(recalls) == 2 and min(recalls) > 0.9, result.stdout
