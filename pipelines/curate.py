"""Assemble and run the curation pipeline: Curate's outputs into Parquet folders, then stats.json and the card.

Local runs use FnApiRunner unless --runner says otherwise; every Beam option passes through, so the same function
submits to Dataflow (docs/dataflow.md). The output folder's lock, staging and publish are pipelines.output_folder's;
running on the local runner so that a signal or a lost worker stops it is pipelines.local_runner's.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timezone
from dataclasses import asdict, replace
from pathlib import Path, PurePosixPath

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, TestOptions

from pipelines.local_runner import run_interruptibly
from pipelines.output_folder import (check_output_apart, output_lock, prepare_output, publish, remove_staging,
                                     remove_work_dir, work_dir)
from schemas.collection_lock import collection_lock
from schemas.interrupts import note_interrupts
from schemas.layout import TRANSITIONS_DIR, transition_files
from transforms import stats as curate_stats
from transforms.card import dataset_card
from transforms.curate import OUTPUT_SCHEMAS, Curate, CurateOptions
from transforms.io import commit_parts, write_text
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
# ~30k packed transitions (~10k as episode files): a partition's keys then take ~15 MB while it is resolved.
PARTITION_INPUT_BYTES = 16 * 1024 * 1024
MAX_PARTITIONS = 4096
WORKER_STDERR_PLUGIN = "pipelines.beam_worker_stderr"


class InputMissingError(FileNotFoundError):
    pass


class RunnerError(ValueError):
    """--runner names no Beam runner."""


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
                                  if "key" not in k.lower() and k not in _UNRECORDED_OPTIONS},
            # The --redact list by its size and hash alone: its values are what must not be published.
            **({"redact": {"patterns": len(options.redactions.patterns), "sha256": options.redactions.sha256}}
               if options.redactions is not None else {})}


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
        remove_staging(staging, output_dir)


def published_note(output_dir: str) -> str:
    """What a signal gets from the publish on: the command finishes (exit 0) rather than stop."""
    return f"this run's output is published whole in {output_dir}; finishing"


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
    if options.redactions is not None and curate_stats.REDACTED not in stats:
        stats[curate_stats.REDACTED] = curate_stats.redacted({})  # nothing matched: say so, with zeros
    settings = {**settings_of(input_dir, options, pipeline), "domain_plugins": domain_plugins(stats),
                "run_id": run_id}
    write_text(f"{staging.rstrip('/')}/stats.json",
               curate_stats.to_json({**stats, "settings": settings}))
    write_text(f"{staging.rstrip('/')}/README.md", dataset_card(stats, settings, run_id))
    return stats
