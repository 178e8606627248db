"""The public collector API. A new environment is one `Collector` subclass plus a typer command registered under
the `worldline.collectors` entry point group (see docs/adding-a-collector.md).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from schemas import Action, EnvInfo, Observation


@dataclass
class Task:
    """One thing to do in an environment. `actions` is the scripted action list, in the domain's own spec form."""

    id: str
    instruction: str
    domain: str = ""
    setup: list[Any] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)
    perturbations: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    max_steps: int | None = None
    # The task file's `group`: the environment group when the collector's task_group would name the wrong one.
    group: str | None = None


@dataclass
class StepResult:
    observation: Observation
    done: bool = False
    truncated: bool = False
    error: str | None = None
    # Perturbations in force for this step, as labels (e.g. "disk_full", "http_500:/cart").
    perturbations: list[str] = field(default_factory=list)
    wait_ms: float = 0.0
    observe_latency_ms: float = 0.0
    reference: Observation | None = None

    def count_oom_kills(self, kills: int | None, before: int | None) -> int | None:
        """Record the OOM kills of the sandbox's cgroup during this step (`kills` now, `before` at the last
        observation; None when unreadable), labelled `memory_cap` when any: a process killed at the memory cap exits
        137 like any SIGKILL, or just vanishes from a desktop's tree, and may print nothing. Returns `kills`, the
        next step's `before`."""
        if kills is not None and before is not None:
            self.observation.meta["oom_kills"] = kills - before
            if kills > before:
                self.perturbations.append("memory_cap")
        return kills


class TaskError(Exception):
    """Raised by a collector's reset or step (or a policy) for a problem with the task itself, not the environment:
    a bad task spec, a missing fixture, a setup step the task got wrong. The episode ends in a task error (its
    end_reason begins "task error: ", counted apart from environment errors in the collect summary); any other
    exception from reset or step is an environment error. Either way the outcome is 'error', and a rerun plays the
    episode again once the task is fixed."""


class Collector(abc.ABC):
    """Drives one live environment. Not thread-safe: the runner gives each worker its own collector."""

    name: str = ""
    domain: str = ""
    version: str = "0"
    # Set when the environment is a stand-in for the real thing (e.g. a replay device); stored in provenance.
    stand_in: str | None = None

    @abc.abstractmethod
    def env_info(self) -> EnvInfo:
        """What environment this is (image digest, browser version, server, device)."""

    def task_group(self, task: Task) -> str:
        """The environment instance `task` runs in (a site, an app, a server, a repository), recorded as the episode's
        task.group: tasks that share one see near-copies of one another's observations, so a held-out split must
        hold out whole groups. The default, the task id, suits tasks whose environments share nothing. Called before
        reset; it must not raise (a task it cannot read falls back to its id, and reset reports what is wrong). Not
        called for a task that sets its own `group`: the task's author knows where it goes (a desktop task that
        launches a terminal to open the calculator sees the calculator's windows), a derivation from setup cannot."""
        return task.id

    def recorded_env_matches(self, recorded: dict, current: dict) -> bool:
        """Whether an episode recorded in env row `recorded` ran in this environment (`current`), their kind and id
        equal but their digests not: a collector whose digest formula changed accepts what the earlier formula gave
        for the same environment, so that episodes recorded before the change keep getting replays. The default:
        another digest is another environment."""
        return False

    def recorded_id_matches(self, recorded: dict, current: dict) -> bool:
        """Whether an episode recorded in env row `recorded` ran in this environment (`current`), their kinds equal
        but their ids not: a collector that changed how it names an environment accepts the earlier name of the
        same one (android: the raw serial, now a keyed id). The default: another id is another environment."""
        return False

    @abc.abstractmethod
    def reset(self, task: Task) -> Observation:
        """Start a fresh environment for `task` and return the first observation."""

    @abc.abstractmethod
    def step(self, action: Action) -> StepResult:
        """Execute `action` and return what the environment shows next."""

    @abc.abstractmethod
    def parse_action(self, spec: Any) -> Action:
        """Turn one entry of a task's scripted action list into an Action (kind, arguments, text rendering)."""

    def close(self) -> None:
        """Release the environment. Called once; must not raise on an environment that is already gone."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Policy(abc.ABC):
    """Chooses the next action; returns None when the episode should end."""

    name: str = "policy"

    def begin(self, task: Task, collector: Collector, seed: int) -> None:
        """Called after reset, before the first act()."""

    @abc.abstractmethod
    def act(self, observation: Observation, history: list[tuple[Action, StepResult]]) -> Action | None: ...


class ScriptedPolicy(Policy):
    """Plays the task's action list in order."""

    name = "scripted"

    def begin(self, task: Task, collector: Collector, seed: int) -> None:
        self._actions = [collector.parse_action(spec) for spec in task.actions]

    def act(self, observation, history):
        return self._actions[len(history)] if len(history) < len(self._actions) else None
