"""Run episodes: reset, let a policy act, record every transition, store atomically, skip what is done."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collectors.api import Collector, Policy, ScriptedPolicy, StepResult, Task, TaskError
from collectors.host_id import machine_id
from collectors.out_folder import OutFolderError
from collectors.store import EpisodeStore
from schemas import Action, EnvInfo, Episode, Provenance, Timings, Transition, utcnow
from schemas.layout import episode_path, transitions_path
from schemas.processes import owner_tag

log = logging.getLogger(__name__)
DEFAULT_MAX_STEPS = 50
# How the end_reason of an episode ended by a mistake in the task begins (environment errors begin "error: "): the
# collector refused one of the task's actions (parse_action), the script named what the environment did not show
# (the policy raised), or the collector's reset or step raised collectors.api.TaskError (a bad task spec, a missing
# fixture). Still outcome 'error', so a rerun plays it again once the task is fixed.
TASK_ERROR = "task error: "


def episode_id_for(domain: str, task_id: str, seed: int) -> str:
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", task_id).strip("-")[:60] or "task"
    digest = hashlib.sha1(f"{domain}\0{task_id}\0{seed}".encode()).hexdigest()[:8]
    return f"{domain}-{slug}-s{seed}-{digest}"


# The episode record's provenance.extra keys holding digests of the task a scripted policy played. Ids name episodes
# by task id and seed only (resume and stored collections depend on them), so an edited task would otherwise leave
# the old recording in place as complete without a word. SCRIPT_KEY (script_digest: the actions only) is what
# records from before TASK_KEY hold, and they are compared that way, so that records written before the setup was
# hashed do not all look changed; TASK_KEY (task_digest) covers everything in the task that decides what the
# episode does. A record with neither predates both, and is counted and named in one warning, not checked.
SCRIPT_KEY = "script_sha1"
TASK_KEY = "task_sha1"
# The Task fields that decide what an episode does: not its id, group, domain or instruction (descriptive text).
TASK_DIGEST_FIELDS = ("setup", "actions", "perturbations", "options", "max_steps")


def _sha1_json(value) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()


def script_digest(task: Task) -> str:
    """The task's scripted actions, as the task file gives them (before parse_action: a collector's step may
    rewrite the action it records, such as MCP's expanded templates or Android's matched element)."""
    return _sha1_json(task.actions)


def task_digest(task: Task) -> str:
    """What in the task decides what its episode does (TASK_DIGEST_FIELDS), as the task file gives it."""
    return _sha1_json({name: getattr(task, name) for name in TASK_DIGEST_FIELDS})


@dataclass
class EpisodePlan:
    task: Task
    seed: int = 0
    policy_factory: Callable[[], Policy] = ScriptedPolicy
    max_steps: int = DEFAULT_MAX_STEPS
    # Times the recorded actions are played again in fresh environments, each step's next observation kept in
    # Transition.replay_observations: curation marks what differs as volatile (transforms.replay).
    replays: int = 0


@dataclass
class CollectionReport:
    # Episodes this run set out to collect: new, retried and damaged ones, after --limit (not every episode of the
    # task file); None until the episodes already stored are checked.
    planned: int | None = None
    skipped_complete: int = 0
    retried_errors: int = 0
    recollected_damaged: list[str] = field(default_factory=list)  # why each damaged stored episode is collected again
    completed: int = 0
    errored: int = 0  # of `completed`: the episodes that ended in an error, task errors included
    task_errors: int = 0  # of `errored`: those whose end_reason is a task error (TASK_ERROR)
    transitions: int = 0
    errors: list[str] = field(default_factory=list)
    # Complete stored episodes, kept as they are, whose task's scripted actions (or setup, options...) have changed
    # since they were recorded (collect warns once, naming their tasks).
    script_changed: list[str] = field(default_factory=list)
    # Complete stored episodes of scripted plans whose record predates the task digests: not checked (one warning).
    script_unchecked: list[str] = field(default_factory=list)
    # Complete episodes stored with fewer replays than asked for: how many got the missing ones, how many could not
    # (left as they were; why in replay_errors), and how many are in packs, whose files are not rewritten.
    replays_added: int = 0
    replays_failed: int = 0
    replays_packed: int = 0
    replay_errors: list[str] = field(default_factory=list)
    # Episodes collected in this run with a replay that stopped before the recorded steps ran out (it broke, or the
    # environment ended it sooner): their later steps have fewer replays to compare with (the log says which). Not
    # one that ended in an error: it gets no replay, and the next run plays it again.
    replays_short: int = 0
    # Episodes of scripted plans stopped at their step budget (the task's max_steps, else --max-steps) with scripted
    # actions still to play: a budget shorter than the script is most likely a mistake in the task or the command.
    cut_by_budget: list[str] = field(default_factory=list)


@dataclass
class StoredReplays:
    """A complete stored episode that is to get `missing` more replays."""
    plan: EpisodePlan
    episode_id: str
    missing: int


class PolicyFailed(Exception):
    """The policy raised (its cause) instead of giving an action: the episode ends in a task error."""


def _from_policy(call: Callable, *args):
    try:
        return call(*args)
    except Exception as exc:
        raise PolicyFailed() from exc


class ReplayFailed(Exception):
    """A replay of a stored episode that could not be kept: the episode is left as it was."""


def run_episode(collector: Collector, plan: EpisodePlan, stop: threading.Event | None = None,
                sent: list[Action] | None = None) -> tuple[Episode, list[Transition]]:
    """Play one episode on a live collector; an environment failure ends it with outcome 'error'. `sent` receives a
    copy of each action as it was before the collector took it (a collector may record in it what the action
    resolved to, as the os one does the element's point): what a replay sends again."""
    task, domain = plan.task, collector.domain
    episode_id = episode_id_for(domain, task.id, plan.seed)
    group = task.group or collector.task_group(task)
    provenance = Provenance(collector=collector.name, collector_version=collector.version, seed=plan.seed,
                            host=machine_id(), stand_in=collector.stand_in)
    policy = plan.policy_factory()
    transitions: list[Transition] = []
    history: list[tuple] = []
    started = utcnow()
    end_reason, outcome = "script_done", "unknown"
    env = None
    max_steps = task.max_steps or plan.max_steps
    try:
        state = collector.reset(task)
        env = collector.env_info()
        _from_policy(policy.begin, task, collector, plan.seed)
        while True:
            if stop is not None and stop.is_set():
                end_reason, outcome = "interrupted", "error"
                break
            if len(transitions) >= max_steps:
                end_reason = "budget"
                break
            action = _from_policy(policy.act, state, history)
            if action is None:
                break
            if sent is not None:
                sent.append(copy.deepcopy(action))
            action_start = utcnow()
            t0 = time.perf_counter()
            result: StepResult = collector.step(action)
            action_end = utcnow()
            latency = result.observe_latency_ms or (time.perf_counter() - t0) * 1000
            transitions.append(Transition(
                episode_id=episode_id, step=len(transitions), domain=domain, env=env, task_id=task.id,
                instruction=task.instruction, state=state, action=action, next_observation=result.observation,
                timings=Timings(action_start, action_end, latency, result.wait_ms), provenance=provenance,
                done=result.done, truncated=result.truncated, error=result.error,
                perturbations=sorted(set(result.perturbations)), reference_observation=result.reference,
                task_group=group,
            ))
            history.append((action, result))
            state = result.observation
            if result.done:
                end_reason, outcome = "done", "success" if not result.error else "failure"
                break
    except PolicyFailed as exc:  # the task is wrong: keep what was recorded and say why
        log.debug("episode %s failed: %s", episode_id, exc.__cause__)  # collect() warns once per distinct reason
        end_reason, outcome = _error_reason(TASK_ERROR, exc.__cause__), "error"
    except TaskError as exc:  # the collector found the task wrong
        log.debug("episode %s failed: %s", episode_id, exc)
        end_reason, outcome = _error_reason(TASK_ERROR, exc), "error"
    except Exception as exc:  # the environment broke: keep what was recorded and say why
        log.debug("episode %s failed: %s", episode_id, exc)
        end_reason, outcome = _error_reason("error: ", exc), "error"
    if env is None:
        env = _safe_env(collector)
    if isinstance(policy, ScriptedPolicy):  # the record only: the transitions' provenance stays as it was
        provenance = dataclasses.replace(provenance, extra={**provenance.extra, SCRIPT_KEY: script_digest(task),
                                                            TASK_KEY: task_digest(task)})
    episode = Episode(
        episode_id=episode_id, domain=domain, env=env, task_id=task.id, instruction=task.instruction,
        policy=getattr(policy, "name", type(policy).__name__), outcome=outcome, steps=len(transitions),
        end_reason=end_reason, started_at=started, ended_at=utcnow(), provenance=provenance,
        perturbations=sorted({p for t in transitions for p in t.perturbations} | set(task.perturbations)),
        task_group=group,
    )
    return episode, transitions


def _error_reason(prefix: str, exc: BaseException) -> str:
    return f"{prefix}{type(exc).__name__}: {exc}"[:500]


class RecordedActions(Policy):
    """Plays a recorded episode's actions again, whatever the environment shows."""

    name = "replay"

    def __init__(self, actions: list, not_before: list[float] | None = None):
        self.actions = actions
        self.not_before = not_before or []

    def act(self, observation, history):
        step = len(history)
        if step >= len(self.actions):
            return None
        if step < len(self.not_before):
            # A step's clock second must differ from the recorded step's (see REPLAY_GAP_S): a recording whose
            # reset ran slow under load and a replay whose reset ran fast met in the same second in CI.
            wait = self.not_before[step] - time.time()
            if wait > 0:
                time.sleep(wait)
        return self.actions[step]


# The least time between the start of a play of an episode and the start of its next replay. A value computed from
# the clock's second (a git commit id: its dates have one-second resolution) must not come out the same on a replay
# by starting in the same second, or curation would take it for a constant (transforms.replay); with the plays this
# far apart, each step of a replay usually runs a second or more after the recorded one; where its reset ran faster
# than the recording's, the step waits for the second after the recorded step ended (later_seconds).
REPLAY_GAP_S = 3.0


def later_seconds(transitions: list[Transition]) -> list[float]:
    """For each recorded step, the start of the first clock second after it ended: a replay's step sent then reads
    the clock in a later second than anything the recorded step printed."""
    return [math.floor(t.timings.action_end.timestamp()) + 1.0 for t in transitions]


def replay_once(collector: Collector, plan: EpisodePlan, actions: list[Action],
                stop: threading.Event | None = None,
                not_before: list[float] | None = None) -> tuple[Episode, list[Transition]]:
    """Send `actions` again from a fresh reset for the plan's task and seed, step i not before the wall-clock time
    not_before[i] (later_seconds). On copies: a collector may write into the action it steps (what it resolved to),
    and the next replay must send the same thing again."""
    actions = copy.deepcopy(actions)
    return run_episode(collector, EpisodePlan(plan.task, plan.seed, lambda: RecordedActions(actions, not_before),
                                              len(actions)), stop)


def next_play(after: float | None, stop: threading.Event | None = None) -> float:
    """Waits until REPLAY_GAP_S after the monotonic time `after` (when the play before started; None: no wait), cut
    short when the run is stopping (the replay then ends as interrupted at once); returns the next play's start."""
    if after is not None:
        wait = after + REPLAY_GAP_S - time.monotonic()
        if wait > 0:
            if stop is not None:
                stop.wait(wait)
            else:
                time.sleep(wait)
    return time.monotonic()


def add_replays(collector: Collector, plan: EpisodePlan, transitions: list[Transition], sent: list[Action],
                stop: threading.Event | None = None, started: float | None = None) -> bool:
    """Send the episode's actions (`sent`, as run_episode kept them) plan.replays more times from a fresh reset,
    appending each step's next observation to that transition's replay_observations (a replay that ends early, or
    breaks, leaves the later steps with fewer; the reason is logged). False if the run is stopping: the episode must
    then be collected again, replays and all. started: when the recorded play started (monotonic)."""
    for _ in range(plan.replays):
        started = next_play(started, stop)
        episode, replayed = replay_once(collector, plan, sent[:len(transitions)], stop, later_seconds(transitions))
        if episode.end_reason == "interrupted":
            return False
        if len(replayed) < len(transitions):
            log.warning("a replay of %s stopped after %d of %d steps: %s", transitions[0].episode_id, len(replayed),
                        len(transitions), episode.end_reason)
        for transition, again in zip(transitions, replayed):
            transition.replay_observations.append(again.next_observation)
    return True


def recorded_actions(table: pa.Table, episode_id: str) -> list[Action]:
    """A stored episode's actions in step order, sent again as stored. A stored action is what the collector's step()
    left in it, unlike the copy run_episode takes before the step for in-run replays: it may name what it resolved
    to (os: `resolved`, the element and point; android: the `element` index a selector matched). The os step()
    ignores `resolved` and resolves the element again; android taps the recorded index, the same element on a fresh
    start of the same task (where it is not, the replay differs there, which is what a replay is for)."""
    rows = table.select(["step", "action"]).to_pylist()
    steps = [row["step"] for row in rows]
    if steps != list(range(len(rows))):
        raise ReplayFailed(f"episode {episode_id}: its rows are not steps 0..{len(rows) - 1} in order ({steps[:10]})")
    actions = []
    for step, row in enumerate(rows):
        try:
            arguments = json.loads(row["action"]["arguments_json"] or "{}")
        except ValueError as exc:
            raise ReplayFailed(f"episode {episode_id} step {step}: action.arguments_json is not JSON: {exc}") from exc
        actions.append(Action(kind=row["action"]["kind"], arguments=arguments, text=row["action"]["text"]))
    return actions


def replay_stored(collector: Collector, store: EpisodeStore, job: StoredReplays,
                  stop: threading.Event | None = None) -> bool:
    """Play a stored episode's recorded actions job.missing more times, each from a fresh reset with its plan's task
    and seed, then rewrite its transitions with those replays appended to the ones it holds. Every replay must play
    every step in the environment the episode was recorded in, else ReplayFailed and nothing is written: a partial
    or foreign replay would make curation mark as volatile what merely went differently. False if the run is
    stopping (nothing written; the next run adds them)."""
    domain = collector.domain
    table = store.read_transitions(domain, job.episode_id)
    actions = recorded_actions(table, job.episode_id)
    recorded_env = table.column("env")[0].as_py()
    replays, started, group = [], None, None
    for number in range(1, job.missing + 1):
        started = next_play(started, stop)
        episode, replayed = replay_once(collector, job.plan, actions, stop)
        if episode.end_reason == "interrupted" or stop is not None and stop.is_set():
            return False  # it may have broken because the run is stopping
        if len(replayed) < len(actions):
            raise ReplayFailed(f"replay {number} stopped after {len(replayed)} of {len(actions)} steps: "
                               f"{episode.end_reason}")
        if not _same_environment(collector, recorded_env, episode.env.to_row()):
            raise ReplayFailed(_environment_changed(number, recorded_env, episode.env.to_row()))
        replays.append([transition.next_observation.to_row() for transition in replayed])
        group = episode.task_group
    # The replays ran the plan's task in the recorded environment, so the group they recorded is the one a fresh
    # collect of this episode records: an older file's rows (no task.group) get it, and so a true current version.
    store.add_replays(domain, job.episode_id, table, replays, {job.plan.task.id: group} if group else None)
    return True


def _identity(env: dict) -> tuple[str, str, str]:
    """What makes two environments the same one (details hold run facts such as the engine version)."""
    return env["kind"], env["id"], env["digest"]


def _same_environment(collector: Collector, recorded: dict, current: dict) -> bool:
    """Whether a replay ran in the environment an episode was recorded in (env rows). A collector whose digest
    formula changed accepts what the earlier formula gave for this same environment (Collector.recorded_env_matches),
    so that episodes recorded before the change keep getting replays."""
    if _identity(recorded) == _identity(current):
        return True
    if _identity(recorded)[:2] == _identity(current)[:2]:
        return bool(collector.recorded_env_matches(recorded, current))
    # Another id: a collector that changed how it names an environment (android's keyed device id, once the raw
    # serial) says whether the recorded one is this.
    return recorded["kind"] == current["kind"] and bool(collector.recorded_id_matches(recorded, current))


def _environment_changed(number: int, recorded: dict, current: dict) -> str:
    """Why a stored episode gets no replays, and what to do instead."""
    names = [name for name in ("kind", "id", "digest") if recorded[name] != current[name]]
    return (f"replay {number} ran in {current['kind']} {' '.join(f'{n} {current[n]!r}' for n in names)}, not in the "
            f"recorded {' '.join(f'{n} {recorded[n]!r}' for n in names)}: the environment changed since this episode "
            "was recorded (e.g. a worldline, browser or server upgrade), and its replays would compare what another "
            "environment returns. To get replays of its task, collect it again into a new --out.")


def _safe_env(collector: Collector) -> EnvInfo:
    try:
        return collector.env_info()
    except Exception as exc:
        return EnvInfo(kind="unknown", id=collector.name, details={"error": str(exc)})


def plan_collection(store: EpisodeStore, plans: list[EpisodePlan], domain: str, limit: int | None,
                    report: CollectionReport) -> tuple[list[EpisodePlan], list[StoredReplays]]:
    """What a run is to do, from the episodes `store` holds: the plans to play (new, errored and damaged episodes,
    the first `limit` of them) and the complete episodes to give missing replays. Fills `report` with what it
    decided (report.planned included) and warns once of stored episodes whose task changed or could not be checked.
    Raises OutFolderError, before anything runs, if an episode to record again is in a pack. Runs nothing."""
    todo: list[EpisodePlan] = []
    replays: list[StoredReplays] = []
    packed_again: list[tuple[EpisodePlan, str]] = []  # episodes to record again whose rows a pack holds
    for plan in plans:
        episode_id = episode_id_for(domain, plan.task.id, plan.seed)
        if not store.is_complete(domain, episode_id):
            if store.in_pack(domain, episode_id):
                packed_again.append((plan, episode_id))
            todo.append(plan)
        elif damage := store.damage(domain, episode_id):
            _damaged(store, plan, domain, episode_id, damage, todo, report)
        elif store.ended_in_error(domain, episode_id):
            if store.in_pack(domain, episode_id):
                packed_again.append((plan, episode_id))
            report.retried_errors += 1
            todo.append(plan)
        else:
            if job := _missing_replays(store, plan, domain, episode_id, report):
                replays.append(job)
            else:
                report.skipped_complete += 1
            check = _script_check(store, plan, domain, episode_id)
            if check == CHANGED:
                report.script_changed.append(episode_id)
            elif check == UNCHECKED:
                report.script_unchecked.append(episode_id)
    if report.script_changed:
        _warn_script_changed(store, domain, plans, report.script_changed)
    if report.script_unchecked:
        _warn_script_unchecked(domain, plans, report.script_unchecked)
    if packed_again:
        _refuse_packed(store, domain, packed_again)
    if limit is not None:
        todo = todo[:limit]  # new episodes only: --limit says how many to collect
    report.planned = len(todo)
    return todo, replays


def collect(make_collector: Callable[[], Collector], plans: list[EpisodePlan], out: str | Path, *,
            domain: str, workers: int = 1, limit: int | None = None, progress: bool = True,
            report: CollectionReport | None = None) -> CollectionReport:
    """Run every plan not already complete in `out`, `workers` environments at a time, and give complete episodes
    stored with fewer than plan.replays replays the missing ones (plan_collection). A `report` given is filled as
    the run goes, so a caller that an interrupt ends the run for still has what was planned and stored."""
    store = EpisodeStore(out)
    report = CollectionReport() if report is None else report
    episodes, replays = plan_collection(store, plans, domain, limit, report)
    todo: list[EpisodePlan | StoredReplays] = [*episodes, *replays]
    if not todo:
        return report

    # First Ctrl-C sets `stop`: each worker ends its running step, leaves that episode unstored (so the next run
    # collects it again) and starts nothing new. A second Ctrl-C sets `abandon`: the runner stops at once, removing
    # the live containers under the steps still running; nothing more is stored.
    stop = threading.Event()
    abandon = threading.Event()
    lock = threading.Lock()
    queue = list(reversed(todo))
    warned: set[str] = set()  # reasons already shown: a broken server or image fails every episode the same way
    failures: list[BaseException] = []

    def worker(bar: Callable[[], None]) -> None:
        collector = make_collector()
        try:
            while not stop.is_set():
                with lock:
                    if not queue:
                        return
                    plan = queue.pop()
                if isinstance(plan, StoredReplays):
                    if not _replay_stored_job(collector, store, plan, stop, lock, report):
                        return
                    bar()
                    continue
                sent = [] if plan.replays else None
                started = time.monotonic()
                episode, transitions = run_episode(collector, plan, stop, sent)
                if episode.end_reason == "interrupted" or abandon.is_set():
                    return  # leave it incomplete so the next run redoes it
                # An episode that ended in an error is not replayed: the next run plays it again, replays and all.
                replayed = bool(sent) and episode.outcome != "error"
                if replayed and not add_replays(collector, plan, transitions, sent, stop, started):
                    return
                if stop.is_set() and episode.outcome == "error":
                    return  # it may have broken because the run is stopping: redo it rather than store the error
                store.write(episode, transitions)
                with lock:
                    report.completed += 1
                    report.transitions += len(transitions)
                    report.replays_short += replayed and any(len(transition.replay_observations) < plan.replays
                                                             for transition in transitions)
                    if episode.end_reason == "budget" and _scripted(plan) and len(plan.task.actions) > len(transitions):
                        report.cut_by_budget.append(plan.task.id)
                    if episode.outcome == "error":
                        report.errored += 1
                        report.task_errors += episode.end_reason.startswith(TASK_ERROR)
                        report.errors.append(f"{episode.episode_id}: {episode.end_reason}")
                        # Its first line only: the whole reason (a server's stderr, say) is in the episode record.
                        reason = first_line_of(episode.end_reason)
                        if reason not in warned:
                            warned.add(reason)
                            log.warning("episode %s failed: %s", episode.episode_id, reason.removeprefix("error: "))
                bar()
        finally:
            collector.close()

    running: set[int] = set()  # workers not finished yet (Thread.is_alive is no use here: see _wait)

    def guarded(number: int, bar: Callable[[], None]) -> None:
        try:
            worker(bar)
        except BaseException as exc:
            with lock:
                failures.append(exc)
        finally:
            with lock:
                running.discard(number)

    def busy() -> int:
        with lock:
            return len(running)

    columns = (TextColumn(f"collect {domain}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress, transient=False) as bar_progress:
        bar_task = bar_progress.add_task("episodes", total=len(todo))
        advance = lambda: bar_progress.advance(bar_task)  # noqa: E731
        # Daemon threads, not a ThreadPoolExecutor: the interpreter joins an executor's threads at exit, so a worker
        # blocked in a 180 s test run would hold the process after a second Ctrl-C; a daemon thread does not.
        count = max(1, min(workers, len(todo)))
        running.update(range(count))
        for number in range(count):
            threading.Thread(target=guarded, args=(number, advance), name=f"collect-{domain}-{number}",
                             daemon=True).start()
        try:
            _wait(busy, until=lambda: bool(failures))
            if failures:
                raise failures[0]
        except BaseException as exc:
            stop.set()
            _finish(busy, abandon, interrupted=isinstance(exc, KeyboardInterrupt))
            raise
    return report


def _damaged(store: EpisodeStore, plan: EpisodePlan, domain: str, episode_id: str, damage: str,
             todo: list, report: CollectionReport) -> None:
    """A complete episode whose stored files are damaged is collected again (the new files replace both), except one
    whose transitions were moved into a pack: a new recording would put the episode in the collection twice."""
    if store.has_own_file(domain, episode_id):
        log.warning("collecting %s again: %s", episode_id, damage)
        report.recollected_damaged.append(damage)
        todo.append(plan)
    else:
        log.warning("%s; not collected again, as its transitions are in a pack", damage)
        report.skipped_complete += 1


def _refuse_packed(store: EpisodeStore, domain: str, packed: list[tuple[EpisodePlan, str]]) -> None:
    """Before any episode runs: an episode a pack in the collection holds is not recorded again (its record was
    deleted, or it ended in an error before it was packed). The new file would sit beside the pack's rows of the
    same episode, and curation would read two recordings of it; one episode cannot be taken out of a pack."""
    plan, episode_id = packed[0]
    pack = store.pack_holding(domain, episode_id)
    more = f" (and {_count(len(packed) - 1, 'other episode')} a pack holds)" if len(packed) > 1 else ""
    why = ("its episode record was deleted" if not store.is_complete(domain, episode_id) else
           "its record says it ended in an error, to be retried")
    raise OutFolderError(
        f"--out {store.root}: {pack} holds episode {episode_id} (task {plan.task.id!r}, seed {plan.seed}){more}, "
        f"and {why}: recording it again would put a second recording of it beside the pack's, which curation "
        "would mix. To record it again, collect its task into a new --out (or restore its episode record to keep "
        "the packed one).")


CHANGED, UNCHECKED = "changed", "unchecked"


def _scripted(plan: EpisodePlan) -> bool:
    """Whether plan's policy plays the task's actions: a ScriptedPolicy class (a factory function's policy is not
    known without making one)."""
    factory = plan.policy_factory
    return isinstance(factory, type) and issubclass(factory, ScriptedPolicy)


def _script_check(store: EpisodeStore, plan: EpisodePlan, domain: str, episode_id: str) -> str | None:
    """CHANGED if a complete stored episode was played from another task than plan's (TASK_KEY; a record holding
    only SCRIPT_KEY: other actions), UNCHECKED if its record holds neither digest, else None. Only for a plan whose
    policy is a ScriptedPolicy class (a factory function's policy is not known without making one). Reads the
    episode record only (~1 KB; the resume check has read it already, and the whole transitions file: ~30 us an
    episode against ~0.9 ms for the rest of the check, on 200 stored 20-step episodes; reading the stored actions
    to compare would cost ~0.5 ms)."""
    if not _scripted(plan):
        return None
    try:
        record = json.loads(episode_path(store.root, domain, episode_id).read_text(encoding="utf-8"))
        extra = json.loads(record["provenance"]["extra_json"] or "{}")
        stored_task, stored_script = extra.get(TASK_KEY), extra.get(SCRIPT_KEY)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # damage() already judged the record readable
    if stored_task is not None:
        return CHANGED if stored_task != task_digest(plan.task) else None
    if stored_script is not None:
        return CHANGED if stored_script != script_digest(plan.task) else None
    return UNCHECKED


def _warn_script_changed(store: EpisodeStore, domain: str, plans: list[EpisodePlan], changed: list[str]) -> None:
    """One warning for the run: which tasks' stored episodes no longer match their scripts, and how to record them
    again. Not recollected unasked: the stored recording is what the environment did, and may be all there is."""
    changed_ids = set(changed)
    tasks = list(dict.fromkeys(plan.task.id for plan in plans
                               if episode_id_for(domain, plan.task.id, plan.seed) in changed_ids))
    own = [episode_id for episode_id in changed if store.has_own_file(domain, episode_id)]
    how = ""
    if own:
        # The real paths, to copy; past a few, the rest by id (a long run of paths would bury the advice).
        paths = " ".join(f"{episode_path(store.root, domain, episode_id)} "
                         f"{transitions_path(store.root, domain, episode_id)}" for episode_id in own[:SHOWN_PATHS])
        rest = (f", and the two files of each of the {len(own) - SHOWN_PATHS} more ("
                f"{', '.join(own[SHOWN_PATHS:SHOWN_PATHS + 10])}{' ...' if len(own) > SHOWN_PATHS + 10 else ''})"
                if len(own) > SHOWN_PATHS else "")
        how = (f" To record {'it' if len(own) == 1 else 'them'} with the new actions, delete {paths}{rest}, and "
               "run the same command again; or collect into a new --out.")
    packed = len(changed) - len(own)
    if packed:
        which = (("It is" if packed == 1 else "They are") if not own else
                 f"{packed} of them {'is' if packed == 1 else 'are'}")
        how += (f" {which} in packs (`worldline pack`), from which one episode cannot be removed: collect "
                f"{'its task' if packed == 1 else 'those tasks'} into a new --out.")
    log.warning("Warning: %s of task%s %s kept as complete, though recorded from other actions (or setup, options, "
                "perturbations, max_steps) than the task file now lists: an episode is named by its domain, task id "
                "and seed, not by its contents.%s",
                _count(len(changed), "stored episode"), "" if len(tasks) == 1 else "s",
                ", ".join(tasks[:10]) + (f" and {len(tasks) - 10} more" if len(tasks) > 10 else ""), how)


def _warn_script_unchecked(domain: str, plans: list[EpisodePlan], unchecked: list[str]) -> None:
    """One line for the run: stored episodes recorded before worldline kept a digest of the task (records of
    schema 1.0/1.1, or 1.2 ones written before script_sha1) cannot be compared with the task file."""
    unchecked_ids = set(unchecked)
    tasks = list(dict.fromkeys(plan.task.id for plan in plans
                               if episode_id_for(domain, plan.task.id, plan.seed) in unchecked_ids))
    one = len(unchecked) == 1
    log.warning("Warning: %s of task%s %s kept as complete without a check against the task file: %s recorded before "
                "worldline kept a digest of the task, so an edit to the task since (its actions, setup, options) is "
                "not seen. To be sure %s the task file, collect into a new --out.",
                _count(len(unchecked), "stored episode"), "" if len(tasks) == 1 else "s",
                ", ".join(tasks[:10]) + (f" and {len(tasks) - 10} more" if len(tasks) > 10 else ""),
                "it was" if one else "they were", "it matches" if one else "they match")


# Episodes whose file paths the changed-actions warning spells out.
SHOWN_PATHS = 3


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _missing_replays(store: EpisodeStore, plan: EpisodePlan, domain: str, episode_id: str,
                     report: CollectionReport) -> StoredReplays | None:
    """The replays a complete stored episode lacks, if it holds fewer than the plan asks for."""
    if not plan.replays:
        return None
    if not store.has_own_file(domain, episode_id):
        report.replays_packed += 1
        return None
    try:
        held = store.stored_replays(domain, episode_id)
    except (OSError, pa.ArrowException) as exc:
        _replay_failed(report, episode_id, f"its transitions file cannot be read: {exc}")
        return None
    return StoredReplays(plan, episode_id, plan.replays - held) if held is not None and held < plan.replays else None


def _replay_stored_job(collector: Collector, store: EpisodeStore, job: StoredReplays, stop: threading.Event,
                       lock: threading.Lock, report: CollectionReport) -> bool:
    """replay_stored for a worker: False if the run is stopping; a failure is logged and counted, not raised."""
    try:
        if not replay_stored(collector, store, job, stop):
            return False
    except (ReplayFailed, OSError, pa.ArrowException) as exc:
        with lock:
            _replay_failed(report, job.episode_id, str(exc))
        return True
    with lock:
        report.replays_added += 1
    return True


def _replay_failed(report: CollectionReport, episode_id: str, reason: str) -> None:
    report.replays_failed += 1
    report.replay_errors.append(f"{episode_id}: {reason}")
    log.warning("no replays added to %s (left as it was): %s", episode_id, first_line_of(reason))


def first_line_of(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def _wait(busy: Callable[[], int], deadline: float | None = None, until: Callable[[], bool] | None = None) -> None:
    """Until no worker is busy (or the deadline, or `until()`), polling so the main thread still takes Ctrl-C.
    Not Thread.join: on Python 3.11 a Ctrl-C landing inside join(timeout) marks the still running thread as ended."""
    while busy():
        if deadline is not None and time.monotonic() >= deadline or until is not None and until():
            return
        time.sleep(0.05)


def _finish(busy: Callable[[], int], abandon: threading.Event, interrupted: bool) -> None:
    """After `stop`: wait for the running steps to end; a (further) Ctrl-C meanwhile abandons them at once."""
    try:
        running = busy()
        if running and interrupted:
            print(f"interrupted: waiting for {running} running step{'s' if running != 1 else ''} to end "
                  f"(Ctrl-C again to stop them now)", file=sys.stderr, flush=True)
        _wait(busy)
    except KeyboardInterrupt:
        abandon.set()
        running = busy()
        print(f"stopping now: {running} episode{'s' if running != 1 else ''} in flight not saved (a rerun collects "
              f"{'them' if running != 1 else 'it'} again)", file=sys.stderr, flush=True)
        _remove_live_sandboxes()
        _wait(busy, deadline=time.monotonic() + 5)  # let the workers close their collectors; never wait longer
        _remove_live_sandboxes(sweep=True)
        raise


def _remove_live_sandboxes(sweep: bool = False) -> None:
    """Remove the containers under the running steps (their execs then fail at once, and the abandoned episodes are
    not stored). With `sweep`, also any container this process owns that the registry no longer lists (one a worker
    was creating while the registry was emptied). Only when the container registry is in use (every Docker sandbox
    registers there): a module never imported started no container."""
    module = sys.modules.get("sandboxes.container_registry")
    if module is None:
        return
    try:
        module.cleanup_live()
        if sweep:
            from sandboxes.engine import engine_client

            client, owner = engine_client(), f"{socket.gethostname()}:{os.getpid()}"
            # The tag too: a collector in another pid namespace on a host of the same name may have this pid.
            mine = [c for c in module.list_containers(client) if c["labels"].get(module.OWNER_LABEL) == owner
                    and c["labels"].get(module.OWNER_TAG_LABEL) == owner_tag()]
            for container in mine:
                try:
                    client.api.remove_container(container["id"], force=True)
                except Exception as exc:  # gone meanwhile
                    log.debug("remove %s: %s", container["name"], exc)
    except Exception as exc:  # best effort: atexit and the next run's remove_orphans try again
        log.debug("could not remove live sandboxes: %s", exc)
