"""A task file may hold tasks for several collectors, and each collector that filters by `domain` runs its own and
the unset ones. A misspelled domain, or a file with none of this collector's tasks, used to collect nothing and say
"0 episodes collected" with exit 0 (second walkthrough F7): both are one `Error:` line, exit 2, before any sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from collectors.tasks import TaskFileError, load_tasks
from pipelines.cli import build_cli

ROOT = Path(__file__).resolve().parents[2]
# The collectors that filter their task file by domain, with what each needs to get as far as reading it.
FILTERING = {
    "terminal": ["--image", "worldline/none:missing"],
    "swe": [],
    "android": ["--serial", "127.0.0.1:1"],
    "web": [],
    "os": [],
}


def write_tasks(tmp_path: Path, *domains: str) -> Path:
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump([{"id": f"t{n}", "instruction": "x", "domain": domain}
                                    for n, domain in enumerate(domains)]))
    return path


def one_line_error(name: str, tasks: Path, out: Path) -> str:
    result = CliRunner().invoke(build_cli(), ["collect", name, "--tasks", str(tasks), "--out", str(out),
                                              *FILTERING[name]])
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert not out.exists()
    return lines[0]


@pytest.mark.parametrize("name", sorted(FILTERING))
def test_a_misspelled_domain_is_refused_naming_file_task_and_known_domains(name, tmp_path):
    tasks = write_tasks(tmp_path, name[:-1] + "x" + name[-1])  # a letter too many: "terminaxl", "swxe", "androixd"
    line = one_line_error(name, tasks, tmp_path / "out")
    assert str(tasks) in line and "'t0'" in line and f"did you mean {name!r}" in line
    assert "known domains: android, mcp, os, search, swe, terminal, web" in line


@pytest.mark.parametrize("name", sorted(FILTERING))
def test_a_file_with_only_other_domains_tasks_is_refused(name, tmp_path):
    other = "web" if name != "web" else "os"
    line = one_line_error(name, write_tasks(tmp_path, other, other), tmp_path / "out")
    assert f"no task is for the {name!r} collector" in line and f"'t0' is for {other!r}" in line


def test_a_mixed_file_keeps_this_domains_tasks_and_the_unset_ones(tmp_path):
    tasks = write_tasks(tmp_path, "terminal", "web", "", "search")
    assert [task.id for task in load_tasks(tasks, domain="terminal")] == ["t0", "t2"]
    assert len(load_tasks(tasks)) == 4  # without a domain, every task, as before


@pytest.mark.parametrize("name", sorted(FILTERING))
def test_the_shipped_task_file_loads_whole_for_its_collector(name):
    path = ROOT / "tasks" / f"{name}.yaml"
    assert load_tasks(path, domain=name) == load_tasks(path)
