"""The dataset card (README.md) written beside the shards: YAML `configs` so `datasets.load_dataset(DIR, "stage2")`
finds each stage's Parquet files, then what the folders hold and the run's counts. The prose is the Jinja2 template
templates/dataset_card.md.j2; this module computes what it shows (counts, lists, which sections and which wording)."""

from __future__ import annotations

import functools
import json

import jinja2
import yaml

from schemas.version import SCHEMA_VERSION, WORLDLINE_VERSION
from transforms.io import shard_prefix
from transforms.copied_values import IDENTIFIER_KINDS, MIN_COPIED_CHARS
from transforms.stages import ALL_HISTORY, HISTORY_STEPS
from transforms.prompts import DOMAINS, plugin_domains

# config name -> folder of Parquet shards. The stages are the training sets; the others are for inspection.
CONFIGS = {
    "stage1": "Dynamics documents for continued pretraining: observations, the actions taken in them and the "
              "observations they led to.",
    "stage2": "Chat samples for SFT: a grounded reasoning trace, then the predicted observation.",
    "stage3": "RL prompts with the reference observation, exact and format-only spans, and a rubric id.",
    "transitions": "Curated transitions: normalized state and next observation, volatile spans, content hash.",
    "dedupe": "Transitions removed as exact or near duplicates, each with the id it duplicates.",
    "dead_letter": "Records rejected by a step, with the step, the reason and the record as read: in `record_json` "
                   "a whole raw record, its environment details (`env.details_json`: engine, limits, an MCP "
                   "server's command and arguments, a repository's source) and `provenance` included, or the "
                   "curated row. Drop `record_json`, or this folder, before publishing where those are private; "
                   "files are named by their place in the input folder, and the collecting machine by an id "
                   "(`provenance.host`; records collected before that id held its hostname).",
}


# config name -> the stats.json counts its table's rows add up to, a `-` before one taken away: a stage-2 row whose
# trace failed, or a stage-3 row whose replays showed another outcome, is dead-lettered while its transition is
# written.
ROW_COUNTS = {"stage1": ("out",), "stage2": ("out", "-stage2_dead_lettered"),
              "stage3": ("out", "-stage3_dead_lettered"), "transitions": ("out",), "dedupe": ("deduped",),
              "dead_letter": ("dead_lettered", "stage2_dead_lettered", "stage3_dead_lettered", "records_without_rows")}


def table_rows(name: str, stats: dict) -> int | None:
    """The rows of a config's table by the run's counts; None when the stats lack the first of them. A count
    stats.json had no key for before (stage2_dead_lettered) is 0 there."""
    first, *others = ROW_COUNTS[name]
    if stats.get(first) is None:
        return None
    return stats[first] + sum(-stats.get(key[1:], 0) if key.startswith("-") else stats.get(key, 0)
                              for key in others)


def empty_configs(stats: dict) -> list[str]:
    """The configs whose table has no rows in this run. `datasets` cannot load a table without rows (5.x: its
    Parquet reader asks for batches of the first row group's size, 0 in an empty table's shard, and a shard with no
    row group at all gives a split that "corresponds to no data"), so the card leaves them out of `configs`. A
    count the stats do not have is taken as rows present."""
    return [name for name in CONFIGS if table_rows(name, stats) == 0]


# What each config's own columns hold (`id`, `domain`, `episode_id` and `step` are described once, above them;
# stage 1's, which depend on its layout, in STAGE1_COLUMNS). tests/pipelines/test_card_contents.py checks that every
# column of every output schema is named on the card.
COLUMNS = {
    "stage2": "`messages` (`role`, `content`): the system prompt, then the window's steps as user turns (the action) "
              "and assistant turns (its observation), the first user turn also holding the task and the state before "
              "it (in a code fence of backticks, one more than the state's longest run of them and at least three, "
              "so a fence or header the state shows stays inside), **ending with the user turn of the action to "
              "predict**; each user turn opens with `### Turn N`, N its recorded step + 1 (the window keeps the steps "
              "whose own rows were removed as duplicates, so N - 1 may name no row); "
              "`target`: the answer to train on, `<think>{trace}</think>\\n<predicted_observation>{next observation}"
              "</predicted_observation>`, which `messages` does not contain; `reasoning_source`: `grounded` (a "
              "trace stating only facts of the record) or `llm`.",
    "stage3": "`prompt`: the same messages as stage 2; `reference`: the next observation; `exact_spans` and "
              "`format_spans`: lists of `start`, `end`, `kind` (see Rewards); `rubric_id`.",
    "transitions": "`task_id`, `instruction`, `action_kind`, `action_text`, `state_text` and `next_text` (the "
                   "normalized observations), `next_volatile_spans`, `next_meta_json` (exit status, cwd, focused "
                   "element, tool error flag...), "
                   "`content_hash`, `done`, `error`, `perturbations`, `collector`, `stand_in`, `action_started_at` "
                   "(when the action started, UTC), `task_group` (the environment the task ran in: see Splitting), "
                   "`state_meta_json` (the state's meta, as `next_meta_json` is the next observation's).",
    "dedupe": "`duplicate_of` (the id kept), `kind` (`exact` or `near`), `content_hash`.",
    "dead_letter": "`record_id`, `source` (the raw file, relative to the input folder), `stage` (the step that "
                   "rejected it), `reason`, `record_json`.",
}

# Stage 1's `text` and what its documents cover, by the run's layout (settings `stage1_layout`, from curate's
# --stage1-layout; a run before the option wrote `window`).
STAGE1_COLUMNS = {
    "window": "`text`: the task, the observation before the window, the window's steps as `Action:` / "
              "`Observation:` blocks, then the current action and its next observation.",
    "episode": "`text`: the task, the observation before the document's first step, then each of its steps as "
               "`Action:` / `Observation:` blocks; `id` and `step` are those of its first transition.",
}
STAGE1_ROWS = {
    "window": "one row each per transition, with the same `id`",
    "episode": "stage2 and stage3 one row each per transition, with the same `id`, and stage1 one per document of "
               "consecutive transitions of an episode, with the `id` of its first one (so a split by `id` as below "
               "keeps a document with its task)",
}

# Third-party content in the rows, by the domain that brings it (a run's card names those of its domains).
THIRD_PARTY = {
    "search": "the PyPI and Debian package READMEs of the search corpus: those of the Python distributions installed "
              "on the collecting machine from a package index (not those installed from a folder, editable, from a "
              "VCS or from an archive by URL) and of its Debian packages (another machine's corpus, and so its search "
              "rows, differ; the hex digits between `@` and `+` in `env.digest` name the corpus a row saw)",
    "swe": "the source code, tests and documentation of the PyPI projects the SWE tasks run on",
    "mcp": "the documentation, tool descriptions and output of the MCP servers",
}

SPLIT_SNIPPET = """import hashlib
from collections import defaultdict
from datasets import load_dataset

D = "PATH/TO/THIS/FOLDER"
groups = defaultdict(set)  # domain -> its environment groups: stage1 has every transition's, in two small columns
index = load_dataset(D, "stage1", columns=["domain", "task_group"])["train"]
for domain, group in zip(index["domain"], index["task_group"]):
    groups[domain].add(group)
def fraction(domain, group):  # where the group's md5 falls in [0, 1): the same on every machine
    return int(hashlib.md5(f"{domain}/{group}".encode()).hexdigest(), 16) / 16**32
held = set()
for domain, names in groups.items():
    if len(names) > 1:  # each group decided on its own; the lowest one if none is in the tenth
        tenth = {group for group in names if fraction(domain, group) < 0.1}
        held |= {(domain, group) for group in tenth or {min(names, key=lambda g: fraction(domain, g))}}
def held_out(row):
    return (row["domain"], row["task_group"]) in held
sft_train = load_dataset(D, "stage2")["train"].filter(lambda row: not held_out(row))
rl_test = load_dataset(D, "stage3")["train"].filter(held_out)"""

SPAN_KINDS = ("timestamp", "date", "duration", "byte_size", "pid", "port", "hex_id", "uuid", "temp_path", "usage",
              "replay")



# Characters (as stage2_lengths counts them: message contents and target) per token of the whole stage-2 row as a
# trainer feeds it (ChatML, its role and turn markers included), with DeepSeek-V3's tokenizer, which gave a few
# percent more tokens than cl100k's, so a limit read from it errs long. Measured once on a `make run` output (678
# rows; output audit 7), not per run: a run holds no tokenizer. There, each domain's longest row had at most 2% more
# tokens than this estimate, and a row longer than its domain's median at most 16%.
CHARS_PER_TOKEN = {"mcp": 4.2, "os": 2.3, "search": 3.8, "swe": 3.4, "terminal": 3.4, "web": 2.9}


def _replayed(stats: dict) -> dict | None:
    """The replay counts (`collect --replays`), None when no row was replayed."""
    replayed = stats.get("replayed") or {}
    if not replayed.get("rows"):
        return None
    within, beyond = replayed.get("differs_within_rule_spans", 0), replayed.get("differs_beyond_rules", 0)
    return {"rows": replayed["rows"], "differ": within + beyond, "beyond": beyond,
            "diverged": replayed.get("diverged", 0), "ids": replayed.get("constant_ids_unmasked", 0),
            "sizes": replayed.get("constant_sizes_unmasked", 0)}


def _figures(lengths: dict) -> str:
    return f"{lengths['median']:,} / {lengths['p95']:,} / {lengths['max']:,}"


def _tokens(domain: str, characters: int) -> int | None:
    # A plugin's domain has the figure its plugin gives (transforms.prompts.Domain), if any.
    ratio = CHARS_PER_TOKEN.get(domain) or getattr(plugin_domains().get(domain), "chars_per_token", None)
    return round(characters / ratio) if ratio else None


def _token_estimates(domains: dict, key: str) -> dict[str, str]:
    """Per domain, the p95 and longest `key` characters (stage 2's prompt+target, stage 1's text) in tokens
    (CHARS_PER_TOKEN); over all, only the longest, the largest of the domains' (one ratio over all would misjudge it:
    the longest rows are of the domain with the most tokens per character)."""
    longest = {domain: _tokens(domain, figures[key]["max"]) for domain, figures in domains.items()}
    shown = {domain: f"~{_tokens(domain, figures[key]['p95']):,} / ~{longest[domain]:,}"
             if longest[domain] is not None else "not measured" for domain, figures in domains.items()}
    return {**shown, "all": "not measured" if None in longest.values() else f"- / ~{max(longest.values()):,}"}


def _limit(domains: dict, key: str, room: float) -> dict | None:
    """The context limit the longest row needs: its estimate in tokens and that plus `room`, rounded up to a multiple
    of 256 (a limit is set in round figures); None when a domain has no estimate."""
    longest = [_tokens(domain, figures[key]["max"]) for domain, figures in domains.items()]
    if not longest or None in longest:
        return None
    return {"estimate": max(longest), "limit": -(-round(max(longest) * (1 + room)) // 256) * 256}


# Room to leave above the estimate. Stage 2: with DeepSeek-V3's tokenizer, a row longer than its domain's median had
# at most 16% more tokens than it (CHARS_PER_TOKEN). Stage 1: the figures are stage 2's, whose rows add a system prompt
# of English prose, and a document longer than its domain's median had up to 37% more tokens than the estimate with a
# BPE tokenizer trained on a `make run` output (terminal's short documents; swe 20%, os 13%), where that tokenizer's
# stage-2 rows had up to 7% more: a third.
STAGE2_ROOM, STAGE1_ROOM = 0.16, 1 / 3

# The Hub's size_categories buckets (the dataset card's metadata), each with the row count it stops below.
SIZE_CATEGORIES = ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
                   (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"), (10**10, "1B<n<10B"),
                   (10**11, "10B<n<100B"), (10**12, "100B<n<1T"))


def size_category(rows: int) -> str:
    return next((name for bound, name in SIZE_CATEGORIES if rows < bound), "n>1T")


def _plugin_prompts(stats: dict, settings: dict) -> dict:
    """Which of this run's domains got a system prompt and rubric worldline does not ship: a plugin's domain that its
    plugin does not describe (docs/adding-a-collector.md, item 5) is told only its name (`generic`), and a reader of
    the rows should know. The run's settings name the plugin (distribution and version) that described each
    (`sources`); a run that predates them, the plugins installed now (`sources` None)."""
    domains = sorted(stats.get("domains") or {})
    sources = settings.get("domain_plugins")
    described = [domain for domain in domains if domain not in DOMAINS
                 and domain in (plugin_domains() if sources is None else sources)]
    generic = [domain for domain in domains if domain not in DOMAINS and domain not in described]
    return {"described": described, "generic": generic, "sources": sources}


def _input_versions(stats: dict) -> list[tuple[str, int]]:
    """The run's input rows by raw schema, where not all were of the schema this worldline writes (older records lack
    what was added since: task groups, replays, some observation meta); empty when all were."""
    versions = stats.get("input_schema_versions") or {}
    return [] if set(versions) <= {SCHEMA_VERSION} else sorted(versions.items())


def grouped_by_task(stats: dict) -> tuple[int, str] | None:
    """How many curated rows took their task id as task_group because their record predates task groups, and per
    domain (`mcp 15, web 26`); None when none did."""
    counted = stats.get("task_group_from_task_id") or {}
    if not counted.get("rows"):
        return None
    return counted["rows"], ", ".join(f"{domain} {rows}" for domain, rows in counted.get("domains", {}).items())


def _controls(stats: dict) -> dict | None:
    """The rows whose next observation holds C0 controls other than tab and newline (stats.json
    targets_with_controls), with `domains` and `characters` as `mcp 3, web 1`; None when none did (or a run before
    the count)."""
    counted = stats.get("targets_with_controls") or {}
    if not counted.get("rows"):
        return None
    listed = {key: ", ".join(f"{name} {rows}" for name, rows in sorted(counted.get(key, {}).items(),
                                                                        key=lambda item: (-item[1], item[0])))
              for key in ("domains", "characters")}
    return {"rows": counted["rows"], **listed}


def _history_steps(settings: dict) -> int | str:
    """The run's window: a number of earlier steps, or ALL_HISTORY (a run before --history-steps showed 4)."""
    return settings.get("history_steps", HISTORY_STEPS)


def _window(history: int | str, layout: str) -> dict:
    """The window of this run's stage 2/3 rows (and window-layout stage 1 documents): `kind` all, none or steps, and
    for steps its wording and, in the window layout, how many documents an observation is in."""
    kind = "all" if history == ALL_HISTORY else "none" if history == 0 else "steps"
    window = {"history": history, "kind": kind, "default": HISTORY_STEPS}
    if kind == "steps":
        window["steps"] = "the step" if history == 1 else f"the {history} steps"
        if layout == "window":
            window["documents"] = history + 1
    return window


@functools.cache
def _template() -> jinja2.Template:
    # autoescape off: the card is Markdown, not HTML; escaping would turn its `<think>`, `<domain>`, quotes and
    # apostrophes into entities. keep_trailing_newline: the card ends with a newline. trim_blocks and lstrip_blocks: a tag on a line of its
    # own adds no line to the card. StrictUndefined: a misspelled name fails the card instead of leaving a blank.
    # PackageLoader reads the template from the installed package (package-data in pyproject), as on a worker.
    environment = jinja2.Environment(loader=jinja2.PackageLoader("transforms", "templates"), autoescape=False,
                                     keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                                     undefined=jinja2.StrictUndefined)
    environment.filters.update(thousands=lambda number: f"{number:,}", percent=lambda share: f"{share:.1%}",
                               percent0=lambda share: f"{share:.0%}",
                               figures=_figures, code=lambda text: f"`{text}`")
    return environment.get_template("dataset_card.md.j2")


def dataset_card(stats: dict, settings: dict, run_id: str = "") -> str:
    """The patterns name this run's shards (transforms.io.shard_prefix), so a re-curated folder never loads a
    previous run's rows from the `datasets` cache. Only tables with rows are configs (empty_configs); the prose
    names the empty ones."""
    pattern = f"{shard_prefix(run_id)}-*.parquet"
    empty = empty_configs(stats)
    layout = settings.get("stage1_layout", "window")
    columns = {**COLUMNS, "stage1": STAGE1_COLUMNS[layout]}
    configs = [{"config_name": name, "data_files": [{"split": "train", "path": f"{name}/{pattern}"}],
                **({"default": True} if name == "stage1" else {})} for name in CONFIGS if name not in empty]
    # Only what is true of every output: no `license` (the rows' content decides it, see the License section) and no
    # `language` (observations are in whatever language the environments showed). The size is that of the curated
    # transitions, which every stage's rows are built from.
    header = {
        "pretty_name": "worldline curated transitions",
        "task_categories": ["text-generation"],
        "size_categories": [size_category(stats.get("out") or 0)],
        **({"configs": configs} if configs else {}),
        "tags": ["world-model", "agents", "worldline"],
    }
    domains = stats.get("domains") or {}
    lengths, stage1 = stats.get("stage2_lengths"), stats.get("stage1_lengths")
    return _template().render(
        header=yaml.safe_dump(header, sort_keys=False), worldline_version=WORLDLINE_VERSION,
        schema_version=SCHEMA_VERSION, input_versions=_input_versions(stats),
        folders=[{"name": name, "text": text, "columns": columns[name], "empty": name in empty,
                  # The window's sentence follows the columns of the tables whose rows hold a window.
                  "window": name == "stage2" or (name == "stage1" and layout == "window")}
                 for name, text in CONFIGS.items()],
        window=_window(_history_steps(settings), layout), layout=layout,
        stage1_max_chars=settings["stage1_max_chars"] if layout == "episode" else None,
        stage1_rows=STAGE1_ROWS[layout], prompts=_plugin_prompts(stats, settings), split_snippet=SPLIT_SNIPPET,
        grouped=grouped_by_task(stats), span_kinds=SPAN_KINDS,
        identifier_kinds=[kind for kind in SPAN_KINDS if kind in IDENTIFIER_KINDS], min_copied_chars=MIN_COPIED_CHARS,
        third_party=[text for domain, text in THIRD_PARTY.items() if not domains or domain in domains],
        counts={key: stats.get(key, 0) for key in ("in", "out", "dead_lettered", "deduped")},
        missing=stats.get("records_without_rows", 0), llm=stats.get("llm"), redacted=stats.get("redacted"),
        no_stage2=stats.get("stage2_dead_lettered", 0), replayed=_replayed(stats),
        no_stage3=stats.get("stage3_dead_lettered", 0), domain_counts=stats.get("domains", {}).items(),
        lengths=lengths, tokens=_token_estimates(lengths["domains"], "prompt_target_chars") if lengths else None,
        limit=_limit(lengths["domains"], "prompt_target_chars", STAGE2_ROOM) if lengths else None,
        completion_limit=_limit(lengths["domains"], "target_chars", STAGE2_ROOM) if lengths else None,
        stage1=stage1, stage1_tokens=_token_estimates(stage1["domains"], "text_chars") if stage1 else None,
        stage1_limit=_limit(stage1["domains"], "text_chars", STAGE1_ROOM) if stage1 else None,
        stage2_room=STAGE2_ROOM, controls=_controls(stats),
        chars_per_token=CHARS_PER_TOKEN, settings_json=json.dumps(settings, indent=2, sort_keys=True))
