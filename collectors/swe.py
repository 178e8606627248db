"""SWE collector: a real repository in a Docker sandbox, driven with the actions SWE agents use.

Actions (task-file form -> what runs in the container, from the repository root REPO):
    {bash: "grep -n foo x.py"}                       /bin/bash -c, a fresh shell per call (as mini-SWE-agent runs)
    {view: {path: /work/repo/x.py, view_range: [1, 20]}}       str_replace_editor (collectors/swe_tools.py)
    {create: {path, file_text}}  {str_replace: {path, old_str, new_str}}  {insert: {path, insert_line, new_str}}
    {run_tests: {tests: [node ids]}} or {run_tests: {}}        the repo's test command, all or selected tests
    {git_diff: {}}                                             git diff of the working tree
    {submit: {}}                 `git add -A && git diff --cached` (the patch, as SWE-agent's submit prints it);
                                 ends the episode; the full suite is run once more to score it
Every observation is the command's exact output (raw_format "text"); meta carries exit_code (None on timeout,
when a notice line follows the output and meta has timed_out and timeout_s).

Tasks come from a task file (`--tasks`, options.repo names a repo of the repos file) or are generated from the repos
(`--repos`): bugs planted with collectors.swe_mutations, kept only when some test that passed starts failing; the
episode then localizes the bug from the failing tests and applies the inverse edit (BugFixPolicy).
Before any action the repository passes the leak check of sandboxes.swe_git: no history past its base commit.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import time
from pathlib import Path
from typing import Any

import typer

from collectors.api import Collector, Policy, StepResult, Task
from collectors.command import (LimitOption, MaxStepsOption, OutOption, ReplaysOption, SeedsOption, WorkersOption,
                                plans_for)
from collectors.swe_mutations import Mutation, enclosing_function, find_mutations, fix_edit, sample, view_range
from sandboxes.docker_sandbox import DockerSandbox, ExecResult
from sandboxes.limits import Limits
from sandboxes.swe_git import (LEAK_CHECK_SCRIPT, PSEUDONYM, history_people, is_git_repo, leaks, parse_leak_report,
                                resolve_commit)
from sandboxes.swe_images import ENV_FILE, REPO_DIR, without_kernel_release
from sandboxes.swe_repos import RepoSpec
from schemas import Action, EnvInfo, Observation
from schemas.render import render
from schemas.shipped_tasks import shipped_task_file

log = logging.getLogger(__name__)

DOMAIN = "swe"
REPO = "/work/repo"
TOOL_PATH = "/tmp/.worldline/str_replace_editor.py"
TOOL_SOURCE = (Path(__file__).parent / "swe_tools.py").read_bytes()
EDITOR_COMMANDS = ("view", "create", "str_replace", "insert")
ACTION_KINDS = ("bash", *EDITOR_COMMANDS, "run_tests", "git_diff", "submit")
# What a task's options may hold: the repo, a bug to plant, and what a generated bug-fix task records beside them
# (the kind of mutation and the tests it turns red: information only, a copied generated task keeps them).
TASK_OPTIONS = ("repo", "mutation", "mutation_kind", "failing_tests")
REQUIRED_ARGUMENTS = {"bash": ("command",), "view": ("path",), "create": ("path", "file_text"),
                      "str_replace": ("path", "old_str"), "insert": ("path", "insert_line", "new_str")}
DEFAULT_LIMITS = Limits(memory="1g", pids=512, cpus=1.0, disk="256m", action_timeout_s=30.0)
TEST_TIMEOUT_S = 180.0
# Every process in a task's container hashes strings with one fixed seed, as the repository's commits carry pinned
# dates: the order of a set or of pytest's "Differing items" is then the same on every run, content a world model can
# learn, rather than a random order the same action prints differently each time.
CONTAINER_ENV = {"PYTHONHASHSEED": "0"}
# Docker names a container after its random id otherwise: a test printing the host name differed every episode.
CONTAINER_RUN = {"environment": CONTAINER_ENV, "hostname": "sandbox"}
FAILED_TEST = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)
PASSED_TESTS = re.compile(r"\b(\d+) passed\b")  # pytest's summary line: "3 failed, 97 passed in 1.20s"
# Amends the base commit so it holds the planted bug, keeping its dates (same id every episode) and leaving no
# object of the clean original behind: the fix must not be readable from the repository's history.
PLANT_SCRIPT = """set -e
cd "$1"
GIT_COMMITTER_DATE="$(git log -1 --format=%cI)" git commit -q -a --amend --no-edit --no-verify
git reflog expire --expire=now --all
git gc -q --prune=now
rm -rf .git/logs
"""


class SweTaskError(ValueError):
    pass


def shell(command: str) -> list[str]:
    """bash with stderr joined to stdout in the shell itself, so the observation keeps the order of the writes
    (two pipes read apart would reorder them from run to run)."""
    return ["bash", "-c", "exec 2>&1\n" + command]


def checked(result: ExecResult, what: str) -> ExecResult:
    if result.exit_code != 0:
        raise SweTaskError(f"could not {what} (exit {result.exit_code}): "
                           f"{result.output[-400:].decode(errors='replace')}")
    return result


def failing_tests(output: str) -> list[str]:
    """Node ids pytest lists as FAILED or ERROR in its short summary."""
    return list(dict.fromkeys(FAILED_TEST.findall(output)))


def parse_swe_action(spec: Any, where: str = "action") -> Action:
    """`{kind: arguments}` (bash takes a string) or `{kind: ..., **arguments}` -> Action with a tool-call text."""
    if not isinstance(spec, dict) or not spec:
        raise SweTaskError(f"{where}: an action must be a mapping like {{bash: 'ls'}}, got {spec!r:.80}")
    if "kind" in spec:
        kind, arguments = spec["kind"], {k: v for k, v in spec.items() if k != "kind"}
    elif len(spec) == 1:
        kind, arguments = next(iter(spec.items()))
        if kind == "bash" and isinstance(arguments, str):
            arguments = {"command": arguments}
        elif arguments is None:
            arguments = {}
    else:
        raise SweTaskError(f"{where}: give one key naming the action, or a 'kind' key; got keys {sorted(spec)}")
    if kind not in ACTION_KINDS:
        raise SweTaskError(f"{where}: unknown action {kind!r}; known: {', '.join(ACTION_KINDS)}")
    if not isinstance(arguments, dict):
        raise SweTaskError(f"{where}: arguments of {kind!r} must be a mapping, got {arguments!r:.80}")
    missing = [name for name in REQUIRED_ARGUMENTS.get(kind, ()) if arguments.get(name) is None]
    if missing:
        raise SweTaskError(f"{where}: {kind!r} needs {', '.join(missing)}")
    if kind == "bash" and not isinstance(arguments["command"], str):
        raise SweTaskError(f"{where}: bash 'command' must be a string, got {arguments['command']!r:.80}")
    tests = arguments.get("tests")
    if kind == "run_tests" and tests is not None and not (isinstance(tests, list)
                                                          and all(isinstance(t, str) for t in tests)):
        raise SweTaskError(f"{where}: run_tests 'tests' must be a list of test ids")
    if kind in EDITOR_COMMANDS:
        call = {"name": "str_replace_editor", "arguments": {"command": kind, **arguments}}
    else:
        call = {"name": kind, "arguments": arguments}
    return Action(kind=kind, arguments=arguments, text=json.dumps(call, ensure_ascii=False))


def check_task(task: Task, repos: dict[str, RepoSpec]) -> None:
    """Everything in a scripted task that can be wrong before an image is built or a container started (options,
    perturbations, every action): SweTaskError naming the task. A mutation id is checked against the image later
    (check_mutations)."""
    if task.perturbations:
        # The common field is a list of labels the episode record keeps: a `disk_full` episode ran on an empty disk.
        raise SweTaskError(f"task {task.id!r}: perturbations {task.perturbations} would be recorded but not "
                           f"applied: swe applies none; put the repository or the machine in the state you want with "
                           f"setup commands (docs/swe.md)")
    unknown = sorted(set(task.options) - set(TASK_OPTIONS), key=str)
    if unknown:
        raise SweTaskError(f"task {task.id!r}: unknown options {unknown}; known: {list(TASK_OPTIONS)}")
    if task.options.get("repo") not in repos:
        raise SweTaskError(f"task {task.id!r}: options.repo {task.options.get('repo')!r} is not in the repos file "
                           f"(known: {sorted(repos)})")
    for number, spec in enumerate(task.actions, 1):
        parse_swe_action(spec, f"task {task.id!r} action #{number}")


def source_record(spec: RepoSpec) -> dict:
    """Where a repository came from, for env details, without the host folder it sits in (PR6: a user's home path
    was published): `path:FOLDER@COMMIT`, the folder's name and the source's base commit (the image tag already
    fingerprints the content). `authors` says whether the sandbox's commit ids are the source's: "rewritten" (the
    history named people, now pseudonyms: base_commit in the details is then not the one `source` names), "kept"
    (`authors: keep`, their names are in the records), "fixed" (nobody but worldline's fixed identity)."""
    if spec.pypi:
        return {"source": spec.pypi, "authors": "fixed"}
    path = Path(spec.path)
    if not is_git_repo(path):
        return {"source": f"path:{path.name}", "authors": "fixed"}
    commit = resolve_commit(path, spec.base_commit)
    people = len(history_people(path, commit))
    authors = "fixed" if not people else "rewritten" if spec.authors == "rewrite" else "kept"
    return {"source": f"path:{path.name}@{commit}", "authors": authors, "people": people}


def history_notice(name: str, record: dict) -> str | None:
    """What collect says once per run about a git repository whose history names people: their names are either
    published or replaced, and the user should know which (and what the other choice costs)."""
    people = record.get("people", 0)
    who = f"its history names {people} {'person' if people == 1 else 'people'} (authors, committers, *-by trailers)"
    if record["authors"] == "kept":
        return (f"repo {name!r}: {who}, and `authors: keep` publishes their names and emails in every git log/show "
                f"observation; remove it from the repos file to replace them with pseudonyms "
                f"({PSEUDONYM.format(n=1)}, ...; the commit ids then change)")
    if record["authors"] == "rewritten":
        return (f"repo {name!r}: {who}, replaced with pseudonyms ({PSEUDONYM.format(n=1)}, ...), so its commit ids "
                f"differ from the source's (env details: `source` names the original base commit, `base_commit` the "
                f"sandbox's); tasks naming commit ids of the source need `authors: keep`, which publishes the names")
    return None


def stale_image(record: dict, image_base_commit: str | None) -> bool:
    """Whether an image that should hold pseudonyms holds the source's history unchanged: one built before author
    rewriting existed has the same tag (the fingerprint covers the source commit) and would publish the names while
    env details said "rewritten". Its base commit is then the source's own."""
    return record["authors"] == "rewritten" and bool(image_base_commit) and \
        record["source"].endswith("@" + image_base_commit)


class SweCollector(Collector):
    name = "swe"
    domain = DOMAIN
    version = "1"

    def __init__(self, specs: dict[str, RepoSpec], images: dict[str, str], limits: Limits = DEFAULT_LIMITS, *,
                 name_prefix: str = "worldline-swe", test_timeout_s: float = TEST_TIMEOUT_S,
                 sources: dict[str, dict] | None = None):
        self.specs, self.images, self.limits = specs, images, limits
        self.sources = dict(sources or {})  # repo name -> source_record, computed on first use if not given
        self.name_prefix, self.test_timeout_s = name_prefix, test_timeout_s
        self.sandbox: DockerSandbox | None = None
        self.spec: RepoSpec | None = None
        self.planted: Mutation | None = None
        self.environment: dict = {}
        self.leak_report: dict = {}
        self._oom_kills: int | None = None  # the sandbox cgroup's OOM kills at the last observation
        # Seconds spent waiting on the environment (container start, every exec): the rest is collector overhead.
        self.env_seconds = 0.0

    # ---- environment lifecycle ----

    def task_group(self, task: Task) -> str:
        """The repository: its tasks, planted bugs included, browse the same files and history."""
        return str(task.options.get("repo") or task.id)

    def reset(self, task: Task) -> Observation:
        self.close()
        name = task.options.get("repo")
        if name not in self.specs:
            raise SweTaskError(f"task {task.id!r}: options.repo {name!r} is not a repo of the repos file "
                               f"(known: {sorted(self.specs)})")
        self.spec, self.planted = self.specs[name], None
        started = time.perf_counter()
        self.sandbox = DockerSandbox(self.images[name], self.limits, name_prefix=self.name_prefix,
                                     labels={"worldline.domain": DOMAIN, "worldline.swe.repo": name},
                                     extra_run_kwargs=CONTAINER_RUN)
        self.sandbox.start()
        self.env_seconds += time.perf_counter() - started
        self._must(["cp", "-a", REPO_DIR, REPO], "copy the repository into the writable work area", workdir="/work")
        environment = json.loads(self._must(["cat", ENV_FILE], "read the image's environment record"))
        self.environment = {**environment, "platform": without_kernel_release(environment.get("platform", ""))}
        if task.options.get("mutation"):
            self._plant(task, str(task.options["mutation"]))
        for number, command in enumerate(task.setup):
            self._must(["bash", "-c", str(command)], f"task {task.id!r} setup #{number + 1}: {command!r:.80}")
        self.leak_report = parse_leak_report(self._must(["sh", "-c", LEAK_CHECK_SCRIPT, "leak-check", REPO],
                                                        "check the repository for leaked history"))
        found = leaks(self.leak_report)
        if found:
            raise SweTaskError(f"task {task.id!r}: repository {name!r} leaks history past its base commit: "
                               + "; ".join(found[:5]))
        self.sandbox.put_file(TOOL_PATH, TOOL_SOURCE)
        first = self._observe(self._editor({"command": "view", "path": REPO}))
        self._oom_kills = self.sandbox.oom_kills()  # what the setup met is not the first step's
        return first

    def _plant(self, task: Task, mutation_id: str) -> None:
        path = mutation_id.split(":", 1)[0]
        source = self._must(["cat", f"{REPO}/{path}"], f"read {path} to plant {mutation_id}")
        chosen = next((m for m in find_mutations(path, source) if m.id == mutation_id), None)
        if chosen is None:
            raise SweTaskError(f"task {task.id!r}: mutation {mutation_id!r} does not exist in {path} of this image "
                               f"(was the task generated from another version of the repo?)")
        self.sandbox.put_file(f"{REPO}/{path}", chosen.mutated.encode())
        self._must(["sh", "-c", PLANT_SCRIPT, "plant", REPO], f"commit the planted bug {mutation_id}")
        self.planted = chosen

    def env_info(self) -> EnvInfo:
        if self.sandbox is None or self.spec is None:
            return EnvInfo(kind="docker", id="swe (not started)")
        if self.spec.name not in self.sources:
            self.sources[self.spec.name] = source_record(self.spec)
        source = self.sources[self.spec.name]
        # Replays match environments on kind, id and digest only, so records holding the absolute path of the
        # earlier `source` still match these.
        return EnvInfo(kind="docker", id=self.sandbox.image, digest=self.sandbox.image_digest, details={
            "repo": self.spec.name, "source": source["source"], "authors": source["authors"], "repo_path": REPO,
            "base_commit": self.leak_report.get("head", ""), "test_command": self.spec.test_command,
            "environment": self.environment, "git_objects": self.leak_report.get("objects", 0),
            "leak_check": "clean", "planted_bug": self.planted.id if self.planted else None,
            "limits": self.sandbox.limits.record(),
            "proc_view": self.sandbox.proc_view,
        })

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None

    # ---- actions ----

    def parse_action(self, spec: Any) -> Action:
        return parse_swe_action(spec)

    def step(self, action: Action) -> StepResult:
        result = self._step(action)
        self._oom_kills = result.count_oom_kills(self.sandbox.oom_kills(), self._oom_kills)
        return result

    def _step(self, action: Action) -> StepResult:
        kind, arguments = action.kind, action.arguments
        if kind == "bash":
            return StepResult(self._observe(self._run(shell(arguments["command"]))))
        if kind in EDITOR_COMMANDS:
            return StepResult(self._observe(self._editor({"command": kind, **arguments})))
        if kind == "run_tests":
            return StepResult(self._observe(self.run_tests(arguments.get("tests")), self.test_timeout_s))
        if kind == "git_diff":
            return StepResult(self._observe(self._run(["git", "diff"])))
        if kind == "submit":
            patch = self._observe(self._run(["sh", "-c", "git add -A && git diff --cached"]))
            verdict = self.run_tests()
            patch.meta["tests_exit_code"] = verdict.exit_code
            error = None if verdict.exit_code == 0 else f"tests fail at submit (exit {verdict.exit_code})"
            return StepResult(patch, done=True, error=error)
        raise SweTaskError(f"unknown action {kind!r}")

    def run_tests(self, tests: list[str] | None = None) -> ExecResult:
        command = self.spec.test_command + ("".join(" " + shlex.quote(t) for t in tests) if tests else "")
        return self._run(shell(command), timeout=self.test_timeout_s)

    def _editor(self, call: dict) -> ExecResult:
        return self._run(["/usr/bin/python3", TOOL_PATH], stdin=json.dumps(call).encode())

    def _run(self, argv: list[str], *, timeout: float | None = None, stdin: bytes | None = None,
             workdir: str = REPO) -> ExecResult:
        result = self.sandbox.exec(argv, timeout=timeout, workdir=workdir, stdin=stdin)
        self.env_seconds += result.duration_s
        return result

    def _must(self, argv: list[str], what: str, workdir: str = REPO) -> str:
        return checked(self._run(argv, workdir=workdir), what).stdout.decode()

    def _observe(self, result: ExecResult, timeout_s: float | None = None) -> Observation:
        """The command's output as the agent is shown it. A command killed at its time limit (`timeout_s`, by
        default the sandbox's per-action one) gets one line after whatever it printed, in SWE-agent's words, so a
        timeout does not read as a silent success; the notice is part of `raw`, since curation renders the text
        again from `raw`."""
        meta = {"exit_code": result.exit_code}
        output = result.output
        if result.timed_out:
            timeout = float(timeout_s or self.limits.action_timeout_s)
            meta.update(timed_out=True, timeout_s=timeout)
            notice = f"The command was cancelled because it took more than {timeout:g} seconds.\n".encode()
            output += (b"\n" if output and not output.endswith(b"\n") else b"") + notice
        return Observation(text=render("text", output, meta), raw=output, raw_format="text", meta=meta)


class BugFixPolicy(Policy):
    """Fixes a planted bug the way an agent would: run the tests, find the function the failures point at, open
    the code around the bug, apply the inverse edit, rerun the failing tests, submit. The edit is known (it undoes the plant); what the environment
    answers to each step is not, and that is what gets recorded."""

    name = "bugfix-oracle"
    MAX_SELECTED = 20

    def begin(self, task: Task, collector: Collector, seed: int) -> None:
        planted = getattr(collector, "planted", None)
        if planted is None:
            raise SweTaskError(f"task {task.id!r}: BugFixPolicy needs a task with options.mutation")
        path = f"{REPO}/{planted.path}"
        old, new = fix_edit(planted)
        function = enclosing_function(planted)
        self.plan = [
            parse_swe_action({"run_tests": {}}),
            parse_swe_action({"bash": f"grep -n 'def {function}(' {shlex.quote(planted.path)}"}),
            parse_swe_action({"view": {"path": path, "view_range": view_range(planted)}}),
            parse_swe_action({"str_replace": {"path": path, "old_str": old, "new_str": new}}),
            None,  # rerun of the tests that failed, filled in from the first observation
            parse_swe_action({"submit": {}}),
        ]

    def act(self, observation, history):
        step = len(history)
        while step < len(self.plan) and self.plan[step] is None:
            failed = failing_tests(history[0][1].observation.text)[:self.MAX_SELECTED]
            if failed:
                return parse_swe_action({"run_tests": {"tests": failed}})
            self.plan.pop(step)  # nothing to rerun selectively: go straight on
        return self.plan[step] if step < len(self.plan) else None


# ---- bug-fix task generation ----

def mutation_candidates(spec: RepoSpec, sandbox: DockerSandbox) -> list[Mutation]:
    """Mutations of the files the spec names (default: every non-test .py file), read from the image itself."""
    patterns = " ".join(shlex.quote(p) for p in spec.mutate) if spec.mutate else "'*.py'"
    listing = checked(sandbox.exec(["bash", "-c", f"git ls-files -- {patterns}"], workdir=REPO),
                      f"list the files of {spec.name}")
    files = [f for f in listing.stdout.decode().split("\n") if f.endswith(".py")]
    if not spec.mutate:
        files = [f for f in files if not re.search(r"(^|/)(tests?/|test_|conftest\.py|setup\.py)", f)]
    found = []
    for path in files:
        source = sandbox.get_file(f"{REPO}/{path}").decode()
        try:
            found += find_mutations(path, source)
        except SyntaxError as exc:
            log.info("skip %s of %s: does not parse (%s)", path, spec.name, exc)
    return found


def check_baseline(spec: RepoSpec, baseline: ExecResult) -> None:
    """The unmutated repository's suite must start and pass some tests, or no planted bug can turn one red: pytest's
    exit 2-5 (interrupted, e.g. a collection error; internal error; usage error, e.g. a conftest that cannot be
    imported; no tests collected), or no test passing, ends the repo with pytest's last lines."""
    output = baseline.output.decode(errors="replace")
    counts = PASSED_TESTS.findall(output)
    passed = int(counts[-1]) if counts else 0  # the last one is the summary line's
    if baseline.exit_code not in (2, 3, 4, 5) and passed:
        return
    lines = [line for line in output.splitlines() if line.strip()][-5:]
    tail = "\n".join(f"    {line}" for line in lines) or "    (no output)"
    why = (f"pytest exited with {baseline.exit_code}" if baseline.exit_code not in (0, 1)
           else f"no test passed (pytest exit {baseline.exit_code})")
    raise SweTaskError(
        f"the tests of the unmodified repository cannot run ({why}; `{spec.test_command}` in the image); last lines:\n"
        f"{tail}\n"
        f"If a module is missing, list the missing packages in the entry's `test_requires` (wheels installed "
        f"into the image) and run again.")


def generate_bugfix_tasks(spec: RepoSpec, image: str, count: int, seed: int = 0, *, max_attempts: int = 12,
                          max_failing: int = 25, limits: Limits = DEFAULT_LIMITS) -> list[Task]:
    """Up to `count` planted bugs that turn some passing tests red (at most `max_failing` of them: a bug that
    breaks everything needs no localizing), trying at most `max_attempts` mutations."""
    tasks: list[Task] = []
    with DockerSandbox(image, limits, name_prefix="worldline-swe-gen", labels={"worldline.domain": DOMAIN},
                       extra_run_kwargs=CONTAINER_RUN) as box:
        checked(box.exec(["cp", "-a", REPO_DIR, REPO]), f"copy the repository of {spec.name}")
        command = shell(spec.test_command)
        baseline = box.exec(command, workdir=REPO, timeout=TEST_TIMEOUT_S)
        if baseline.timed_out:
            raise SweTaskError(f"repo {spec.name!r}: its tests did not finish in {TEST_TIMEOUT_S:.0f}s")
        check_baseline(spec, baseline)
        failing_before = set(failing_tests(baseline.output.decode(errors="replace")))
        timeout = max(10.0, baseline.duration_s * 4)  # a planted infinite loop must not stall generation
        for attempt, mutation in enumerate(sample(mutation_candidates(spec, box), seed)):
            if len(tasks) >= count or attempt >= max_attempts:
                break
            target = f"{REPO}/{mutation.path}"
            box.put_file(target, mutation.mutated.encode())
            run = box.exec(command, workdir=REPO, timeout=timeout)
            box.put_file(target, mutation.original.encode())
            newly_failing = [t for t in failing_tests(run.output.decode(errors="replace")) if t not in failing_before]
            if run.timed_out or not newly_failing or len(newly_failing) > max_failing:
                continue
            tasks.append(Task(
                id=f"{spec.name}-bugfix-{re.sub(r'[^A-Za-z0-9]+', '-', mutation.id).strip('-')}",
                instruction=(f"Some tests of {spec.name} fail, for example {', '.join(newly_failing[:3])}. "
                             f"Find the bug in the library code and fix it; do not change the tests."),
                domain=DOMAIN,
                options={"repo": spec.name, "mutation": mutation.id, "mutation_kind": mutation.kind,
                         "failing_tests": newly_failing},
            ))
    if len(tasks) < count:
        log.warning("repo %s: %d of %d bug-fix tasks found in %d attempts", spec.name, len(tasks), count, max_attempts)
    return tasks


def image_base_commit(tag: str) -> str | None:
    """The base commit an image's repository was built at (its label, set by sandboxes.swe_images)."""
    from sandboxes.engine import engine_client
    return engine_client().images.get(tag).labels.get("worldline.swe.base_commit")


def check_mutations(tasks: list[Task], spec: RepoSpec, image: str) -> None:
    """Every options.mutation of `tasks` (all of repo `spec`) names a mutation of its file as the image holds it,
    checked before any episode so a stale or mistyped id is a task-file error, not an episode that fails each run."""
    wanted = [(task, str(task.options["mutation"])) for task in tasks if task.options.get("mutation")]
    if not wanted:
        return
    known: dict[str, set[str] | str] = {}  # file -> mutation ids, or why it has none
    with DockerSandbox(image, DEFAULT_LIMITS, name_prefix="worldline-swe-check",
                       labels={"worldline.domain": DOMAIN, "worldline.swe.repo": spec.name}) as box:
        for path in sorted({mutation_id.split(":", 1)[0] for _, mutation_id in wanted}):
            read = box.exec(["cat", "--", f"{REPO_DIR}/{path}"])
            if read.exit_code != 0:
                known[path] = f"{path} is not a file of repo {spec.name!r}"
                continue
            try:
                known[path] = {m.id for m in find_mutations(path, read.stdout.decode(errors="replace"))}
            except SyntaxError as exc:
                known[path] = f"{path} of repo {spec.name!r} does not parse ({exc})"
    for task, mutation_id in wanted:
        path = mutation_id.split(":", 1)[0]
        found = known[path]
        if isinstance(found, str):
            raise SweTaskError(f"task {task.id!r}: options.mutation {mutation_id!r}: {found}")
        if mutation_id not in found:
            raise SweTaskError(f"task {task.id!r}: options.mutation {mutation_id!r} does not exist in {path} of repo "
                               f"{spec.name!r} ({len(found)} mutations there; was the task generated from another "
                               f"version of the repo?)")


def _task_row(task: Task) -> dict:
    return {"id": task.id, "instruction": task.instruction, "domain": task.domain, "options": task.options}


def bugfix_tasks_cached(spec: RepoSpec, image: str, count: int, seed: int, out: Path) -> list[Task]:
    """Generated tasks are kept beside the episodes (keyed by image, count and seed) so a resumed run plans the
    same episodes without rerunning the generation."""
    from collectors.store import atomic_write
    from collectors.tasks import load_tasks

    fingerprint = image.rpartition(":")[2]
    path = Path(out) / "swe_tasks" / f"{spec.name}-{fingerprint}-n{count}-s{seed}.jsonl"
    if path.exists():
        # A repo that yielded no bug-fix tasks left an empty cache, which load_tasks refuses as a user's file.
        return load_tasks(path) if path.stat().st_size else []
    tasks = generate_bugfix_tasks(spec, image, count, seed)
    payload = "".join(json.dumps(_task_row(t), ensure_ascii=False) + "\n" for t in tasks).encode()
    atomic_write(path, lambda handle: handle.write(payload))
    return tasks


# ---- command ----

def shipped_repos_file() -> Path:
    return shipped_task_file("swe_repos.yaml")


def collect_command(
    out: Path = OutOption,
    repos: Path = typer.Option(None, "--repos", dir_okay=False,
                               help="Repos file (YAML). Alone: generate bug-fix tasks from these repos. With --tasks: "
                                    "the repos those tasks name (default: the shipped tasks/swe_repos.yaml)."),
    tasks: Path = typer.Option(None, "--tasks", dir_okay=False, help="Scripted SWE task file (YAML or JSONL)."),
    bugs: int = typer.Option(2, "--bugs", min=1, help="Bug-fix tasks to generate per repo (with --repos alone)."),
    mutation_seed: int = typer.Option(0, "--mutation-seed", help="Seed choosing which mutations are tried."),
    workers: int = WorkersOption,
    limit: int = LimitOption,
    seeds: int = SeedsOption,
    max_steps: int = MaxStepsOption,
    replays: int = ReplaysOption,
):
    """Record SWE episodes (shell, file editor, tests, git diff) on real repositories in Docker sandboxes."""
    from rich.markup import escape

    from collectors.command import console, run_and_report
    from collectors.tasks import TaskFileError, load_tasks
    from sandboxes.container_registry import install_cleanup_handlers, remove_orphans
    from sandboxes.images import ImageBuildError
    from sandboxes.swe_git import RepoSnapshotError
    from sandboxes.swe_images import ensure_image
    from sandboxes.swe_repos import load_repo_specs

    if repos is None and tasks is None:
        raise typer.BadParameter("give --repos FILE (generate bug-fix tasks) or --tasks FILE (scripted tasks)")
    # A RepoSpecError or TaskFileError is shown by `worldline collect` as one line `Error: ...`, naming the file.
    repos = repos or shipped_repos_file()  # beside the package, not relative to the working directory
    specs = {s.name: s for s in load_repo_specs(repos)}
    chosen = load_tasks(tasks, domain=DOMAIN) if tasks else None
    if chosen is not None:
        for task in chosen:  # before Docker is asked: a wrong task would otherwise fail once per episode
            try:
                check_task(task, specs)
            except SweTaskError as exc:
                raise TaskFileError(f"{tasks}: {exc}") from None
        specs = {name: spec for name, spec in specs.items() if any(t.options["repo"] == name for t in chosen)}
    install_cleanup_handlers()
    remove_orphans()
    images, generated, sources = {}, [], {}
    for name, spec in specs.items():
        doing = "building the image"
        try:
            sources[name] = source_record(spec)
            notice = history_notice(name, sources[name])
            if notice:
                console.print(f"[yellow]swe[/]: {escape(notice)}", highlight=False)
            images[name] = ensure_image(spec)
            if stale_image(sources[name], image_base_commit(images[name])):
                console.print(f"swe: repo {escape(name)!r}: image {images[name]} was built with the real authors; "
                              f"rebuilding it", highlight=False)
                images[name] = ensure_image(spec, force=True)
            if chosen is None:
                doing = "generating bug-fix tasks"
                generated += bugfix_tasks_cached(spec, images[name], bugs, mutation_seed, out)
        except (ImageBuildError, RepoSnapshotError, SweTaskError) as exc:
            console.print(f"[red]swe[/]: repo {escape(name)!r}: {escape(str(exc))}")
            raise typer.Exit(1) from exc
        except KeyboardInterrupt:
            # Before any episode: the runner's message does not apply, and typer would exit 130 without a word.
            kept = len(images) - (name in images)
            console.print(f"interrupted while {doing} of repo {escape(name)!r}; no episode was recorded. "
                          f"{kept} repo{'s' if kept != 1 else ''} done before it (images cached"
                          f"{', tasks kept in ' + escape(str(Path(out) / 'swe_tasks')) if chosen is None else ''}"
                          f"): a rerun goes on from there", highlight=False)
            raise typer.Exit(130) from None
    if chosen is not None:
        for name, spec in specs.items():
            try:
                check_mutations([t for t in chosen if t.options["repo"] == name], spec, images[name])
            except SweTaskError as exc:
                raise TaskFileError(f"{tasks}: {exc}") from None
        plans = plans_for(chosen, seeds=seeds, max_steps=max_steps, replays=replays)
    else:
        plans = plans_for(generated, seeds=seeds, policy_factory=BugFixPolicy, max_steps=max_steps,
                          replays=replays)
    run_and_report(lambda: SweCollector(specs, images, sources=sources), plans, out, domain=DOMAIN, workers=workers,
                   limit=limit)
