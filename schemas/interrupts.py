"""SIGTERM handled as Ctrl-C is: every command that stops its work and cleans up on KeyboardInterrupt (collect, curate,
export) does the same on SIGTERM (timeout(1), docker stop, Kubernetes), says so and exits 143. By default SIGTERM
ended the process at once, leaving work and staging folders behind and saying nothing."""

import atexit
import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM (timeout(1), docker stop, Kubernetes), raised where Ctrl-C raises KeyboardInterrupt, so a command
    stops its work and cleans up as it does for Ctrl-C; it exits 143 (128 + signum)."""

    signum = signal.SIGTERM


def interrupt_on_sigterm() -> None:
    """Raise Terminated on SIGTERM, unless something else handles it already; call it from the main thread (only it
    receives signals). By default SIGTERM ended the process at once, leaving work and staging folders behind."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)


def _raise_terminated(_signum, _frame):
    raise Terminated()


def interrupted_exit_code(exc: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM: what a shell reports for a process the signal ended."""
    return 128 + getattr(exc, "signum", signal.SIGINT)


def signal_name(signum: int) -> str:
    return "Terminated (SIGTERM)" if signum == signal.SIGTERM else "Interrupted"


def note_interrupts(note: str) -> None:
    """From here to the end of the process, Ctrl-C and SIGTERM stop nothing and are answered with `note` on stderr.
    For a command that has published its result whole (curate, export and pack exited 130 or 143 with their output
    complete, while finishing, printing their summary or exiting; a supervisor took the run for failed), and for one
    already stopping on an interrupt (a second SIGTERM broke into its cleanup and left its work folder). Only the main
    thread can set handlers; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        # An ignored signal stays ignored; None: a handler not set from Python, which cannot be put back.
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):
            signal.signal(signum, _Note(note))
    atexit.unregister(_ignore_noted)  # registered once, however many notes were set
    atexit.register(_ignore_noted)


class _Note:
    """A handler printing its note: a class of its own, so that _ignore_noted knows the handlers it may replace."""

    def __init__(self, note: str):
        self.note = note

    def __call__(self, signum, _frame):
        line = f"{signal_name(signum)}: {self.note}\n"
        try:
            descriptor = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):  # a captured stderr (CliRunner) has none
            print(line, end="", file=sys.stderr, flush=True)
            return
        # Not through sys.stderr: the handler may run inside one of the command's own writes to it (a write retried
        # after EINTR runs the handlers), and writing to the stream again there raises "reentrant call".
        try:
            os.write(descriptor, line.encode())
        except OSError:  # stderr is closed: the note has nowhere to go, and the command goes on as it should
            pass


def _ignore_noted() -> None:
    """Python puts the signals its functions handle back to their default after the atexit callbacks, and exiting a
    Beam run then takes 1-2 s more (gRPC teardown): a SIGTERM there ended a complete curate with 143. SIG_IGN is left
    as it is. A handler set since (a test restoring its own) is left alone."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if isinstance(signal.getsignal(signum), _Note):
            signal.signal(signum, signal.SIG_IGN)
