"""Child processes that Ctrl-C can reach."""

import signal


def with_default_sigint() -> None:
    """Popen preexec_fn: SIGINT back to its default before exec, so the child Python turns it into
    KeyboardInterrupt as under a terminal. A shell without job control starts background commands with SIGINT
    ignored, the child inherits that, and a test sending it SIGINT would wait for nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
