"""A tmux session inside a sandbox, driven through ONE persistent tmux control-mode client.

`tmux -C attach` runs as a long-lived attached exec; every request (send-keys, capture-pane, display) is a line on
its stdin and comes back as a `%begin … %end` block on its stdout. Nothing is forked in the container per request,
so a round trip costs a socket write and read, and observing still works while a fork bomb holds every pid.

The shell reports its own state without touching the screen: PS1 ends with an OSC-2 title sequence carrying a prompt
counter, the last exit status and the cwd (`wl-NONCE;N;STATUS;PWD`). tmux has parsed everything before it by the time
the title changes, so "title counter moved" means "prompt is back on screen". Any program can set the title too
(an OSC 2 sequence titled `wl;99;0;/fake`), so the marker carries a random nonce made for this session, and a title
without it is the program's own: the state keeps the last prompt the shell reported. The nonce is a secret of the
session, never in what `observe` and `take_output` return (an `echo "$PS1"` shows NONCE_SHOWN in its place), so
recordings and replays do not depend on it.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
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
PS1='\u@\h:\w\$ \[\e]2;wl-@NONCE@;${__wl_n};${__wl_status};${PWD}\e\\\]'
"""
NONCE_BYTES = 8
# What a screen shows where the session's nonce was: as long as the nonce (hex, two characters a byte), so that
# columns and line wraps stay where they were.
NONCE_SHOWN = "x" * (2 * NONCE_BYTES)
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
    title: str = dataclasses.field(repr=False)  # may hold the nonce: never recorded
    # From the last prompt marker the shell drew (TmuxTerminal fills them in); None while none has been drawn.
    prompts: int | None = None  # the shell's prompt counter
    exit_status: int | None = None
    cwd: str | None = None
    # take_output only: output scrolled past the history limit, so its oldest lines are missing from the capture.
    history_overflow: bool = False

    @classmethod
    def parse(cls, line: bytes) -> PaneState:
        fields = line.decode("utf-8", "replace").split("\t", 7)
        if len(fields) != 8:
            raise TmuxError(f"unexpected pane state line: {line!r}")
        history, cx, cy, cols, rows, alternate, command, title = fields
        if not history:
            # The formats expand to nothing once the pane is gone: the shell has just exited.
            raise SessionEnded("the tmux pane is gone")
        return cls(int(history), (int(cx), int(cy)), int(cols), int(rows), alternate == "1", command, title)


def prompt_marker(title: str, nonce: str) -> tuple[int, int | None, str] | None:
    """(prompt count, exit status, cwd) from a pane title the shell's PS1 set with this session's `nonce`; None for
    any other title."""
    parts = title.split(";", 3)
    if len(parts) != 4 or parts[0] != f"wl-{nonce}" or not parts[1].isdigit():
        return None
    status = int(parts[2]) if parts[2].lstrip("-").isdigit() else None
    return int(parts[1]), status, parts[3]


def tmux_history_limit(lines: int) -> int:
    """The history-limit to give tmux so that `lines` of history can be kept and any loss shows. A full tmux history
    drops its oldest tenth (at least one line) before the next line goes in, so after any drop it holds more than
    `lines` lines: a capture of the last `lines` with more in the history is known to be cut."""
    return lines + lines // 9 + 1


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
        self.history_limit = history_limit  # lines of scrollback take_output returns at most
        self.slow_delay_s = slow_delay_s
        self.workdir = workdir
        self.control: AttachedExec | None = None
        self._timeout = sandbox.limits.action_timeout_s
        # Made here, not derived from anything recorded: a program that could compute it could fake a prompt.
        self.nonce = secrets.token_hex(NONCE_BYTES)
        self._prompt: tuple[int, int | None, str] | None = None  # the last marker accepted

    def start(self) -> None:
        rc = BASHRC.replace("@NONCE@", self.nonce) + (SLOW_RC.format(delay=self.slow_delay_s) if self.slow_delay_s
                                                      else "")
        self.sandbox.put_file(RC_PATH, rc.encode())
        self.sandbox.put_file(CONF_PATH, TMUX_CONF.format(history_limit=tmux_history_limit(self.history_limit))
                              .encode())
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

    def _parse(self, line: bytes) -> PaneState:
        """The pane state, with the prompt fields of the newest marker of this session's shell. A marker is taken
        only when its count is past the last one taken: the shell's counter only goes up."""
        try:
            state = PaneState.parse(line)
        except SessionEnded:
            raise
        except TmuxError as exc:  # its message quotes the line, title and all, and may end up in a record
            raise TmuxError(str(exc).replace(self.nonce, NONCE_SHOWN)) from None
        marker = prompt_marker(state.title, self.nonce)
        if marker is not None and (self._prompt is None or marker[0] > self._prompt[0]):
            self._prompt = marker
        if self._prompt is None:
            return state
        prompts, exit_status, cwd = self._prompt
        return dataclasses.replace(state, prompts=prompts, exit_status=exit_status, cwd=cwd)

    def _hide_nonce(self, contents: bytes) -> bytes:
        return contents.replace(self.nonce.encode(), NONCE_SHOWN.encode())

    def state(self) -> PaneState:
        (line,) = self.command(f"display-message -p -t {SESSION} {quote(_STATE_FORMAT)}")
        return self._parse(line)

    def observe(self, escapes: bool = True) -> tuple[PaneState, bytes]:
        """Pane state and the visible screen."""
        line, contents = self.command(f"display-message -p -t {SESSION} {quote(_STATE_FORMAT)}",
                                      f"capture-pane {'-p -e' if escapes else '-p'} -t {SESSION}")
        return self._parse(line), self._hide_nonce(contents)

    def take_output(self) -> tuple[PaneState, bytes]:
        """Pane state, then the lines that scrolled off since the last take_output (the last `history_limit` of
        them: `history_overflow` says when there were more), then the screen (with escapes).

        The scrollback is cleared in the same command list, so the next call sees only what comes after this one.
        """
        line, contents, _ = self.command(f"display-message -p -t {SESSION} {quote(_STATE_FORMAT)}",
                                         f"capture-pane -p -e -t {SESSION} -S -{self.history_limit}",
                                         f"clear-history -t {SESSION}")
        state = self._parse(line)
        kept = min(state.history_size, self.history_limit)
        state = dataclasses.replace(state, history_size=kept, history_overflow=state.history_size > kept)
        return state, self._hide_nonce(contents)

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
