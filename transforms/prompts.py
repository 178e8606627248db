"""World-model prompts: the system prompt, one per domain plus a generic one for domains added later, and the
layout of a turn's user prompt.

Each system prompt says what environment is being simulated, how its observations are written, and how to answer:
the next observation inside <predicted_observation>...</predicted_observation>. A turn's user prompt is written in
AgentWorldBench's layout (`### Turn N`, then `**Task Instruction:**`, `**Current State:**` and `**Action:**`
sections, the action in a code block). The stage 2/3 chat rows and the AgentWorldBench export both take their
system prompt and their turn prompts from here, so a model is evaluated under the prompt it was trained with, but
for one difference: the stage rows fence the state as they fence the action, while the export writes it unfenced, as
the benchmark's own lines do (docs/formats.md, "World-model prompts").

A domain worldline does not ship gets its description from the collector plugin that records it: a `Domain` named
by an entry point in the `worldline.domains` group (plugin_domains), or else the generic one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType

from schemas.render.os import HEADER as OS_HEADER
from schemas.validate import DOMAIN_PATTERN

ANSWER_TAG = "predicted_observation"

_ANSWER = (
    "Answer with the exact next observation inside <predicted_observation>...</predicted_observation>, written in "
    "the same format as the observations you have seen. Predict what the environment really returns, including "
    "errors, empty output and unchanged screens; never describe it, never act for the agent."
)

# Each entry describes the observations as their renderer (schemas/render/) writes them and the actions as the
# collector records them; tests/formats/test_prompts.py checks each against real rendered observations.
_ENVIRONMENTS = {
    "terminal": (
        "You simulate a Linux terminal: a bash shell inside a tmux pane on a Debian machine without network. "
        "Each action is a JSON array of keystroke chunks, {\"keystrokes\": ..., \"duration\": seconds}, in tmux "
        "notation (Enter, C-c, Tab; a newline presses Enter). Each observation is the pane after the keystrokes as "
        "plain text: the lines that scrolled off the top since the last observation, then the visible screen, one "
        "line per row, long lines wrapped at the pane width, trailing spaces and trailing blank rows removed, "
        "colors dropped. A command still running when the wait ends shows its screen as it is, without a new "
        "prompt."
    ),
    "swe": (
        "You simulate a software repository checked out at /work/repo in a sandboxed Linux container: a git "
        "working tree with its build and test tools installed, no network. Each action is a JSON tool call: "
        "{\"name\": \"bash\", \"arguments\": {\"command\": ...}} (a fresh bash in the repository root), "
        "{\"name\": \"str_replace_editor\", \"arguments\": {\"command\": \"view\" | \"create\" | "
        "\"str_replace\" | \"insert\", \"path\": ..., ...}}, {\"name\": \"run_tests\", \"arguments\": "
        "{\"tests\": [...]}} (all tests when none are named), {\"name\": \"git_diff\", \"arguments\": {}} or "
        "{\"name\": \"submit\", \"arguments\": {}} (prints the patch). The first state is the editor's view of "
        "/work/repo. Each observation is exactly what the command printed, stdout and stderr interleaved, possibly "
        "empty; the exit status is not shown. The editor prints `cat -n` numbered lines or its message, run_tests "
        "prints pytest's report, git_diff and submit a unified diff. A command that runs past its time limit is "
        "killed, and its observation ends with the line "
        "`The command was cancelled because it took more than N seconds.`"
    ),
    "web": (
        "You simulate a web browser showing a real web application. Actions are BrowserGym-style calls such as "
        "click(bid), fill(bid, value), select_option(bid, option), keyboard_press(key), scroll(dx, dy), goto(url), "
        "go_back(), new_tab(), tab_focus(index), tab_close() and report_infeasible(reason). Each observation "
        "starts with a header: `URL: ...`, `Title: ...`, `Tabs: [0] title (active) | [1] title`, then "
        "`Focused: ` and the focused element's line when an element in the page (not the page itself) has the "
        "focus, and `Error: ...` when the "
        "action failed. Then comes the page's accessibility tree, one node a line, indented with one tab per "
        "level, written `[bid] role 'name'` followed by `, value='...'`, flags and properties such as `focused`, "
        "`checked=true` or `level=1`; nodes without a bid, such as text, have no `[bid]` "
        "(`StaticText 'Welcome'`). Bids are the element ids that actions refer to; they hold while a page stays "
        "loaded and may change when a page loads again (a navigation, a form submit, go_back)."
    ),
    "android": (
        "You simulate an Android phone. Actions are tap(i) or tap(x, y), long_press(i), swipe(direction) or "
        "swipe(i, direction), scroll(direction) or scroll(i, direction), type(\"text\") and key(name) (back, home, "
        "enter, ...), where i is an element id of the current screen. Each observation is the current screen's "
        "view hierarchy flattened to one element a line: `[ i] | class | res=\"id\" | text=\"...\" | "
        "hint=\"...\" | desc=\"...\" | bounds=[x1,y1][x2,y2] | flags`, the id padded to two places, res, text, "
        "hint and desc only when not empty, and flags such as clickable, scrollable, checked, focused or disabled. "
        "Ids number the elements in hierarchy order, so an element that appears or disappears renumbers every "
        "element after it."
    ),
    "mcp": (
        "You simulate a Model Context Protocol (MCP) server. Each action is a JSON request: a tool call "
        "{\"name\": tool, \"arguments\": {...}}, or another method with its params, {\"method\": "
        "\"resources/read\" | \"prompts/get\" | \"tools/list\" | ..., \"params\": {...}}. The first state is "
        "the server's manifest: its initialize and list results as JSON. The server runs in a sandbox that usually "
        "has no network: a tool that fetches from outside it fails with the error the server gives. Each "
        "observation is the answer as the client receives it, also when the client then rejects it (a result that breaks the tool's output "
        "schema is shown as sent). For a tool call: a `[tool error]` first line when the tool reports an error, then the text of "
        "its content blocks in order (binary blocks as `[image: type, N bytes]` and the like, resource links as "
        "`[resource link: name uri]`), then its structured content as JSON with sorted keys and a two-space "
        "indent, unless a text block already says the same. For another method: its result as JSON with sorted "
        "keys. For a protocol error or a timeout: "
        "`[error code] message`, then the error's data as JSON (sorted keys, two-space indent) when it has any."
    ),
    "search": (
        "You simulate a search engine reached through the Model Context Protocol. Each action is a JSON tool "
        "call: {\"name\": \"search\", \"arguments\": {\"query\": ..., \"limit\": n, \"offset\": n}} or "
        "{\"name\": \"open_page\", \"arguments\": {\"page_id\": ..., \"offset\": n}}. The first state is the "
        "server's manifest: its initialize and list results (tools, prompts, resources) as JSON. Each observation is "
        "the "
        "tool result as JSON with sorted keys and a two-space indent: a search gives `offset`, `query`, `results` "
        "(each with `page_id`, `snippet` with the matched words in **bold**, `title` and `url`; an empty list is a "
        "valid answer) and `total`; open_page gives `links` (page ids), `next_offset` (null on the last window), "
        "`offset`, `page_id`, `text` (one window of the page), `title` and `url`. A rejected call gives "
        "`[tool error]` and the reason on the next line."
    ),
    "os": (
        "You simulate a Linux desktop (X11, small GTK applications) observed through its accessibility tree. "
        "Actions are pyautogui-style: click(x, y), double_click, right_click, move(x, y), drag(x1, y1, x2, y2), "
        "type(\"text\"), press(\"enter\"), hotkey(\"ctrl\", \"s\"), scroll(clicks) and wait(seconds); pointer "
        "actions can also aim at element=ID or at name=\"...\", role=\"...\". Each observation is OSWorld's "
        "linearized accessibility tree: a `focused window: [id] role 'name' (app)` line and a `focused element: "
        "[id] role 'name'` line (`none` when nothing has the focus), then a tab-separated table with the header "
        f"row `{OS_HEADER}` and one row per visible element: `[id]`, the role as a tag (push-button, menu-item), "
        "name, text (`\"\"` when empty), class, description, `(x, y)`, `(w, h)` and salient states (focused, "
        "checked, selected, pressed, expanded or disabled). Tabs and newlines inside a cell are written as `\\t` "
        "and `\\n`. Ids number the elements in tree order, so an element that appears or disappears (a menu "
        "opening or closing) renumbers every element after it; an action refers to an element by its id in the "
        "current observation."
    ),
}

_GENERIC = (
    "You simulate the environment an agent is acting in. Each action is written the way this environment's tools "
    "accept it. Each observation is the text the environment returns after the action, in the same format as the "
    "observations shown earlier in the conversation."
)

DOMAINS = tuple(_ENVIRONMENTS)  # the shipped domains; plugin_domains() holds the ones plugins add
GENERIC = "generic"  # the rubric of a domain no one describes: not a name a plugin may take
DOMAIN_GROUP = "worldline.domains"


@dataclass(frozen=True)
class Domain:
    """What a collector plugin tells curation about the domain its collector records. The plugin names one in its
    pyproject.toml, under the `worldline.domains` entry point group: the name is the domain (the collector's
    `domain` attribute), the value `module:attribute` of a Domain (docs/adding-a-collector.md, item 5).

    environment: the system prompt's description of the environment, where a shipped domain's stands (_ENVIRONMENTS):
    what is simulated, what an action looks like, and how an observation is written, as the collector records them.
    chars_per_token: characters per token of the domain's stage-2 rows (transforms/card.py CHARS_PER_TOKEN), for the
    dataset card's token estimates; None shows them as not measured.
    """

    environment: str
    chars_per_token: float | None = None

    def __post_init__(self) -> None:
        # Checked here so that a mistake fails where the plugin builds its Domain, with the plugin's own line in the
        # traceback, and curation reports it as that entry point's load error.
        if not isinstance(self.environment, str) or not self.environment.strip():
            raise ValueError("Domain(environment=...) must describe the environment as non-empty text, got "
                             f"{self.environment!r}")
        object.__setattr__(self, "environment", self.environment.strip())
        ratio = self.chars_per_token
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))
                                  or not math.isfinite(ratio) or ratio <= 0):
            raise ValueError("Domain(chars_per_token=...) must be a positive number of characters per token, or "
                             f"None, got {ratio!r}")


class DomainPluginError(Exception):
    """Installed `worldline.domains` entry points that cannot be used; the message names each and what to fix."""


def _entry_point(ep: EntryPoint) -> str:
    dist = ep.dist
    owner = f"distribution {dist.name} {dist.version}" if dist is not None else "no known distribution"
    return f"entry point '{ep.name} = {ep.value}' ({DOMAIN_GROUP}, {owner})"


def _refusal(ep: EntryPoint) -> str | None:
    """Why an entry point's name cannot be a plugin domain, checked before its module is imported."""
    if ep.name in _ENVIRONMENTS:
        return (f"{_entry_point(ep)} would replace the system prompt worldline ships for the '{ep.name}' domain, "
                "which a plugin cannot do: give your collector a domain of its own and register that, or uninstall "
                "the distribution")
    if ep.name == GENERIC:
        return (f"{_entry_point(ep)}: '{GENERIC}' names the rubric of undescribed domains and cannot be registered: "
                "give your collector another domain")
    if not DOMAIN_PATTERN.match(ep.name):
        return (f"{_entry_point(ep)}: '{ep.name}' is not a domain name (lowercase letters, digits, - or _, at most "
                "32): name the entry point after the `domain` attribute of your collector")
    return None


def _load(ep: EntryPoint) -> Domain | str:
    """The entry point's Domain, or why it cannot be used."""
    try:
        value = ep.load()
    except Exception as exc:  # whatever the plugin's module raises on import is the plugin's to fix
        failure = f"{_entry_point(ep)} could not be loaded: {type(exc).__name__}: {exc}"
        module = ep.value.partition(":")[0].strip()
        if isinstance(exc, ModuleNotFoundError) and exc.name and not f"{module}.".startswith(f"{exc.name}."):
            return f"{failure}. The plugin needs it: install the plugin's dependencies where curation runs"
        if isinstance(exc, (ImportError, AttributeError)):
            return (f"{failure}. Its value must name a module and attribute of the installed package "
                    "(module:attribute) that holds a transforms.prompts.Domain")
        return failure
    if not isinstance(value, Domain):
        return (f"{_entry_point(ep)} is a {type(value).__name__}, not a transforms.prompts.Domain: point it at "
                "Domain(environment=\"...\") in your package")
    return value


def _order(ep: EntryPoint) -> tuple[str, str, str]:
    return ep.name, ep.value, ep.dist.name if ep.dist is not None else ""


def plugin_domains() -> Mapping[str, Domain]:
    """The domains installed plugins describe, by name in sorted order. Read once per process, on first use (each
    Beam worker process reads its own, so the plugin must be installed where the workers run); `worldline curate`
    calls it before any work, so that a broken entry point stops the run there rather than in a worker. Raises
    DomainPluginError naming every entry point that cannot be used."""
    return _plugins()[0]


def plugin_distributions() -> Mapping[str, str]:
    """`distribution version` of the plugin describing each of plugin_domains() ("unknown distribution" for an entry
    point no distribution owns): the docs ask a plugin to take a new version when its text changes, so the output
    can say which text its prompts came from."""
    return _plugins()[1]


@cache
def _plugins() -> tuple[Mapping[str, Domain], Mapping[str, str]]:
    domains: dict[str, Domain] = {}
    owners: dict[str, EntryPoint] = {}
    problems = []
    # Sorted, so that the domains and the message do not depend on the order of sys.path.
    for ep in sorted(entry_points(group=DOMAIN_GROUP), key=_order):
        if (refusal := _refusal(ep)) is not None:
            problems.append(refusal)
        elif ep.name in owners:
            # Which one won would depend on what is installed where: the same data must get the same prompt.
            problems.append(f"{_entry_point(ep)} registers the domain '{ep.name}' that "
                            f"{_entry_point(owners[ep.name])} registers too: uninstall one of them")
        else:
            owners[ep.name] = ep
            loaded = _load(ep)
            if isinstance(loaded, Domain):
                domains[ep.name] = loaded
            else:
                problems.append(loaded)
    if problems:
        raise DomainPluginError("; ".join(problems))
    sources = {name: (f"{owners[name].dist.name} {owners[name].dist.version}" if owners[name].dist is not None
                      else "unknown distribution") for name in domains}
    return MappingProxyType(domains), MappingProxyType(sources)  # one per process, shared by every caller: read-only


def environment(domain: str) -> str:
    """The description of `domain`'s environment: the shipped one, its plugin's, or the generic one. A shipped
    domain's does not read the plugins, so its rows are built as before whatever is installed."""
    if domain in _ENVIRONMENTS:
        return _ENVIRONMENTS[domain]
    plugin = plugin_domains().get(domain)
    return plugin.environment if plugin is not None else _GENERIC


def system_prompt(domain: str) -> str:
    """The world-model system prompt for `domain`; a domain neither shipped nor described by an installed plugin
    gets the generic prompt."""
    return (f"You are a world model of an agent environment (domain: {domain}). {environment(domain)}\n\n"
            "Given the task, the history of actions and observations, and the agent's next action, predict the "
            f"observation the environment returns next. {_ANSWER}")


# A turn's user prompt: its number, then the task and the state before the action (on the turn a conversation opens
# with, each left out when empty), then the action. Format strings, so that stage_tables.build_stage_tables can fill them
# with the values of many rows at once.
TURN_HEADER = "### Turn {turn}\n"
INSTRUCTION_SECTION = "**Task Instruction:**\n{instruction}\n\n"
# The state is fenced like the action (fence_for): a screen or page can show an unclosed ``` fence or a `### Turn` or
# `**Action:**` line, which unfenced would swallow or fake the sections after it for a Markdown reader or a parser
# splitting on them. The AgentWorldBench export keeps the benchmark's unfenced state (UNFENCED_STATE_SECTION).
STATE_SECTION = "**Current State:**\n{fence}\n{state}\n{fence}\n\n"
UNFENCED_STATE_SECTION = "**Current State:**\n{state}\n\n"
ACTION_SECTION = "**Action:**\n{action}"
_BACKTICK_RUNS = re.compile(r"`+")
# A line a Markdown reader of an unfenced state would take for prompt structure: a code fence (CommonMark: up to
# three spaces, then three or more backticks or tildes) or one of the turn prompt's own headers.
# A pattern both re and RE2 (pyarrow.compute, for a column at once) read alike.
PROMPT_MARKUP_PATTERN = r"(?m)^(?: {0,3}(?:```|~~~)|### Turn |\*\*(?:Task Instruction|Current State|Action):\*\*)"
PROMPT_MARKUP_LINE = re.compile(PROMPT_MARKUP_PATTERN)
_JSON_WHITESPACE = " \t\n\r"  # json.loads skips these around a value, and only these
_JSON = json.JSONDecoder()


def _is_json_value(text: str) -> bool:
    """Whether text is a JSON object or array, as json.loads parses it. Curation formats every action it keeps, so
    text that cannot be one is not parsed, and the rest goes to the decoder itself: json.loads's checks and scans
    around it cost as much again on a short action. Nesting deeper than the parser recurses is not taken for JSON,
    so that one such action cannot stop curation."""
    body = text.strip(_JSON_WHITESPACE)
    if body[:1] not in ("{", "["):
        return False
    try:
        return _JSON.raw_decode(body)[1] == len(body)
    except (ValueError, RecursionError):
        return False


def action_block(action_text: str) -> str:
    """The action as a Markdown code block, `json` for tool calls and keystroke batches. The fence is longer than
    any backtick run in the action, so an action that writes Markdown cannot close it early."""
    if not isinstance(action_text, str):
        # A history row Finish keeps though its own trace failed on it may hold any value: written as format() does.
        action_text = format(action_text)
    fence = fence_for(action_text)
    return f"{fence}{'json' if _is_json_value(action_text) else ''}\n{action_text}\n{fence}"


def fence_for(text: str) -> str:
    """A code fence no line of text can close: backticks, one more than its longest backtick run, at least three."""
    if not isinstance(text, str):
        text = format(text)  # as action_block and str.format write a value that is not a str
    longest = max(map(len, _BACKTICK_RUNS.findall(text))) if "`" in text else 0
    return "`" * max(3, longest + 1)


def turn_prompt(turn: int, action_text: str, instruction: str | None = None, state_text: str = "", *,
                fence_state: bool = True) -> str:
    """The user prompt of turn `turn` (in a stage 2/3 chat its transition's recorded step + 1, in the
    AgentWorldBench export its place in the episode's curated turns).
    The task and the state before the action are given on the turn a conversation opens with; an empty one is left
    out rather than shown as an empty section. The state is a fenced code block (fence_for), unless fence_state is
    False: the AgentWorldBench export writes it as the benchmark does, as it is."""
    if not state_text:
        state = ""
    elif fence_state:
        state = STATE_SECTION.format(state=state_text, fence=fence_for(state_text))
    else:
        state = UNFENCED_STATE_SECTION.format(state=state_text)
    return (TURN_HEADER.format(turn=turn)
            + (INSTRUCTION_SECTION.format(instruction=instruction) if instruction else "")
            + state
            + ACTION_SECTION.format(action=action_block(action_text)))
