"""The terminal collector on a real tmux in a real container: waits, screens, scrollback, errors, perturbations."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.api import Task
from collectors.tasks import load_tasks
from collectors.terminal import TerminalTaskError, check_task, parse_keystrokes

TASKS = Path(__file__).resolve().parents[2] / "tasks" / "terminal.yaml"


def play(collector, task: Task, *actions):
    first = collector.reset(task)
    return first, [collector.step(collector.parse_action(spec)) for spec in actions]


def keys(text: str, duration: float = 3.0) -> list[dict]:
    return [{"keystrokes": text, "duration": duration}]


def test_command_ends_when_the_prompt_returns_with_status_and_cwd(collector):
    first, (step,) = play(collector, Task("t-status", "fail in /tmp"), keys("cd /tmp && ls /missing\n"))
    assert first.text == "root@sandbox:/work#" and first.meta["cwd"] == "/work"
    meta = step.observation.meta
    assert (meta["wait_method"], meta["exit_status"], meta["cwd"], meta["prompt_back"]) == ("prompt", 2, "/tmp", True)
    assert step.wait_ms < 3000 and step.observation.raw_format == "tmux-ansi"
    assert step.observation.text.endswith(
        "ls: cannot access '/missing': No such file or directory\nroot@sandbox:/tmp#")


def test_raw_keeps_escape_sequences_and_text_is_the_plain_screen(collector):
    _, (step,) = play(collector, Task("t-color", "color"), keys("printf '\\033[1;31mALERT\\033[0m\\n'\n"))
    assert b"\x1b[31mALERT" in step.observation.raw  # tmux re-encodes SGR, one attribute per sequence
    assert "\nALERT\n" in step.observation.text and "\x1b" not in step.observation.text


def test_scrollback_holds_every_line_of_new_output_and_only_new_lines(collector):
    # More lines than tmux's default 2000-line history, so a default-sized scrollback would lose some.
    _, (step, short) = play(collector, Task("t-scroll", "long output"), keys("seq 1 3000\n", 10), keys("echo tail\n"))
    lines = step.observation.text.split("\n")
    assert step.observation.meta["history_lines"] > 2900
    assert lines[lines.index("1"):lines.index("3000") + 1] == [str(i) for i in range(1, 3001)]
    # The next observation holds the screen (which still shows the end of seq) and nothing from before it.
    assert short.observation.meta["history_lines"] == 2
    assert short.observation.text.split("\n")[0] == "2962"
    assert short.observation.text.endswith("\nroot@sandbox:/work# echo tail\ntail\nroot@sandbox:/work#")


def test_exiting_the_shell_ends_the_episode(collector):
    _, (step,) = play(collector, Task("t-exit", "leave"), keys("exit\n"))
    assert step.done and step.error is None
    assert step.observation.meta["session_ended"] is True


def test_running_command_waits_the_duration_then_ctrl_c_brings_the_prompt(collector):
    _, (running, interrupted) = play(collector, Task("t-sleep", "interrupt"), keys("sleep 30\n", 0.4),
                                     keys("C-c", 3))
    meta = running.observation.meta
    assert (meta["wait_method"], meta["foreground"], meta["exit_status"]) == ("duration", "sleep", None)
    assert 350 <= running.wait_ms < 2000
    assert interrupted.observation.meta["wait_method"] == "prompt"
    assert interrupted.observation.meta["exit_status"] == 130
    assert "^C" in interrupted.observation.text


def test_interactive_program_output_settles_quietly(collector):
    _, (repl, answer, leave) = play(collector, Task("t-repl", "python"), keys("python3 -q\n", 1.5),
                                    keys("print(6 * 7)\n", 3), keys("C-d", 3))
    assert repl.observation.meta["foreground"].startswith("python")
    assert answer.observation.meta["wait_method"] == "quiet"
    assert answer.observation.text.endswith(">>> print(6 * 7)\n42\n>>>")
    assert leave.observation.meta["wait_method"] == "prompt"


def test_several_keystrokes_in_one_action(collector):
    _, (step,) = play(collector, Task("t-multi", "type then enter"),
                      [{"keystrokes": "echo typed-", "duration": 0.5}, {"keystrokes": "later", "duration": 0.5},
                       {"keystrokes": "Enter", "duration": 3}])
    assert step.observation.meta["wait_methods"] == ["quiet", "quiet", "prompt"]
    assert "\ntyped-later\n" in step.observation.text


def test_setup_runs_before_the_first_observation(collector):
    _, (step,) = play(collector, Task("t-setup", "files", setup=["mkdir -p src", "echo hello > src/a.txt"]),
                      keys("cat src/a.txt\n"))
    assert "\nhello\n" in step.observation.text


def test_failing_setup_names_the_task_and_command(collector):
    with pytest.raises(TerminalTaskError, match=r"task 't-bad-setup' setup #2 'false' failed \(exit 1\)"):
        collector.reset(Task("t-bad-setup", "x", setup=["true", "false"]))


def test_a_setup_command_that_times_out_names_the_limit_and_how_to_raise_it(collector):
    # It said `failed (exit None, timed out):`, leaving the author to find which limit killed it. The task's own
    # options.action_timeout_s (1 s here) is the limit its sandbox got.
    with pytest.raises(TerminalTaskError) as caught:
        collector.reset(Task("t-slow-setup", "x", setup=["sleep 20"], options={"action_timeout_s": 1}))
    assert str(caught.value).startswith(
        "task 't-slow-setup' setup #1 'sleep 20' timed out after 1 s (the sandbox's action timeout, "
        "Limits.action_timeout_s) and was killed: make it finish sooner, or raise the task's "
        "options.action_timeout_s"), caught.value


def test_a_duration_over_the_action_timeout_is_refused_not_cut_short(collector):
    # A duration of 600 waited 30 s (the action timeout) while the record said 600. The task's option raises the
    # cap, and the collector's own Limits are the default one.
    long_wait = Task("t-long", "wait", actions=[keys("true\n", 1), keys("make\n", 600)])
    with pytest.raises(TerminalTaskError, match=r"task 't-long' action #2, entry 1: duration 600 s is over the 30 s "
                                                r"an entry may wait .* raise the task's options.action_timeout_s to "
                                                r"at least 600"):
        collector.reset(long_wait)
    check_task(Task("t-long", "wait", actions=long_wait.actions, options={"action_timeout_s": 600}))
    with pytest.raises(TerminalTaskError, match=r"task 't-cap': options.action_timeout_s must be a number of "
                                                r"seconds > 0, got '10m'"):
        check_task(Task("t-cap", "wait", options={"action_timeout_s": "10m"}))


def test_bad_actions_are_clear_errors():
    with pytest.raises(TerminalTaskError, match="task x.*duration must be a number"):
        parse_keystrokes([{"keystrokes": "ls", "duration": "soon"}], "task x")
    with pytest.raises(TerminalTaskError, match="needs a string 'keystrokes'"):
        parse_keystrokes([{"keys": "ls"}], "task x")
    with pytest.raises(TerminalTaskError, match="non-empty list"):
        parse_keystrokes([], "task x")


def test_unknown_perturbation_or_option_is_rejected(collector):
    with pytest.raises(TerminalTaskError, match="task 't-quake': unknown perturbations \\['earthquake'\\]"):
        collector.reset(Task("t-quake", "x", perturbations=["earthquake"]))
    with pytest.raises(TerminalTaskError, match="task 't-opt': unknown options \\['memroy'\\]"):
        collector.reset(Task("t-opt", "x", options={"memroy": "1g"}))


def test_fork_bomb_is_contained_and_labelled(collector):
    task = Task("t-bomb", "fork bomb", options={"pids": 64})
    # The bomb runs in the background and the prompt is back at once: the next step waits a second at the prompt, so
    # the fork failures have happened by the time it is observed (a busy CI machine took longer than two quick
    # steps to reach the cap).
    _, (bomb, after) = play(collector, task, keys("bomb() { bomb | bomb & }; bomb\n", 2),
                            keys("sleep 1; echo still-here\n", 5))
    labels = set(bomb.perturbations) | set(after.perturbations)
    assert "pids_cap" in labels, (bomb.observation.text[-1500:], after.observation.text[-1500:])
    assert collector.sandbox.limits.pids == 64


@pytest.fixture(scope="module")
def starter_tasks():
    return {task.id: task for task in load_tasks(TASKS)}


def test_starter_task_set_is_large_and_parses(starter_tasks):
    assert len(starter_tasks) >= 30
    for task in starter_tasks.values():
        check_task(task)  # durations within the action timeout too
    families = {task_id.split("-")[0] for task_id in starter_tasks}
    assert {"files", "text", "git", "python", "archive", "proc", "perm", "err", "pert"} <= families


@pytest.mark.parametrize("task_id, label, step", [
    ("pert-disk-full", "disk_full", 1),
    ("pert-read-only", "read_only_fs", 0),
    ("pert-no-network", "no_network", 0),
    ("pert-memory-cap", "memory_cap", 0),
    ("pert-slow-commands", "slow_commands", 0),
])
def test_perturbations_are_labels_on_the_transitions_they_affect(collector, starter_tasks, task_id, label, step):
    task = starter_tasks[task_id]
    _, results = play(collector, task, *task.actions)
    assert label in results[step].perturbations
    if label == "disk_full":
        assert "No space left on device" in results[step].observation.text
        assert label not in results[0].perturbations  # `df` only looked; nothing failed yet
    if label == "memory_cap":
        assert results[step].observation.meta["exit_status"] == 137
        assert results[step].observation.meta["oom_kills"] == 1  # the kernel's own count, read from the host
        assert results[1].observation.meta["oom_kills"] == 0
    if label == "slow_commands":
        assert results[step].wait_ms >= 400


def test_an_oom_kill_is_labelled_from_the_kernels_count_even_where_the_task_plants_none(collector):
    # A task with no memory_cap perturbation whose program outgrows the container: before, only a task that
    # planted the cap had its 137 labelled, and only from the exit status.
    task = Task("t-oom", "outgrow memory", options={"memory": "96m"})
    _, (hog, status) = play(collector, task, keys("python3 -c 'b = bytearray(400 * 1024 * 1024)'\n", 10),
                            keys("echo status=$?\n", 2))
    assert hog.observation.meta["oom_kills"] == 1 and "memory_cap" in hog.perturbations
    assert status.observation.meta["oom_kills"] == 0 and "memory_cap" not in status.perturbations
