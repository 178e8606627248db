"""The engine client stays usable while another thread changes the environment: sandboxes are made from pool
threads while the rest of the program (pytest, for one) sets variables."""

import os
import sys
import threading

from sandboxes.engine import engine_client


def test_engine_calls_survive_another_thread_changing_the_environment():
    client = engine_client()
    stop = threading.Event()

    def toggle():
        while not stop.is_set():
            os.environ["WORLDLINE_ENGINE_RACE"] = "1"
            del os.environ["WORLDLINE_ENGINE_RACE"]

    toggler = threading.Thread(target=toggle)
    interval = sys.getswitchinterval()
    # Switching threads every microsecond makes the race (iterating os.environ while it changes) near certain:
    # docker.from_env()'s own client, which reads proxy settings from the environment on each call, failed ~1 call
    # in 3 this way.
    sys.setswitchinterval(1e-6)
    failures = []
    toggler.start()
    try:
        for _ in range(300):
            try:
                client.ping()
            except (KeyError, RuntimeError) as exc:
                failures.append(repr(exc))
    finally:
        stop.set()
        toggler.join()
        sys.setswitchinterval(interval)
    assert failures == []
