"""Worker processes opening a new LLM cache file together: switching it to WAL needs the file to itself, and SQLite
answered "database is locked" at once to the others (without waiting out the busy timeout). A CI run's curate with
two workers failed on it; 8 processes at once failed about one open in 18."""

import multiprocessing

from transforms.reasoning.ledger import Ledger

PROCESSES, ROUNDS = 8, 12


def open_together(path, barrier, results):
    barrier.wait()
    try:
        Ledger(path)
        results.put("ok")
    except Exception as exc:  # what the test reports, whatever it is
        results.put(repr(exc))


def test_workers_opening_a_new_cache_together_all_get_it(tmp_path):
    context = multiprocessing.get_context("fork")
    failures = []
    for round_ in range(ROUNDS):
        barrier, results = context.Barrier(PROCESSES), context.Queue()
        processes = [context.Process(target=open_together, args=(tmp_path / f"cache-{round_}.sqlite", barrier,
                                                                  results)) for _ in range(PROCESSES)]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=60)
        failures += [outcome for outcome in outcomes if outcome != "ok"]
    assert failures == []
