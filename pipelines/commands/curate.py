"""`worldline curate --input RAW --output SHARDS [BEAM OPTIONS...]`: run the curation pipeline.

Options this command does not know (e.g. --runner, --direct_num_workers, --project, --setup_file) are passed to
Beam unchanged, so the same command runs locally or on Dataflow (docs/dataflow.md).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import sys
import uuid
from typing import Literal

import typer

from pipelines.commands.errors import fail
from schemas.interrupts import interrupt_on_sigterm, interrupted_exit_code, signal_name
from transforms.reasoning import SYNTHESIZERS

PACK_HINT_FILES = 1000
LLM_PARAMETERS = ("llm_endpoint", "llm_model", "llm_budget", "llm_token_budget", "llm_max_tokens", "llm_concurrency",
                  "llm_cache", "llm_check")
ENDPOINT_HINT = "check --llm-endpoint, --llm-model, $OPENAI_API_KEY and the server's log"
# --reasoning's values: the synthesizers' registry, so that click refuses any other name before the run starts.
Reasoning = Literal[tuple(SYNTHESIZERS)]


def raw_file_counts(input_dir: str) -> tuple[int, int]:
    """(raw files, of which single-episode Parquet files) of a local collection; (-1, 0) for a remote one."""
    if "://" in input_dir:
        return -1, 0
    from schemas.packs import is_pack
    from schemas.layout import transition_files

    files = list(transition_files(input_dir))
    return len(files), sum(1 for path in files if path.suffix == ".parquet" and not is_pack(path))


def check_options(ctx: typer.Context) -> None:
    """Options curate does not declare go to Beam, which only logs those it does not know either and runs on: a
    typo (--near-dup-treshold) ran with the default."""
    import difflib

    from pipelines.curate import unknown_beam_options

    unknown, beam_options = unknown_beam_options(list(ctx.args))
    if not unknown:
        return
    name = unknown[0].split("=", 1)[0]
    if not name.startswith("-"):
        raise fail(f"unexpected argument {name!r}: every value goes after its option (see --help)", code=2)
    ours = [option for param in ctx.command.params for option in param.opts if option.startswith("--")]
    close = difflib.get_close_matches(name, ours + beam_options, n=1)
    raise fail(f"no such option {name}{f' (did you mean {close[0]}?)' if close else ''}: it is neither one of "
               "curate's (--help) nor a Beam pipeline option", code=2)


def one_input(inputs: list[str] | None) -> str | None:
    """The one raw collection of --input. Curation's read step, its lock and its resume checks take one folder, and
    a collection is only files: the other's episode files can be copied in."""
    given = list(dict.fromkeys(inputs or ()))
    if len(given) > 1:
        into, other = (shlex.quote(folder.rstrip("/")) for folder in (given[0], given[1]))
        others = "each other one's" if len(given) > 2 else "the other's"
        raise fail(f"--input given {len(given)} times ({', '.join(given)}): curate reads one raw collection. Curate "
                   f"each into an --output of its own, or first copy {others} episode files into one, as "
                   f"`cp -r {other}/transitions/. {into}/transitions/ && cp -r {other}/episodes/. {into}/episodes/` "
                   "(an episode both hold, by the same id, is then curated from one of its two recordings, whole: "
                   "docs/formats.md, Raw collection)", code=2)
    return given[0] if given else None


def history_steps_of(value: str) -> int | None:
    """--history-steps as CurateOptions takes it: a number of steps, or None for `all`."""
    text = value.strip().lower()
    if text == "all":
        return None
    try:
        steps = int(text)
    except ValueError:
        steps = -1
    if steps < 0:
        raise fail(f"--history-steps {value}: give the number of earlier steps a row shows (0 or more), or all",
                   code=2)
    return steps


def redactions_of(path: str | None):
    """The --redact file's patterns, read here where the run is launched (workers, on Dataflow too, get them with
    the pipeline's options); a file that cannot be used stops the run before any work."""
    if path is None:
        return None
    from transforms.redact import RedactionFileError, Redactions

    try:
        return Redactions.read(path)
    except RedactionFileError as exc:
        raise fail(str(exc), code=2) from None


def check_llm_options_apply(ctx: typer.Context, reasoning: str) -> None:
    """Refused rather than warned of: a budget given for a run that asks no LLM said nothing at all, and a user who
    passed an endpoint meant the run to use it."""
    # By the source's name: typer runs its own copy of click, whose ParameterSource is not click's.
    given = ["/".join(param.opts + param.secondary_opts) for param in ctx.command.params
             if param.name in LLM_PARAMETERS
             and getattr(ctx.get_parameter_source(param.name), "name", None) in ("COMMANDLINE", "ENVIRONMENT")]
    if given and reasoning != "llm":
        raise fail(f"{', '.join(given)} only apply with --reasoning llm, and this run uses --reasoning {reasoning}: "
                   "add --reasoning llm or leave them out", code=2)


def llm_options(endpoint: str | None, model: str | None, max_calls: int | None, max_tokens_budget: int | None,
                max_tokens: int, concurrency: int, cache: str | None, check: bool) -> dict:
    """The llm synthesizer's options, checked here so a bad one stops the run before any work."""
    from transforms.reasoning.llm import LLMCacheError, LLMEndpointError, LLMSynthesizer, default_cache

    if not model:
        raise typer.BadParameter("--reasoning llm needs --llm-model")
    if not cache:
        # Where the default goes is looked up here too, so a launcher with no home folder stops before any work
        # (the progress display reads the spend from it); the workers look it up again in their own environment.
        try:
            default_cache()
        except LLMCacheError as exc:
            raise fail(str(exc), code=2) from None
    for name, value in (("--llm-max-tokens", max_tokens), ("--llm-concurrency", concurrency)):
        if value < 1:
            raise typer.BadParameter(f"must be at least 1, not {value}", param_hint=name)
    # The run's id keys its spend in the cache file: every worker that shares the file shares the budget, and the
    # progress display reads the spend by it.
    options = {"model": model, "base_url": endpoint, "max_calls": max_calls, "max_tokens_budget": max_tokens_budget,
               "max_tokens": max_tokens, "batch_size": concurrency, "run_id": uuid.uuid4().hex,
               **({"cache_path": cache} if cache else {})}
    if check:
        try:
            warning = LLMSynthesizer(**options).check()
        except LLMEndpointError as exc:
            raise fail(f"{str(exc).rstrip('.')}. Check --llm-endpoint and $OPENAI_API_KEY, or pass --no-llm-check "
                       "if only the pipeline's workers can reach the endpoint.") from exc
        if warning:
            typer.echo(f"Warning: {warning}", err=True)
    return options


# A one-command Typer app rather than a bare function, so the command can accept options it does not declare.
curate = typer.Typer(add_completion=False)


@curate.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def curate_command(ctx: typer.Context,
           # A list, so that a second --input is seen: click keeps only the last value of a single option, and
           # `--input A --input B` curated B alone, exit 0.
           input_dir: list[str] = typer.Option(None, "--input", show_default=False, metavar="<str>",
                                               help="Raw collection folder (local path or gs://...); one.  "
                                                    "[required]"),
           output: str = typer.Option(None, "--output", "--out", show_default=False,
                                      help="Folder for stage1/ stage2/ stage3/ and the rest.  [required]"),
           overwrite: bool = typer.Option(False, help="Replace curation output already in --output."),
           near_dup_threshold: float = typer.Option(0.8, help="Estimated Jaccard at which two transitions are "
                                                              "near-duplicates (1.0 turns near-dup removal off "
                                                              "for all but identical shingle sets)."),
           near_dup_change_threshold: float = typer.Option(
               0.95, help="Jaccard at which two near-duplicate candidates make the same change (the word shingles "
                          "of the lines that appear and disappear between state and next observation); below it both "
                          "are kept. 0 compares whole transitions only."),
           minhash_perms: int = typer.Option(256, help="MinHash permutations (all used to verify a pair)."),
           lsh_bands: int = typer.Option(12, help="LSH bands: bucket keys per transition."),
           lsh_rows: int = typer.Option(4, help="MinHash values per LSH band."),
           shingle_words: int = typer.Option(5, help="Words per shingle."),
           dedupe_partitions: int = typer.Option(16, help="Least number of dedupe key partitions; a partition's "
                                                          "keys are held while it is resolved. A local input gets "
                                                          "one per 16 MB of raw files if that is more; for a big "
                                                          "gs:// input, set about that many."),
           max_observation_chars: int = typer.Option(
               100_000, min=0, help="Longest observation (state or next, as normalized text) a transition may have; "
                                    "a longer one is dead-lettered, not clipped. 0: no cap."),
           keep_stand_ins: bool = typer.Option(False, help="Curate transitions recorded from a stand-in for the "
                                                           "real environment (the Android replay device) too; by "
                                                           "default they are dead-lettered, out of training shards."),
           stage1_layout: Literal["window", "episode"] = typer.Option(
               "window", help="Stage 1 documents: window (one per transition, with the --history-steps steps "
                              "before it, so an episode's documents overlap) or episode (one per episode, each step "
                              "once; a new document after a step curation left out, or past --stage1-max-chars)."),
           stage1_max_chars: int = typer.Option(
               600_000, min=0, help="With --stage1-layout episode: most characters in a document; the next one "
                                    "restates the state it starts from (a single step longer than this is a "
                                    "document of its own). 0: no limit."),
           history_steps: str = typer.Option(
               "4", metavar="N|all",
               help="Earlier steps of its episode a stage 2/3 row and a window-layout stage 1 document show before "
                    "the step to predict: the last N; 0: none (the prompt opens with the state the action was taken "
                    "in); all: every one, for environments whose state is the whole transcript (a REPL's "
                    "definitions), a row's prompt then growing with its step (the card gives stage 2's lengths)."),
           reasoning: Reasoning = typer.Option("grounded", help="Reasoning synthesizer: grounded (offline, from "
                                                                "the diff) or llm (an OpenAI-compatible "
                                                                "endpoint)."),
           llm_endpoint: str = typer.Option(None, help="OpenAI-compatible base URL for --reasoning llm, e.g. "
                                                       "http://localhost:8000/v1 [default: $OPENAI_BASE_URL]. "
                                                       "The key is read from $OPENAI_API_KEY."),
           llm_model: str = typer.Option(None, help="Model name for --reasoning llm."),
           llm_budget: int = typer.Option(None, help="Most LLM calls this run may make, retries included (on "
                                                     "Dataflow: per worker process)."),
           llm_token_budget: int = typer.Option(None, help="Most tokens (prompt + reply, as the endpoint counts "
                                                           "them) this run may spend (on Dataflow: per worker "
                                                           "process)."),
           llm_max_tokens: int = typer.Option(256, help="Longest trace the model may write, in tokens."),
           llm_concurrency: int = typer.Option(8, help="Requests in flight at once, per worker."),
           llm_cache: str = typer.Option(None, help="sqlite file caching traces by prompt (default: "
                                                    "$WORLDLINE_CACHE_DIR/reasoning.sqlite or "
                                                    "~/.cache/worldline/reasoning.sqlite)."),
           llm_check: bool = typer.Option(True, help="Ask the endpoint for its models before the run; turn off "
                                                     "when only the workers (e.g. on Dataflow) can reach it."),
           redact: str = typer.Option(None, metavar="FILE",
                                      help="File of strings to replace with [REDACTED] in every text curation "
                                           "writes (one a line; `re:` starts a Python regex; blank lines and # "
                                           "comments are ignored). The raw collection is not changed; stats.json "
                                           "counts the matches and records the file's sha256, never its values."),
           ) -> None:
    """Validate, normalize, mask, dedupe and write training shards, then print the counts.

    Options not listed here go to Beam: --runner, --direct_num_workers, --direct_running_mode, --project,
    --region, --temp_location, --setup_file... (docs/curation.md, docs/dataflow.md).
    """
    from transforms.curate import CurateOptions
    from transforms.dedupe import NearDupOptions

    check_options(ctx)
    # Each worker process logs this at start; it concerns user types registered in a main session, which curation
    # has none of.
    logging.getLogger("apache_beam.runners.portability.local_job_service").addFilter(
        lambda record: "No semi_persistent_directory found" not in record.getMessage())
    input_dir = one_input(input_dir)
    for value, name in ((input_dir, "--input"), (output, "--output")):
        if not value:
            raise fail(f"missing option {name} (see --help)", code=2)
    history = history_steps_of(history_steps)
    redactions = redactions_of(redact)
    try:
        near_dup = NearDupOptions(threshold=near_dup_threshold, change_threshold=near_dup_change_threshold,
                                  num_perm=minhash_perms, bands=lsh_bands,
                                  rows=lsh_rows, ngram=shingle_words, partitions=dedupe_partitions)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    reasoning_options = {}
    check_llm_options_apply(ctx, reasoning)
    if reasoning == "llm":
        reasoning_options = llm_options(llm_endpoint, llm_model, llm_budget, llm_token_budget, llm_max_tokens,
                                        llm_concurrency, llm_cache, llm_check)
    options = CurateOptions(near_dup=near_dup, reasoning=reasoning, reasoning_options=reasoning_options,
                            max_observation_chars=max_observation_chars, keep_stand_ins=keep_stand_ins,
                            stage1_layout=stage1_layout, stage1_max_chars=stage1_max_chars,
                            history_steps=history, redactions=redactions)
    check_runnable(input_dir, output, overwrite, list(ctx.args))
    interrupt_on_sigterm()
    stats = _run_or_exit(input_dir, output, options, overwrite, list(ctx.args), spend_of(reasoning_options))
    if stats is None:
        typer.echo("Dry run: the job was translated and nothing was submitted, curated or written.", err=True)
        return
    report(stats, output)


def check_runnable(input_dir: str, output: str, overwrite: bool, beam_args: list[str]) -> None:
    """The checks run_curation makes, before any tip or warning about a run that will not happen: what was asked
    cannot run is a usage error (exit 2), as collect's file errors are."""
    from pipelines.curate import InputMissingError, RunnerError, check_input, check_plugins, check_runner
    from pipelines.output_folder import OutputExistsError, check_output_apart, existing_output
    from transforms.prompts import DomainPluginError

    try:
        check_input(input_dir)
        check_output_apart(input_dir, output)
        existing_output(output, overwrite)
        check_runner(beam_args)
        check_plugins()
    except (InputMissingError, OutputExistsError, RunnerError, DomainPluginError) as exc:
        raise fail(str(exc), code=2) from exc


def _run_or_exit(input_dir: str, output: str, options, overwrite: bool, beam_args: list[str],
                 spend: tuple[str, str] | None) -> dict | None:
    """run_curation's stats (None for a dry run), or the way the run stopped as a message and an exit code: 1 for
    a failure, the signal's code for an interrupt; an exception none of these covers is raised as it is."""
    from pipelines.curate import InputMissingError, run_curation
    from pipelines.local_runner import CurationInterrupted, WorkerLost
    from pipelines.output_folder import OutputExistsError, work_dir
    from pipelines.progress import CurationProgress
    from schemas.collection_lock import WaitInterrupted, collection_lock

    try:
        # The lock before the counts and the bars: a curate waiting for a pack showed its bars with the clock
        # running, and counted the files the pack was about to merge.
        with collection_lock(input_dir, exclusive=False):
            announce(input_dir, output)
            with CurationProgress(input_dir, work_dir(output), enabled=sys.stderr.isatty(), spend=spend):
                return run_curation(input_dir, output, options, beam_args=beam_args, overwrite=overwrite)
    except (InputMissingError, OutputExistsError) as exc:
        raise fail(str(exc)) from exc
    except WaitInterrupted as exc:
        typer.echo(f"{signal_name(exc.signum)} while waiting for {input_dir}: nothing was read or written.", err=True)
        raise typer.Exit(interrupted_exit_code(exc)) from None
    except (CurationInterrupted, KeyboardInterrupt) as exc:
        what = signal_name(getattr(exc, "signum", signal.SIGINT))
        _exit_stopped(f"{what}: the workers are stopped; {_nothing_published(output)}: run the same command again to "
                      "curate from the start.", interrupted_exit_code(exc))
    except WorkerLost as exc:
        _exit_stopped(f"Error: {exc}; the other workers are stopped; {_nothing_published(output)}: {exc.advice}.", 1)
    except Exception as exc:
        cache_failure = llm_failure(exc, "LLMCacheError")
        if cache_failure is not None:
            cache_failure = re.sub(r"\[Errno \d+\] ", "", cache_failure)
            # Before the disk's own line ("remount that disk read-write"), which does not say the file can go
            # elsewhere.
            raise fail(f"{cache_failure}; {_nothing_published(output)}.") from None
        endpoint_failure = llm_endpoint_failure(exc)
        if endpoint_failure is None:
            raise
        raise fail(f"the LLM endpoint failed: {endpoint_failure}. Nothing was published; {ENDPOINT_HINT}, then run "
                   "the same command again (the traces made so far are cached).") from None


def announce(input_dir: str, output: str) -> None:
    """What the run is about to read, and a warning or tip it calls for; once the collection's lock is held, so that
    the counts are those of the files it reads."""
    files, unpacked = raw_file_counts(input_dir)
    if not sys.stderr.isatty():  # no progress bars: say what is being done, for logs
        what = "the raw files" if files < 0 else f"{files} raw file{'' if files == 1 else 's'}"
        typer.echo(f"Curating {what} of {input_dir} into {output}...", err=True)
    if files == 0 and os.path.isdir(input_dir):
        typer.echo(f"Warning: {input_dir} holds no raw files under transitions/: the run will curate nothing.",
                   err=True)
    if unpacked >= PACK_HINT_FILES:
        typer.echo(f"Tip: {input_dir} holds {unpacked} single-episode files; `worldline pack {input_dir}` first makes "
                   "curation read a few big files instead (about twice as fast).", err=True)


def report(stats: dict, output: str) -> None:
    """The counts of a published run, with what to look at; exit 1 when they do not add up or every LLM call
    failed."""
    from rich.console import Console
    from rich.table import Table

    from pipelines.curate import undescribed_domains
    from schemas.version import SCHEMA_VERSION
    from transforms.card import grouped_by_task

    table = Table("domain", "in", "out", "dead-lettered", "exact dups", "near dups", title=f"curated -> {output}")
    for domain, d in [*stats["domains"].items(), ("all", stats)]:
        table.add_row(domain, *(str(d[k]) for k in ("in", "out", "dead_lettered", "deduped_exact", "deduped_near")))
    Console().print(table)
    undescribed = undescribed_domains(stats)
    if undescribed:
        typer.echo(undescribed, err=True)
    grouped = grouped_by_task(stats)
    if grouped:
        typer.echo(f"Note: {grouped[0]} rows of the input ({grouped[1]}) were recorded before raw schema "
                   f"{SCHEMA_VERSION} added task groups, so their task_group is their task id: a held-out split by "
                   "task_group may put one environment (a web site, an MCP or search server) in both splits. "
                   "Collect those tasks again into a new --out to record their groups, and curate that.", err=True)
    replayed = stats.get("replayed") or {}
    if replayed.get("rows"):
        typer.echo(f"{replayed['rows']} transitions were replayed (collect --replays): "
                   f"{replayed['differs_within_rule_spans'] + replayed['differs_beyond_rules']} showed other values, "
                   f"{replayed['differs_beyond_rules']} where no masking rule had found one (marked as span kind "
                   f"'replay'); {replayed['diverged']} went elsewhere (not marked); "
                   f"{replayed.get('constant_ids_unmasked', 0)} id spans (hex_id, uuid) and "
                   f"{replayed.get('constant_sizes_unmasked', 0)} size spans (byte_size) a rule took for volatile were "
                   "the same in every replay, so not masked.", err=True)
    if stats.get("records_without_rows"):
        typer.echo(f"Episodes with a record but no transitions: {stats['records_without_rows']} (collect into the "
                   f"input again to record them): worldline query {shlex.quote(output)} \"SELECT record_id, reason "
                   "FROM dead_letter WHERE stage = 'missing'\"", err=True)
    if stats.get("stage3_dead_lettered"):
        typer.echo(f"{stats['stage3_dead_lettered']} transitions have no stage 3 row, as their replays showed another "
                   f"outcome: worldline query {shlex.quote(output)} \"SELECT record_id, reason FROM dead_letter "
                   "WHERE stage = 'stage3'\"", err=True)
    if stats["dead_lettered"]:
        # The counts say how many records were rejected; the dead letters say which and why.
        stages = ", ".join(f"{stage}: {n}" for stage, n in stats["dead_lettered_by_stage"].items())
        typer.echo(f"{stats['dead_lettered']} records dead-lettered ({stages}), each with its source and reason: "
                   f"worldline query {shlex.quote(output)} \"SELECT record_id, stage, reason FROM dead_letter\"",
                   err=True)
    if stats["dead_lettered_by_stage"].get("stand_in"):
        typer.echo(f"{stats['dead_lettered_by_stage']['stand_in']} of them were recorded from a stand-in environment "
                   "(e.g. the Android replay device), not a real one: pass --keep-stand-ins to curate them anyway.",
                   err=True)
    report_llm(stats, output)
    if not stats["balanced"]:
        raise fail("counts do not add up: in != out + dead-lettered + deduped (see stats.json)")


def _exit_stopped(message: str, code: int) -> None:
    typer.echo(message, err=True)
    sys.stderr.flush()
    # Beam's gRPC threads would hold the interpreter open at exit; the output lock goes with the process.
    os._exit(code)


def _nothing_published(output: str) -> str:
    """What a stopped run left in `output`: the earlier output, whole, or none. Its own output is never part-way in:
    once the publish starts, Ctrl-C and SIGTERM no longer stop the run (pipelines.curate._run_curation)."""
    kept = f" ({output} holds the earlier output, whole)" if os.path.exists(os.path.join(output, "stats.json")) else ""
    return f"nothing was published{kept}"


def spend_of(reasoning_options: dict) -> tuple[str, str] | None:
    """(cache file, run id) an LLM run's spend is kept under, for the progress display."""
    if "run_id" not in reasoning_options:
        return None
    from transforms.reasoning.llm import default_cache

    return reasoning_options.get("cache_path") or default_cache(), reasoning_options["run_id"]


def llm_endpoint_failure(exc: BaseException) -> str | None:
    """The message of the LLMEndpointError that stopped a worker, or None."""
    return llm_failure(exc, "LLMEndpointError")


def llm_failure(exc: BaseException, name: str) -> str | None:
    """The message of the llm module's error `name` that stopped a worker, or None. Beam hands a worker's exception
    on inside its own (in a worker process's, as text), so it is found by name in the chain's messages."""
    marker = f"{name}: "
    while exc is not None:
        text = f"{type(exc).__name__}: {exc}"
        if marker in text:
            message = text.rsplit(marker, 1)[1].splitlines()[0]
            return message.split(" [while running", 1)[0].strip().rstrip(".")
        exc = exc.__cause__ or exc.__context__
    return None


def report_llm(stats: dict, output: str) -> None:
    """An LLM run's spend, and its stage-2 rows left out; exit 1 when the endpoint failed every call it got, as the
    other outputs are then written but stage 2 is empty."""
    llm, missing = stats.get("llm"), stats.get("stage2_dead_lettered", 0)
    if llm:
        typer.echo(f"LLM reasoning: {llm['calls']} calls (retries included), {llm['tokens']:,} tokens, "
                   f"{llm['cache_hits']} traces from the cache, {llm['failures']} failed.", err=True)
    if missing:
        query = f"worldline query {shlex.quote(output)} \"SELECT record_id, reason FROM dead_letter WHERE stage = " \
                "'reasoning'\""
        typer.echo(f"{missing} transitions have no stage-2 row (their trace failed); their transitions, stage 1 and "
                   f"stage 3 rows are written, and the reasons are in the dead letters: {query}", err=True)
    if llm and llm["calls"] and missing and missing == stats["out"]:
        raise fail(f"every LLM call failed, so stage2 is empty ({llm['calls']} calls; the other outputs are "
                   f"written){first_reasoning_failure(output)}; {ENDPOINT_HINT}, then run the same command with "
                   "--overwrite.")


def first_reasoning_failure(output: str) -> str:
    """`: the reason` of a local run's first stage-2 dead letter, as an example of why the calls failed."""
    if "://" in output:
        return ""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    letters = pq.read_table(os.path.join(output, "dead_letter"), columns=["stage", "reason"])
    reasons = letters.filter(pc.equal(letters["stage"], "reasoning"))["reason"]
    # "record ID: no reasoning trace: WHY": the record is one of many; the why is the news.
    return f": {reasons[0].as_py().split(': no reasoning trace: ', 1)[-1].rstrip('.')}" if len(reasons) else ""
