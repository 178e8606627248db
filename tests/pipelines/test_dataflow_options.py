"""Dataflow's option checks run before anything else and end in one `Error:` line (second walkthrough F9): Beam made
them only at submission, so the documented command with its placeholders (gs://BUCKET, PROJECT) hung ~100 s looking
for a default bucket and printed a 218-line traceback, and --project=PROJECT a 44-line one. The offline check
docs/dataflow.md gives is run as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.curate import RunnerError, check_runner

REPO = Path(__file__).resolve().parents[2]
VALID = ["--runner=DataflowRunner", "--project=my-project", "--region=us-central1", "--job_name=worldline-curate",
         "--temp_location=gs://my-bucket/tmp", "--staging_location=gs://my-bucket/staging"]


def documented_dry_run() -> list[str]:
    text = (REPO / "docs" / "dataflow.md").read_text()
    section = text.split("## Checking a command offline", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return shlex.split(block.replace("\\\n", " "))


def curate(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("option, bad, named", [
    ("--project", "PROJECT", "Invalid Project ID (PROJECT)"),
    ("--job_name", "Curate_2026", "Invalid job_name (Curate_2026)"),
    ("--temp_location", "gs://BUCKET/tmp", "Invalid GCS bucket (gs://BUCKET/tmp), given for the option: "
                                           "temp_location"),
])
def test_an_invalid_dataflow_option_is_refused_before_the_run(option, bad, named):
    args = [arg for arg in VALID if not arg.startswith(option + "=")] + [f"{option}={bad}"]
    with pytest.raises(RunnerError, match=re.escape(named)):
        check_runner(args)
    check_runner(VALID)  # the same command with valid names passes


def test_local_runs_are_not_held_to_dataflows_options():
    check_runner(["--runner=FnApiRunner", "--project=PROJECT", "--temp_location=gs://BUCKET/tmp"])


def test_the_documented_command_with_its_placeholders_is_one_line_and_quick():
    args = [arg.replace("my-bucket", "BUCKET").replace("my-project", "PROJECT") for arg in documented_dry_run()[1:]]
    result = curate(args, timeout=60)  # Beam's default bucket lookup took ~100 s offline
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[-3000:]
    for fragment in ("Invalid GCS bucket (gs://BUCKET/tmp)", "staging_location", "Invalid Project ID (PROJECT)"):
        assert fragment in lines[0]


def test_the_documented_offline_check_runs_as_written():
    args = documented_dry_run()
    assert args[0] == "worldline" and "--dry_run=True" in args
    result = curate(args[1:], timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Dry run: the job was translated and nothing was submitted, curated or written." in result.stderr
