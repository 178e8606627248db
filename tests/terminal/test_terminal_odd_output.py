"""What a program's own output must not do to the terminal collector: fake the shell's "prompt is back" report
through the window title, or lose the start of a long output without the record saying so."""

from __future__ import annotations

import json
import uuid

import pytest

from collectors.api import Task
from sandboxes.terminal_tmux import NONCE_SHOWN, TmuxTerminal, prompt_marker, tmux_history_limit

PROMPT = "root@sandbox:/work#"


def play(collector, task: Task, *actions):
    first = collector.reset(task)
    return first, [collector.step(collector.parse_action(spec)) for spec in actions]


def keys(text: str, duration: float = 5.0) -> list[dict]:
    return [{"keystrokes": text, "duration": duration}]


@pytest.mark.parametrize("title", ["wl;99;0;/fake", "wl-0000000000000000;99;0;/fake"])
def test_a_title_that_mimics_the_prompt_marker_is_the_programs_own(collector, title):
    _, (faked, after) = play(collector, Task("t-fake-title", "fake a prompt"),
                             keys(f"printf '\\033]2;{title}\\033\\\\'; sleep 1; echo AFTER-SLEEP\n"),
                             keys("echo next-command\n"))
    meta = faked.observation.meta
    # The step waits for the real prompt: the output after the sleep is there, with the shell's own cwd.
    assert (meta["wait_method"], meta["prompt_back"], meta["exit_status"], meta["cwd"]) == ("prompt", True, 0, "/work")
    assert faked.observation.text.endswith("\nAFTER-SLEEP\n" + PROMPT)
    # The count did not jump with the fake one: the next command's prompt still counts, and it went to the shell.
    meta = after.observation.meta
    assert (meta["wait_method"], meta["prompt_back"], meta["cwd"]) == ("prompt", True, "/work")
    assert after.observation.text.endswith(f"{PROMPT} echo next-command\nnext-command\n{PROMPT}")


def test_a_program_that_retitles_the_terminal_leaves_the_last_prompt_in_force(collector):
    # The step ends while the program runs with its own title up; the next waits for the shell to come back.
    _, (running, back) = play(collector, Task("t-own-title", "retitle"),
                              keys("printf '\\033]2;EVIL TITLE\\033\\\\'; sleep 1\n", 0.3), keys("", 5))
    assert running.observation.meta["wait_method"] == "duration"
    assert running.observation.meta["cwd"] == "/work"  # the shell's, from its last prompt
    meta = back.observation.meta
    assert (meta["wait_method"], meta["prompt_back"], meta["exit_status"]) == ("prompt", True, 0)


def test_the_nonce_stays_out_of_the_record_and_every_session_shows_the_same(collector):
    shown = []
    for attempt in range(2):
        _, (step,) = play(collector, Task(f"t-nonce-{attempt}", "print the prompt"),
                          keys('echo "$PS1"; grep PS1= /tmp/.worldline-bashrc\n'))
        nonce = collector.terminal.nonce
        record = step.observation.raw + json.dumps(step.observation.meta).encode() + step.observation.text.encode()
        assert nonce.encode() not in record
        assert f"wl-{NONCE_SHOWN};" in step.observation.text
        shown.append(step.observation.text)
    assert shown[0] == shown[1]  # two sessions, two nonces, one screen: replays do not depend on it


@pytest.fixture(scope="module")
def small_history(base_image, docker_client):
    from collectors.terminal import TerminalCollector
    prefix = f"wltest-termhist-{uuid.uuid4().hex[:8]}"
    terminal = TerminalCollector(base_image, name_prefix=prefix, history_limit=50)
    yield terminal
    terminal.close()
    left = [n for c in docker_client.api.containers(all=True) for n in c["Names"] if n.lstrip("/").startswith(prefix)]
    assert left == [], "terminal containers left behind"


# `clear` first: the output starts at the top of the 40-row screen, so N lines of it and the prompt put N - 39 in
# the history.
@pytest.mark.parametrize("count, overflow", [(89, False), (90, True), (400, True)])
def test_output_past_the_history_limit_is_flagged(small_history, count, overflow):
    _, (step,) = play(small_history, Task("t-history", "long output"), keys(f"clear; seq 1 {count}\n"))
    meta = step.observation.meta
    assert meta.get("history_overflow", False) is overflow
    assert meta["history_lines"] == min(count - 39, 50)
    # The capture is the last 50 history lines and the screen, with nothing missing in between.
    first = max(1, count - 88)
    assert step.observation.text.split("\n") == [str(i) for i in range(first, count + 1)] + [PROMPT]


def test_the_marker_needs_this_sessions_nonce_and_tmux_keeps_enough_history_to_tell_a_loss():
    assert prompt_marker("wl-abc;3;1;/a;b", "abc") == (3, 1, "/a;b")
    assert prompt_marker("wl-abd;3;1;/a", "abc") is None and prompt_marker("wl;3;1;/a", "abc") is None
    # A full tmux history drops its oldest tenth (at least a line) before taking the next line: after any drop it
    # must still hold more lines than are kept, or a cut output would look whole.
    for kept in [*range(1, 2000), 99_999, 100_000, 100_001]:
        limit = tmux_history_limit(kept)
        assert limit - max(1, limit // 10) + 1 > kept
    assert TmuxTerminal.__init__.__kwdefaults__["history_limit"] == 100_000
