"""The os domain: a Linux desktop (Xvfb + openbox + GTK apps) in a Docker container, observed through its AT-SPI
accessibility tree and driven with pyautogui-style actions executed by xdotool.

Written only against the public collector API (collectors.api, collectors.command), the way an outside plugin
would be: see docs/adding-a-collector.md.

Task setup entries (run by reset, before the first observation):
    {write_file: {path: /home/user/notes.txt, content: "..."}}     a file owned by the desktop user
    {launch: {argv: [mousepad, notes.txt], app: mousepad}}          start an app, wait for its window
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import typer

from collectors.api import Collector, Policy, StepResult, Task
from collectors.command import (LimitOption, MaxStepsOption, OutOption, ReplaysOption, SeedsOption, WorkersOption,
                                console, plans_for, run_and_report)
from collectors.tasks import load_tasks
from schemas import Action, EnvInfo, Observation
from schemas.render import render
from schemas.render.os import is_kept, is_shown, parse_dump, tag_of, walk
from schemas.shipped_tasks import shipped_task_file

RAW_FORMAT = "atspi-json"
DEFAULT_TASKS = shipped_task_file("os.yaml")
SETTLE_MS = 100  # the least wait after an action; desktopd then waits on until the apps' events stop


class SetupError(ValueError):
    pass


def observation_from(reply: dict) -> Observation:
    """The dump bytes exactly as the in-container dumper serialized them, rendered by the shared renderer."""
    dump, raw = reply["dump"], reply["raw"]
    meta = {"focused_id": dump.get("focused_id"), "active_window": dump.get("active_window"),
            "nodes": dump.get("nodes"), "truncated": dump.get("truncated"), "dump_ms": dump.get("dump_ms"),
            "apps": [app.get("name") for app in dump.get("apps", [])]}
    if reply.get("action_ms") is not None:
        meta["action_ms"] = reply["action_ms"]
    return Observation(text=render(RAW_FORMAT, raw, meta), raw=raw, raw_format=RAW_FORMAT, meta=meta)


def find_element(dump: dict, *, element: int | None = None, name: str | None = None, role: str | None = None,
                 app: str | None = None) -> dict:
    """The node an element-targeted action names: by id, or the first visible node matching name/role/app."""
    for node, app_name in walk(dump):
        if element is not None:
            if node.get("id") == element:
                if not node.get("size") or node["size"][0] <= 0 or not is_shown(node):
                    raise LookupError(f"element {element} ({node.get('role')} {node.get('name')!r}) is not on screen")
                return node
            continue
        if not is_kept(node):
            continue
        # Icons and cells often carry their label as text with an empty name (pcmanfm's files): match either.
        if name is not None and (node.get("name") or node.get("text") or "") != name:
            continue
        if role is not None and tag_of(node.get("role", "")) != tag_of(role):
            continue
        if app is not None and app_name != app:
            continue
        return node
    wanted = f"element {element}" if element is not None else f"name={name!r} role={role!r} app={app!r}"
    raise LookupError(f"no {wanted} in the current accessibility tree")


def setup_step(entry: Any, where: str) -> tuple[str, dict]:
    """One task setup entry, checked: ('write_file', {path, content}) or ('launch', {argv, app, timeout_s})."""
    if not isinstance(entry, dict) or len(entry) != 1:
        raise SetupError(f"{where}: expected one of {{write_file: ...}} or {{launch: ...}}, got {entry!r}")
    (kind, spec), = entry.items()
    if kind == "write_file":
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not spec["path"].startswith("/"):
            raise SetupError(f"{where}: write_file needs an absolute path (and content), got {spec!r}")
    elif kind == "launch":
        if not isinstance(spec, dict) or not isinstance(spec.get("argv"), list) or not spec["argv"]:
            raise SetupError(f"{where}: launch needs argv, a list (and app, the AT-SPI application name)")
    else:
        raise SetupError(f"{where}: unknown setup step {kind!r}; known: write_file, launch")
    return kind, spec


def center(node: dict) -> tuple[float, float]:
    (x, y), (w, h) = node["position"], node["size"]
    return x + w / 2, y + h / 2


class DesktopCollector(Collector):
    name = "os-desktop"
    domain = "os"
    version = "1"

    def __init__(self, image: str | None = None, settle_ms: int = SETTLE_MS, name_prefix: str = "worldline-os"):
        from sandboxes.desktop.image import build_desktop_image
        self.image = image or build_desktop_image()
        self.settle_ms = settle_ms
        self.name_prefix = name_prefix
        self.session = None
        self._pool = None
        self._dump: dict | None = None
        self._oom_kills: int | None = None  # the desktop cgroup's OOM kills at the last observation

    def env_info(self) -> EnvInfo:
        from sandboxes.desktop.image import DESKTOP_PACKAGES
        details = {"desktop": "xvfb+openbox", "accessibility": "at-spi2", "packages": DESKTOP_PACKAGES}
        if self.session is None:
            return EnvInfo(kind="docker-image", id=self.image, details=details)
        sandbox = self.session.sandbox
        return EnvInfo(kind="docker-image", id=self.image, digest=sandbox.image_digest,
                       details={**details, "limits": sandbox.limits.record(), "proc_view": sandbox.proc_view})

    def task_group(self, task: Task) -> str:
        """The apps the setup launches, in order: tasks on one app (explore-TASK with them) start from the same
        window."""
        launches = [entry["launch"] for entry in task.setup
                    if isinstance(entry, dict) and isinstance(entry.get("launch"), dict)]
        apps = [str(spec.get("app") or Path(str(spec["argv"][0])).name) for spec in launches
                if isinstance(spec.get("argv"), list) and spec["argv"]]
        return "+".join(dict.fromkeys(apps)) or task.id

    def reset(self, task: Task) -> Observation:
        from sandboxes.desktop.session import DesktopSession, desktop_limits, desktop_sandbox_kwargs, start_desktop
        from sandboxes.docker_sandbox import SandboxPool
        self._end_episode()
        if self._pool is None:
            # One desktop always booting in the background: the next episode starts on a desktop that is up.
            limits = desktop_limits()
            self._pool = SandboxPool(self.image, limits, size=1, prepare=start_desktop,
                                     **desktop_sandbox_kwargs(limits, name_prefix=self.name_prefix))
        self.session = DesktopSession(sandbox=self._pool.acquire())
        self.session.start()
        for index, entry in enumerate(task.setup):
            self._setup(entry, f"task {task.id!r} setup #{index + 1}")
        self._oom_kills = self.session.sandbox.oom_kills()  # what the boot and setup met is not the first step's
        return self._observe(self.session.observe())

    def _setup(self, entry: Any, where: str) -> None:
        kind, spec = setup_step(entry, where)
        if kind == "write_file":
            self.session.write_file(spec["path"], str(spec.get("content", "")).encode())
            return
        argv = [str(a) for a in spec["argv"]]
        reply = self.session.launch(argv, spec.get("app") or Path(argv[0]).name, float(spec.get("timeout_s", 20)))
        if not reply.get("ok"):
            raise SetupError(f"{where}: {reply.get('error')}")

    def _observe(self, reply: dict) -> Observation:
        self._dump = reply["dump"]
        return observation_from(reply)

    def parse_action(self, spec: Any) -> Action:
        from sandboxes.desktop.actions import parse
        action = parse(spec)
        return Action(kind=action.kind, arguments={"args": action.args, **action.kwargs}, text=action.text())

    def step(self, action: Action) -> StepResult:
        result = self._step(action)
        self._oom_kills = result.count_oom_kills(self.session.sandbox.oom_kills(), self._oom_kills)
        return result

    def _step(self, action: Action) -> StepResult:
        from sandboxes.desktop.actions import DesktopAction, ActionError, xdotool_commands
        # Not `resolved`: an action replayed from a stored episode holds the one it was recorded with; resolve anew.
        arguments = {key: value for key, value in action.arguments.items() if key != "resolved"}
        desktop_action = DesktopAction(action.kind, list(arguments.pop("args", [])), arguments)
        point = None
        try:
            if desktop_action.targets_element:
                node = find_element(self._dump or {}, **desktop_action.kwargs)
                point = center(node)
                # Record where the element-targeted action landed: the id and point it resolved to.
                action.arguments["resolved"] = {"element": node["id"], "x": round(point[0]), "y": round(point[1])}
            commands = xdotool_commands(desktop_action, point)
        except (LookupError, ActionError) as exc:
            # The agent named something that is not there: the desktop is unchanged, which is itself the observation.
            reply = self.session.observe()
            return StepResult(observation=self._observe(reply), error=str(exc))
        started = time.perf_counter()
        reply = self.session.step(commands, settle_ms=self.settle_ms)
        latency = (time.perf_counter() - started) * 1000
        return StepResult(observation=self._observe(reply), error=reply.get("error"), wait_ms=reply["settle_ms"],
                          observe_latency_ms=latency)

    def _end_episode(self) -> None:
        if self.session is not None:
            self.session.disconnect()
            self._pool.release(self.session.sandbox)  # removed in the background; never reused
            self.session = None
        self._dump, self._oom_kills = None, None

    def close(self) -> None:
        self._end_episode()
        if self._pool is not None:
            self._pool.close()
            self._pool = None


# Roles an explorer acts on, and names it leaves alone so an episode does not end by closing its own app.
CLICKABLE_TAGS = {"push-button", "toggle-button", "check-box", "radio-button", "menu-item", "menu", "page-tab",
                  "check-menu-item", "radio-menu-item", "combo-box", "list-item", "table-cell", "icon", "link",
                  "spin-button"}
TEXT_TAGS = {"text", "entry", "password-text", "terminal"}
AVOIDED_NAMES = {"quit", "close", "exit", "close window", "close tab", "log out", "logout"}
WORDS = ["hello", "world", "42", "notes", "report", "7*6", "draft", "todo", "alpha", "beta"]


class ExplorePolicy(Policy):
    """Random exploration over the actionable elements of the current tree, reproducible from the seed.

    Mostly clicks on visible buttons, menus, tabs and list items; types a word into text fields; presses Escape
    now and then so open menus and dialogs do not trap the walk. Ends when nothing actionable is left.
    """

    name = "explore"

    def __init__(self, steps: int = 15):
        self.steps = steps

    def begin(self, task, collector, seed):
        self.rng = random.Random(f"{task.id}/{seed}")

    def act(self, observation, history):
        if len(history) >= self.steps:
            return None
        dump = parse_dump(observation.raw)
        candidates = []
        for node, _app in walk(dump):
            if not is_kept(node) or "enabled" not in node.get("states", []):
                continue
            tag = tag_of(node.get("role", ""))
            if (node.get("name") or "").strip().lower() in AVOIDED_NAMES:
                continue
            if tag in CLICKABLE_TAGS:
                candidates.append(("click", node))
            elif tag in TEXT_TAGS and "editable" in node.get("states", []):
                candidates.append(("type", node))
        if not candidates:
            return None
        roll = self.rng.random()
        if roll < 0.1:
            return Action(kind="press", arguments={"args": ["esc"]}, text='press("esc")')
        kind, node = self.rng.choice(candidates)
        if kind == "type" and "focused" in node.get("states", []):
            word = self.rng.choice(WORDS)
            return Action(kind="type", arguments={"args": [word]}, text=f"type({json.dumps(word)})")
        return Action(kind="click", arguments={"args": [], "element": node["id"]}, text=f"click(element={node['id']})")


def check_tasks(task_list: list[Task], scripted: bool) -> None:
    """Fail before any container starts on a setup step or scripted action that cannot work, naming the task."""
    from sandboxes.desktop.actions import ActionError, parse
    for task in task_list:
        try:
            for index, entry in enumerate(task.setup):
                setup_step(entry, f"task {task.id!r} setup #{index + 1}")
            for index, spec in enumerate(task.actions if scripted else []):
                try:
                    parse(spec)
                except ActionError as exc:
                    raise SetupError(f"task {task.id!r} action #{index + 1}: {exc}") from exc
        except SetupError as exc:
            raise typer.BadParameter(str(exc), param_hint="--tasks")


def collect_command(
    out: Path = OutOption,
    tasks: Path = typer.Option(None, "--tasks", help="Task file (YAML/JSONL); with --explore it defaults to the "
                                                     "shipped tasks/os.yaml."),
    explore: bool = typer.Option(False, "--explore", help="Explore the tasks' apps at random instead of playing "
                                                          "their scripted actions."),
    explore_steps: int = typer.Option(15, "--explore-steps", min=1, help="Actions per exploration episode."),
    workers: int = WorkersOption,
    limit: int = LimitOption,
    seeds: int = SeedsOption,
    max_steps: int = MaxStepsOption,
    replays: int = ReplaysOption,
    settle_ms: int = typer.Option(SETTLE_MS, "--settle-ms", min=0,
                                  help="Least wait in milliseconds after each action before the dump (then until "
                                       "accessibility events stop, at most 1.5 s)."),
    container_prefix: str = typer.Option("worldline-os", "--container-prefix",
                                         help="Name prefix of the containers this run starts."),
):
    """Collect raw episodes from a real Linux desktop (AT-SPI tree observations, xdotool actions)."""
    if tasks is None and not explore:
        raise typer.BadParameter("give --tasks FILE, or --explore (which defaults to the shipped tasks/os.yaml)")
    task_list = load_tasks(tasks or DEFAULT_TASKS, domain="os")  # a TaskFileError is shown by `worldline collect` as one line
    for task in task_list:
        task.domain = task.domain or "os"
    check_tasks(task_list, scripted=not explore)
    if explore:
        # Exploration ignores the task's goal: its episodes get their own ids and an instruction that says so,
        # so they can sit beside the scripted episodes of the same tasks in one collection.
        for task in task_list:
            task.id, task.instruction = f"explore-{task.id}", f"Explore the open apps freely ({task.instruction})"
        plans = plans_for(task_list, seeds, lambda: ExplorePolicy(explore_steps), max_steps, replays)
    else:
        plans = plans_for(task_list, seeds, max_steps=max_steps, replays=replays)
    from sandboxes.desktop.image import build_desktop_image, desktop_tag
    from sandboxes.container_registry import install_cleanup_handlers, remove_orphans
    from sandboxes.images import image_exists
    if not image_exists(desktop_tag()):
        console.print(f"building the desktop image {desktop_tag()} (the first time takes a few minutes)")
    image = build_desktop_image()
    # Desktops start in worker threads, where signal handlers cannot be set: set them here, on the main thread.
    install_cleanup_handlers()
    remove_orphans()  # containers a SIGKILLed earlier run could not remove
    report = run_and_report(lambda: DesktopCollector(image, settle_ms, container_prefix), plans, out, domain="os",
                            workers=workers, limit=limit)
    if report.planned and report.completed == 0 and report.skipped_complete == 0:
        raise typer.Exit(1)
