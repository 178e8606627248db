"""An interrupted `collect terminal --limit K` counts what it stored against what this run planned (K, less what is
left), not against the whole task file, and not counting episodes complete before it as its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.collectors.test_interrupt import stored_episodes
from tests.interrupts import with_default_sigint

REPO = Path(__file__).resolve().parents[2]
TASKS, LIMIT, STEP_SECONDS = 5, 2, 4


def write_tasks(path: Path) -> Path:
    """The first task ends at once; the others sleep long enough for a signal sent when the episode before them is
    stored to land inside their step."""
    tasks = [{"id": f"t{i}", "instruction": "Sleep, then say done.", "options": {"action_timeout_s": STEP_SECONDS + 30},
              "actions": [[{"keystrokes": f"sleep {0 if i == 0 else STEP_SECONDS}; echo done\n",
                            "duration": STEP_SECONDS + 30}]]} for i in range(TASKS)]
    path.write_text(yaml.safe_dump({"tasks": tasks}))
    return path


def interrupted_run(tasks: Path, out: Path, prefix: str, sent: signal.Signals, stored_before: int) -> str:
    """Run the collection, send `sent` once it has stored one more episode (the next one is then in its sleep),
    and return what it printed."""
    argv = [sys.executable, "-m", "pipelines.cli", "collect", "terminal", "--tasks", str(tasks), "--out", str(out),
            "--container-prefix", prefix, "--limit", str(LIMIT)]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=with_default_sigint)
    try:
        deadline = time.monotonic() + 120
        while len(stored_episodes(out)) <= stored_before:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no episode was stored"
            time.sleep(0.05)
        proc.send_signal(sent)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sent, stderr
    return " ".join(stderr.split())


def test_an_interrupt_under_limit_counts_this_runs_plan(tmp_path, base_image, prefix, containers_named):
    tasks, out = write_tasks(tmp_path / "tasks.yaml"), tmp_path / "out"
    said = interrupted_run(tasks, out, prefix, signal.SIGINT, 0)
    assert len(stored_episodes(out)) == 1
    # It said "1 of the 5 planned episodes": every task in the file, though --limit 2 planned two.
    assert (f"interrupted: 1 of the {LIMIT} planned episodes stored in {out}; run the same command again to "
            "continue") in said, said

    # The rerun plans t1 (left unstored) and t2, and is stopped inside t2; t0 is complete already and not its own.
    said = interrupted_run(tasks, out, prefix, signal.SIGTERM, 1)
    assert len(stored_episodes(out)) == 2
    assert (f"terminated (SIGTERM): 1 of the {LIMIT} planned episodes stored in {out} (besides 1 complete before "
            "this run); run the same command again to continue") in said, said
    assert containers_named(prefix) == []
