"""`worldline collect` and `worldline sandbox` on a machine whose Docker engine does not answer, and collect into an
--out that cannot hold a collection: one line `Error: ...`, exit code 2, nothing written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEAD_ENGINE = "unix:///nonexistent.sock"


def worldline(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [
    ["collect", "terminal", "--tasks", "tasks/terminal.yaml", "--limit", "1"],
    ["collect", "swe", "--tasks", "tasks/swe.yaml", "--limit", "1"],
    ["sandbox", "list"],
], ids=["terminal", "swe", "sandbox-list"])
def test_an_engine_that_does_not_answer_is_one_line(tmp_path, command):
    out = ["--out", tmp_path / "out"] if command[0] == "collect" else []
    line = one_error_line(worldline(*command, *out, env={"DOCKER_HOST": DEAD_ENGINE}))
    assert line.startswith(f"Error: cannot reach the Docker engine (DOCKER_HOST={DEAD_ENGINE}): "), line
    assert line.endswith("Start dockerd (`make run` starts it) or set DOCKER_HOST to a running engine"), line
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("mine")
    line = one_error_line(worldline("collect", "terminal", "--tasks", "tasks/terminal.yaml", "--limit", "1",
                                    "--out", tmp_path / "afile"))
    assert line == f"Error: --out {tmp_path / 'afile'} is a file, not a folder: pass a folder for the collection " \
                   "(it is created if missing)"
    assert (tmp_path / "afile").read_text() == "mine"


def test_out_that_is_a_curate_output_is_refused_before_any_environment_starts(curated):
    out = curated[0]
    before = sorted(path.relative_to(out) for path in out.rglob("*"))
    # A dead engine too: the --out check comes first, so nothing is asked of Docker.
    line = one_error_line(worldline("collect", "terminal", "--tasks", "tasks/terminal.yaml", "--limit", "1",
                                    "--out", out, env={"DOCKER_HOST": DEAD_ENGINE}))
    assert line == (f"Error: --out {out} is a curate output (it holds shards written by `worldline curate`), not a "
                    "raw collection: collect into the folder you curated from, or a new one")
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == before
