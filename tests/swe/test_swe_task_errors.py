"""Mistakes that must stop a run up front with a clear message: a repo whose own tests cannot start (no bug can be
generated from it) and a task naming a mutation its repo does not have (no episode must be recorded for it)."""

import subprocess
import sys

import pytest
import yaml
from tests.swe.swe_helpers import ROOT, write_tiny_project

from collectors.swe import SweTaskError, generate_bugfix_tasks
from sandboxes.swe_images import ensure_image
from sandboxes.swe_repos import RepoSpec

WORLDLINE = [sys.executable, "-m", "pipelines.cli"]


@pytest.fixture(scope="module")
def broken_spec(tmp_path_factory) -> RepoSpec:
    """The tiny project plus a conftest importing a module the image lacks (as attrs' conftest imports hypothesis)."""
    folder = write_tiny_project(tmp_path_factory.mktemp("broken") / "calc")
    (folder / "conftest.py").write_text("import wl_missing_test_dependency  # noqa: F401\n")
    return RepoSpec(name="wl-test-broken", path=str(folder), mutate=("calc.py",))


def test_a_suite_that_cannot_start_stops_generation_with_pytest_last_lines(broken_spec):
    image = ensure_image(broken_spec)
    with pytest.raises(SweTaskError) as caught:
        generate_bugfix_tasks(broken_spec, image, count=1, seed=0)
    message = str(caught.value)
    assert "pytest exited with 4" in message
    assert "ImportError while loading conftest" in message
    assert "No module named 'wl_missing_test_dependency'" in message
    assert "list the missing packages in the entry's `test_requires`" in message


def test_the_collect_command_reports_it_and_collects_nothing(broken_spec, tmp_path):
    repos = tmp_path / "repos.yaml"
    repos.write_text(yaml.safe_dump({"repos": [{"name": broken_spec.name, "path": broken_spec.path,
                                                "mutate": ["calc.py"]}]}))
    out = tmp_path / "out"
    done = subprocess.run(WORLDLINE + ["collect", "swe", "--repos", str(repos), "--bugs", "1", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"repo '{broken_spec.name}'" in done.stderr and "No module named 'wl_missing_test_dependency'" in done.stderr
    assert "test_requires" in done.stderr
    assert not (out / "swe_tasks").exists() and not (out / "episodes").exists()


def test_a_mutation_id_the_repo_lacks_is_a_task_file_error(tiny_spec, tiny_image, tmp_path):
    repos = tmp_path / "repos.yaml"
    repos.write_text(yaml.safe_dump({"repos": [{"name": tiny_spec.name, "path": tiny_spec.path,
                                                "mutate": ["calc.py"]}]}))
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(yaml.safe_dump({"tasks": [
        {"id": "fine", "instruction": "look", "options": {"repo": tiny_spec.name}, "actions": [{"bash": "ls"}]},
        {"id": "stale", "instruction": "fix it", "options": {"repo": tiny_spec.name,
                                                             "mutation": "calc.py:99999:flip_comparison:0"},
         "actions": [{"run_tests": {}}]},
    ]}))
    out = tmp_path / "out"
    done = subprocess.run(WORLDLINE + ["collect", "swe", "--repos", str(repos), "--tasks", str(tasks),
                                       "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    flat = " ".join(done.stderr.replace("│", " ").split())
    assert f"Error: {tasks}: task 'stale'" in flat and "Invalid value" not in flat  # one line naming the file
    assert "task 'stale': options.mutation 'calc.py:99999:flip_comparison:0' does not exist in calc.py" in flat
    assert not (out / "episodes").exists() and not (out / "transitions").exists()

    tasks.write_text(yaml.safe_dump({"tasks": [
        {"id": "nofile", "instruction": "x", "options": {"repo": tiny_spec.name, "mutation": "nope.py:1:flip:0"},
         "actions": [{"bash": "ls"}]}]}))
    done = subprocess.run(WORLDLINE + ["collect", "swe", "--repos", str(repos), "--tasks", str(tasks),
                                       "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "nope.py is not a file of repo" in " ".join(done.stderr.replace("│", " ").split())
    assert not (out / "episodes").exists()



def test_ctrl_c_during_bug_generation_says_where_it_stopped_and_leaves_no_container(tmp_path):
    import os
    import signal
    import socket
    import time

    import docker

    from tests.interrupts import with_default_sigint

    folder = write_tiny_project(tmp_path / "calc")
    (folder / "conftest.py").write_text("import time\ntime.sleep(120)  # the baseline run is where Ctrl-C lands\n")
    repos = tmp_path / "repos.yaml"
    repos.write_text(yaml.safe_dump({"repos": [{"name": "wl-test-slow", "path": str(folder), "mutate": ["calc.py"]}]}))
    out = tmp_path / "out"
    run = subprocess.Popen(WORLDLINE + ["collect", "swe", "--repos", str(repos), "--bugs", "1", "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                           preexec_fn=with_default_sigint)
    client = docker.from_env()
    owner = f"worldline.owner={socket.gethostname()}:{run.pid}"
    generating = lambda: client.api.containers(all=True, filters={"name": "worldline-swe-gen", "label": owner})  # noqa: E731
    deadline = time.monotonic() + 240
    while not generating() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert generating(), "the generation container never started"
    time.sleep(2)  # inside the baseline test run
    os.kill(run.pid, signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    flat = " ".join(stderr.split())
    assert run.returncode == 130, stderr[-2000:]
    assert "interrupted while generating bug-fix tasks of repo 'wl-test-slow'; no episode was recorded" in flat
    assert "Traceback" not in stderr
    assert not generating() and not (out / "episodes").exists()
