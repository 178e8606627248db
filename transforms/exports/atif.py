"""ATIF v1.4 (Harbor's Agent Trajectory Interchange Format): typed models, a validator, and one trajectory per
recorded episode.

The models follow Harbor's RFC 0001 at v1.4 and its pydantic models (`src/harbor/models/trajectories/`): every
object rejects unknown fields, `timestamp` is an ISO 8601 string, step ids run 1..n, model_name, reasoning_effort,
reasoning_content, tool_calls and metrics belong to agent steps only, and every `source_call_id` names a tool call
of its step.

An episode becomes: a user step with the task instruction, a system step whose observation is the environment's
first screen (an environment reset, as ATIF v1.2+ allows), then one agent step per transition with the action as tool
calls (_tool_calls) and the next observation as its result. A step curation removed as a duplicate is not in the curated
transitions, so the transition after it was taken in a state no step shows: a system step restates that state before
it, by the rule episode-layout stage 1 documents restate theirs (transforms/stages.py document_starts). When the
removed step is the first, that system step takes the reset's place, as the state is not the reset's.

An agent step's `timestamp` is when its action started (the curated `action_started_at`); the user and system steps
have none, as the curated transitions hold no time for the task, the reset or a restated state.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.version import WORLDLINE_VERSION
from transforms.stages import document_starts

SCHEMA_VERSION = "ATIF-v1.4"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCall(_Strict):
    tool_call_id: str
    function_name: str
    arguments: dict[str, Any]


class SubagentTrajectoryRef(_Strict):
    session_id: str
    trajectory_path: str | None = None
    extra: dict[str, Any] | None = None


class ObservationResult(_Strict):
    source_call_id: str | None = None
    content: str | None = None
    subagent_trajectory_ref: list[SubagentTrajectoryRef] | None = None


class Observation(_Strict):
    results: list[ObservationResult]


class Metrics(_Strict):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    prompt_token_ids: list[int] | None = None
    completion_token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    extra: dict[str, Any] | None = None


class Step(_Strict):
    step_id: int = Field(ge=1)
    timestamp: str | None = None
    source: Literal["system", "user", "agent"]
    model_name: str | None = None
    reasoning_effort: str | float | None = None
    message: str
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None
    observation: Observation | None = None
    metrics: Metrics | None = None
    extra: dict[str, Any] | None = None

    @field_validator("timestamp")
    @classmethod
    def _iso_8601(cls, value: str | None) -> str | None:
        # Harbor's own check: fromisoformat after mapping a trailing Z to +00:00.
        if value is not None:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value

    @model_validator(mode="after")
    def _agent_only_fields(self):
        if self.source != "agent":
            present = [name for name in ("model_name", "reasoning_effort", "reasoning_content", "tool_calls",
                                         "metrics") if getattr(self, name) is not None]
            if present:
                raise ValueError(f"step {self.step_id}: {', '.join(present)} only apply to agent steps")
        call_ids = {call.tool_call_id for call in self.tool_calls or []}
        if len(call_ids) != len(self.tool_calls or []):
            raise ValueError(f"step {self.step_id}: tool_call_id values repeat")
        for result in self.observation.results if self.observation else []:
            if result.source_call_id is not None and result.source_call_id not in call_ids:
                raise ValueError(f"step {self.step_id}: observation result names source_call_id "
                                 f"{result.source_call_id!r}, which no tool call of this step has")
        return self


class Agent(_Strict):
    name: str
    version: str
    model_name: str | None = None
    extra: dict[str, Any] | None = None


class FinalMetrics(_Strict):
    total_prompt_tokens: int | None = None
    total_completion_tokens: int | None = None
    total_cached_tokens: int | None = None
    total_cost_usd: float | None = None
    total_steps: int | None = Field(default=None, ge=0)
    extra: dict[str, Any] | None = None


class Trajectory(_Strict):
    schema_version: Literal["ATIF-v1.4"] = SCHEMA_VERSION
    session_id: str
    agent: Agent
    steps: list[Step] = Field(min_length=1)
    notes: str | None = None
    final_metrics: FinalMetrics | None = None
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _sequential_steps(self):
        ids = [step.step_id for step in self.steps]
        if ids != list(range(1, len(ids) + 1)):
            raise ValueError(f"step_id values must run 1..{len(ids)} in order, got {ids}")
        return self


class AtifError(ValueError):
    """A trajectory that is not valid ATIF v1.4; names the session and every wrong field."""


def validate_trajectory(data: dict) -> Trajectory:
    try:
        return Trajectory.model_validate(data)
    except ValidationError as exc:
        session = data.get("session_id", "<unknown>") if isinstance(data, dict) else "<unknown>"
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise AtifError(f"trajectory {session}: {problems}") from exc


# Harbor's terminus agents record a tmux keystroke batch, the terminal action's form, as one call per command
# under this name, each with the command's keystrokes and duration as arguments.
KEYSTROKES_FUNCTION = "bash_command"


def _tool_calls(row: dict) -> list[ToolCall]:
    """The action as tool calls, JSON actions by their parsed values: a keystroke batch (a JSON array of
    {"keystrokes", "duration"} objects) a call per command, as Harbor's terminus agents write it, ids
    `{transition id}#{n}` when there are several; an MCP `{"name", "arguments"}` call its name and arguments; another
    JSON object its fields. Anything else (click("12")) is passed as its text."""
    text = row.get("action_text") or ""
    name = row.get("action_kind") or row["domain"]
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if _is_keystroke_batch(parsed):
        ids = [row["id"]] if len(parsed) == 1 else [f"{row['id']}#{n}" for n in range(1, len(parsed) + 1)]
        return [ToolCall(tool_call_id=call_id, function_name=KEYSTROKES_FUNCTION, arguments=command)
                for call_id, command in zip(ids, parsed)]
    if isinstance(parsed, dict) and isinstance(parsed.get("name"), str) and isinstance(parsed.get("arguments"), dict):
        name, arguments = parsed["name"], parsed["arguments"]
    elif isinstance(parsed, dict):
        arguments = parsed
    else:
        arguments = {"action": text}
    return [ToolCall(tool_call_id=row["id"], function_name=name, arguments=arguments)]


def _is_keystroke_batch(parsed: Any) -> bool:
    return (isinstance(parsed, list) and bool(parsed)
            and all(isinstance(command, dict) and isinstance(command.get("keystrokes"), str) for command in parsed))


WORLD_MODEL_REASONING = "world_model_reasoning"


def episode_trajectory(rows: list[dict]) -> Trajectory:
    """rows: the curated transitions of one episode (any order). An optional `trace` key (the stage-2 reasoning
    about the next observation) goes to the agent step's `extra`, never to `reasoning_content`: ATIF defines that as
    the agent's own reasoning before acting, and the trace is a world model's account of what the action returned,
    quoting the observation, so an agent trained on it would learn to reason from results it has not seen yet."""
    if not rows:
        raise ValueError("an episode needs at least one transition")
    rows = sorted(rows, key=lambda row: row["step"])
    first = rows[0]
    steps = [Step(step_id=1, source="user", message=first.get("instruction") or "")]
    for position, (row, restated) in enumerate(zip(rows, document_starts(rows, max_chars=0))):
        if restated:
            steps.append(_state_step(len(steps) + 1, row, rows[position - 1]["step"] + 1 if position else 0))
        steps.append(_agent_step(len(steps) + 1, row))
    collector = first.get("collector") or first["domain"]
    trajectory = Trajectory(
        session_id=first["episode_id"],
        agent=Agent(name=f"worldline-{collector}", version=WORLDLINE_VERSION),
        steps=steps,
        notes="Recorded by worldline from a real environment; agent steps are the recorded actions, not model "
              "output, so they carry no token metrics and no reasoning_content. extra.world_model_reasoning, where "
              "present, is a world model's reasoning about the step's observation, not the agent's.",
        final_metrics=FinalMetrics(total_steps=len(steps)),
        extra={"domain": first["domain"], "task_id": first.get("task_id"), "stand_in": first.get("stand_in")},
    )
    # Built from models, but validated again as plain data so the written file is what the validator accepts.
    return validate_trajectory(trajectory_json(trajectory))


RESET = "environment reset"


def _state_step(step_id: int, row: dict, missing_from: int) -> Step:
    """The state row's action was taken in, as a system step: the reset at step 0, and otherwise the state after
    recorded steps missing_from..row's step - 1, which the curated data does not hold."""
    last = row["step"] - 1
    missing = f"step {last} is" if missing_from == last else f"steps {missing_from}-{last} are"
    message = RESET if row["step"] == 0 else \
        f"state before recorded step {row['step']}; recorded {missing} not in the curated data"
    return Step(step_id=step_id, source="system", message=message,
                observation=Observation(results=[ObservationResult(content=row.get("state_text") or "")]))


def _agent_step(step_id: int, row: dict) -> Step:
    calls = _tool_calls(row)
    extra = {"id": row["id"], "step": row["step"], "content_hash": row.get("content_hash"),
             "done": row.get("done"), "error": row.get("error"),
             "perturbations": list(row.get("perturbations") or []),
             "volatile_spans": [dict(span) for span in row.get("next_volatile_spans") or []]}
    if row.get("trace"):
        extra[WORLD_MODEL_REASONING] = row["trace"]
    # The observation follows the whole action: it is one call's result only when the action is one call.
    source = calls[0].tool_call_id if len(calls) == 1 else None
    result = ObservationResult(source_call_id=source, content=row.get("next_text") or "")
    return Step(step_id=step_id, source="agent", timestamp=_timestamp(row), message=row.get("action_text") or "",
                tool_calls=calls, observation=Observation(results=[result]), extra=extra)


def _timestamp(row: dict) -> str | None:
    """When the step's action started (action_started_at), in ISO 8601 UTC; None from a curate output written
    before the column. The reader may hand it over in its session's time zone (duckdb's is the machine's)."""
    started = row.get("action_started_at")
    if started is None:
        return None
    return started.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def trajectory_json(trajectory: Trajectory) -> dict:
    return trajectory.model_dump(mode="json", exclude_none=True)
