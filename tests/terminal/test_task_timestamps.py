"""The terminal tasks' log files are written in the form they teach: tasks/terminal.yaml's text-grep-errors wrote
`2024-05-01T10:01:7 ERROR …` (unpadded seconds), which stages 1 and 2 taught as a normal ISO log line (audit4 B8).
The setup runs in a real bash, as the sandbox runs it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

TASKS = Path(__file__).parents[2] / "tasks" / "terminal.yaml"
ISO_LINE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2} (INFO|ERROR) ")


def test_the_server_log_has_iso_timestamps(tmp_path):
    [task] = [task for task in yaml.safe_load(TASKS.read_text())["tasks"] if task["id"] == "text-grep-errors"]
    for command in task["setup"]:
        subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True, timeout=30)
    lines = (tmp_path / "server.log").read_text().splitlines()
    assert len(lines) == 43 and sum("ERROR" in line for line in lines) == 3
    assert [line for line in lines if not ISO_LINE.match(line)] == []
    assert lines[-3] == "2024-05-01T10:01:07 ERROR timeout on shard 7"
