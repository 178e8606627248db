"""Arrow schemas of the raw records collectors write: one row per transition, one per episode.

These are the single source of truth: the record dataclasses, the validator, the writers and the readers all
derive from them.
"""

import pyarrow as pa

# An observation is kept twice (DESIGN.md): `raw` holds the bytes as the environment returned them (a terminal's is
# tmux's screen, which is the environment there), `text` what the collector read as text. Normalized forms are derived later by transforms from `raw`.
OBSERVATION = pa.struct(
    [
        pa.field("text", pa.string()),
        pa.field("raw", pa.binary()),
        # How `raw` is parsed: tmux-ansi, uiautomator-xml, aria-yaml, cdp-axtree-json, mcp-json, atspi-json, text.
        pa.field("raw_format", pa.string()),
        # Small side facts as JSON: url, title, focused element, exit status, cwd, foreground app...
        pa.field("meta_json", pa.string()),
    ]
)

ACTION = pa.struct(
    [
        pa.field("kind", pa.string()),
        pa.field("arguments_json", pa.string()),
        # The action rendered the way the domain's observations and benchmarks write it, e.g. click("a12").
        pa.field("text", pa.string()),
    ]
)

ENV = pa.struct(
    [
        pa.field("kind", pa.string()),  # docker-image, chromium, mcp-server, adb-device, ...
        pa.field("id", pa.string()),  # image tag, browser version, server name, device serial
        pa.field("digest", pa.string()),  # content digest when one exists (image id, package version)
        pa.field("details_json", pa.string()),
    ]
)

# `group` names the environment instance the task ran in (a web site, a desktop app, an MCP server or search world,
# a repository): tasks of one group see near-copies of one another's observations, so a held-out split must hold out
# whole groups (collectors.api.Collector.task_group). Null in records written before 1.2: the group is the task id.
TASK_1_1 = pa.struct([pa.field("id", pa.string()), pa.field("instruction", pa.string())])
TASK = pa.struct([*TASK_1_1, pa.field("group", pa.string())])

TIMESTAMP = pa.timestamp("us", tz="UTC")

TIMINGS = pa.struct(
    [
        pa.field("action_start", TIMESTAMP),
        pa.field("action_end", TIMESTAMP),
        pa.field("observe_latency_ms", pa.float64()),
        # Time spent waiting for the environment to settle (prompt back, network idle, stable dump).
        pa.field("wait_ms", pa.float64()),
    ]
)

PROVENANCE = pa.struct(
    [
        pa.field("collector", pa.string()),
        pa.field("collector_version", pa.string()),
        pa.field("worldline_version", pa.string()),
        pa.field("seed", pa.int64()),
        pa.field("host", pa.string()),
        # Null for a real environment; otherwise says what stood in for it (e.g. a replay adb device).
        pa.field("stand_in", pa.string()),
        pa.field("extra_json", pa.string()),
    ]
)

TRANSITION_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.string(), nullable=False),
        pa.field("episode_id", pa.string(), nullable=False),
        pa.field("step", pa.int32(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("env", ENV),
        pa.field("task", TASK),
        pa.field("state", OBSERVATION),
        pa.field("action", ACTION),
        pa.field("next_observation", OBSERVATION),
        pa.field("timings", TIMINGS),
        pa.field("done", pa.bool_()),
        pa.field("truncated", pa.bool_()),
        pa.field("error", pa.string()),
        pa.field("perturbations", pa.list_(pa.string())),
        # The unperturbed observation for the same call, where a perturbation has one (e.g. the MCP proxy).
        pa.field("reference_observation", OBSERVATION),
        pa.field("provenance", PROVENANCE),
        # What the same action returned when the episode's actions were played again in fresh environments (collect
        # --replays N), one observation per replay that reached this step; null when the episode was not replayed.
        # Curation marks the spans of next_observation that differ as volatile (kind "replay"). Last, so a 1.0 file's
        # columns are a prefix of these (schemas.transition.with_current_columns).
        pa.field("replay_observations", pa.list_(OBSERVATION)),
    ],
    metadata={b"worldline.record": b"raw_transition"},
)
# Schema 1.1 had no task.group; 1.0 also ended before replay_observations.
TRANSITION_SCHEMA_1_1 = pa.schema([field.with_type(TASK_1_1) if field.name == "task" else field
                                   for field in TRANSITION_SCHEMA], metadata=TRANSITION_SCHEMA.metadata)
TRANSITION_SCHEMA_1_0 = pa.schema(list(TRANSITION_SCHEMA_1_1)[:-1], metadata=TRANSITION_SCHEMA.metadata)
ADDED_IN_1_1 = TRANSITION_SCHEMA.field("replay_observations")


def is_transition_schema(schema: pa.Schema) -> bool:
    """Whether a file's schema is the transition schema, current, 1.1 or 1.0 (field names, types; metadata aside)."""
    return any(schema.names == known.names and schema.types == known.types
               for known in (TRANSITION_SCHEMA, TRANSITION_SCHEMA_1_1, TRANSITION_SCHEMA_1_0))


def with_current_columns(table: pa.Table) -> pa.Table:
    """A transition table (all its columns, or some) read from a 1.0 or 1.1 file, with what was added since as nulls:
    replay_observations, and task.group. A current one unchanged."""
    if ADDED_IN_1_1.name not in table.column_names:
        table = table.append_column(ADDED_IN_1_1, pa.nulls(table.num_rows, ADDED_IN_1_1.type))
    if "task" in table.column_names and table.schema.field("task").type == TASK_1_1:
        index = table.schema.get_field_index("task")
        table = table.set_column(index, table.schema.field(index).with_type(TASK), table.column(index).cast(TASK))
    return table

EPISODE_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.string(), nullable=False),
        pa.field("episode_id", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("env", ENV),
        pa.field("task", TASK),
        pa.field("policy", pa.string()),  # scripted, explore, agent
        pa.field("outcome", pa.string()),  # success, failure, error, unknown
        pa.field("steps", pa.int32()),
        pa.field("end_reason", pa.string()),  # script_done, done, budget, error, timeout, interrupted
        pa.field("started_at", TIMESTAMP),
        pa.field("ended_at", TIMESTAMP),
        pa.field("perturbations", pa.list_(pa.string())),
        pa.field("provenance", PROVENANCE),
    ],
    metadata={b"worldline.record": b"episode"},
)
