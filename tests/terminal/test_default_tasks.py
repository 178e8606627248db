"""`worldline collect terminal --out raw` runs the shipped tasks/terminal.yaml: it failed with "Missing option
'--tasks'" though the file ships beside the package (the mcp command already found its servers file)."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_without_tasks_the_shipped_terminal_tasks_run(tmp_path, base_image, prefix):
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "terminal", "--out", str(tmp_path),
                           "--limit", "1", "--image", base_image, "--container-prefix", prefix],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # not the checkout: found anyway
    assert done.returncode == 0, done.stderr[-3000:]
    [record] = (tmp_path / "episodes" / "terminal").glob("*.json")
    shipped = {task["id"] for task in yaml.safe_load((REPO / "tasks" / "terminal.yaml").read_text())["tasks"]}
    assert json.loads(record.read_text())["task"]["id"] in shipped
