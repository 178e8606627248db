"""Assemble and run the curation pipeline: Curate's outputs into Parquet folders, then stats.json and the card.

Local runs use FnApiRunner unless --runner says otherwise; every Beam option passes through, so the same function
submits to Dataflow (docs/dataflow.md).
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import re
import shutil
import signal
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from dataclasses import asdict, replace
from pathlib import Path, PurePosixPath
from typing import Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, TestOptions

from pipelines.staging import NO_EXCHANGE, exchange, owned_folder, remove_stale
from schemas.collection_lock import collection_lock
from schemas.interrupts import note_interrupts
from schemas.layout import TRANSITIONS_DIR, WORK_DIR, is_curation_output, transition_files
from transforms import stats as curate_stats
from transforms.card import dataset_card
from transforms.curate import OUTPUT_SCHEMAS, Curate, CurateOptions
from transforms.io import commit_parts, write_text
from transforms.memory import heap_frozen
from transforms.prompts import DOMAINS, plugin_distributions, plugin_domains
from transforms.stages import ALL_HISTORY
from transforms.stats import counters_from_result, stats_from_counters

DEFAULT_RUNNER = "FnApiRunner"
# From this much local input on, one worker process per usable core. A worker process costs ~2.5 CPU s whatever
# its share (importing Beam again), so below it one in-process worker is cheaper and about as fast. Measured on an
# idle 2-core machine, 50k transitions as episode files (37 MB), one worker / two threads / two processes: wall
# 23.5-23.7 / 19.4-24.2 / 15.5-16.2 s, CPU 24.4-25.2 / 27.2-31.5 / 29.5-30.3 s. Threads gain little wall time (the
# GIL) and hold two bundles in memory (peak RSS ~480-500 MB against ~350), so they are never the default. With one
# core busy elsewhere, two processes lose on wall time too (docs/performance.md).
MULTIPROCESS_INPUT_BYTES = 32 * 1024 * 1024
OUTPUT_FILES = ("stats.json", "README.md")
# ~30k packed transitions (~10k as episode files): a partition's keys then take ~15 MB while it is resolved.
PARTITION_INPUT_BYTES = 16 * 1024 * 1024
MAX_PARTITIONS = 4096
LOCK_FILE = ".curate.lock"  # held by the run using the output folder (output_lock)
# Where a run whose output folder cannot be swapped whole (see staging_folder) puts its output until it is complete.
PUBLISH_DIR = ".publish"
WORKER_STDERR_PLUGIN = "pipelines.beam_worker_stderr"


class OutputExistsError(RuntimeError):
    pass


class InputMissingError(FileNotFoundError):
    pass


class RunnerError(ValueError):
    """--runner names no Beam runner."""


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


def check_input(input_dir: str) -> None:
    """A mistyped local path would otherwise curate zero records without complaint, and a curate output given as
    the input dead-letters every row at validation."""
    if "://" in input_dir:
        return
    root = Path(input_dir)
    if not root.exists():
        raise InputMissingError(f"{input_dir} is not a raw collection: it does not exist")
    if not root.is_dir():
        raise InputMissingError(f"{input_dir} is a file, not a raw collection: pass the folder `worldline collect` "
                                "wrote")
    if root.name == TRANSITIONS_DIR and not (root / TRANSITIONS_DIR).is_dir():
        raise InputMissingError(f"{input_dir} is the {TRANSITIONS_DIR}/ folder of a collection: pass "
                                f"{root.parent}, the folder above it")
    if not (root / TRANSITIONS_DIR).is_dir():
        raise InputMissingError(f"{input_dir} is not a raw collection: it has no {TRANSITIONS_DIR}/ folder")
    if (root / "stats.json").is_file() or (root / "stage1").is_dir():
        raise InputMissingError(f"{input_dir} is a curate output, not a raw collection: pass the folder that "
                                "`worldline collect` wrote (its transitions/ holds one folder per domain)")


def unknown_beam_options(args: list[str]) -> tuple[list[str], list[str]]:
    """(the args no Beam option takes, every option string Beam knows), found as PipelineOptions finds them; Beam
    itself only logs the unknown ones and goes on, so a typo (--near-dup-treshold) ran with the default."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    classes: dict[str, type] = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 - what PipelineOptions.get_all_options does
    _, unknown = parser.parse_known_args(args)
    return unknown, [option for action in parser._actions for option in action.option_strings]  # noqa: SLF001


def local_input_bytes(input_dir: str) -> int:
    """0 for a remote input: sizing a bucket would need credentials at construction time (and offline tests
    translate gs:// pipelines); Dataflow runs keep the partitions they are given."""
    if "://" in input_dir:
        return 0
    # Files only: a dangling link (or a folder) named *.jsonl failed the run here with a traceback; reading it
    # dead-letters it, named.
    return sum(p.stat().st_size for p in transition_files(Path(input_dir)) if p.is_file())


def scaled_partitions(options: CurateOptions, input_size: int) -> CurateOptions:
    """At least one dedupe partition per PARTITION_INPUT_BYTES of raw input: a partition's keys are held whole
    while it is resolved, so this keeps that bounded however big the collection."""
    wanted = min(MAX_PARTITIONS, -(-input_size // PARTITION_INPUT_BYTES))
    if wanted <= options.near_dup.partitions:
        return options
    return replace(options, near_dup=replace(options.near_dup, partitions=wanted))


def pipeline_options(beam_args: list[str], input_bytes: int = 0) -> PipelineOptions:
    """FnApiRunner by default; for a big local input, parallel workers (local_workers) unless the user chose.
    Beam's construction-time type checking stays on: turning it off saved ~0.15 CPU s a run, but two-thread runs
    with it off failed 3 times in 23 and with it on passed 32 of 32 (docs/performance.md)."""
    options = PipelineOptions(beam_args)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    chose_workers = any(arg.startswith("--direct_num_workers") for arg in beam_args)
    if standard.runner == DEFAULT_RUNNER and not chose_workers:
        workers, mode = local_workers(input_bytes, usable_cores())
        if workers > 1:
            direct = options.view_as(DirectOptions)
            direct.direct_num_workers, direct.direct_running_mode = workers, mode
    warn_of_worker_threads(options.view_as(DirectOptions))
    return options


def local_runner(options: PipelineOptions):
    """FnApiRunner whose worker processes import pipelines.beam_worker_stderr first (as a Beam plugin), or None
    for any other runner or mode. Those processes print to the user's terminal, and Beam printed a failed bundle's
    traceback there (79 lines for a full disk) before the command said the error in one line (pipelines.os_errors).
    FnApiRunner hands its workers the options of its provision info only, empty unless given."""
    if (options.view_as(StandardOptions).runner != DEFAULT_RUNNER
            or options.view_as(DirectOptions).direct_running_mode != "multi_processing"):
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner.fn_runner import ExtendedProvisionInfo, FnApiRunner

    info = beam_provision_api_pb2.ProvisionInfo(retrieval_token="unused-retrieval-token")
    info.pipeline_options.update({"beam:option:beam_plugins:v1": [WORKER_STDERR_PLUGIN]})
    return FnApiRunner(provision_info=ExtendedProvisionInfo(info))


def warn_of_worker_threads(direct: DirectOptions) -> None:
    """Two-thread runs of 100k transitions failed 3 times in 35 (decoding shuffled data: `Invalid PaneInfoEncoding`,
    or stalling at 8.7 GB), all while construction-time type checking was off; with it on (as now) 32 of 32
    passed, but the cause is not established, Beam reports the same error from its own multi-worker tests
    (apache/beam#23944), and worker processes have never failed (docs/performance.md)."""
    if direct.direct_running_mode == "multi_threading" and (direct.direct_num_workers or 1) > 1:
        logging.getLogger(__name__).warning(
            "--direct_running_mode=multi_threading has failed intermittently with this pipeline (decoding shuffled "
            "data, or stalling; cf. apache/beam#23944); use --direct_running_mode=multi_processing")


def usable_cores() -> int:
    """The cores this process may run on: a container's cpuset or `taskset` may allow fewer than the machine has
    (os.cpu_count), and a worker process beyond them only adds its ~2.5 CPU s of imports and ~340 MB."""
    if hasattr(os, "sched_getaffinity"):  # not on macOS or Windows
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def local_workers(input_bytes: int, cores: int) -> tuple[int, str]:
    """(FnApiRunner workers, running mode) for a local input of this size."""
    if input_bytes >= MULTIPROCESS_INPUT_BYTES and cores > 1:
        return cores, "multi_processing"
    return 1, "in_memory"


def check_plugins() -> None:
    """Reads the domains collector plugins describe (transforms.prompts.plugin_domains): a broken entry point raises
    DomainPluginError, naming it and what to fix, here rather than as a traceback in a worker once rows are built.
    Workers read their own installed plugins (docs/adding-a-collector.md, item 5)."""
    plugin_domains()


def check_output_apart(input_dir: str, output_dir: str) -> None:
    """The output's folders are removed by --overwrite, `transitions/` among them: an output that was the input
    deleted the raw collection. Shards written under the input's transitions/ would be read as raw records by the
    next run. An output folder holding other files (an export, say) had the shards mixed in silently."""
    if "://" in input_dir or "://" in output_dir:
        return
    raw, out = Path(input_dir).resolve(), Path(output_dir).resolve()
    removed = [out / name for name in (*OUTPUT_SCHEMAS, WORK_DIR, PUBLISH_DIR)]
    # Anywhere under the collection: episodes/x had its stats.json counted as an episode by `query RAW`.
    if any(raw.is_relative_to(path) for path in removed) or out.is_relative_to(raw):
        raise OutputExistsError(f"--output {output_dir} would overwrite or be read as the raw collection "
                                f"{input_dir}; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--output {output_dir} is a file, not a folder")
    foreign = _foreign_entries(out)
    if foreign:
        shown = ", ".join(sorted(foreign)[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputExistsError(f"--output {output_dir} already holds files curate did not write ({shown}); choose "
                                "an empty or new folder")


def _foreign_entries(out: Path) -> list[str]:
    """Names in an existing output folder other than what curation writes, unless the folder is a curation output
    (one the user added notes to stays usable with --overwrite)."""

    if not out.is_dir():
        return []
    foreign = [entry.name for entry in out.iterdir() if entry.name not in _own_names()]
    return [] if not foreign or is_curation_output(out) else foreign


def check_runner(beam_args: list[str]) -> None:
    """Beam finds out that --runner names no runner only when the pipeline is built, after the output folder was
    made: the run ended with a traceback and left an empty folder."""
    from apache_beam.runners.runner import create_runner

    options = PipelineOptions(beam_args)
    runner = options.view_as(StandardOptions).runner
    if not isinstance(runner, str):
        return
    try:
        created = create_runner(runner)
    except (ValueError, ImportError, AttributeError) as exc:
        raise RunnerError(f"--runner {runner}: {' '.join(str(exc).split())}") from None
    check_service_options(options, created)


def check_service_options(options: PipelineOptions, runner) -> None:
    """Beam validates Dataflow's options only when the job is submitted, after the output was prepared: a
    placeholder such as --project=PROJECT ended in a 44-line traceback, and temp and staging paths naming invalid
    buckets (gs://BUCKET/tmp) sent it looking for a default bucket, a ~100 s hang offline before a 218-line one.
    The same checks, made first; GoogleCloudOptions' own validate is left out since it may look that bucket up."""
    from apache_beam.options.pipeline_options import GoogleCloudOptions
    from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator

    validator = PipelineOptionsValidator(options, runner)
    if not validator.is_service_runner():
        return
    cloud = options.view_as(GoogleCloudOptions)
    errors = [error for name in ("temp_location", "staging_location") if getattr(cloud, name)
              for error in validator.validate_gcs_path(cloud, name)]
    errors += validator.validate_cloud_options(cloud)
    errors += [error for view in validator.OPTIONS if view is not GoogleCloudOptions and "validate" in view.__dict__
               for error in options.view_as(view).validate(validator)]
    if errors:
        raise RunnerError(f"invalid {runner.__class__.__name__} options: "
                          f"{'; '.join(' '.join(error.split()) for error in errors)} (docs/dataflow.md)")


@contextmanager
def output_lock(output_dir: str) -> Iterator[None]:
    """Hold OUTPUT/.curate.lock while a run uses the folder: a second run into it removed the first one's work
    folder (prepare_output) and the first failed with a traceback. The kernel drops a process's flock when it ends,
    so a killed run leaves no stale lock; a run that ends removes the file, so a published folder does not carry it."""
    root = Path(output_dir)
    if "://" in output_dir:  # a bucket has no such lock
        yield
        return
    if root.exists() and not root.is_dir():
        raise OutputExistsError(f"{output_dir} is a file, not a folder")
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    while True:
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise OutputExistsError(f"another curation run is writing to {output_dir}; wait for it to end") from None
        # The run before us may have removed the file between our open and our lock: a lock on that unlinked file
        # excludes no one, so take it again on the file the path names now.
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        # Before the lock is released: a run waiting on it sees a new file. Only our own file: a swap (publish)
        # moved it away with the earlier output, and a run that started since holds the one the path names now.
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                path.unlink()
        except FileNotFoundError:
            pass
        handle.close()


def existing_output(output_dir: str, overwrite: bool) -> list[Path]:
    """What a run would replace in the output folder; OutputExistsError if there is any and not `overwrite`: two
    runs' shards must not mix in one folder."""
    if "://" in output_dir:
        return []  # remote outputs are managed by their bucket's lifecycle; Beam refuses to overwrite shards itself
    root = Path(output_dir)
    existing = [root / name for name in (*OUTPUT_SCHEMAS, *OUTPUT_FILES) if (root / name).exists()]
    if existing and not overwrite:
        # stats.json is written last: without it, the folders are what a killed run published before it stopped.
        unfinished = "" if (root / "stats.json").exists() else " from a run that did not finish (no stats.json)"
        raise OutputExistsError(f"{output_dir} already holds curation output{unfinished} "
                                f"({', '.join(p.name for p in existing)}); pass --overwrite to replace it")
    return existing


def prepare_output(output_dir: str, overwrite: bool) -> str:
    """The folder this run publishes into (staging_folder), once refused (existing_output) if it would replace
    output without `overwrite`; what killed runs left is removed. Nothing earlier is removed here: an --overwrite
    run killed, out of disk or failed leaves the earlier output whole."""
    existing_output(output_dir, overwrite)
    if "://" in output_dir:
        return output_dir
    root = Path(output_dir)
    for leftover in (root / WORK_DIR, root / PUBLISH_DIR):
        shutil.rmtree(leftover, ignore_errors=True)
    remove_stale_staging(root.resolve())
    return str(staging_folder(root))


def staging_folder(root: Path) -> Path:
    """A new folder beside the output, swapped onto it whole when the run is complete (publish). Inside it
    (PUBLISH_DIR) when the output cannot be renamed, being a mount point (a container's volume), or nothing can
    be made beside it (its parent is not writable); that one is published entry by entry."""
    real = root.resolve()
    if not os.path.ismount(real):
        folder = owned_folder(real, "curate")
        try:
            folder.mkdir()
            shutil.copymode(real, folder)  # the swap makes it the output folder: keep the one the user made
            return folder
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
    folder = root / PUBLISH_DIR
    folder.mkdir()
    return folder


def remove_stale_staging(root: Path) -> None:
    """Remove the staging folders beside the output that runs killed on this host left: each holds a run's
    unfinished output, or, after the swap, the earlier output it replaced; the output folder is whole either way."""
    for folder, pid in remove_stale(root, ["curate"]):
        print(f"removed {folder}, left by a curation run (pid {pid}) that was killed", file=sys.stderr)


def publish(staging: str, output_dir: str) -> None:
    """Make the complete output in `staging` the output folder's. Beside it, the two folders are exchanged in one
    rename(2) (the user's own files in the output are linked into the new one first), so the folder holds the
    earlier output or this one, whole, at every instant; the earlier one is then in `staging`, which the caller
    removes. A file system that cannot exchange folders (EINVAL; EXDEV on overlayfs), and a staging folder inside the output, publish
    entry by entry (publish_in_place). On a bucket the shards were written in place."""
    if staging == output_dir:
        return
    root = Path(output_dir)
    new = Path(staging)
    if new.parent != root:
        keep_foreign_entries(root, new)
        try:
            exchange(new, root.resolve())
            return
        except OSError as exc:
            if exc.errno not in NO_EXCHANGE:
                raise
    publish_in_place(new, root)


def keep_foreign_entries(root: Path, new: Path) -> None:
    """Hard-link what the user added to the output folder (notes: _foreign_entries) into the new one, so the swap
    keeps it; links, not moves, so a kill before the swap leaves it where it was."""
    for entry in (entry for entry in root.iterdir() if entry.name not in _own_names()):
        target = new / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, target)


def _own_names() -> set[str]:
    """What curation writes into an output folder, work and lock files included."""
    return {*OUTPUT_SCHEMAS, *OUTPUT_FILES, WORK_DIR, LOCK_FILE, PUBLISH_DIR}


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:  # another user's file (fs.protected_hardlinks) or a file system without links
        shutil.copy2(source, target, follow_symlinks=False)


def publish_in_place(new: Path, root: Path) -> None:
    """Replace the output's entries one by one: the earlier output's removed, stats.json first, then the new ones
    renamed in, stats.json last, so a kill part-way leaves a folder without stats.json (the readers warn of it and
    a rerun without --overwrite is refused), never one mixing two runs."""
    for name in ("stats.json", "README.md", *OUTPUT_SCHEMAS):
        path = root / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    for name in (*OUTPUT_SCHEMAS, "README.md", "stats.json"):
        if (new / name).exists():
            os.rename(new / name, root / name)


def build_pipeline(input_dir: str, output_dir: str, options: CurateOptions, beam_args: list[str],
                   run_id: str = "") -> beam.Pipeline:
    return _pipeline(input_dir, output_dir, options, beam_args, run_id)[0]


def _pipeline(input_dir: str, output_dir: str, options: CurateOptions, beam_args: list[str],
              run_id: str, publish_dir: str | None = None) -> tuple[beam.Pipeline, CurateOptions]:
    """The pipeline and the options it runs with (dedupe partitions scaled to the input); its shards go to
    `publish_dir` (the output folder by default), its work files under the output folder."""
    size = local_input_bytes(input_dir)
    options = scaled_partitions(options, size)
    beam_options = pipeline_options(beam_args, size)
    pipeline = beam.Pipeline(runner=local_runner(beam_options), options=beam_options)
    parts = pipeline | "Curate" >> Curate(input_dir, work_dir(output_dir), options)
    # One step, run once every part is written (a side input waits for its whole collection); ToList takes six
    # more and a shuffle (a global combine, and the empty list it injects when no part was written).
    _ = (pipeline
         | "Commit" >> beam.Impulse()
         | "CommitParts" >> beam.Map(commit_all_parts, beam.pvalue.AsList(parts), publish_dir or output_dir,
                                           run_id))
    return pipeline, options


def commit_all_parts(_impulse, parts: list[tuple[str, str]], output_dir: str, run_id: str) -> None:
    commit_parts(parts, output_dir, OUTPUT_SCHEMAS, run_id)


def work_dir(output_dir: str) -> str:
    return f"{output_dir.rstrip('/')}/{WORK_DIR}"


def remove_work_dir(output_dir: str, settle_s: float = 0.0) -> None:
    """Remove the work folder; `settle_s`: and again whenever it reappears within that time. An interrupted run's
    writer can still be finishing a file (a prepared file's sketches, written right after it) when the folder is
    removed, and make it again: under load 5 of 20 SIGTERMs left `.work/sketches/...` in the output."""
    path = work_dir(output_dir)
    if "://" not in path:
        shutil.rmtree(path, ignore_errors=True)
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            time.sleep(0.05)
            shutil.rmtree(path, ignore_errors=True)
        return
    try:
        FileSystems.delete([path + "/"])  # on GCS a folder is a prefix: this deletes every object under it
    except Exception as exc:  # noqa: BLE001 - the shards are written; a leftover work folder is only litter
        logging.getLogger(__name__).warning("could not remove %s: %s; delete it by hand", path, exc)


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


# Settings that name a place on the machine that ran curation or a credential: stats.json and the dataset card
# (published with the shards) leave them out.
_UNRECORDED_OPTIONS = ("base_url", "cache_path", "run_id")


def settings_of(input_dir: str, options: CurateOptions, pipeline: beam.Pipeline) -> dict:
    """What the run was asked to do, as stats.json and the card record it: the input by its folder's name only."""
    return {"input": PurePosixPath(input_dir.rstrip("/")).name,
            "runner": str(pipeline.options.view_as(StandardOptions).runner),
            "near_dup": asdict(options.near_dup), "reasoning": options.reasoning,
            "stage1_layout": options.stage1_layout, "stage1_max_chars": options.stage1_max_chars,
            "history_steps": ALL_HISTORY if options.history_steps is None else options.history_steps,
            "reasoning_options": {k: v for k, v in options.reasoning_options.items()
                                  if "key" not in k.lower() and k not in _UNRECORDED_OPTIONS}}


def domain_plugins(stats: dict) -> dict[str, str]:
    """`distribution version` of the plugin that described each of this run's domains (as this process reads the
    installed plugins), by domain: a plugin takes a new version when its text changes, so this says which text the
    rows' prompts came from."""
    return {domain: plugin_distributions()[domain] for domain in sorted(stats.get("domains") or {})
            if domain in plugin_domains()}


def undescribed_domains(stats: dict) -> str | None:
    """One line naming this run's domains that neither worldline ships nor an installed plugin describes, which got
    the generic prompt, with the installed entry points that matched none of its domains (a plugin whose entry
    point is named after its command, not its domain, is the usual cause); None when there are none."""
    domains = sorted(stats.get("domains") or {})
    generic = [domain for domain in domains if domain not in DOMAINS and domain not in plugin_domains()]
    if not generic:
        return None
    unmatched = [f"'{name}' of {plugin_distributions()[name]}" for name in plugin_domains() if name not in domains]
    installed = (f"installed entry points that match no domain of the input: {', '.join(unmatched)}" if unmatched
                 else "each installed plugin describes another of its domains" if plugin_domains()
                 else "no plugin is installed")
    named = ", ".join(f"'{domain}'" for domain in generic)
    return (f"Note: domain{'s' if len(generic) > 1 else ''} {named} got the generic system prompt and rubric "
            f"worldline/generic/v1, as no installed plugin describes {'them' if len(generic) > 1 else 'it'} "
            f"({installed}): a collector plugin describes its domain with a `worldline.domains` entry point named "
            "after the collector's domain, not its command (docs/adding-a-collector.md, item 5).")


def run_curation(input_dir: str, output_dir: str, options: CurateOptions = CurateOptions(),
                 beam_args: list[str] | None = None, overwrite: bool = False) -> dict | None:
    """Run to completion and return the stats written to OUTPUT/stats.json; None for a dry run (--dry_run=True),
    which only translates the job."""
    check_input(input_dir)
    check_output_apart(input_dir, output_dir)
    check_runner(beam_args or [])
    check_plugins()
    # Shared with other readers, for the whole run, since workers read the files listed until its end: a pack
    # deleting them meanwhile lost their rows (each dead-lettered as unreadable, the pack holding them never read).
    with collection_lock(input_dir, exclusive=False), output_lock(output_dir):
        return _run_curation(input_dir, output_dir, options, beam_args, overwrite)


def _run_curation(input_dir: str, output_dir: str, options: CurateOptions, beam_args: list[str] | None,
                  overwrite: bool) -> dict | None:
    staging = prepare_output(output_dir, overwrite)
    try:
        stats = _curate_into(input_dir, output_dir, staging, options, beam_args)
        if stats is None:
            return None
        note_interrupts(published_note(output_dir))
        publish(staging, output_dir)
        return stats
    finally:
        _remove_staging(staging, output_dir)


def published_note(output_dir: str) -> str:
    """What a signal gets from the publish on: the command finishes (exit 0) rather than stop."""
    return f"this run's output is published whole in {output_dir}; finishing"


def _remove_staging(staging: str, output_dir: str) -> None:
    # This run's unfinished output, or after the swap the earlier output; either way not the output folder.
    if staging != output_dir:
        shutil.rmtree(staging, ignore_errors=True)


def _curate_into(input_dir: str, output_dir: str, staging: str, options: CurateOptions,
                 beam_args: list[str] | None) -> dict | None:
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{uuid.uuid4().hex[:6]}"
    pipeline, options = _pipeline(input_dir, output_dir, options, beam_args or [], run_id, staging)
    # DataflowRunner --dry_run only translates the job: nothing is written, and there are no counts to read.
    dry_run = pipeline.options.view_as(TestOptions).dry_run
    try:
        result = run_interruptibly(pipeline)
    except BaseException:
        if not dry_run:
            remove_work_dir(output_dir, settle_s=1.0)
        raise
    if not dry_run:
        remove_work_dir(output_dir)
    if dry_run:
        return None
    stats = stats_from_counters(counters_from_result(result))
    settings = {**settings_of(input_dir, options, pipeline), "domain_plugins": domain_plugins(stats),
                "run_id": run_id}
    write_text(f"{staging.rstrip('/')}/stats.json",
               curate_stats.to_json({**stats, "settings": settings}))
    write_text(f"{staging.rstrip('/')}/README.md", dataset_card(stats, settings, run_id))
    return stats
