"""AttachedExec.signal(): a plugin's long-lived process can be signalled without reaching into the sandbox's
internals, its output stays whole (the pid line the wrapper prints is not part of it, nor lost when signal() had to
wait for that line), and a process attached without signals=True says why it cannot be signalled."""

from __future__ import annotations

import signal
import time

import pytest

from sandboxes.attached_exec import STDERR, STDOUT, SandboxError, StreamClosed
from sandboxes.docker_sandbox import DockerSandbox
from sandboxes.limits import Limits


def _frames(proc, deadline: float) -> list[tuple[int, bytes]]:
    frames = []
    while True:
        try:
            frames.append(proc.next_frame(deadline))
        except StreamClosed:
            return frames


def test_signal_reaches_the_process_group_and_keeps_the_output(base_image, prefix):
    with DockerSandbox(base_image, Limits(), name_prefix=prefix) as sandbox:
        # Signalled before anything was read: signal() reads until the pid line has come, and keeps for next_frame
        # whatever came before it or with it (the engine forwards stdout and stderr apart, in either order).
        proc = sandbox.attach(["sh", "-c", "echo started; echo to-stderr >&2; sleep 600 & wait"], signals=True)
        # Once the sleep runs, the shell has written both lines: the signal cannot cut them off.
        assert sandbox.exec("until pgrep -x sleep; do sleep 0.05; done", timeout=20).exit_code == 0
        assert proc.signal(signal.SIGTERM)
        # The output closes only once the background sleep, which holds it open too, has ended: the whole group got
        # the signal (to the shell alone, this would time out).
        frames = _frames(proc, time.monotonic() + 10)
        assert b"".join(p for s, p in frames if s == STDOUT) == b"started\n"
        assert b"".join(p for s, p in frames if s == STDERR) == b"to-stderr\n"
        assert proc.pid is not None and proc.exit_code() == 128 + signal.SIGTERM
        assert not proc.signal(signal.SIGTERM)  # nothing left to signal
        proc.close()

        plain = sandbox.attach(["sleep", "600"])
        with pytest.raises(SandboxError, match="attach it with signals=True"):
            plain.interrupt()
        plain.close()
