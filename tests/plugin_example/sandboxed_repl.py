"""A sandboxed collector, whole: a python3 REPL in worldline's DockerSandbox (docs/adding-a-collector.md, "A sandboxed
collector", quotes this file; test_sandboxed_repl.py runs it against the real Docker engine). An action is one line
typed at the prompt; the observation is what the REPL printed in answer, then its next prompt (`>>> ` or `... `)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from collectors.api import Collector, StepResult, Task, TaskError
from collectors.command import (LimitOption, MaxStepsOption, OutOption, ReplaysOption, SeedsOption, WorkersOption,
                                plans_for, run_and_report)
from collectors.tasks import load_tasks
from schemas import Action, EnvInfo, Observation

# After each line the driver prints this marker and whether the console wants more of a block: reading up to it, the
# collector knows the answer is whole without waiting for the output to go quiet.
DONE = b"\x1edone "
DRIVER = r"""
import code, sys
sys.stderr = sys.stdout  # one stream, so the marker never overtakes a traceback
console, more = code.InteractiveConsole(), 0
while True:
    sys.stdout.write("\x1edone %d\n" % more); sys.stdout.flush()
    try:
        line = sys.stdin.readline()
        if not line:
            break
        more = console.push(line.rstrip("\n"))
    except KeyboardInterrupt:  # came between two lines: during one, the console prints it as a traceback itself
        console.resetbuffer(); print("KeyboardInterrupt"); more = 0
"""


def _observation(raw: bytes) -> Observation:
    return Observation(text=raw.decode(errors="replace"), raw=raw, raw_format="text")


class SandboxedReplCollector(Collector):
    name = "sandboxed-repl"
    domain = "pyrepl"
    version = "1"

    def __init__(self, step_timeout_s: float = 3.0, name_prefix: str = "sandboxed-repl") -> None:
        from sandboxes.docker_sandbox import Limits  # the Docker SDK is heavy: kept out of `worldline collect --help`
        self.limits = Limits(memory="256m", pids=64, cpus=1.0)
        self.step_timeout_s, self.name_prefix = step_timeout_s, name_prefix
        self.sandbox = self.proc = None
        self.oom_kills: int | None = None  # the container's OOM kills at the last observation

    def env_info(self) -> EnvInfo:
        from sandboxes.docker_sandbox import BASE_IMAGE
        # record(): the sizes the container got (the disk and shm that Limits worked out), which a reader can check.
        return EnvInfo(kind="docker", id=BASE_IMAGE, digest=self.sandbox.image_digest if self.sandbox else "",
                       details={"limits": self.limits.record()})

    def reset(self, task: Task) -> Observation:
        from sandboxes.docker_sandbox import BASE_IMAGE, DockerSandbox
        self.close()
        # One container per episode, so that every reset starts from the same state (replays need that).
        self.sandbox = DockerSandbox(BASE_IMAGE, self.limits, name_prefix=self.name_prefix)
        self.sandbox.start()
        # Nothing times an attached process (Limits.action_timeout_s is exec's): each read below has a deadline.
        # signals=True makes it one that interrupt() can reach.
        self.proc = self.sandbox.attach(["python3", "-u", "-c", DRIVER], env=["LANG=C.UTF-8"], signals=True)
        self._answer(30.0)
        for line in task.setup:  # run unseen; a setup line that fails is the task's fault, not the environment's
            self.proc.write(f"{line}\n".encode())
            answer, _ = self._answer(self.step_timeout_s)
            if b"Traceback (most recent call last)" in answer:
                raise TaskError(f"task {task.id}: setup line {line!r} failed: {answer.decode(errors='replace')!r}")
        self.oom_kills = self.sandbox.oom_kills()  # what the start met is not the first step's
        return _observation(b">>> ")

    def parse_action(self, spec: Any) -> Action:
        if not isinstance(spec, str) or "\n" in spec:
            raise ValueError(f"a sandboxed-repl action is one line of Python, got {spec!r}")
        return Action(kind="line", arguments={"line": spec}, text=spec)

    def _answer(self, timeout_s: float) -> tuple[bytes, bool]:
        """What the REPL printed up to its marker, and whether it wants more of a block. TimeoutError when that
        has not come within timeout_s; StreamClosed when the REPL ended."""
        from sandboxes.docker_sandbox import STDOUT
        deadline, out = time.monotonic() + timeout_s, bytearray()
        while (end := out.find(DONE)) < 0 or out.find(b"\n", end) < 0:
            stream, payload = self.proc.next_frame(deadline)
            if stream == STDOUT:
                out += payload
        return bytes(out[:end]), out[end + len(DONE):].strip() == b"1"

    def step(self, action: Action) -> StepResult:
        from sandboxes.docker_sandbox import StreamClosed
        self.proc.write(action.text.encode() + b"\n")
        error = None
        try:
            try:
                answer, more = self._answer(self.step_timeout_s)
            except TimeoutError:
                # What a user does at a prompt that does not answer: Ctrl-C, to the line's whole process group. The
                # REPL prints KeyboardInterrupt and goes on, so the step is not `timed_out` (which traces read as
                # "killed, no exit status"); `error` says what happened.
                self.proc.interrupt()
                answer, more = self._answer(5.0)
                error = f"no answer within {self.step_timeout_s:g} s: interrupted with SIGINT"
        except StreamClosed:
            kills = self.sandbox.oom_kills()
            if kills is None or self.oom_kills is None or kills <= self.oom_kills:
                raise RuntimeError(f"python3 ended (exit code {self.proc.exit_code()}; "
                                   f"{self.sandbox.stopped_reason() or 'the container runs on'})") from None
            # Killed at the memory cap: that is what the code did to the environment, so it is data, not an error.
            result = StepResult(_observation(b"Killed\n"), done=True, error="python3 was killed at the memory cap")
        else:
            if error is None and b"Traceback (most recent call last)" in answer:
                error = answer.decode(errors="replace").strip().splitlines()[-1]
            result = StepResult(_observation(answer + (b"... " if more else b">>> ")), error=error)
        # Puts meta["oom_kills"] on the observation, and the label memory_cap on a step that met the memory cap.
        self.oom_kills = result.count_oom_kills(self.sandbox.oom_kills(), self.oom_kills)
        return result

    def close(self) -> None:
        if self.proc is not None:
            self.proc.close()
        if self.sandbox is not None:
            self.sandbox.close()  # removes the container; never raises
        self.sandbox = self.proc = None


def collect_command(
    tasks: Path = typer.Option(..., "--tasks", help="Task file: setup = Python lines run first, actions = lines."),
    out: Path = OutOption,
    workers: int = WorkersOption,
    limit: int = LimitOption,
    seeds: int = SeedsOption,
    max_steps: int = MaxStepsOption,
    replays: int = ReplaysOption,
):
    """Collect raw episodes from a python3 REPL in a closed Docker sandbox."""
    from sandboxes.docker_sandbox import BASE_IMAGE
    from sandboxes.images import image_exists
    plans = plans_for(load_tasks(tasks, domain=SandboxedReplCollector.domain), seeds, max_steps=max_steps,
                      replays=replays)
    # Once, before any episode: DockerSandbox never pulls, so a missing image would fail every episode alike.
    if not image_exists(BASE_IMAGE):
        raise typer.BadParameter(f"image {BASE_IMAGE} does not exist; build it with `worldline sandbox build-image`")
    run_and_report(SandboxedReplCollector, plans, out, workers=workers, limit=limit)
