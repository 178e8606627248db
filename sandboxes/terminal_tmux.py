"""A tmux session inside a sandbox, driven through ONE persistent tmux control-mode client.

`tmux -C attach` runs as a long-lived attached exec; every request (send-keys, capture-pane, display) is a line on
its stdin and comes back as a `%begin … %end` block on its stdout. Nothing is forked in the container per request,
so a round trip costs a socket write and read, and observing still works while a fork bomb holds every pid.

The shell reports its own state without touching the screen: PS1 ends with an OSC-2 title sequence carrying a prompt
counter, the last exit status and the cwd (`wl;N;STATUS;PWD`). tmux has parsed everything before it by the time the
title changes, so "title counter moved" means "prompt is back on screen".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sandboxes.attached_exec import AttachedExec, SandboxError, StreamClosed
from sandboxes.docker_sandbox import DockerSandbox

SESSION = "main"
RC_PATH = "/tmp/.worldline-bashrc"
# The prompt users of bash see by default, plus the invisible state report at its end.
BASHRC = r"""
HISTFILE=
PROMPT_COMMAND='__wl_status=$?; __wl_n=$((__wl_n+1))'
PS1='\u@\h:\w\$ \[\e]2;wl;${__wl_n};${__wl_status};${PWD}\e\\\]'
"""
CONF_PATH = "/tmp/.worldline-tmux.conf"
# Read when the server starts: history-limit only applies to panes created after it is set.
TMUX_CONF = """
set -g history-limit {history_limit}
set -g status off
"""
# Every simple command sleeps first: a shell whose commands are slow, for the slow_commands perturbation.
SLOW_RC = "trap 'sleep {delay}' DEBUG\n"
_STATE_FORMAT = "#{history_size}\t#{cursor_x}\t#{cursor_y}\t#{pane_width}\t#{pane_height}\t#{alternate_on}\t" \
                "#{pane_current_command}\t#{pane_title}"
_BLOCK_END = re.compile(rb"^%(end|error) (\d+) (\d+) (\d+)$")


class TmuxError(SandboxError):
    pass


class SessionEnded(TmuxError):
    """The shell exited (e.g. `exit` or C-d at the prompt), so tmux closed the session and its control client."""


@dataclass
class PaneState:
    history_size: int
    cursor: tuple[int, int]
    cols: int
    rows: int
    alternate_screen: bool
    current_command: str
    prompts: int | None  # prompt counter from the title; None while no worldline prompt has been drawn
    exit_status: int | None
    cwd: str | None

    @classmethod
    def parse(cls, line: bytes) -> PaneState:
        fields = line.decode("utf-8", "replace").split("\t", 7)
        if len(fields) != 8:
            raise TmuxError(f"unexpected pane state line: {line!r}")
        history, cx, cy, cols, rows, alternate, command, title = fields
        if not history:
            # The formats expand to nothing once the pane is gone: the shell has just exited.
            raise SessionEnded("the tmux pane is gone")
        prompts = exit_status = cwd = None
        parts = title.split(";", 3)
        if len(parts) == 4 and parts[0] == "wl" and parts[1].isdigit():
            prompts = int(parts[1])
            exit_status = int(parts[2]) if parts[2].lstrip("-").isdigit() else None
            cwd = parts[3]
        return cls(int(history), (int(cx), int(cy)), int(cols), int(rows), alternate == "1", command, prompts,
                   exit_status, cwd)


def quote(argument: str) -> str:
    """Quote one argument for the tmux command parser (a control-mode request must stay on one line)."""
    out = []
    for char in argument:
        if char in '\\"$':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\{ord(char):03o}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


class TmuxTerminal:
    """Start bash in a tmux session inside `sandbox` and keep a control client attached to it."""

    def __init__(self, sandbox: DockerSandbox, *, cols: int = 160, rows: int = 40, history_limit: int = 100000,
                 slow_delay_s: float | None = None, workdir: str = "/work"):
        self.sandbox = sandbox
        self.cols, self.rows = cols, rows
        self.history_limit = history_limit
        self.slow_delay_s = slow_delay_s
        self.workdir = workdir
        self.control: AttachedExec | None = None
        self._timeout = sandbox.limits.action_timeout_s

    def start(self) -> None:
        rc = BASHRC + (SLOW_RC.format(delay=self.slow_delay_s) if self.slow_delay_s else "")
        self.sandbox.put_file(RC_PATH, rc.encode())
        self.sandbox.put_file(CONF_PATH, TMUX_CONF.format(history_limit=self.history_limit).encode())
        started = self.sandbox.exec([
            "tmux", "-u", "-f", CONF_PATH, "new-session", "-d", "-s", SESSION, "-x", str(self.cols),
            "-y", str(self.rows),
            "-c", self.workdir, "bash", "--rcfile", RC_PATH, "-i",
        ], env={"TERM": "xterm-256color", "LANG": "C.UTF-8", "HOME": "/root"})
        if started.exit_code != 0:
            raise TmuxError(f"tmux did not start in {self.sandbox.name}: {started.output[-500:]!r}")
        self.control = self.sandbox.attach(["tmux", "-u", "-C", "attach-session", "-t", SESSION])
        self._read_block()  # the reply to attach-session itself
        # The screen keeps its size whatever clients attach; no %output notifications: we ask for the screen.
        self.command("set-option -g window-size manual", f"resize-window -t {SESSION} -x {self.cols} -y {self.rows}",
                     "refresh-client -f no-output")

    def wait_for_prompt(self, timeout: float = 10.0) -> PaneState:
        """Block until bash has drawn its first prompt (the rc file has run)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if state.prompts is not None:
                return state
            if time.monotonic() > deadline:
                raise TmuxError(f"no shell prompt after {timeout}s in {self.sandbox.name}")
            time.sleep(0.01)

    # ---- control-mode protocol ----

    def command(self, *commands: str) -> list[bytes]:
        """Run tmux commands as one command list (nothing else happens in the pane between them); return each
        one's output."""
        if self.control is None:
            raise TmuxError("terminal is not started")
        self.control.write((" ; ".join(commands) + "\n").encode())
        return [self._read_block() for _ in commands]

    def _read_line(self, deadline: float) -> bytes:
        try:
            return self.control.read_line(deadline)
        except StreamClosed as exc:
            # The channel also closes when the whole container dies (OOM): that is a broken environment, not a shell
            # the agent exited, and must not end the episode as if it were.
            reason = self.sandbox.stopped_reason()
            if reason:
                raise TmuxError(f"tmux control channel closed: {reason}") from exc
            raise SessionEnded(f"the tmux session in {self.sandbox.name} ended") from exc
        except TimeoutError as exc:
            raise TmuxError(f"tmux control channel in {self.sandbox.name} stopped answering: {exc}") from exc

    def _read_block(self) -> bytes:
        deadline = time.monotonic() + self._timeout
        while not self._read_line(deadline).startswith(b"%begin "):
            pass  # notifications (%session-changed, %window-add, ...) between replies
        lines = []
        while True:
            line = self._read_line(deadline)
            match = _BLOCK_END.match(line)
            if match:
                body = b"\n".join(lines)
                if match.group(1) == b"error":
                    raise TmuxError(f"tmux error: {body.decode(errors='replace')}")
                return body
            lines.append(line)

    # ---- what a collector uses ----

    def send_keys(self, keys: str) -> None:
        self.command(f"send-keys -t {SESSION} {quote(keys)}")

    def state(self) -> PaneState:
        (line,) = self.command(f"display-message -p -t {SESSION} {quote(_STATE_FORMAT)}")
        return PaneState.parse(line)

    def observe(self, escapes: bool = True) -> tuple[PaneState, bytes]:
        """Pane state and the visible screen."""
        line, contents = self.command(f"display-message -p -t {SESSION} {quote(_STATE_FORMAT)}",
                                      f"capture-pane {'-p -e' if escapes else '-p'} -t {SESSION}")
        return PaneState.parse(line), contents

    def take_output(self) -> tuple[PaneState, bytes]:
        """Pane state, then every line that scrolled off since the last take_output, then the screen (with escapes).

        The scrollback is cleared in the same command list, so the next call sees only what comes after this one.
        """
        line, contents, _ = self.command(f"display-message -p -t {SESSION} {quote(_STATE_FORMAT)}",
                                         f"capture-pane -p -e -t {SESSION} -S -",
                                         f"clear-history -t {SESSION}")
        return PaneState.parse(line), contents

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
