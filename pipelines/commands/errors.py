"""How commands fail: a one-line message on stderr and a non-zero exit, never a traceback."""

import signal

import typer


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error and return the Exit to raise: `raise fail("...")`."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


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
