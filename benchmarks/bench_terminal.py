"""Terminal step time through the collector against the raw floor, and sandbox start costs, measured side by side.

- raw floor: one `docker exec` (Docker SDK exec_run) doing `tmux send-keys 'echo hi' Enter; tmux capture-pane`,
  the cheapest way to drive tmux without a persistent channel (and it does not even wait for the output);
- collector step: `TerminalCollector.step` of `echo hi`: send, wait until the prompt is back, capture screen and
  scrollback, render; it talks to tmux over one persistent control-mode channel;
- cold start: create + start a container; cold episode start adds the tmux session and first prompt;
- warm acquire: `SandboxPool.acquire()` when the pool has a prepared sandbox ready.
Targets: step <= 1.1x the raw floor; warm acquire <= 50 ms.
"""

from __future__ import annotations

import statistics
import time
import uuid

from collectors.api import Task
from collectors.terminal import TerminalCollector
from sandboxes.container_registry import remove_containers
from sandboxes.docker_sandbox import DockerSandbox, SandboxPool
from sandboxes.images import DEFAULT_TERMINAL_IMAGE, build_base_image
from sandboxes.limits import Limits
from sandboxes.terminal_tmux import SESSION, TmuxTerminal

STEPS = 40
STARTS = 5


def _row(name: str, times_ms: list[float]) -> float:
    ordered = sorted(times_ms)
    median = statistics.median(ordered)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    print(f"{name:<58} {median:9.2f} {p90:9.2f} {len(ordered):5d}")
    return median


def _timed(fn, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _prepare(sandbox: DockerSandbox) -> None:
    terminal = TmuxTerminal(sandbox)
    terminal.start()
    terminal.wait_for_prompt()
    sandbox.terminal = terminal


def main() -> None:
    build_base_image(DEFAULT_TERMINAL_IMAGE)
    prefix = f"wlbench-{uuid.uuid4().hex[:6]}"
    try:
        _run(prefix)
    finally:
        remove_containers(name_prefix=prefix)


def _run(prefix: str) -> None:
    print(f"{'measure (ms)':<58} {'median':>9} {'p90':>9} {'n':>5}")

    with DockerSandbox(DEFAULT_TERMINAL_IMAGE, name_prefix=prefix) as sandbox:
        _prepare(sandbox)
        container = sandbox.container
        one_exec = ["sh", "-c", f"tmux send-keys -t {SESSION} 'echo hi' Enter; tmux capture-pane -p -t {SESSION}"]
        floor = _row("raw floor: exec_run(send-keys; capture-pane)",
                     _timed(lambda: container.exec_run(one_exec), STEPS))
        _row("raw: exec_run(send-keys) + exec_run(capture-pane)", _timed(lambda: (
            container.exec_run(["tmux", "send-keys", "-t", SESSION, "echo hi", "Enter"]),
            container.exec_run(["tmux", "capture-pane", "-p", "-t", SESSION])), STEPS))
        terminal = sandbox.terminal
        _row("raw: send-keys + capture-pane over the control channel", _timed(lambda: (
            terminal.send_keys("echo hi\n"), terminal.observe()), STEPS))

    collector = TerminalCollector(DEFAULT_TERMINAL_IMAGE, name_prefix=prefix)
    try:
        collector.reset(Task("bench-echo", "echo hi repeatedly"))
        action = collector.parse_action([{"keystrokes": "echo hi\n", "duration": 5}])
        results = []

        def step():
            results.append(collector.step(action))

        step_median = _row("collector step: echo hi (waits for the prompt)", _timed(step, STEPS))
        methods = {r.observation.meta["wait_method"] for r in results}
        _row("  of which waiting for the prompt", [r.wait_ms for r in results])
    finally:
        collector.close()

    cold = []
    cold_episode = []
    for _ in range(STARTS):
        sandbox = DockerSandbox(DEFAULT_TERMINAL_IMAGE, name_prefix=prefix)
        start = time.perf_counter()
        sandbox.start()
        cold.append((time.perf_counter() - start) * 1000)
        _prepare(sandbox)
        cold_episode.append((time.perf_counter() - start) * 1000)
        sandbox.close()
    _row("cold start: create + start container", cold)
    _row("cold episode start: container + tmux + first prompt", cold_episode)

    warm = []
    with SandboxPool(DEFAULT_TERMINAL_IMAGE, Limits(), size=1, prepare=_prepare, name_prefix=prefix) as pool:
        for _ in range(STARTS):
            pool.wait_ready()  # measure a warm pool: let the refill finish first
            start = time.perf_counter()
            sandbox = pool.acquire()
            warm.append((time.perf_counter() - start) * 1000)
            pool.release(sandbox)
    warm_median = _row("warm acquire from the pool (tmux already up)", warm)

    print(f"\nstep / raw floor = {step_median / floor:.2f}x (target <= 1.1x); wait methods seen: {sorted(methods)}")
    print(f"warm acquire = {warm_median:.2f} ms (target <= 50 ms)")


if __name__ == "__main__":
    main()
