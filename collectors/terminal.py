"""Terminal collector: a tmux session in a Docker sandbox, driven the way Terminal-Bench drives one.

An action is a list of `{"keystrokes": str, "duration": seconds}`; each entry goes to `tmux send-keys` as one
argument (tmux key names such as `C-c` or `Enter` work, a literal newline presses Enter). After each entry the
collector waits at most `duration` (no more than the sandbox's action timeout, Limits.action_timeout_s, which a task's
options.action_timeout_s raises: a longer duration is refused, not cut short), and stops early when that can be known:
  - "prompt": the shell drew a new prompt (the command finished; its exit status and cwd are known),
  - "quiet":  a program that was already running (or text typed at the prompt) changed the screen, then left it
              unchanged a while,
  - "duration": neither happened in time; the observation shows the screen as it is (the command may still run).
The observation is `capture-pane -e` of the screen plus the scrollback holding every line of new output, up to
`history_limit` lines (100,000): when a step printed more, its oldest lines are gone and the observation's meta has
`history_overflow: true` (the key is left out otherwise), so that a cut output is never taken for a whole one.
Meta also holds the wait (`wait_method`, `wait_methods`, `wait_ms`), the pane (`cols`, `rows`, `cursor`,
`history_lines`: the scrollback lines kept, `alternate_screen`, `foreground`) and what the shell reported at its
last prompt (`exit_status`, `cwd`; `prompt_back`: a new prompt came back in this step, else `exit_status` is null).
That report is the shell's alone: a program that sets the terminal title to look like it is not believed
(sandboxes/terminal_tmux.py).

Perturbations a task can ask for (labels on the transitions whose output shows their effect):
  disk_full       /work is filled up to a few KiB after setup
  read_only_fs    the root and /work are read-only (setup may write only under /tmp)
  no_network      the container has no network (the default; the label marks the steps that hit it)
  memory_cap      a small memory cap (options.memory, default 96m): big allocations get OOM-killed
  slow_commands   every shell command sleeps first (options.slow_delay_s, default 0.5 s); labels every step
A fork bomb hitting the pids cap is labelled `pids_cap` even when no task asked for it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any

import typer

from collectors.api import Collector, StepResult, Task, TaskError
from collectors.command import (LimitOption, MaxStepsOption, OutOption, ReplaysOption, SeedsOption, WorkersOption,
                                plans_for)
from sandboxes.docker_sandbox import SandboxPool, started_sandbox
from sandboxes.images import DEFAULT_TERMINAL_IMAGE
from sandboxes.limits import Limits
from sandboxes.swe_git import GIT_DATE_ENV
from sandboxes.terminal_tmux import SessionEnded, TmuxTerminal
from schemas import Action, EnvInfo, Observation
from schemas.render import render
from schemas.shipped_tasks import shipped_task_file

DOMAIN = "terminal"
RAW_FORMAT = "tmux-ansi"
SHELLS = {"bash", "sh", "dash"}
ENTER_KEYS = ("Enter", "C-m", "C-j", "KPEnter", "\n", "\r")
QUIET_S = 0.3
POLL_S = 0.004
DISK_FULL_SLACK_BYTES = 8192
PERTURBATIONS = {"disk_full", "read_only_fs", "no_network", "memory_cap", "slow_commands"}
# Not relative to the working directory: the shipped file sits beside the package, wherever the command runs.
DEFAULT_TASKS = shipped_task_file("terminal.yaml")
TASK_OPTIONS = {"memory", "pids", "disk", "cpus", "slow_delay_s", "action_timeout_s"}
# Output that shows a perturbation (or a resource cap) took effect in this step.
EVIDENCE = {
    "disk_full": re.compile(r"No space left on device|Disk quota exceeded"),
    "read_only_fs": re.compile(r"Read-only file system"),
    "no_network": re.compile(r"Network is unreachable|Could not resolve host|Temporary failure in name resolution|"
                             r"Name or service not known|Failed to establish a new connection|"
                             r"unable to access '[^']*': Could not resolve"),
    "memory_cap": re.compile(r"^Killed\b|MemoryError|Cannot allocate memory|out of memory", re.M),
    "pids_cap": re.compile(r"fork: retry: Resource temporarily unavailable|fork: Resource temporarily unavailable|"
                           r"[Cc]annot fork|can't fork|BlockingIOError: \[Errno 11\]"),
}


class TerminalTaskError(TaskError, ValueError):
    pass


@dataclasses.dataclass
class Keystroke:
    keystrokes: str
    duration: float

    @property
    def presses_enter(self) -> bool:
        return self.keystrokes in ENTER_KEYS or self.keystrokes.endswith(("\n", "\r"))


def parse_keystrokes(spec: Any, where: str, cap_s: float | None = None) -> list[Keystroke]:
    """A list of {"keystrokes", "duration"} (a single mapping is accepted as a list of one). Given `cap_s`, a duration
    over it is refused: the wait would stop at the cap while the action recorded says it waited longer."""
    items = [spec] if isinstance(spec, dict) else spec
    if not isinstance(items, list) or not items:
        raise TerminalTaskError(f"{where}: an action is a non-empty list of {{keystrokes, duration}}, got {spec!r}")
    parsed = []
    # Entries numbered from 1 in messages, as actions and setup commands are.
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("keystrokes"), str):
            raise TerminalTaskError(f"{where}, entry {number}: needs a string 'keystrokes', got {item!r}")
        unknown = set(item) - {"keystrokes", "duration"}
        if unknown:
            raise TerminalTaskError(f"{where}, entry {number}: unknown keys {sorted(unknown)}")
        duration = item.get("duration", 1.0)
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration < 0:
            raise TerminalTaskError(f"{where}, entry {number}: duration must be a number of seconds >= 0, "
                                    f"got {duration!r}")
        if cap_s is not None and duration > cap_s:
            raise TerminalTaskError(
                f"{where}, entry {number}: duration {duration:g} s is over the {cap_s:g} s an entry may wait (the "
                f"sandbox's action timeout, Limits.action_timeout_s); the wait would stop at {cap_s:g} s while the "
                f"record says {duration:g}: raise the task's options.action_timeout_s to at least {duration:g}, or "
                f"lower the duration")
        parsed.append(Keystroke(item["keystrokes"], float(duration)))
    return parsed


def action_timeout_for(task: Task, default_s: float) -> float:
    """The task's options.action_timeout_s, else `default_s` (the collector's Limits.action_timeout_s)."""
    value = task.options.get("action_timeout_s", default_s)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise TerminalTaskError(f"task {task.id!r}: options.action_timeout_s must be a number of seconds > 0, "
                                f"got {value!r}")
    return float(value)


def check_task(task: Task, action_timeout_s: float | None = None) -> None:
    """Reject what this collector cannot honour, naming the task: perturbations, options, actions (and a duration
    longer than the task's action timeout: `action_timeout_s` is the collector's, which the task's option replaces;
    None: Limits' default)."""
    unknown = set(task.perturbations) - PERTURBATIONS
    if unknown:
        raise TerminalTaskError(f"task {task.id!r}: unknown perturbations {sorted(unknown)}; "
                                f"known: {sorted(PERTURBATIONS)}")
    unknown = set(task.options) - TASK_OPTIONS
    if unknown:
        raise TerminalTaskError(f"task {task.id!r}: unknown options {sorted(unknown)}; known: {sorted(TASK_OPTIONS)}")
    cap_s = action_timeout_for(task, Limits.action_timeout_s if action_timeout_s is None else action_timeout_s)
    for number, spec in enumerate(task.actions, 1):
        parse_keystrokes(spec, f"task {task.id!r} action #{number}", cap_s)


class TerminalCollector(Collector):
    name = "terminal"
    domain = DOMAIN
    version = "1"

    def __init__(self, image: str | None = None, limits=None, *, cols: int = 160, rows: int = 40,
                 name_prefix: str = "worldline-term", pool_size: int = 1, client=None, history_limit: int = 100000):
        self.image = image or DEFAULT_TERMINAL_IMAGE
        self.limits = limits or Limits()
        self.cols, self.rows = cols, rows
        self.history_limit = history_limit
        self.name_prefix = name_prefix
        self.pool_size = pool_size
        self.client = client
        self._pool = None
        self.sandbox = None
        self.terminal = None
        self.task: Task | None = None
        self._state = None  # PaneState at the last observation
        self._oom_kills: int | None = None  # the sandbox cgroup's OOM kills at the last observation
        self._engine_version: str | None = None

    # ---- environment lifecycle ----

    def _sandbox_kwargs(self) -> dict:
        # A fixed hostname keeps prompts identical across episodes. The pinned git dates, in the container's own
        # environment so that setup commands and the shell typed into both get them, make every commit a task
        # makes (and so its id) the same in each run and replay rather than a function of the wall-clock second.
        return dict(name_prefix=self.name_prefix, labels={"worldline.domain": DOMAIN},
                    extra_run_kwargs={"hostname": "sandbox", "environment": GIT_DATE_ENV}, client=self.client)

    def _prepare(self, sandbox, slow_delay_s: float | None = None):
        terminal = TmuxTerminal(sandbox, cols=self.cols, rows=self.rows, slow_delay_s=slow_delay_s,
                                workdir="/work", history_limit=self.history_limit)
        terminal.start()
        terminal.wait_for_prompt()
        sandbox.terminal = terminal  # travels with the pooled sandbox to the episode that acquires it

    def _limits_for(self, task: Task):
        changes: dict[str, Any] = {}
        options = task.options
        if "memory_cap" in task.perturbations:
            changes["memory"] = str(options.get("memory", "96m"))
        for key in ("memory", "pids", "disk", "cpus"):
            if key in options:
                changes[key] = options[key]
        if "action_timeout_s" in options:
            changes["action_timeout_s"] = action_timeout_for(task, self.limits.action_timeout_s)
        if "read_only_fs" in task.perturbations:
            changes["writable_paths"] = ("/tmp",)
        if "no_network" in task.perturbations:
            changes["network"] = False
        return dataclasses.replace(self.limits, **changes) if changes else self.limits

    def _acquire(self, task: Task):
        limits = self._limits_for(task)
        slow = float(task.options.get("slow_delay_s", 0.5)) if "slow_commands" in task.perturbations else None
        if limits == self.limits and slow is None:
            if self._pool is None:
                self._pool = SandboxPool(self.image, self.limits, size=self.pool_size, prepare=self._prepare,
                                         **self._sandbox_kwargs())
            return self._pool.acquire()
        # A one-off shape: start it cold.
        return started_sandbox(self.image, limits, lambda sandbox: self._prepare(sandbox, slow),
                               **self._sandbox_kwargs())

    def _release(self) -> None:
        if self.terminal is not None:
            self.terminal.close()
            self.terminal = None
        if self.sandbox is not None:
            if self._pool is not None:
                self._pool.release(self.sandbox)
            else:
                self.sandbox.close()
            self.sandbox = None

    def reset(self, task: Task) -> Observation:
        check_task(task, self.limits.action_timeout_s)
        self._release()
        self.task = task
        self.sandbox = self._acquire(task)
        self.terminal = self.sandbox.terminal
        workdir = "/tmp" if "read_only_fs" in task.perturbations else "/work"
        for number, command in enumerate(task.setup, 1):
            result = self.sandbox.exec(["bash", "-c", str(command)], workdir=workdir)
            if result.exit_code != 0:
                where = f"task {task.id!r} setup #{number} {str(command)[:120]!r}"
                output = result.output[-400:].decode(errors="replace")
                if result.timed_out:
                    timeout = self.sandbox.limits.action_timeout_s
                    raise TerminalTaskError(
                        f"{where} timed out after {timeout:g} s (the sandbox's action timeout, "
                        f"Limits.action_timeout_s) and was killed: make it finish sooner, or raise the task's "
                        f"options.action_timeout_s" + (f"; output: {output}" if output.strip() else ""))
                raise TerminalTaskError(f"{where} failed (exit {result.exit_code}): {output}")
        if "disk_full" in task.perturbations:
            self._fill_disk("/work")
        self._oom_kills = self.sandbox.oom_kills()
        self._state, observation = self._observe({"wait_method": "none", "wait_ms": 0.0})
        return observation


    def _fill_disk(self, path: str) -> None:
        script = (f'avail=$(df --output=avail -B1 {path} | tail -1); '
                  f'head -c $((avail - {DISK_FULL_SLACK_BYTES})) /dev/zero > {path}/.cache.bin 2>/dev/null; true')
        self.sandbox.exec(["bash", "-c", script])

    def env_info(self) -> EnvInfo:
        if self.sandbox is None:
            return EnvInfo(kind="docker", id=self.image)
        if self._engine_version is None:
            self._engine_version = self.sandbox.client.version().get("Version", "")
        return EnvInfo(kind="docker", id=self.image, digest=self.sandbox.image_digest,
                       details={"limits": self.sandbox.limits.record(), "cols": self.cols, "rows": self.rows, "shell": "bash",
                                "multiplexer": "tmux", "engine": self._engine_version,
                                "proc_view": self.sandbox.proc_view})

    def close(self) -> None:
        self._release()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # ---- actions ----

    def parse_action(self, spec: Any) -> Action:
        where = f"task {self.task.id!r}" if self.task else "terminal action"
        items = parse_keystrokes(spec, where)
        as_list = [dataclasses.asdict(k) for k in items]
        return Action(kind="keystrokes", arguments={"keystrokes": as_list},
                      text=json.dumps(as_list, ensure_ascii=False))

    def step(self, action: Action) -> StepResult:
        if self.terminal is None:
            raise RuntimeError("step() before reset()")
        items = parse_keystrokes(action.arguments.get("keystrokes"), f"action {action.text[:80]!r}")
        before = self._state
        started = time.perf_counter()
        waits = []
        try:
            for item in items:
                waits.append(self._send_and_wait(item))
            wait_ms = sum(w[1] for w in waits)
            state, observation = self._observe({
                "wait_method": waits[-1][0], "wait_methods": [w[0] for w in waits], "wait_ms": round(wait_ms, 3),
            })
        except SessionEnded:
            # The shell exited: the terminal is gone, which ends the episode (it is not an environment failure).
            ended = Observation(text="", raw=b"", raw_format=RAW_FORMAT,
                                meta={"wait_method": "session_ended", "session_ended": True})
            return StepResult(observation=ended, done=True,
                              observe_latency_ms=(time.perf_counter() - started) * 1000)
        prompt_back = before.prompts is not None and state.prompts is not None and state.prompts > before.prompts
        observation.meta["prompt_back"] = prompt_back
        if not prompt_back:
            observation.meta["exit_status"] = None  # the shell has not reported on this step's command
        self._state = state
        oom_kills = self.sandbox.oom_kills()
        if oom_kills is not None and self._oom_kills is not None:
            observation.meta["oom_kills"] = oom_kills - self._oom_kills  # during this step
        self._oom_kills = oom_kills
        labels = self._labels(observation, before)
        return StepResult(observation=observation, perturbations=labels, wait_ms=wait_ms,
                          observe_latency_ms=(time.perf_counter() - started) * 1000)

    def _send_and_wait(self, item: Keystroke) -> tuple[str, float]:
        """Send one keystroke entry and wait as long as needed (at most its duration); returns (method, ms)."""
        terminal = self.terminal
        at_prompt = self._state.current_command in SHELLS and not self._state.alternate_screen
        prompts = self._state.prompts
        # A command started from the prompt is done when the prompt returns; anything else, when output settles.
        quiet_ok = not (at_prompt and item.presses_enter)
        # Quiet only counts once the screen has reacted: a program still starting up has not answered yet.
        before_screen = terminal.observe(escapes=False)[1] if quiet_ok else None
        start = time.monotonic()
        terminal.send_keys(item.keystrokes)
        deadline = start + min(item.duration, self.sandbox.limits.action_timeout_s)
        last_screen, last_change = before_screen, start
        method = "duration"
        while True:
            if quiet_ok:
                state, screen = terminal.observe(escapes=False)
            else:
                state, screen = terminal.state(), None
            self._state = state
            now = time.monotonic()
            if state.prompts is not None and prompts is not None and state.prompts > prompts:
                method = "prompt"
                break
            if quiet_ok:
                if screen != last_screen:
                    last_screen, last_change = screen, now
                elif screen != before_screen and now - last_change >= QUIET_S:
                    method = "quiet"
                    break
            if now >= deadline:
                break
            time.sleep(POLL_S)
        return method, (time.monotonic() - start) * 1000

    def _observe(self, extra: dict) -> tuple[Any, Observation]:
        """Screen plus every line that scrolled off since the last observation (the scrollback is then reset)."""
        state, raw = self.terminal.take_output()
        raw += b"\n"  # capture-pane ends every line with a newline; the control channel strips the last one
        meta = {
            **extra, "cols": state.cols, "rows": state.rows, "cursor": list(state.cursor),
            "history_lines": state.history_size, "alternate_screen": state.alternate_screen,
            "foreground": state.current_command, "exit_status": state.exit_status, "cwd": state.cwd,
        }
        if state.history_overflow:
            meta["history_overflow"] = True
        return state, Observation(text=render(RAW_FORMAT, raw, meta), raw=raw, raw_format=RAW_FORMAT, meta=meta)

    def _labels(self, observation: Observation, before) -> list[str]:
        """Perturbations whose effect shows in this step's new output (from the old cursor row on)."""
        # The old cursor row keeps its index in the capture: `scrolled` history lines come first, then the screen
        # that moved up by the same count.
        new_output = "\n".join(observation.text.split("\n")[max(0, before.cursor[1]):])
        labels = {name for name, pattern in EVIDENCE.items() if pattern.search(new_output)}
        # The kernel's count, where it can be read: a program killed at the cap may print nothing, and its shell
        # reports 137 as for any SIGKILL. Elsewhere 137 under a task's small memory cap is taken for it.
        oom_kills = observation.meta.get("oom_kills")
        if oom_kills or (oom_kills is None and observation.meta.get("exit_status") == 137
                         and "memory_cap" in self.task.perturbations):
            labels.add("memory_cap")
        if "slow_commands" in self.task.perturbations:
            labels.add("slow_commands")
        return sorted(labels)


def collect_command(
    tasks: Path = typer.Option(DEFAULT_TASKS, "--tasks", exists=True, dir_okay=False, show_default=False,
                               help="Task file (YAML or JSONL; default: the shipped tasks/terminal.yaml)."),
    out: Path = OutOption,
    workers: int = WorkersOption,
    limit: int = LimitOption,
    seeds: int = SeedsOption,
    max_steps: int = MaxStepsOption,
    replays: int = ReplaysOption,
    image: str = typer.Option(None, "--image", help="Sandbox image (default: worldline/base:bookworm)."),
    container_prefix: str = typer.Option("worldline-term", "--container-prefix",
                                         help="Name prefix of the containers this run starts."),
):
    """Run terminal tasks in tmux inside Docker sandboxes and record every transition."""
    from collectors.command import run_and_report
    from collectors.tasks import TaskFileError, load_tasks
    from sandboxes.container_registry import install_cleanup_handlers, remove_orphans
    from sandboxes.images import image_exists

    chosen = load_tasks(tasks, domain=DOMAIN)  # a bad file fails before Docker is asked
    for task in chosen:
        try:
            check_task(task)
        except TerminalTaskError as exc:  # one line naming the file, as a loader error is
            raise TaskFileError(f"{tasks}: {exc}") from None
    image = image or DEFAULT_TERMINAL_IMAGE
    if not image_exists(image):
        raise typer.BadParameter(f"image {image} does not exist; build it with `worldline sandbox build-image`",
                                 param_hint="--image")
    install_cleanup_handlers()
    remove_orphans()  # containers a SIGKILLed earlier run could not remove
    plans = plans_for(chosen, seeds=seeds, max_steps=max_steps, replays=replays)
    run_and_report(lambda: TerminalCollector(image, name_prefix=container_prefix), plans, out, domain=DOMAIN,
                   workers=workers, limit=limit)
