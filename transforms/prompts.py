"""World-model prompts: the system prompt, one per domain plus a generic one for domains added later, and the
layout of a turn's user prompt.

Each system prompt says what environment is being simulated, how its observations are written, and how to answer:
the next observation inside <predicted_observation>...</predicted_observation>. A turn's user prompt is written in
AgentWorldBench's layout (`### Turn N`, then `**Task Instruction:**`, `**Current State:**` and `**Action:**`
sections, the action in a code block). The stage 2/3 chat rows and the AgentWorldBench export both take their
system prompt and their turn prompts from here, so a model is evaluated under the prompt it was trained with.
"""

from __future__ import annotations

import json
import re

ANSWER_TAG = "predicted_observation"

_ANSWER = (
    "Answer with the exact next observation inside <predicted_observation>...</predicted_observation>, written in "
    "the same format as the observations you have seen. Predict what the environment really returns, including "
    "errors, empty output and unchanged screens; never describe it, never act for the agent."
)

_ENVIRONMENTS = {
    "terminal": (
        "You simulate a Linux terminal: a bash shell inside a tmux pane on a Debian machine without network. "
        "Each action is a JSON array of keystroke chunks, {\"keystrokes\": ..., \"duration\": seconds}, in tmux "
        "notation (Enter, C-c, Tab). Each observation is the visible pane after the keystrokes: the screen's "
        "plain text, one line per row, trailing spaces and trailing blank rows removed, colors dropped."
    ),
    "swe": (
        "You simulate a software repository checked out in a sandboxed Linux container: a git working tree with "
        "its build and test tools installed, no network. Actions are shell commands or file edits made by a coding "
        "agent. Each observation is what the command printed (stdout and stderr interleaved), with its exit "
        "status where it is shown; file contents, diffs and test reports appear exactly as the tools print them."
    ),
    "web": (
        "You simulate a web browser showing a real web application. Actions are BrowserGym-style calls such as "
        "click(bid), fill(bid, value), select_option(bid, option), goto(url), go_back(), scroll(dx, dy) and "
        "keyboard_press(key). Each observation is the page's accessibility tree as text, one node a line, "
        "indented by depth, written `[bid] role 'name'` with states and values after the name; bids are stable "
        "element ids that actions refer to."
    ),
    "android": (
        "You simulate an Android phone. Actions are taps, long presses, swipes, typed text and key presses "
        "(back, home, enter) aimed at elements or screen coordinates. Each observation is the current screen's "
        "view hierarchy flattened to one element a line: `[index] | class | res=\"id\" | text=\"...\" | "
        "bounds=[x1,y1][x2,y2] | flags` such as clickable, checked, focused."
    ),
    "mcp": (
        "You simulate a Model Context Protocol (MCP) server. Each action is a JSON tool call, "
        "{\"name\": tool, \"arguments\": {...}}. Each observation is the tool result as the client receives it: "
        "the text of its content blocks in order, structured content as JSON with sorted keys, a `[tool error]` "
        "first line when the tool reports an error, or `[error code] message` for a protocol error."
    ),
    "search": (
        "You simulate a search tool reached through the Model Context Protocol. Each action is a JSON tool call "
        "with a query and options. Each observation is the tool result: a ranked list of results (title, URL, "
        "snippet) or the fetched document text, as the tool returns it; an empty result list is a valid answer."
    ),
    "os": (
        "You simulate a Linux desktop (X11, small GTK applications) observed through its accessibility tree. "
        "Actions are pyautogui/xdotool-style: clicks at coordinates or on named elements, typing, key "
        "combinations, window switches. Each observation is the desktop's accessibility tree as text, one "
        "element a line, indented by depth, with role, name, states and on-screen extents."
    ),
}

_GENERIC = (
    "You simulate the environment an agent is acting in. Each action is written the way this environment's tools "
    "accept it. Each observation is the text the environment returns after the action, in the same format as the "
    "observations shown earlier in the conversation."
)

DOMAINS = tuple(_ENVIRONMENTS)


def system_prompt(domain: str) -> str:
    """The world-model system prompt for `domain`; unknown domains get the generic prompt."""
    environment = _ENVIRONMENTS.get(domain, _GENERIC)
    return (f"You are a world model of an agent environment (domain: {domain}). {environment}\n\n"
            "Given the task, the history of actions and observations, and the agent's next action, predict the "
            f"observation the environment returns next. {_ANSWER}")


# A turn's user prompt: its number, then the task and the state before the action (on the turn a conversation opens
# with, each left out when empty), then the action. Format strings, so that stages.build_stage_tables can fill them
# with the values of many rows at once.
TURN_HEADER = "### Turn {turn}\n"
INSTRUCTION_SECTION = "**Task Instruction:**\n{instruction}\n\n"
STATE_SECTION = "**Current State:**\n{state}\n\n"
ACTION_SECTION = "**Action:**\n{action}"
_BACKTICK_RUNS = re.compile(r"`+")
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
    longest = max(map(len, _BACKTICK_RUNS.findall(action_text))) if "`" in action_text else 0
    fence = "`" * max(3, longest + 1)
    return f"{fence}{'json' if _is_json_value(action_text) else ''}\n{action_text}\n{fence}"


def turn_prompt(turn: int, action_text: str, instruction: str | None = None, state_text: str = "") -> str:
    """The user prompt of turn `turn` (its transition's recorded step + 1).
    The task and the state before the action are given on the turn a conversation opens with; an empty one is left
    out rather than shown as an empty section."""
    return (TURN_HEADER.format(turn=turn)
            + (INSTRUCTION_SECTION.format(instruction=instruction) if instruction else "")
            + (STATE_SECTION.format(state=state_text) if state_text else "")
            + ACTION_SECTION.format(action=action_block(action_text)))
