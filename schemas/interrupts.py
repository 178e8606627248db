"""SIGTERM handled as Ctrl-C is: every command that stops its work and cleans up on KeyboardInterrupt (collect, curate,
export) does the same on SIGTERM (timeout(1), docker stop, Kubernetes), says so and exits 143. By default SIGTERM
ended the process at once, leaving work and staging folders behind and saying nothing."""

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator


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


@contextmanager
def finishing(note: str) -> Iterator[None]:
    """Ctrl-C and SIGTERM do not stop the block: its command has published its result whole and is only finishing
    (removing what the result replaced, printing its summary). The signal is answered with `note` on stderr and the
    command ends as it would have; curate and export exited 143 there with their output complete. Only the main
    thread can set handlers; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # An ignored signal stays ignored; None: a handler not set from Python, which cannot be put back.
    previous = {signum: handler for signum in (signal.SIGINT, signal.SIGTERM)
                if (handler := signal.getsignal(signum)) not in (signal.SIG_IGN, None)}

    def answer(signum, _frame):
        print(f"{signal_name(signum)}: {note}", file=sys.stderr, flush=True)

    for signum in previous:
        signal.signal(signum, answer)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
