"""Typed records matching the Arrow schemas. Collectors build these; `to_row()` gives the Arrow-ready dict."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from schemas.version import SCHEMA_VERSION, WORLDLINE_VERSION


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Observation:
    text: str = ""
    raw: bytes = b""
    raw_format: str = "text"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict:
        return {"text": self.text, "raw": self.raw, "raw_format": self.raw_format, "meta_json": _json(self.meta)}


@dataclass
class Action:
    kind: str
    arguments: dict[str, Any] = field(default_factory=dict)
    # None (written as null) when the collector gives no rendering: curation then shows the arguments' JSON. "" is
    # a rendering, the empty action itself (a REPL's blank line that closes a block), kept as it is.
    text: str | None = None

    def to_row(self) -> dict:
        return {"kind": self.kind, "arguments_json": _json(self.arguments), "text": self.text}


@dataclass
class EnvInfo:
    kind: str
    id: str
    digest: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict:
        return {"kind": self.kind, "id": self.id, "digest": self.digest, "details_json": _json(self.details)}


@dataclass
class Provenance:
    collector: str
    collector_version: str
    seed: int = 0
    host: str = ""
    stand_in: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    worldline_version: str = WORLDLINE_VERSION

    def to_row(self) -> dict:
        return {
            "collector": self.collector,
            "collector_version": self.collector_version,
            "worldline_version": self.worldline_version,
            "seed": self.seed,
            "host": self.host,
            "stand_in": self.stand_in,
            "extra_json": _json(self.extra),
        }


@dataclass
class Timings:
    action_start: datetime
    action_end: datetime
    observe_latency_ms: float = 0.0
    wait_ms: float = 0.0

    def to_row(self) -> dict:
        return {
            "action_start": self.action_start,
            "action_end": self.action_end,
            "observe_latency_ms": self.observe_latency_ms,
            "wait_ms": self.wait_ms,
        }


@dataclass
class Transition:
    episode_id: str
    step: int
    domain: str
    env: EnvInfo
    task_id: str
    instruction: str
    state: Observation
    action: Action
    next_observation: Observation
    timings: Timings
    provenance: Provenance
    done: bool = False
    truncated: bool = False
    error: str | None = None
    perturbations: list[str] = field(default_factory=list)
    reference_observation: Observation | None = None
    # The next observations replays of the episode's actions returned at this step (collect --replays).
    replay_observations: list[Observation] = field(default_factory=list)
    # The environment instance the task ran in (collectors.api.Collector.task_group); None: the task id.
    task_group: str | None = None

    def to_row(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "episode_id": self.episode_id,
            "step": self.step,
            "domain": self.domain,
            "env": self.env.to_row(),
            "task": {"id": self.task_id, "instruction": self.instruction, "group": self.task_group},
            "state": self.state.to_row(),
            "action": self.action.to_row(),
            "next_observation": self.next_observation.to_row(),
            "timings": self.timings.to_row(),
            "done": self.done,
            "truncated": self.truncated,
            "error": self.error,
            "perturbations": list(self.perturbations),
            "reference_observation": self.reference_observation.to_row() if self.reference_observation else None,
            "provenance": self.provenance.to_row(),
            "replay_observations": [o.to_row() for o in self.replay_observations] or None,
        }


@dataclass
class Episode:
    episode_id: str
    domain: str
    env: EnvInfo
    task_id: str
    instruction: str
    policy: str
    outcome: str
    steps: int
    end_reason: str
    started_at: datetime
    ended_at: datetime
    provenance: Provenance
    perturbations: list[str] = field(default_factory=list)
    task_group: str | None = None

    def to_row(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "episode_id": self.episode_id,
            "domain": self.domain,
            "env": self.env.to_row(),
            "task": {"id": self.task_id, "instruction": self.instruction, "group": self.task_group},
            "policy": self.policy,
            "outcome": self.outcome,
            "steps": self.steps,
            "end_reason": self.end_reason,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "perturbations": list(self.perturbations),
            "provenance": self.provenance.to_row(),
        }
