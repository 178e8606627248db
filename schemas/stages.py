"""Arrow schemas of the curated outputs: the curated transitions table and the three training stages."""

import pyarrow as pa

from schemas.transition import TIMESTAMP

SPAN = pa.struct([pa.field("start", pa.int32()), pa.field("end", pa.int32()), pa.field("kind", pa.string())])
MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])

# One row per surviving raw transition, with the derived columns curation computed.
CURATED_TRANSITION_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),  # "{episode_id}:{step}"
        pa.field("episode_id", pa.string(), nullable=False),
        pa.field("step", pa.int32(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("task_id", pa.string()),
        pa.field("instruction", pa.string()),
        pa.field("action_kind", pa.string()),
        pa.field("action_text", pa.string()),
        pa.field("state_text", pa.string()),  # normalized
        pa.field("next_text", pa.string()),  # normalized
        pa.field("next_volatile_spans", pa.list_(SPAN)),  # offsets into next_text
        pa.field("next_meta_json", pa.string()),  # side facts of the next observation: exit status, url, focus...
        pa.field("content_hash", pa.string()),  # xxh64 of masked state+action+next
        pa.field("done", pa.bool_()),
        pa.field("error", pa.string()),
        pa.field("perturbations", pa.list_(pa.string())),
        pa.field("collector", pa.string()),
        pa.field("stand_in", pa.string()),
        # The raw row's timings.action_start. Last, so an output written before it has a prefix of these columns;
        # never in content_hash or a stage text: a clock time must not tell duplicates apart or be a target.
        pa.field("action_started_at", TIMESTAMP),
        # The environment instance the task ran in (raw task.group; the task id for a raw record without one): split
        # a held-out set by it, as tasks of one group share near-copies. Last, for the same reason; in no hash or text.
        pa.field("task_group", pa.string()),
        # The state observation's meta_json, as next_meta_json is the next one's (an android trace tells a change of
        # the foreground app from the two). Last, for the same reason; in no hash or text.
        pa.field("state_meta_json", pa.string()),
    ]
)

# Each stage row carries its transition's task_group (a stage 1 episode document, its first transition's: a document
# holds one episode), so a trainer streaming a stage can split by it without reading `transitions`. Last, so that an
# output written before it has a prefix of these columns.
STAGE1_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("episode_id", pa.string()),
        pa.field("step", pa.int32()),
        pa.field("text", pa.string()),  # dynamics document: history window + action -> next observation
        pa.field("task_group", pa.string()),
    ]
)

STAGE2_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("episode_id", pa.string()),
        pa.field("step", pa.int32()),
        pa.field("messages", pa.list_(MESSAGE)),  # system, history turns, final user turn
        pa.field("target", pa.string()),  # <think>trace</think><predicted_observation>...</predicted_observation>
        pa.field("reasoning_source", pa.string()),  # grounded, llm
        pa.field("task_group", pa.string()),
    ]
)

STAGE3_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("episode_id", pa.string()),
        pa.field("step", pa.int32()),
        pa.field("prompt", pa.list_(MESSAGE)),
        pa.field("reference", pa.string()),
        pa.field("exact_spans", pa.list_(SPAN)),  # must match the reference to the character
        pa.field("format_spans", pa.list_(SPAN)),  # must only match in format (PIDs, timestamps, temp names)
        pa.field("rubric_id", pa.string()),
        pa.field("task_group", pa.string()),
    ]
)

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string()),  # episode_id:step where known, else source file + line
        pa.field("source", pa.string()),  # file the record came from
        pa.field("stage", pa.string()),  # which step rejected it: read, validate, normalize, reasoning...
        pa.field("reason", pa.string()),
        pa.field("record_json", pa.string()),  # the record as read, so nothing is lost
    ]
)
