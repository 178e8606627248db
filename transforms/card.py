"""The dataset card (README.md) written beside the shards: YAML `configs` so `datasets.load_dataset(DIR, "stage2")`
finds each stage's Parquet files, then what the folders hold and the run's counts."""

from __future__ import annotations

import json

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
    "dead_letter": "Records rejected by a step, with the step, the reason and the record as read.",
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
              "it, **ending with the user turn of the action to predict**; "
              "`target`: the answer to train on, `<think>{trace}</think>\\n<predicted_observation>{next observation}"
              "</predicted_observation>`, which `messages` does not contain; `reasoning_source`: `grounded` (a "
              "trace stating only facts of the record) or `llm`.",
    "stage3": "`prompt`: the same messages as stage 2; `reference`: the next observation; `exact_spans` and "
              "`format_spans`: lists of `start`, `end`, `kind` (see Rewards); `rubric_id`.",
    "transitions": "`task_id`, `instruction`, `action_kind`, `action_text`, `state_text` and `next_text` (the "
                   "normalized observations), `next_volatile_spans`, `next_meta_json` (exit status, cwd, focused "
                   "element, tool error flag...), "
                   "`content_hash`, `done`, `error`, `perturbations`, `collector`, `stand_in`, `action_started_at` "
                   "(when the action started, UTC), `task_group` (the environment the task ran in: see Splitting).",
    "dedupe": "`duplicate_of` (the id kept), `kind` (`exact` or `near`), `content_hash`.",
    "dead_letter": "`record_id`, `source`, `stage` (the step that rejected it), `reason`, `record_json`.",
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
    "search": "the PyPI and Debian package READMEs of the search corpus, those installed on the collecting machine "
              "(another machine's corpus, and so its search rows, differ; the hex digits between `@` and `+` in "
              "`env.digest` name the corpus a row saw)",
    "swe": "the source code, tests and documentation of the PyPI projects the SWE tasks run on",
    "mcp": "the documentation, tool descriptions and output of the MCP servers",
}

SFT_SNIPPET = """from datasets import load_dataset
ds = load_dataset("PATH/TO/THIS/FOLDER", "stage2")
sft = ds["train"].map(lambda row: {"prompt": row["messages"],
                                   "completion": [{"role": "assistant", "content": row["target"]}]},
                      remove_columns=["messages"])"""

SPLIT_SNIPPET = """import hashlib
from collections import defaultdict
from datasets import load_dataset

D = "PATH/TO/THIS/FOLDER"
transitions = load_dataset(D, "transitions")["train"]
groups = defaultdict(set)  # domain -> its environment groups
for domain, group in zip(transitions["domain"], transitions["task_group"]):
    groups[domain].add(group)
def fraction(domain, group):  # where the group's md5 falls in [0, 1): the same on every machine
    return int(hashlib.md5(f"{domain}/{group}".encode()).hexdigest(), 16) / 16**32
held = set()
for domain, names in groups.items():
    if len(names) > 1:  # each group decided on its own; the lowest one if none is in the tenth
        tenth = {group for group in names if fraction(domain, group) < 0.1}
        held |= {(domain, group) for group in tenth or {min(names, key=lambda g: fraction(domain, g))}}
test_ids = set(transitions.filter(lambda row: (row["domain"], row["task_group"]) in held)["id"])
sft_train = load_dataset(D, "stage2")["train"].filter(lambda row: row["id"] not in test_ids)
rl_test = load_dataset(D, "stage3")["train"].filter(lambda row: row["id"] in test_ids)"""

SPAN_KINDS = ("timestamp", "date", "duration", "byte_size", "pid", "port", "hex_id", "uuid", "temp_path", "usage",
              "replay")


def _replay_counts(stats: dict) -> str:
    replayed = stats.get("replayed") or {}
    if not replayed.get("rows"):
        return ""
    within, beyond = replayed.get("differs_within_rule_spans", 0), replayed.get("differs_beyond_rules", 0)
    return (f" Replayed (`collect --replays`): {replayed['rows']} transitions, of which {within + beyond} showed "
            f"other text, {beyond} of them where no masking rule had a span (spans of kind `replay`), and "
            f"{replayed.get('diverged', 0)} went elsewhere (not marked); "
            f"{replayed.get('constant_ids_unmasked', 0)} id spans (hex_id, uuid) and "
            f"{replayed.get('constant_sizes_unmasked', 0)} size spans (byte_size) a rule took for volatile were the "
            "same in every replay and are not masked." + _other_outcomes(stats))


def _other_outcomes(stats: dict) -> str:
    left_out = stats.get("stage3_dead_lettered", 0)
    return (f" {left_out} transitions have no stage 3 row: a replay went elsewhere or added or dropped whole lines "
            "(another outcome, not values that vary), and `dead_letter` holds each with stage `stage3` and the "
            "reason." if left_out else "")


def _missing_counts(stats: dict) -> str:
    missing = stats.get("records_without_rows", 0)
    return (f" Episodes of the input with a record but no transitions (their file deleted, or a pack cut short): "
            f"{missing}, not in `in`; `dead_letter` holds each with stage `missing`." if missing else "")


def _llm_counts(stats: dict) -> str:
    llm, missing = stats.get("llm"), stats.get("stage2_dead_lettered", 0)
    spend = (f" The LLM reasoning made {llm['calls']} calls (retries included) and spent {llm['tokens']} tokens; "
             f"{llm['cache_hits']} traces came from its cache." if llm else "")
    failed = (f" {missing} written transitions have no stage 2 row: their trace failed, and `dead_letter` holds "
              "each with stage `reasoning` and the reason." if missing else "")
    return spend + failed


# Characters (as stage2_lengths counts them: message contents and target) per token of the whole stage-2 row as a
# trainer feeds it (ChatML, its role and turn markers included), with DeepSeek-V3's tokenizer, which gave a few
# percent more tokens than cl100k's, so a limit read from it errs long. Measured once on a `make run` output (678
# rows; output audit 7), not per run: a run holds no tokenizer. There, each domain's longest row had at most 2% more
# tokens than this estimate, and a row longer than its domain's median at most 16%.
CHARS_PER_TOKEN = {"mcp": 4.2, "os": 2.3, "search": 3.8, "swe": 3.4, "terminal": 3.4, "web": 2.9}


def _figures(lengths: dict) -> str:
    return f"{lengths['median']:,} / {lengths['p95']:,} / {lengths['max']:,}"


def _tokens(domain: str, characters: int) -> int | None:
    # A plugin's domain has the figure its plugin gives (transforms.prompts.Domain), if any.
    ratio = CHARS_PER_TOKEN.get(domain) or getattr(plugin_domains().get(domain), "chars_per_token", None)
    return round(characters / ratio) if ratio else None


def _token_estimates(domains: dict) -> dict[str, str]:
    """Per domain, the p95 and longest prompt+target in tokens (CHARS_PER_TOKEN); over all, only the longest, the
    largest of the domains' (one ratio over all would misjudge it: the longest rows are of the domain with the most
    tokens per character)."""
    longest = {domain: _tokens(domain, figures["prompt_target_chars"]["max"]) for domain, figures in domains.items()}
    shown = {domain: f"~{_tokens(domain, figures['prompt_target_chars']['p95']):,} / ~{longest[domain]:,}"
             if longest[domain] is not None else "not measured" for domain, figures in domains.items()}
    return {**shown, "all": "not measured" if None in longest.values() else f"- / ~{max(longest.values()):,}"}


def _length_row(name: str, figures: dict, share_of_rows: float, share_of_target: float, tokens: str) -> str:
    return (f"| {name} | {figures['rows']:,} | {share_of_rows:.1%} | {_figures(figures['prompt_chars'])} | "
            f"{_figures(figures['target_chars'])} | {_figures(figures['prompt_target_chars'])} | {tokens} | "
            f"{share_of_target:.1%} |")


def _lengths(stats: dict) -> str:
    """The stage-2 lengths and each domain's share of the loss (stats.stage2_lengths), so a trainer can pick a
    context limit that keeps the targets, and see which domains the loss leans on."""
    lengths = stats.get("stage2_lengths")
    if not lengths:
        return ""
    tokens = _token_estimates(lengths["domains"])
    rows = "\n".join(_length_row(domain, figures, figures["share_of_rows"], figures["share_of_target_chars"],
                                  tokens[domain])
                     for domain, figures in lengths["domains"].items())
    ratios = ", ".join(f"{domain} {ratio}" for domain, ratio in CHARS_PER_TOKEN.items())
    return ("\n\nStage 2 lengths, in characters (code points): the prompt is every message's `content`, the target "
            "the `target` column, and prompt+target a row's both, the figure a context limit must hold (the longest "
            "prompt and the longest target are seldom one row's). Medians (of an even count, the mean of the two "
            "middle rows) and p95 are read from a log-scale histogram, within 2.5%; the maxima and shares are "
            "exact.\n\n"
            "| domain | stage-2 rows | share of rows | prompt median / p95 / max | target median / p95 / max | "
            "prompt+target median / p95 / max | prompt+target tokens, p95 / max (estimate) | "
            "share of target characters |\n|---|---|---|---|---|---|---|---|\n"
            f"{rows}\n{_length_row('all', lengths['all'], 1, 1, tokens['all'])}\n\n"
            "A row whose prompt plus target is longer than the training context limit loses its target, the part "
            "the loss is on, under right-truncation (the usual default; TRL's `SFTConfig.max_length` is 1,024 "
            "tokens), so set the limit above a domain's longest prompt+target in tokens, or drop the longer rows. "
            "The tokens are the characters over a fixed figure of characters a token for the domain, of the whole "
            f"row rendered as ChatML with DeepSeek-V3's tokenizer, measured on a `make run` output ({ratios}; "
            "cl100k's gives a few percent fewer tokens): a long row there had up to 16% more tokens than this "
            "estimate, so leave that much room, or count with your own tokenizer. A domain that run did not have "
            "is not measured; over all, the longest is the largest domain's. The domains' shares of the loss (of "
            "the target characters) differ from their shares of rows: weight the loss or sample rows per domain if "
            "each domain should count as much.")


def _prompts(stats: dict, settings: dict) -> str:
    """Which system prompt and rubric each domain of this run got: a plugin's domain that its plugin does not
    describe (docs/adding-a-collector.md, item 5) is told only its name, and a reader of the rows should know. The
    run's settings name the plugin (distribution and version) that described each; a run that predates them, the
    plugins installed now."""
    domains = sorted(stats.get("domains") or {})
    sources = settings.get("domain_plugins")
    described = [domain for domain in domains if domain not in DOMAINS
                 and domain in (plugin_domains() if sources is None else sources)]
    generic = [domain for domain in domains if domain not in DOMAINS and domain not in described]
    notes = []
    if sources is not None and described:
        named = ", ".join(f"{domain} (from {sources[domain]})" for domain in described)
        notes.append(f"{named}: the description its collector plugin gives (`worldline.domains`), the plugin's "
                     "distribution and version being recorded in stats.json `settings.domain_plugins`")
    elif described:
        notes.append(f"{', '.join(described)}: the description its collector plugin gives (`worldline.domains`)")
    if generic:
        notes.append(f"{', '.join(generic)}: the generic prompt, which names the domain but does not describe its "
                     "environment, and the rubric id `worldline/generic/v1` (no installed plugin describes "
                     "it)")
    return ("" if not notes else " System prompts of domains worldline does not ship: " + "; ".join(notes) + ".")


def _schema_line(stats: dict) -> str:
    """The raw schema this worldline writes and, where the run's input was not all of it, what the input was: older
    records lack what was added since (task groups, replays, some observation meta)."""
    versions = stats.get("input_schema_versions") or {}
    if set(versions) <= {SCHEMA_VERSION}:
        return f"raw schema {SCHEMA_VERSION}"
    read = ", ".join(f"{rows} of {version}" for version, rows in sorted(versions.items()))
    return f"raw schema {SCHEMA_VERSION}; this run's input rows by raw schema: {read}"


def grouped_by_task(stats: dict) -> tuple[int, str] | None:
    """How many curated rows took their task id as task_group because their record predates task groups, and per
    domain (`mcp 15, web 26`); None when none did."""
    counted = stats.get("task_group_from_task_id") or {}
    if not counted.get("rows"):
        return None
    return counted["rows"], ", ".join(f"{domain} {rows}" for domain, rows in counted.get("domains", {}).items())


def _grouped_by_task_paragraph(stats: dict) -> str:
    found = grouped_by_task(stats)
    if found is None:
        return ""
    rows, domains = found
    return (f"**Rows without an environment group.** {rows} rows of this run's input ({domains}) were recorded "
            f"before raw schema {SCHEMA_VERSION}, which added task groups, so their `task_group` is their task id: "
            "a split by `task_group` may put one environment (a web site, an MCP or search server) in both train "
            "and test. To record their groups, collect those tasks again into a new `--out` and curate that "
            "collection.\n\n")


def _third_party(stats: dict) -> str:
    domains = stats.get("domains") or {}
    shown = [text for domain, text in THIRD_PARTY.items() if not domains or domain in domains]
    listed = "; ".join(shown) if shown else "program output of the sandboxed environments"
    return ("No single license covers these rows. They hold third-party content, under its own licenses: "
            f"{listed}. Check those licenses before you redistribute the data.")


def _history_steps(settings: dict) -> int | str:
    """The run's window: a number of earlier steps, or ALL_HISTORY (a run before --history-steps showed 4)."""
    return settings.get("history_steps", HISTORY_STEPS)


def _window_sentence(history: int | str) -> str:
    """What the window of this run's stage 2/3 rows (and window-layout stage 1 documents) is, and the option."""
    option = f"`worldline curate --history-steps {history}`"
    if history == ALL_HISTORY:
        return (f"The window is every earlier step of the row's episode ({option}), so a row grows with its "
                "step: see the stage 2 lengths under Counts.")
    if history == 0:
        return (f"The window is empty in this run ({option}): the observation before it is the one the action was "
                "taken in.")
    steps = "the step" if history == 1 else f"the {history} steps"
    return f"The window is {steps} before the row's own ({option}; {HISTORY_STEPS} by default)."


def _stage1_section(layout: str, settings: dict) -> str:
    """What a pretraining user needs to know of the stage 1 documents of this layout."""
    if layout == "window":
        return ("## Overlap in stage 1\n\n" + _window_overlap(_history_steps(settings)) +
                " (`worldline curate --stage1-layout episode` writes a document per episode instead, without "
                "overlap.)\n\n")
    max_chars = settings["stage1_max_chars"]
    length = f", or at one that would take its document past {max_chars:,} characters" if max_chars else ""
    return ("## Stage 1 documents\n\n"
            "This run wrote stage 1 in the episode layout: a document holds a run of consecutive steps of one "
            "episode, as the observation its first step was taken in, then each action and the observation it led "
            "to. Every "
            "transition of this dataset is a step of exactly one document, so one pass over stage 1 reads each "
            "next observation once. A new document begins at a step whose previous step is not in the dataset "
            f"(removed as a duplicate, or dead-lettered){length}; it restates the observation that step was "
            "taken in, so every action follows the observation it was taken in. After a split for length, that "
            "observation is also the last of the document before.\n\n")


def _window_overlap(history: int | str) -> str:
    """How the window layout's documents of an episode overlap with this window, and which to keep for about one
    pass over the observations."""
    if history == ALL_HISTORY:
        return ("A stage 1 document is one transition with every step of its episode before it, so an episode's "
                "documents are its beginnings, each holding the one before: keep each episode's last row, whose "
                "document holds every step up to it (a step removed as a duplicate included). The observations of "
                "the steps after the last row written are in no document.")
    if history == 0:
        return ("A stage 1 document is one transition without the steps before it: the observation its action was "
                "taken in, the action and the observation it led to. An observation is in at most two documents, "
                "as the next observation of one and the opening observation of the next, so one pass over stage 1 "
                "reads each next observation once.")
    before = "the step" if history == 1 else f"the {history} steps"
    return (f"A stage 1 document is one transition with {before} before it, so the documents of an episode "
            f"overlap: an observation is in up to {history + 1} of them. For about one pass over the observations, "
            f"keep the rows whose `step % {history + 1} == {history}` and each episode's last row (consecutive kept "
            "documents then share one observation). A row removed as a duplicate is not there to keep, so the "
            "observations only its document held are missed: keep the next row of its episode too if you need "
            "them.")


def dataset_card(stats: dict, settings: dict, run_id: str = "") -> str:
    """The patterns name this run's shards (transforms.io.shard_prefix), so a re-curated folder never loads a
    previous run's rows from the `datasets` cache. Only tables with rows are configs (empty_configs); the prose
    names the empty ones."""
    pattern = f"{shard_prefix(run_id)}-*.parquet"
    empty = empty_configs(stats)
    layout = settings.get("stage1_layout", "window")
    window = _window_sentence(_history_steps(settings))
    columns = {**COLUMNS, "stage1": STAGE1_COLUMNS[layout] + (f" {window}" if layout == "window" else ""),
               "stage2": f"{COLUMNS['stage2']} {window}"}
    configs = [{"config_name": name, "data_files": [{"split": "train", "path": f"{name}/{pattern}"}],
                **({"default": True} if name == "stage1" else {})} for name in CONFIGS if name not in empty]
    header = {
        **({"configs": configs} if configs else {}),
        "tags": ["world-model", "agents", "worldline"],
    }
    folders = "\n".join(f"- `{name}/`: {text} {columns[name]}" + (
        " Empty in this run (no rows), so not a config: `datasets` cannot load a table without rows."
        if name in empty else "") for name, text in CONFIGS.items())
    domains = "\n".join(f"| {domain} | {d['in']} | {d['out']} | {d['dead_lettered']} | {d['deduped_exact']} | "
                        f"{d['deduped_near']} |" for domain, d in stats.get("domains", {}).items())
    kinds = ", ".join(f"`{kind}`" for kind in SPAN_KINDS)
    identifiers = ", ".join(f"`{kind}`" for kind in SPAN_KINDS if kind in IDENTIFIER_KINDS)
    return (f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n\n"
            "# worldline curated transitions\n\n"
            f"Written by worldline {WORLDLINE_VERSION} ({_schema_line(stats)}) from real environment "
            "transitions: what an agent saw, the action it took and the observation the environment returned.\n\n"
            "```python\nfrom datasets import load_dataset\n"
            "ds = load_dataset(\"PATH/TO/THIS/FOLDER\", \"stage2\")\n```\n\n"
            "## Folders and columns\n\n"
            "Each config has one `train` split. In the stage and transition tables `id` is `{episode_id}:{step}`, "
            "the transition the row was built from (a stage 1 document's first one), and `domain`, `episode_id` "
            "and `step` (0-based) say where it was recorded (`dedupe` has `id`, `domain` and `episode_id` "
            "too). Join tables by `id`, not by row position: the order of rows may differ between tables.\n\n"
            f"{folders}\n- `stats.json`: counts of this run.\n\n"
            "## Training on stage 2\n\n"
            "`messages` ends with the user turn; the answer is the separate `target` column. Train on the "
            "target only, as a prompt and its completion (TRL's conversational prompt-completion form, whose "
            "loss `SFTTrainer` puts on the completion by default):\n\n"
            f"```python\n{SFT_SNIPPET}\n```\n\n"
            "Appending the target to `messages` and training on every assistant turn instead would put most of "
            "the loss on the window's earlier observations (about two thirds of the assistant tokens of a "
            "`make run` output curated with the default window of 4 steps), which have no reasoning and each of which is repeated in the next rows of its "
            f"episode.{_prompts(stats, settings)}\n\n"
            f"{_stage1_section(layout, settings)}"
            "## Splitting\n\n"
            f"stage1, stage2 and stage3 are built from the same curated transitions: {STAGE1_ROWS[layout]}. "
            "Training on one stage and evaluating or running RL on another reuses the same "
            "transitions, so split first, the same way for every stage, and split by environment group "
            "(`task_group` in `transitions`), not by task or episode: tasks share environments (the web tasks "
            "of a site, the desktop tasks of an app, the MCP and search tasks of a server or search world, the "
            "SWE tasks of a repository), and a held-out task has near-copies, some verbatim, of its observations "
            "and targets in the other tasks of its group, as a held-out episode has in the other episodes of its "
            "task. A group is the task itself where tasks share nothing (terminal). For example, hold out each "
            "group whose md5 falls in the lowest tenth, about a tenth of each domain's groups, and where a domain "
            "of two or more has none there, the one with the lowest md5 (so a domain with few groups, such as "
            "web's four sites, gives a larger share; a domain with one group stays in training). Each group is "
            "decided by its own name, so adding episodes and groups to a domain of two or more groups never moves "
            "a group an earlier split trained on into the test set: only the fallback group moves, back to "
            "training, once a group in the tenth or with a lower md5 arrives (a domain's second group makes one "
            "of its two held out, which may be the first):\n\n"
            f"```python\n{SPLIT_SNIPPET}\n```\n\n"
            f"{_grouped_by_task_paragraph(stats)}"
            "## Rewards (stage 3)\n\n"
            "`exact_spans` and `format_spans` are sorted, do not overlap and together cover `reference`. `start` and "
            "`end` are Python `str` offsets (Unicode code points, not bytes or UTF-16 units): "
            "`reference[start:end]`. `rubric_id` `worldline/<domain>/v1` names the check a predicted observation "
            "(the text inside the completion's last complete `<predicted_observation>...</predicted_observation>`; "
            "an earlier block is not scored) is scored with: each exact span must be reproduced "
            "exactly, and each format span, a value that changes between runs, only in the format of its kind "
            f"({kinds}; a `replay` span, text that a replay of the same actions in a fresh environment showed "
            "differently, may hold any text). The prediction is taken as it is, not stripped: a reference's "
            "leading and trailing whitespace is exact text (most os references end with a tab, many swe ones with "
            "a newline), so a `.strip()`ped prediction scores 0 there. A `timestamp`, `date` or `duration` must "
            "also be in the reference value's form, as the tool prints it: digits and letters may change, but not "
            "the order of digit runs, letter runs and other characters, the other characters, a letter run's "
            "length and case (but a full weekday or month name may be any other) or a digit run's length (but for "
            "a 1-2 digit hour or day, `9:04` and `10:04`, and a duration's whole part, neither with a leading "
            "zero: `03:04` does not take `3:04`), so an ISO time where ls prints `Nov 27 03:04` scores 0, and so "
            "does a weekday that contradicts a full date in the same span (`Mon Nov 27 03:04:05 UTC 2026`); one "
            "in a span of its own (HTTP's `Fri, 27 Nov 2026`) does not. The other kinds take any value of the "
            "kind. A value of an identifier kind "
            f"({identifiers}) that the current action or the state it was taken in already shows is not a format "
            f"span but part of an exact span, since a model can copy it: at least {MIN_COPIED_CHARS} characters "
            "that stand whole there (no letter or digit right before or after), or a shorter one (a 1-2 digit "
            "pid) on a line that stands there whole, as a job's `[1] 44` still on screen; earlier turns of the "
            "prompt are not searched. The other kinds (measurements, read afresh each time, and `replay` text) "
            "stay format spans even when the state shows the same text. "
            "Rows are scored by worldline's `transforms/rewards.py`, where the masker (`transforms/masking/`) "
            "reads the whole predicted text and decides where a value of a kind is, from its context (a number is "
            "a pid after `pid` or in a PID column); its docs/formats.md defines the kinds and the rule "
            "(`trl_reward` is a reward function for TRL's GRPOTrainer and `compute_score` one for verl). They come "
            "with worldline, not with the data: install the worldline checkout in the training environment "
            "(`pip install -e /path/to/worldline`, or a wheel built there with `pip wheel --no-deps .`); the "
            "snippet imports only its `transforms` and `schemas` packages, which need pyarrow, pandas and numpy, "
            "not Beam or the collectors:\n\n"
            "```python\nfrom transforms.rewards import extract_prediction, score\n"
            "result = score(extract_prediction(completion, row[\"reference\"]), row[\"reference\"], "
            "row[\"exact_spans\"], row[\"format_spans\"], row[\"rubric_id\"])\n"
            "result.reward, result.reason  # 1.0 iff it matched; else 0.0 and the first span that failed\n```\n\n"
            f"## License\n\n{_third_party(stats)}\n\n"
            f"## Counts\n\nIn {stats.get('in', 0)}, out {stats.get('out', 0)}, dead-lettered "
            f"{stats.get('dead_lettered', 0)}, deduplicated {stats.get('deduped', 0)}.{_missing_counts(stats)}"
            f"{_llm_counts(stats)}"
            f"{_replay_counts(stats)}\n\n"
            "| domain | in | out | dead-lettered | exact dups | near dups |\n|---|---|---|---|---|---|\n"
            f"{domains}{_lengths(stats)}\n\n"
            f"## Settings\n\n```json\n{json.dumps(settings, indent=2, sort_keys=True)}\n```\n")
