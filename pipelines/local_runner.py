"""Control of a curation run on the local runner: the run in a thread of its own so that Ctrl-C and SIGTERM reach
the main thread, the errors of Beam's worker threads caught while it goes on, a lost worker process told apart and
named, and an interrupted or failed run stopped (its worker processes killed, its thread ended).
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import signal
import threading
from pathlib import Path

import apache_beam as beam

from schemas.interrupts import note_interrupts
from transforms.memory import heap_frozen


MALLOC_ARENA_MAX = "MALLOC_ARENA_MAX"


class WorkerLost(RuntimeError):
    """A worker process of a local run ended before the run did (the out-of-memory killer's SIGKILL, a crash): its
    workers are killed and its work and staging folders removed, as on Ctrl-C; nothing was published. `advice`: what
    to run instead."""

    def __init__(self, cause: str, advice: str = "run the same command again"):
        super().__init__(cause)
        self.advice = advice


class CurationInterrupted(RuntimeError):
    """Ctrl-C (or SIGTERM, `signum`) stopped the run: its workers are killed and its work and staging folders
    removed; the output folder holds the earlier output or this run's, whole (see publish)."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = signum


def run_interruptibly(pipeline: beam.Pipeline):
    """Run the pipeline to its end in a thread of its own, so that Ctrl-C reaches this one: Python handles a signal
    only between bytecodes of the main thread, and a main thread waiting inside gRPC for worker processes that were
    still starting never got to it (the run hung, and a second Ctrl-C did nothing either). On Ctrl-C the worker
    processes are killed, since their gRPC threads would keep this process alive, and CurationInterrupted raised.
    A worker process that dies (the out-of-memory killer) ends the run too, with WorkerLost: Beam only raises that in
    the worker's own thread and the runner waited for the dead worker for ever (4 of 4 SIGKILLed workers).
    (A Ctrl-C also reaches the worker processes, in the terminal's process group: one that is not idle prints its
    KeyboardInterrupt before it is killed. Popen resets the signal mask, and Beam starts them, so it stays.)"""
    outcome: dict = {}
    # Read by glibc when each worker process starts (Beam starts them with this process's environment): by default
    # every thread that allocates gets an arena of its own, up to 8 a core, and the gRPC and bundle threads of a
    # worker each keep what they freed. Two arenas took 23-46 MB off a worker's peak at 1M transitions (h238), none
    # at 100k, CPU unchanged. A value the user set is kept.
    # This process read its environment when it started, so the variable does not reach its own allocator: the
    # runner holds every shuffle and side input while the dedupe steps run, and its gRPC threads left freed memory in
    # arenas of their own (300k packed: runner peak 282 -> 256 MB VmHWM, 196 -> 179 MB anonymous, h246). Before the
    # run starts its threads: glibc fixes its arena limit for good once a process has more than 8 arenas.
    if MALLOC_ARENA_MAX not in os.environ:
        cap_malloc_arenas(2)
    os.environ.setdefault(MALLOC_ARENA_MAX, "2")

    def run():
        try:
            with heap_frozen():
                result = pipeline.run()
                result.wait_until_finish()
            outcome["result"] = result
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            outcome["error"] = exc

    errors = RunnerErrors()
    runner = threading.Thread(target=run, name="curation", daemon=True)
    runner.start()
    try:
        while runner.is_alive() and not errors.lost:
            runner.join(0.2)
    except KeyboardInterrupt as exc:  # a SIGTERM handler may raise a subclass carrying its signum
        abandon_run(runner, errors)
        raise CurationInterrupted("interrupted", getattr(exc, "signum", signal.SIGINT)) from None
    if errors.lost and "result" not in outcome:
        abandon_run(runner, errors)
        raise worker_loss(errors.lost[0]) from None
    errors.release()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


# FnApiRunner's thread for each worker (local_job_service.SubprocessSdkWorker.run) raises this when its process ends.
_WORKER_EXIT = re.compile(r"Worker subprocess exited with return code (-?\d+)")


# The runner's side of the workers' data streams logs their breaking, with a traceback.
_DATA_PLANE_LOG = logging.getLogger("apache_beam.runners.worker.data_plane")


class RunnerErrors:
    """Catches, while a run goes on, the exceptions of Beam's worker threads (named run_worker: each raises when its
    worker process ends) into `lost`, and holds back the errors of this process's other threads and of the data
    plane's log. A worker process that dies breaks those threads' streams: they printed 3 tracebacks (59 lines)
    before the one line saying what happened. release() prints what was held, for a run that ended otherwise."""

    def __init__(self):
        self.lost: list[BaseException] = []
        self._held: list[threading.ExceptHookArgs] = []
        self._records: list[logging.LogRecord] = []
        self._previous_hook = threading.excepthook
        threading.excepthook = self._hook
        _DATA_PLANE_LOG.addFilter(self._hold)

    def _hook(self, args) -> None:
        if args.thread is not None and args.thread.name == "run_worker":
            self.lost.append(args.exc_value)
        else:
            self._held.append(args)

    def _hold(self, record: logging.LogRecord) -> bool:
        self._records.append(record)
        return False

    def release(self) -> None:
        threading.excepthook = self._previous_hook
        _DATA_PLANE_LOG.removeFilter(self._hold)
        for args in self._held:
            self._previous_hook(args)
        for record in self._records:
            _DATA_PLANE_LOG.handle(record)

    def discard(self) -> None:
        """Drop what was held: for a run stopped on purpose, what its threads say of their workers vanishing is no
        news (they keep saying it: the hook that replaces this one prints nothing)."""
        _DATA_PLANE_LOG.removeFilter(self._hold)
        threading.excepthook = lambda _args: None


def worker_loss(exc: BaseException) -> WorkerLost:
    """What ended a worker process, and what to do about it, from its thread's exception."""
    match = _WORKER_EXIT.search(str(exc))
    if not match:
        return WorkerLost(f"a curation worker failed ({' '.join(str(exc).split())})")
    code = int(match.group(1))
    # Beam starts each worker through /bin/sh, which exits 128 + N for a child a signal N ended.
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    if signum == signal.SIGKILL:
        return WorkerLost(f"a curation worker process was killed (SIGKILL, exit {code}), most likely by the kernel's "
                          "out-of-memory killer", "give the run more memory, or fewer worker processes "
                          "(--direct_num_workers=1: each holds bundles of its own), and run it again")
    how = f"was ended by {signal.Signals(signum).name}" if signum in signal.valid_signals() else "exited"
    return WorkerLost(f"a curation worker process {how} (exit {code})")


M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def cap_malloc_arenas(arenas: int) -> None:
    """At most `arenas` malloc arenas for this process from now on, as MALLOC_ARENA_MAX would have set at its start;
    nothing where the C library is not glibc (mallopt then is missing or refuses the parameter)."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)
    except (AttributeError, OSError):
        pass


def abandon_run(runner: threading.Thread, errors: RunnerErrors) -> None:
    """Stop an interrupted or failed run: kill its worker processes and stop its thread. A second Ctrl-C or SIGTERM
    from here on only prints a note: one broke into this cleanup and left the work folder (and once 5 gRPC
    tracebacks of workers not killed yet)."""
    note_interrupts("the run is already stopping (its workers are killed and its work folders removed)")
    # What the runner's threads log about their workers vanishing is not news to the user who pressed Ctrl-C.
    logging.disable(logging.CRITICAL)
    errors.discard()
    kill_child_processes()
    stop_thread(runner)


def stop_thread(thread: threading.Thread, timeout: float = 5.0) -> None:
    """Stop a run's thread: an in-process run (one worker, in_memory) goes on running bundles in it, and wrote work
    files after the interrupted run had removed its work folder (left by 2 of 6 SIGTERMs). SystemExit is raised in
    it at its next bytecode; a C call (writing a Parquet part) finishes first, hence the wait."""
    if thread.ident is None or not thread.is_alive():
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
    thread.join(timeout)


def kill_child_processes() -> None:
    """SIGKILL every process this one started and theirs (FnApiRunner's worker processes, started through
    /bin/sh): Linux only, as the output lock is."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (2nd field) is in parentheses and may hold spaces: the parent pid follows the last ")".
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    pending = list(children.get(os.getpid(), []))
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
