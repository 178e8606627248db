"""SIGTERM handled as Ctrl-C is: every command that stops its work and cleans up on KeyboardInterrupt (collect, curate,
export) does the same on SIGTERM (timeout(1), docker stop, Kubernetes), says so and exits 143. By default SIGTERM
ended the process at once, leaving work and staging folders behind and saying nothing."""

import signal


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
