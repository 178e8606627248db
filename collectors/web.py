"""The web collector: real Chromium on real web applications (sandboxes/sites) or any URL list.

Actions are BrowserGym's high-level actions in their text syntax; observations are the page's accessibility
tree (schemas/render/web.py) with the raw CDP tree and aria snapshot kept in `raw`. Policies: scripted task files
(tasks/web.yaml, where an element may be named as `role 'name'` and is resolved to its bid at play time) and a
novelty-seeking explorer.

Task options: `site` (a name from sandboxes.sites, served with a fresh database per episode) or `url`; `start`
(a path under the site); `allow` (extra origins the page may reach; everything else is blocked).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import hashlib
import os
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer
import xxhash

from collectors.api import Action, Collector, Observation, Policy, ScriptedPolicy, StepResult, Task, TaskError
from collectors.command import (LimitOption, MaxStepsOption, OutOption, ReplaysOption, SeedsOption, WorkersOption,
                                plans_for, run_and_report)
from collectors.tasks import TaskFileError, load_tasks
from schemas import EnvInfo
from schemas.render import render

RAW_FORMAT = "web-json"
SITES_DIR = Path(__file__).resolve().parent.parent / "sandboxes" / "sites"
# Header lines that say where focus is or what failed; they are not part of what identifies a page state.
VOLATILE_HEADER = ("Focused:", "Error:")


class WebTaskError(TaskError, ValueError):
    pass


OPTIONS = ("site", "url", "start", "allow")
NAVIGATION_TIMEOUT_MS = 15_000  # what the sessions give a page load (goto, a reopen)
# The most `slow` perturbations may hold one step's requests, in all (sandboxes/web_perturb.py): the holds block the
# browser session, so a longer one times the page load out and leaves less than half the (default, 30 s) step
# deadline for the action and the observation; a collector with a shorter deadline holds at most half of it.
SLOW_LIMIT_MS = NAVIGATION_TIMEOUT_MS


def check_options(task: Task) -> None:
    """A task's options must name one page to start on: WebTaskError naming the task and the option otherwise."""
    from sandboxes.sites import SITE_NAMES
    options = task.options
    unknown = sorted(set(options) - set(OPTIONS))
    site, url, start = options.get("site"), options.get("url"), options.get("start")
    if unknown:
        problem = f"unknown options {unknown}; known: {list(OPTIONS)}"
    elif site and url:
        problem = "give either options.site or options.url, not both"
    elif not site and not url:
        problem = f"options.site (a served site: {', '.join(SITE_NAMES)}) or options.url is needed"
    elif site and site not in SITE_NAMES:
        problem = f"options.site {site!r} is not a served site ({', '.join(SITE_NAMES)})"
    elif url and not re.match(r"https?://", str(url)):
        problem = f"options.url {url!r} must start with http:// or https://"
    elif start is not None and (url or not str(start).startswith("/")):
        problem = (f"options.start {start!r} must be a path under options.site starting with / (with options.url, "
                   "put the path in the URL)")
    elif not isinstance(options.get("allow") or [], list):
        problem = f"options.allow must be a list of origins, got {options['allow']!r}"
    else:
        return
    raise WebTaskError(f"task {task.id!r}: {problem}")


def check_task(task: Task, scripted: bool) -> None:
    """Everything in a task that can be wrong before the browser starts (options, perturbations and, for a scripted
    task, every action's syntax): WebTaskError naming the task and what is wrong. Element references (`role 'name'`)
    are resolved against the page at play time."""
    from sandboxes.web_actions import parse_call
    from sandboxes.web_perturb import parse_perturbation
    check_options(task)
    for spec in task.perturbations:
        try:
            parse_perturbation(spec, SLOW_LIMIT_MS)
        except ValueError as exc:
            raise WebTaskError(f"task {task.id!r}: {exc}") from None
    for number, spec in enumerate(task.actions if scripted else [], 1):
        try:
            parse_call(spec)
        except ValueError as exc:
            raise WebTaskError(f"task {task.id!r} action #{number}: {exc}") from None


# What under SITES_DIR serves no page: the package's list of site names and the launcher (threads, ports, the temp
# folder). A change there must not make stored episodes look recorded on other sites (compat audit V3: 29ced8f
# changed how the launcher names its temp folder, and every web episode recorded before it lost its replays).
SITES_PLUMBING = ("__init__.py", "launcher.py")

# Digests the earlier formula (every .py/.html/.css under SITES_DIR, the plumbing included) gave to the pages whose
# digest (today's formula) is the key: episodes recorded then replay on these pages. Keyed by the page digest, so an
# edit to any page leaves no alias for the new pages. Add an entry only for a commit whose pages equal the key's.
LEGACY_SITES_DIGESTS = {
    "09cf5f3e4bf497af": ("eb0b5ae6d48f9ffd",  # 53825d3 .. 29ced8f^ (raw schema 1.0 and 1.1 recordings)
                         "896df4a43b3194e1"),  # 29ced8f .. the commit that dropped the plumbing from the digest
}


@functools.cache
def _sites_digest() -> str:
    """What shapes the pages the sites serve: their apps, templates, seed data, shared base, layout and styles."""
    digest = hashlib.sha256()
    for path in sorted(SITES_DIR.rglob("*")):
        relative = path.relative_to(SITES_DIR)
        if (path.is_file() and relative.as_posix() not in SITES_PLUMBING and "__pycache__" not in relative.parts
                and not relative.name.startswith(".")):
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class WebCollector(Collector):
    name = "web"
    domain = "web"
    version = "1"

    def __init__(self, headless: bool = True, action_timeout_ms: float = 5000, step_deadline_s: float = 30,
                 quiet_ms: float = 20, process_limit: int | None = None):
        from sandboxes.browser import Browser
        from sandboxes.sites.launcher import SiteLauncher
        self.browser = Browser(headless=headless, process_limit=process_limit)
        self.sites = SiteLauncher()
        self.action_timeout_ms = action_timeout_ms
        self.step_deadline_s = step_deadline_s
        self.quiet_ms = quiet_ms
        self.session = None
        self.task: Task | None = None
        self._episode_restarts = 0
        self._episode_page_crashes = 0
        self._oom_kills: int | None = None  # the browser cgroup's OOM kills at the last observation
        self._holds = None  # the episode's HoldBudget (reset)

    # -- environment ---------------------------------------------------------------------------------------------
    def env_info(self) -> EnvInfo:
        return EnvInfo(kind="chromium", id=f"chromium-{self.browser.version or 'not-started'}",
                       digest=_sites_digest(),
                       details={"playwright": package_version("playwright"), "headless": self.browser.headless,
                                "site": (self.task.options.get("site") if self.task else None),
                                "browser_restarts_total": self.browser.restarts,
                                "sandbox": self.browser.sandbox_record()})

    def recorded_env_matches(self, recorded: dict, current: dict) -> bool:
        """A recording whose sites digest the earlier formula gave for the pages served now (LEGACY_SITES_DIGESTS)
        ran on these pages (same browser: the runner has compared kind and id)."""
        return recorded["digest"] in LEGACY_SITES_DIGESTS.get(current["digest"], ())

    def task_group(self, task: Task) -> str:
        """The site (its name, or the origin of options.url): the tasks of one site, explore-SITE with them, start
        from the same seeded database and see the same pages."""
        site, url = task.options.get("site"), task.options.get("url")
        if site:
            return str(site)
        parts = urlsplit(str(url or ""))
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else task.id

    def _start_url(self, task: Task) -> tuple[str, list[str]]:
        check_options(task)
        options = task.options
        if options.get("site"):
            base = self.sites.reset(str(options["site"]))  # a freshly seeded database for every episode
            url = base + str(options.get("start") or "/")
        else:
            url = base = str(options["url"])
        return url, [base] + [str(o) for o in options.get("allow") or []]

    def reset(self, task: Task) -> Observation:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        from sandboxes.browser import BrowserDied
        from sandboxes.browser_session import BrowserSession
        from sandboxes.web_perturb import HoldBudget, parse_perturbation
        self._close_session()
        self.task = task
        self._episode_restarts = self._episode_page_crashes = 0
        self._holds = HoldBudget(min(SLOW_LIMIT_MS, self.step_deadline_s * 1000 / 2))
        try:
            perturbations = [dataclasses.replace(parse_perturbation(spec, self._holds.limit_ms), budget=self._holds)
                             for spec in task.perturbations]
        except ValueError as exc:
            raise WebTaskError(f"task {task.id!r}: {exc}") from None
        url, allowed = self._start_url(task)
        self.session = BrowserSession(self.browser, allowed, perturbations, action_timeout_ms=self.action_timeout_ms,
                                      navigation_timeout_ms=NAVIGATION_TIMEOUT_MS, quiet_ms=self.quiet_ms)
        # Outside the watchdog: launching has its own timeout and may be slow on a busy host. A browser the last
        # episode left dead is restarted here, so this episode does not start with a restart of its own. So is one
        # in the other network namespace than this episode's origins need (its own unless one is off loopback).
        self.browser.use_network_for(allowed)
        self.browser.start()
        try:
            with self._watchdog():
                self.session.open(url)
                self._check_start_page(task, perturbations)
                bundle, wait_ms = self.session.observe()
        except BrowserDied as exc:
            bundle, wait_ms, _, _ = self._recover(exc)
        except PlaywrightTimeout as exc:
            if not self._holds.held_ms:
                raise
            # Every episode of this task would fail so: the task's holds are too long for its page, not the host.
            raise WebTaskError(f"task {task.id!r}: the start page {url} did not load in time while slow "
                               f"perturbations held its requests {self._holds.held_ms / 1000:.1f} s "
                               f"({str(exc).splitlines()[0]}): lower their ARG") from None
        self._oom_kills = self.browser.oom_kills()  # what the start and the first page met is not the first step's
        # Faults that shaped the first page are noted on it, not charged to the first transition.
        return self._observation(bundle, wait_ms, self.session.take_perturbation_hits())

    @contextlib.contextmanager
    def _watchdog(self):
        """A block of browser calls under the step deadline, with the hold budget of `slow` perturbations refilled:
        a route handler's sleep is one thing the watchdog cannot end."""
        self._holds.refill()
        with self.browser.watchdog(self.step_deadline_s):
            yield

    def _check_start_page(self, task: Task, perturbations: list) -> None:
        """A start page answering 4xx/5xx is a task mistake (a wrong options.start or options.url), unless one of the
        task's perturbations gave that status: WebTaskError naming the task, the page and the status."""
        page = self.session.page
        status = page.evaluate("() => performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0")
        if status < 400 or any(p.causes_status(page.url, status) for p in perturbations):
            return
        option = "options.url" if task.options.get("url") else f"options.start {task.options.get('start') or '/'!r}"
        try:
            status_text = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:  # a status the standard does not name
            status_text = str(status)
        raise WebTaskError(f"task {task.id!r}: the start page {page.url} ({option}) answered HTTP {status_text}; "
                           "no perturbation of the task gives that status")

    def _recover(self, exc: Exception) -> tuple[dict, float, str, str]:
        """(bundle, wait ms, the step's error, its perturbation label) after BrowserDied. A page crash costs only the
        crashed tabs, reopened in the same browser; the browser is restarted when it died itself, or when replacing
        the tabs fails too (at the process cap the new page's renderer cannot start either)."""
        from sandboxes.browser import BrowserDied, PageCrashed
        if isinstance(exc, PageCrashed):
            self._episode_page_crashes += 1
            error = f"page crashed: {exc}"
            try:
                with self._watchdog():
                    self.session.replace_crashed_pages()
                    return (*self.session.observe(error), error, "page_crash")
            except BrowserDied as again:
                exc = again
        self._episode_restarts += 1
        error = f"browser restarted: {exc}"
        self.browser.restart()  # outside the watchdog, like the first launch
        with self._watchdog():
            self.session.reopen()
            return (*self.session.observe(error), error, "browser_restart")

    def _observation(self, bundle: dict, wait_ms: float, perturbations: list[str]) -> Observation:
        from sandboxes.browser_session import encode_bundle
        raw = encode_bundle(bundle)
        meta = {"wait_ms": round(wait_ms, 2), "browser_restarts": self._episode_restarts,
                "page_crashes": self._episode_page_crashes,
                "blocked_requests": self.session.blocked[-20:], "messages": list(self.session.messages),
                "perturbations": perturbations}
        self.session.blocked.clear()
        return Observation(text=render(RAW_FORMAT, raw, meta), raw=raw, raw_format=RAW_FORMAT, meta=meta)

    # -- actions -------------------------------------------------------------------------------------------------
    def parse_action(self, spec: Any) -> Action:
        from sandboxes.web_actions import format_call, parse_call
        name, arguments = parse_call(spec)
        return Action(kind=name, arguments=arguments, text=format_call(name, arguments))

    def step(self, action: Action) -> StepResult:
        from sandboxes.browser import BrowserDied
        from sandboxes.web_actions import TERMINAL_ACTIONS
        if self.session is None:
            raise RuntimeError("step() before reset()")
        recovery = []
        try:
            with self._watchdog():
                error = self.session.act(action.kind, action.arguments)
                observe_start = time.perf_counter()
                bundle, wait_ms = self.session.observe(error)
        except BrowserDied as exc:
            observe_start = time.perf_counter()
            bundle, wait_ms, error, label = self._recover(exc)
            recovery = [label]
        observe_ms = (time.perf_counter() - observe_start) * 1000
        hits = self.session.take_perturbation_hits() + recovery
        observation = self._observation(bundle, wait_ms, hits)
        result = StepResult(observation=observation, done=action.kind in TERMINAL_ACTIONS, error=error,
                            perturbations=hits, wait_ms=wait_ms, observe_latency_ms=observe_ms)
        # A renderer the kernel kills at the memory total shows as a page crash (`page_crash`), in this step or the
        # next; `memory_cap` says why.
        self._oom_kills = result.count_oom_kills(self.browser.oom_kills(), self._oom_kills)
        return result

    def _close_session(self) -> None:
        """Close the episode's context; a browser that does not answer within the step deadline is killed (and the
        next `Browser.start` restarts it) rather than holding the next episode."""
        from sandboxes.browser import BrowserDied
        if self.session is not None:
            with contextlib.suppress(BrowserDied), self.browser.watchdog(self.step_deadline_s):
                self.session.close()
            self.session = None

    def close(self) -> None:
        self._close_session()
        self.browser.close()
        self.sites.close()


# -- reading the rendered tree (policies see the same text a model does) -------------------------------------------
LINE = re.compile(r"^(\t*)\[([^\]]+)\] (\S+)(?: ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"))?(.*)$")


@dataclass(frozen=True)
class Element:
    bid: str
    role: str
    name: str
    props: str
    depth: int


def elements(text: str) -> list[Element]:
    found = []
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            depth, bid, role, quoted, props = match.groups()
            name = ast.literal_eval(quoted) if quoted else ""
            found.append(Element(bid, role, name, props, len(depth)))
    return found


def state_key(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.startswith(VOLATILE_HEADER)]
    return xxhash.xxh64_hexdigest("\n".join(lines).encode())


REFERENCE = re.compile(r"^(\S+) ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")$")


def resolve_reference(ref: str, text: str) -> str:
    """`button 'Add to cart'` -> the bid of the first element with that role and name in the observation."""
    match = REFERENCE.match(ref.strip())
    if not match:
        return ref  # already a bid
    role, name = match.group(1), ast.literal_eval(match.group(2))
    for element in elements(text):
        if (role == "*" or element.role == role) and element.name == name:
            return element.bid
    raise WebTaskError(f"no element {ref} in the current page")


class ScriptedWebPolicy(ScriptedPolicy):
    """Plays the task's actions, turning `role 'name'` element references into the bids of the current page."""

    def begin(self, task: Task, collector: Collector, seed: int) -> None:
        super().begin(task, collector, seed)
        self._task_id = task.id

    def act(self, observation, history):
        from sandboxes.web_actions import ELEMENT_ARGS, format_call
        action = super().act(observation, history)
        if action is None:
            return None
        arguments = dict(action.arguments)
        for key in ELEMENT_ARGS & set(arguments):
            try:
                arguments[key] = resolve_reference(arguments[key], observation.text)
            except WebTaskError as exc:
                raise WebTaskError(f"task {self._task_id!r} step {len(history)} ({action.text}): {exc}") from None
        return Action(kind=action.kind, arguments=arguments, text=format_call(action.kind, arguments))


# -- exploration --------------------------------------------------------------------------------------------------
CLICKABLE = {"link", "button", "checkbox", "radio", "tab", "menuitem", "switch"}
FILLABLE = {"textbox", "searchbox", "spinbutton"}
SAMPLE_VALUES = [  # (words in the field's name, valid values, invalid values)
    (("email",), ["sam@example.org", "ann.lee@example.com"], ["not-an-email"]),
    (("password", "confirm"), ["wonderland", "secret123"], ["123"]),
    (("username", "user"), ["alice", "newuser7"], ["x"]),
    (("postcode", "zip"), ["12345", "1010"], ["12a"]),
    (("phone",), ["+43 660 1234567"], ["call me"]),
    (("quantity",), ["1", "2", "3"], ["0", "-1", "999"]),
    (("search",), ["aero", "garden", "backup", "release", "tomato"], ["zzzz"]),
    (("name",), ["Sam Rivera", "Ann Lee"], [""]),
    (("title",), ["Printer jams on page two", "Question about exports"], ["Hi"]),
]
FREE_TEXT = ["Looks good to me.", "Please check again tomorrow.", "Main Street 5", "Vienna", "Thanks!"]


def sample_value(name: str, rng: random.Random) -> str:
    lowered = name.lower()
    for words, valid, invalid in SAMPLE_VALUES:
        if any(word in lowered for word in words):
            return rng.choice(invalid) if rng.random() < 0.25 else rng.choice(valid)
    return rng.choice(FREE_TEXT)


def _own_options(items: list[Element], index: int) -> list[str]:
    """The names of the options inside the box at items[index]: the lines below it, up to the first that is not
    deeper (the next box's options are not this one's: choosing one timed out in Playwright)."""
    box = items[index]
    options = []
    for item in items[index + 1:]:
        if item.depth <= box.depth:
            break
        if item.role == "option":
            options.append(item.name)
    return options


class ExplorePolicy(Policy):
    """Novelty-seeking exploration: in each state, prefer actions not yet tried there, and among those the
    elements (by role and name) least tried anywhere, so the episode keeps reaching states it has not seen."""

    name = "explore"

    def __init__(self, budget: int = 30):
        self.budget = budget

    def begin(self, task: Task, collector: Collector, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tried: dict[str, set[str]] = {}
        self.element_uses: Counter = Counter()
        self.states: set[str] = set()

    def candidates(self, text: str) -> list[tuple[str, str, tuple]]:
        """(action text, element key, parse) for every action the page offers."""
        found = []
        items = elements(text)
        for index, element in enumerate(items):
            key = (element.role, element.name)
            if "disabled=" in element.props:
                continue
            if element.role in CLICKABLE:
                found.append((f"click({element.bid!r})", key))
            elif element.role in FILLABLE:
                value = sample_value(element.name, self.rng)
                found.append((f"fill({element.bid!r}, {value!r})", key))
            elif element.role in ("combobox", "listbox"):
                options = _own_options(items, index)[:20]
                if options:
                    found.append((f"select_option({element.bid!r}, {self.rng.choice(options)!r})", key))
        return found

    def act(self, observation, history):
        if len(history) >= self.budget:
            return None
        state = state_key(observation.text)
        self.states.add(state)
        tried = self.tried.setdefault(state, set())
        options = self.candidates(observation.text) + ([("go_back()", ("go_back", ""))] if history else [])
        if not options:
            return Action(kind="go_back", arguments={}, text="go_back()")
        scored = [((action_text.split("(")[0] + repr(key)) in tried, self.element_uses[key], self.rng.random(),
                   action_text, key) for action_text, key in options]
        _, _, _, action_text, key = min(scored)
        tried.add(action_text.split("(")[0] + repr(key))
        self.element_uses[key] += 1
        from sandboxes.web_actions import format_call, parse_call
        name, arguments = parse_call(action_text)
        return Action(kind=name, arguments=arguments, text=format_call(name, arguments))


# -- command ------------------------------------------------------------------------------------------------------
def explore_tasks(sites: list[str], budget: int) -> list[Task]:
    from sandboxes.sites import SITE_NAMES
    unknown = [s for s in sites if s not in SITE_NAMES]
    if unknown:
        raise typer.BadParameter(f"unknown site(s) {unknown}; served sites: {', '.join(SITE_NAMES)}")
    return [Task(id=f"explore-{site}", instruction=f"Explore the {site} site: visit pages, use its forms.",
                 domain="web", options={"site": site}, max_steps=budget) for site in sites]


def url_tasks(path: Path, budget: int) -> list[Task]:
    if not path.exists():
        raise typer.BadParameter(f"URL list {path} does not exist")
    tasks = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        if not re.match(r"https?://", url):
            raise typer.BadParameter(f"{path}:{number}: {url!r} is not an http(s) URL")
        tasks.append(Task(id=f"explore-url-{number}", instruction=f"Explore {url}.", domain="web",
                          options={"url": url}, max_steps=budget))
    return tasks


def collect_command(
    tasks: Path = typer.Option(None, "--tasks", help="Scripted task file (YAML/JSONL), e.g. tasks/web.yaml."),
    explore: str = typer.Option(None, "--explore", help="Explore served sites: shop, forum, tracker or form, a "
                                                         "comma list of them, or 'all'."),
    urls: Path = typer.Option(None, "--urls", help="Explore these URLs instead (one per line)."),
    out: Path = OutOption,
    workers: int = WorkersOption,
    limit: int = LimitOption,
    seeds: int = SeedsOption,
    max_steps: int = MaxStepsOption,
    replays: int = ReplaysOption,
    budget: int = typer.Option(30, "--budget", min=1, help="Actions per exploration episode."),
    headed: bool = typer.Option(False, "--headed", help="Show the browser window (needs a display)."),
) -> None:
    """Record web episodes in real Chromium: scripted tasks, or novelty-seeking exploration."""
    from sandboxes.sites import SITE_NAMES
    chosen = [name for name, value in (("--tasks", tasks), ("--explore", explore), ("--urls", urls)) if value]
    if len(chosen) != 1:
        raise typer.BadParameter("give exactly one of --tasks, --explore, --urls")
    if headed and not os.environ.get("DISPLAY"):  # else every episode would fail as Chromium finds no display
        raise typer.BadParameter("needs an X display, and DISPLAY is not set: run under one (e.g. start "
                                 "`Xvfb :99 -nolisten tcp &` and set DISPLAY=:99)", param_hint="--headed")
    if tasks:
        task_list = load_tasks(tasks, domain="web")  # a TaskFileError is shown by `worldline collect` as one line
        for task in task_list:  # before Chromium starts: a wrong task would otherwise fail once per episode
            try:
                check_task(task, scripted=True)
            except WebTaskError as exc:
                raise TaskFileError(f"{tasks}: {exc}") from None
        plans = plans_for(task_list, seeds, ScriptedWebPolicy, max_steps, replays)
    else:
        if explore:
            names = list(SITE_NAMES) if explore == "all" else [s.strip() for s in explore.split(",") if s.strip()]
            task_list = explore_tasks(names, budget)
        else:
            task_list = url_tasks(urls, budget)
        plans = plans_for(task_list, seeds, lambda: ExplorePolicy(budget), max_steps, replays)
    run_and_report(lambda: WebCollector(headless=not headed), plans, out, domain="web", workers=workers, limit=limit)
