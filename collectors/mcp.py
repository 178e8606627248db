"""MCP collector: drives real MCP servers (started from a servers file) over the official SDK.

The starting state is the server's initialize result and its listings (tools/list, and resources/list and
prompts/list where the server offers them); every tools/call, resources/read or prompts/get is a transition whose
next observation is the JSON-RPC result exactly as returned (raw_format "mcp-json"). Perturbations from the task's
`options.perturb` (or --perturb) are applied by the proxy in sandboxes.mcp_proxy; an affected transition carries
their labels and, where the server did answer, its unperturbed result as the reference.

Two policies: the task's scripted calls, and schema-driven exploration (collectors.mcp_explore.ExplorePolicy) that
builds arguments from each tool's JSON input schema, valid and deliberately invalid, reusing values earlier results
returned.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from pathlib import Path
from typing import Any

import typer

from collectors.api import Collector, StepResult, Task, TaskError
from collectors.command import (LimitOption, MaxStepsOption, OutOption, ReplaysOption, SeedsOption, WorkersOption,
                                exit_if_all_failed, plans_for, run_and_report)
from collectors.mcp_explore import ExplorePolicy
from collectors.secret_mask import SecretMask, server_secrets
from sandboxes.mcp_install import SETUP_COMMAND
from schemas import Action, EnvInfo, Observation
from schemas.render import RenderError, render
from schemas.shipped_tasks import shipped_task_file

# SETUP_COMMAND installs the shipped servers into WORLDLINE_HOME (.venv-mcp/, .mcp-servers/node_modules); in a
# checkout `make setup` runs it through this script, after apt-installing bubblewrap and node. The sandbox's and the
# servers' own start errors name the command: a headline naming it or the script gets no second hint.
SETUP_SCRIPT = "scripts/setup.d/40-mcp-servers.sh"
DEFAULT_SERVERS_FILE = shipped_task_file("mcp_servers.yaml")
DEFAULT_TASKS_FILE = shipped_task_file("mcp.yaml")
ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*)?(?:Error|Exception)\b")
CALL_METHODS = ("tools/call", "resources/read", "prompts/get")
LIST_METHODS = ("tools/list", "resources/list", "prompts/list", "resources/templates/list")
RAW_FORMAT = "mcp-json"
# What a task's options may hold: the server, its proxy perturbations, tools exploration leaves alone, and a search
# question's ground-truth answer (kept in the episode's task record; sandboxes/search/world.py writes it).
TASK_OPTIONS = ("server", "perturb", "skip_tools", "answer")
# The keys of a tool call written directly ({tool, arguments}; `name` is `tool`'s other spelling), and the params
# each method takes: what ServerConnection sends, the rest of a mapping being dropped without a word.
CALL_KEYS = ("tool", "name", "arguments")
METHOD_PARAMS = {"tools/call": ("name", "arguments"), "resources/read": ("uri",), "prompts/get": ("name", "arguments"),
                 **{method: ("cursor",) for method in LIST_METHODS}}
REQUIRED_PARAMS = {"resources/read": "uri", "prompts/get": "name"}


# The parts of a servers-file entry that decide what the server answers: how it is started (its environment and
# prepare commands included), not its description, exploration hints, domain or start-up timeout.
SETUP_FIELDS = ("command", "args", "env", "transport", "prepare", "network", "read_only")
# Placeholders whose value is not part of the set-up: {port} is a free port per start, {python} follows how worldline
# itself was installed (a venv or not), {env:NAME} is a secret read at start: the entry's text `{env:NAME}` is
# hashed, not the value, so a rotated token leaves the digest (and the replays of earlier episodes) as they were.
UNHASHED_PLACEHOLDERS = ("port", "python", "env")


def setup_digest(spec, values: dict[str, str]) -> str:
    """A digest of how worldline sets up the server of `spec` (the ServerSpec of an entry), in a canonical form that
    a reordered or reformatted servers file does not change: SETUP_FIELDS, the url of an http entry, and the values
    of the placeholders the entry uses as the server sees them (`values`, such as {git_date}, the commit date worldline
    pins), so that a change worldline makes to them is seen too."""
    texts = [spec.command, *spec.args, *spec.env.values(), *spec.prepare, *spec.read_only]
    if spec.transport == "http":
        texts.append(spec.url)
    used = {name: value for name, value in values.items()
            if name not in UNHASHED_PLACEHOLDERS and any("{" + name + "}" in text for text in texts)}
    entry = {name: getattr(spec, name) for name in SETUP_FIELDS}
    entry |= {"url": spec.url if spec.transport == "http" else None, "placeholders": used}
    text = json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class McpActionError(ValueError):
    pass


class ServerEntryTaskError(TaskError, RuntimeError):
    """A user's server that cannot start because of its servers-file entry (sandboxes.mcp_servers.ServerEntryError):
    a task error, as the task's set-up is what is wrong, not the environment, which a rerun would meet the same.
    Not for an entry the setup script installs: there the machine lacks what the script installs."""


def entry_at_fault(spec, headline: str) -> str:
    """What to change after a start failure that the entry of `spec` causes: the entry (its command, unless
    `headline` names it already) in its servers file."""
    where = f"servers file {spec.source}" if spec.source else "its servers file"
    command = "" if f"command {spec.command!r}" in headline else f", command {spec.command!r}"
    return f"the entry of server {spec.name!r} in {where}{command}: fix it and run again"


def start_failure_headline(message: str, shipped: bool = True) -> str:
    """One line for a server that did not start: the reason from its stderr (node's `Error: Cannot find module ...`,
    a Python traceback's last line) rather than the SDK's `Connection closed`, and, for a server the setup script
    installs (`shipped`), where the servers come from."""
    head, found, stderr = message.partition("; stderr: ")
    if not found:
        head, found, stderr = message.partition(" before listening: ")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_LINE.match(line)]
    head = head.splitlines()[0] if head.strip() else message
    if errors or lines:
        traceback = any(line.startswith("Traceback (most recent call last)") for line in lines)
        reason = (errors[-1] if traceback else errors[0]) if errors else lines[-1]
        head = f"{head.partition(':')[0]}: {reason}"
    if SETUP_SCRIPT in head or SETUP_COMMAND in head or not shipped:
        return head
    return (f"{head} (the shipped servers are installed by `{SETUP_COMMAND}`; in a checkout `make setup` runs it "
            f"through {SETUP_SCRIPT})")


def action_from_call(method: str, params: dict) -> Action:
    """The action as the benchmark writes it: `{"name": ..., "arguments": {...}}` for a tool call."""
    if method == "tools/call":
        call = {"name": params["name"], "arguments": params.get("arguments") or {}}
        return Action(kind=method, arguments=call, text=json.dumps(call, ensure_ascii=False))
    return Action(kind=method, arguments=dict(params),
                  text=json.dumps({"method": method, "params": params}, ensure_ascii=False))


def _refuse_unknown(spec: dict, known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(spec) - set(known), key=str)
    if unknown:
        raise McpActionError(f"action {spec!r:.80}: unknown {what} {unknown}; known: {sorted(known)}")


def parse_call(spec: Any) -> Action:
    """One scripted entry: {tool, arguments} | {name, arguments} | {method, params} (resources/read, prompts/get,
    or a list method with a cursor). Only the shape is checked: whether the tool exists is the server's to say, and
    the {workdir} and {pages} in arguments are filled in when the episode plays."""
    if not isinstance(spec, dict):
        raise McpActionError(f"an MCP action must be a mapping, got {type(spec).__name__}: {spec!r:.80}")
    if "method" in spec:
        method = spec["method"]
        if method not in CALL_METHODS + LIST_METHODS:
            raise McpActionError(f"action method {method!r} is not one of {', '.join(CALL_METHODS + LIST_METHODS)}")
        _refuse_unknown(spec, ("method", "params"), "keys")
        params = spec.get("params") or {}
        if not isinstance(params, dict):
            raise McpActionError(f"action {spec!r:.80}: params must be a mapping")
        _refuse_unknown(params, METHOD_PARAMS[method], f"{method} params")
        required = REQUIRED_PARAMS.get(method)
        if required and not isinstance(params.get(required), str):
            raise McpActionError(f"action {spec!r:.80}: {method} needs params.{required} (a string)")
        if method != "tools/call":
            return action_from_call(method, params)
        spec = params
    else:
        _refuse_unknown(spec, CALL_KEYS, "keys")
    name = spec.get("tool", spec.get("name"))
    if not isinstance(name, str) or not name:
        raise McpActionError(f"action {spec!r:.80} names no tool ('tool' or 'name') and no 'method'")
    arguments = spec.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise McpActionError(f"action {spec!r:.80}: arguments must be a mapping")
    return action_from_call("tools/call", {"name": name, "arguments": arguments})


def observation_for(exchange, error: Exception | None, server: str) -> Observation:
    """The observation the client got: the delivered result bytes, or the error the SDK gave when nothing came."""
    delivered = exchange.delivered
    meta: dict[str, Any] = {"server": server, "method": exchange.method}
    if delivered is not None:
        raw = exchange.raw(delivered)
        result = getattr(delivered, "result", None)
        meta["is_error"] = bool(isinstance(result, dict) and result.get("isError"))
        meta["jsonrpc_error"] = result is None
    else:
        # No response reached the client (a timeout): what it has is the SDK's own error, as a JSON-RPC error.
        payload = {"code": -32001, "message": str(error)}
        raw = json.dumps({"jsonrpc": "2.0", "error": payload}, ensure_ascii=False, separators=(",", ":")).encode()
        meta.update(is_error=False, jsonrpc_error=True, source="client")
    if error is not None and delivered is not None and meta["jsonrpc_error"] is False:
        meta["client_error"] = f"{type(error).__name__}: {error}"[:300]  # e.g. a result the SDK could not validate
    if exchange.answered_by_proxy:
        meta["answered_by"] = "proxy"
    if exchange.repaired:
        meta["repaired"] = exchange.repaired  # raw holds U+FFFD where the server's JSON escaped half a pair
    return Observation(text=rendered(raw, meta), raw=raw, raw_format=RAW_FORMAT, meta=meta)


def rendered(raw: bytes, meta: dict) -> str:
    try:
        return render(RAW_FORMAT, raw, meta)
    except RenderError as exc:
        meta["render_error"] = str(exc)
        return raw.decode("utf-8", errors="replace")


def masked_observation(observation: Observation, mask: SecretMask) -> Observation:
    """`observation` with the server's secrets masked in its raw bytes and meta, and its text rendered again from
    the masked raw: curation renders the text from raw (transforms.normalize), so masking the text alone would be
    undone there. Meta `masked` names the variables whose values were found."""
    if not mask:
        return observation
    found: set[str] = set()
    raw = mask.raw(observation.raw, found)
    meta = mask.value(observation.meta, found)
    if not found:
        return observation
    meta.pop("render_error", None)
    meta["masked"] = sorted(found)
    text = mask.text(rendered(raw, meta), found)  # a secret escaped deeper than the raw masking reaches
    return Observation(text=text, raw=raw, raw_format=RAW_FORMAT, meta=meta)


class MaskedError(RuntimeError):
    """An environment error whose message held a secret of its server, raised in its stead (masked) when the
    original's own text could not be masked in place."""


class MaskedTaskError(TaskError, RuntimeError):
    """MaskedError for a task error."""


def masked_error(exc: Exception, mask: SecretMask) -> Exception:
    """`exc` with the server's secrets masked in its message (the episode's end_reason) and in those of its causes,
    or a MaskedError saying the same where its message cannot be set."""
    if not mask:
        return exc
    found: set[str] = set()
    chain, seen = exc, set()
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        text = str(chain)
        masked = mask.text(text, found)
        if masked != text:
            try:
                chain.args = (masked,)
            except (AttributeError, TypeError):
                pass
        chain = chain.__cause__ or chain.__context__
    if not found or not mask.leaks(str(exc)):
        return exc
    kind = MaskedTaskError if isinstance(exc, TaskError) else MaskedError
    return kind(f"{type(exc).__name__}: {mask.text(str(exc), set())}")


def check_task(task: Task) -> None:
    """Everything in a scripted task that can be wrong before its server starts (options, options.perturb, every
    action's shape): McpActionError naming the task. Found only when the episode played, a typo in options.perturb
    was counted as an environment error, retried on every run."""
    from sandboxes.mcp_proxy import PerturbationSpecError, parse_spec

    if task.perturbations:
        # The common field is a list of labels the episode record keeps; nothing here would apply them.
        raise McpActionError(f"task {task.id!r}: perturbations {task.perturbations} would be recorded but not "
                             f"applied: MCP perturbations go in options.perturb (docs/mcp.md)")
    unknown = sorted(set(task.options) - set(TASK_OPTIONS), key=str)
    if unknown:
        raise McpActionError(f"task {task.id!r}: unknown options {unknown}; known: {list(TASK_OPTIONS)}")
    try:
        parse_spec(task.options.get("perturb"), "options.perturb")
    except PerturbationSpecError as exc:
        raise McpActionError(f"task {task.id!r}: {exc}") from None
    for number, spec in enumerate(task.actions, 1):
        try:
            parse_call(spec)
        except McpActionError as exc:
            raise McpActionError(f"task {task.id!r} action #{number}: {exc}") from None


def _argument(args: list[str], option: str) -> str | None:
    """The value after `option` in a server's argument list."""
    return args[args.index(option) + 1] if option in args[:-1] else None


class McpCollector(Collector):
    name = "mcp"
    version = "1"

    def __init__(self, servers: dict, domain: str = "mcp", default_perturb: list | None = None,
                 call_timeout_s: float = 30.0):
        self.servers = servers
        self.domain = domain
        self.default_perturb = default_perturb or []
        self.call_timeout_s = call_timeout_s
        self.connection = None
        self.tools: list[dict] = []
        self.resources: list[dict] = []
        self.prompts: list[dict] = []
        self._server_info: dict = {}
        self._oom_kills: int | None = None  # the server cgroup's OOM kills at the last observation
        # The secrets of the episode's server, masked in everything recorded (collectors.secret_mask).
        self.mask = SecretMask()

    def server_for(self, task: Task):
        name = task.options.get("server")
        if name not in self.servers:
            raise McpActionError(f"task {task.id!r}: options.server {name!r} is not in the servers file "
                                 f"(known: {', '.join(sorted(self.servers))})")
        return self.servers[name]

    def task_group(self, task: Task) -> str:
        """What the task's server serves: for a search server, its corpus and world seed (world7, packages), which
        entries over either transport share; otherwise the entry's name, an HTTP entry NAME-http running its stdio
        twin NAME's command counted as NAME, whose tools answer alike."""
        name = task.options.get("server")
        spec = self.servers.get(name) if isinstance(name, str) else None
        if spec is None:
            return task.id
        corpus = _argument(spec.args, "--corpus")
        if corpus:
            return corpus + (_argument(spec.args, "--seed") or "")
        twin = self.servers.get(spec.name.removesuffix("-http"))
        return twin.name if spec.transport == "http" and twin and twin.command == spec.command else spec.name

    def reset(self, task: Task) -> Observation:
        from sandboxes.mcp_server_spec import SANDBOX_WORKDIR, placeholder_values

        self.mask, self._server_info = SecretMask(), {}  # not the last episode's server's, if this one fails
        try:
            spec = self.server_for(task)
            # Made before the start: a server that fails to start may print its secret in its stderr.
            self.mask = SecretMask(server_secrets(spec, placeholder_values(SANDBOX_WORKDIR, 0)))
            observation = self._reset(task, spec)
        except Exception as exc:
            masked = masked_error(exc, self.mask)
            if masked is exc:
                raise
            raise masked from None
        # What exploration picks from (resource URIs, prompt names) becomes a recorded action.
        for key in ("tools", "resources", "prompts"):
            setattr(self, key, self.mask.value(getattr(self, key), set()))
        return masked_observation(observation, self.mask)

    def _reset(self, task: Task, spec) -> Observation:
        from sandboxes.mcp_proxy import parse_spec
        from sandboxes.mcp_sandbox import ServerStartError
        from sandboxes.mcp_servers import ServerConnection, ServerEntryError

        self.close()
        rules = parse_spec(task.options.get("perturb", self.default_perturb), f"task {task.id!r} options.perturb")
        seed = zlib.crc32(task.id.encode())
        try:
            self.connection = ServerConnection(spec, rules, seed=seed,
                                               call_timeout_s=self.call_timeout_s).__enter__()
        except ServerStartError as exc:
            # The first line is what the console shows (once per server); the server's stderr follows it in the
            # episode's end_reason.
            from sandboxes.mcp_server_spec import installed_by_setup
            headline = start_failure_headline(str(exc), installed_by_setup(spec))
            if isinstance(exc, ServerEntryError) and not installed_by_setup(spec):
                raise ServerEntryTaskError(f"{headline} ({entry_at_fault(spec, headline)})\n{exc}") from exc
            raise ServerStartError(f"{headline}\n{exc}") from exc
        initialize = self.connection.initialize
        init_result = initialize.delivered.result
        self._server_info = init_result.get("serverInfo") or {}
        parts = [(b"initialize", initialize.raw(initialize.delivered))]
        capabilities = init_result.get("capabilities") or {}
        for method, key in (("tools/list", "tools"), ("resources/list", "resources"), ("prompts/list", "prompts")):
            if key not in capabilities:
                continue
            exchange, error = self.connection.request(method)
            if exchange.delivered is None or not hasattr(exchange.delivered, "result"):
                raise RuntimeError(f"server {spec.name!r}: {method} failed at reset: {error}")
            setattr(self, key, list(exchange.delivered.result.get(key) or []))
            parts.append((method.encode(), exchange.raw(exchange.delivered)))
        self._oom_kills = self.connection.oom_kills()  # what start-up met is not the first step's
        # The state keeps each result's bytes untouched, side by side under its method name.
        raw = b"{" + b",".join(b'"' + name + b'":' + body for name, body in parts) + b"}"
        meta = {"server": spec.name, "method": "initialize"}
        return Observation(text=render(RAW_FORMAT, raw, meta), raw=raw, raw_format=RAW_FORMAT, meta=meta)

    def env_info(self) -> EnvInfo:
        spec = self.connection.spec if self.connection else None
        found: set[str] = set()  # not recorded: env details are no step's
        server = self.mask.text(f"{self._server_info.get('name', '')}@{self._server_info.get('version', '')}",
                                found)
        # args as the servers file writes them: {env:NAME} stays a placeholder, and a literal secret-looking
        # env value echoed in them is masked.
        details = self.mask.value({"server_info": self._server_info, "transport": spec.transport if spec else "",
                                   "command": spec.command if spec else "", "args": spec.args if spec else [],
                                   "sandbox": self.connection.sandbox_record() if self.connection else None}, found)
        return EnvInfo(kind="mcp-server", id=spec.name if spec else "none",
                       digest=f"{server}+{setup_digest(spec, self.connection.values)}" if spec else server,
                       details=details)

    def recorded_env_matches(self, recorded: dict, current: dict) -> bool:
        """A recording from before the set-up digest (its digest is the server's name@version alone) ran in this
        environment if it shows the same server and the same command, args and transport: all of the entry such a
        record holds (a change to its env or prepare commands alone is not seen in it)."""
        if recorded["digest"] != current["digest"].rpartition("+")[0]:
            return False
        try:
            before, now = json.loads(recorded["details_json"] or "{}"), json.loads(current["details_json"] or "{}")
        except ValueError:
            return False
        return all(before.get(key) == now.get(key) for key in ("command", "args", "transport"))

    def parse_action(self, spec: Any) -> Action:
        return parse_call(spec)

    def step(self, action: Action) -> StepResult:
        if self.connection is None:
            raise RuntimeError("step() before reset()")
        try:
            result = self._step(action)
        except Exception as exc:
            masked = masked_error(exc, self.mask)
            if masked is exc:
                raise
            raise masked from None
        self._oom_kills = result.count_oom_kills(self.connection.oom_kills(), self._oom_kills)
        return result

    def _step(self, action: Action) -> StepResult:
        params = self.connection.expand_arguments(action.arguments)
        if params != action.arguments:  # record the call as it was sent, not its template
            sent = action_from_call(action.kind, params if action.kind != "tools/call" else
                                    {"name": params["name"], "arguments": params.get("arguments") or {}})
            action.arguments, action.text = sent.arguments, sent.text
        exchange, error = self.connection.request(action.kind, params)
        observation = observation_for(exchange, error, self.connection.spec.name)
        reference = None
        if exchange.labels and exchange.original is not None and exchange.original is not exchange.delivered:
            raw = exchange.raw(exchange.original)
            meta = {"server": self.connection.spec.name, "method": exchange.method, "unperturbed": True}
            reference = Observation(text=render(RAW_FORMAT, raw, meta), raw=raw, raw_format=RAW_FORMAT, meta=meta)
        error_text = None
        if exchange.delivered is None:
            error_text = f"timeout: no response within {self.call_timeout_s:g} s"
            if getattr(error, "restart_s", None) is not None:
                # The server was still on the call: ServerConnection restarted it (same working directory).
                error_text += "; server restarted"
        return StepResult(observation=masked_observation(observation, self.mask),
                          perturbations=list(exchange.labels),
                          reference=reference and masked_observation(reference, self.mask),
                          error=error_text and self.mask.text(error_text, set()))

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            connection.close()


# ---- command ----

def _explore_tasks(servers: dict, names: list[str]) -> list[Task]:
    return [Task(id=f"explore-{name}", instruction=f"Explore the '{name}' MCP server: {servers[name].description}"
                 .rstrip(": "), domain=servers[name].domain, options={"server": name}) for name in names]


def collect_command(
    out: Path = OutOption,
    servers_file: Path | None = typer.Option(None, "--servers", help="Servers file (default: the shipped "
                                                                      "tasks/mcp_servers.yaml)."),
    tasks_file: Path | None = typer.Option(None, "--tasks", help="Scripted tasks (YAML/JSONL; default without "
                                                                  "--explore: the shipped tasks/mcp.yaml)."),
    explore: bool = typer.Option(False, "--explore", help="Schema-driven exploration of each server instead."),
    server: list[str] = typer.Option([], "--server", metavar="<name>",
                                     help="Only this server (repeatable: --server a --server b)."),
    perturb_file: Path | None = typer.Option(None, "--perturb", help="YAML list of proxy perturbations applied "
                                             "to every episode whose task has no options.perturb."),
    call_timeout: float = typer.Option(30.0, "--call-timeout", min=0.1, help="Seconds before a call times out."),
    seeds: int = SeedsOption,
    max_steps: int = MaxStepsOption,
    replays: int = ReplaysOption,
    workers: int = WorkersOption,
    limit: int | None = LimitOption,
) -> None:
    """Collect MCP transitions from real servers: scripted tasks (--tasks, by default the shipped ones) or
    schema-driven exploration (--explore)."""
    from collectors.api import ScriptedPolicy
    from collectors.tasks import InputFileError, TaskFileError, known_domains, load_tasks
    from sandboxes.mcp_proxy import parse_spec
    from sandboxes.mcp_server_spec import ServerFileError, load_servers
    from schemas.yaml_file import load_yaml

    if tasks_file is not None and explore:
        raise typer.BadParameter("give either --tasks FILE or --explore, not both")
    if tasks_file is None and not explore:
        tasks_file = DEFAULT_TASKS_FILE
    # Not relative to the working directory: the shipped file sits beside the package, wherever the command runs.
    if servers_file is None and not DEFAULT_SERVERS_FILE.is_file():
        raise ServerFileError(f"no servers file: the shipped {DEFAULT_SERVERS_FILE} is missing; give one with "
                              f"--servers FILE")
    servers_file = servers_file or DEFAULT_SERVERS_FILE
    servers = load_servers(servers_file, known_domains())
    unknown = [name for name in server if name not in servers]
    if unknown:
        raise typer.BadParameter(f"unknown server(s) {unknown}; {servers_file} has {', '.join(sorted(servers))}")
    if perturb_file is not None and not perturb_file.is_file():
        raise InputFileError(f"perturbation file {perturb_file} does not exist")
    perturb = load_yaml(perturb_file, perturb_file.read_text(encoding="utf-8"), InputFileError) if perturb_file else []
    parse_spec(perturb, str(perturb_file))  # fail before any server starts
    if explore:
        tasks, policy = _explore_tasks(servers, server or sorted(servers)), ExplorePolicy
    else:
        tasks, policy = load_tasks(tasks_file, {"mcp", *(spec.domain for spec in servers.values())}), ScriptedPolicy
        for task in tasks:  # before any server starts: a wrong task would otherwise fail once per episode
            try:
                check_task(task)
            except McpActionError as exc:
                raise TaskFileError(f"{tasks_file}: {exc}") from None
        tasks = [t for t in tasks if not server or t.options.get("server") in server]
        for task in tasks:
            if task.options.get("server") not in servers:
                raise TaskFileError(f"{tasks_file}: task {task.id!r}: options.server "
                                    f"{task.options.get('server')!r} is not in {servers_file} (known: "
                                    f"{', '.join(sorted(servers))})")
    # Before any episode: a fresh install has no servers yet, and every episode would fail on its own.
    from sandboxes.mcp_install import require_installed

    require_installed([servers[name] for name in sorted({t.options["server"] for t in tasks})])
    by_domain: dict[str, list[Task]] = {}
    for task in tasks:
        by_domain.setdefault(servers[task.options["server"]].domain, []).append(task)
    # Every domain is collected before the exit code says whether all their episodes failed.
    exit_if_all_failed(*[run_and_report(lambda d=domain: McpCollector(servers, d, perturb, call_timeout),
                                        plans_for(domain_tasks, seeds, policy, max_steps, replays), out,
                                        domain=domain, workers=workers, limit=limit, exit_on_failure=False)
                         for domain, domain_tasks in sorted(by_domain.items())])
