import signal

import pytest

pytest_plugins = ["tests.docker_fixtures", "tests.llama_server"]


@pytest.fixture(autouse=True)
def signals_restored():
    """`worldline pack` ignores Ctrl-C and SIGTERM once it has packed, for the rest of its process: run in-process
    (CliRunner), that would be every later test's, and the children they start would inherit it."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)
