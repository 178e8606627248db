"""AgentWorldBench JSONL: the line format Qwen-AgentWorld's eval reads from `{domain}_test.jsonl`.

One line per evaluated turn. A line for turn t carries the episode's turns 1..t: `prompt[i]` is what the agent did
at turn i+1 (turn 1 also carries the task and the observation before it), `response[i]` what the environment
returned; `response[t-1]` is the reference for the evaluated turn. Later turns are left out so no line shows the
future of the turn it evaluates (the eval reads nothing past `turn_idx`). Every line of an episode has the same
`id`, as the benchmark's lines of one trajectory do, so consumers can group turns by trajectory.

The turn prompts follow the benchmark's layout (`### Turn N`, then `**Task Instruction:**`, `**Current State:**`
and `**Action:**` sections, the action in a code block), which Qwen-AgentWorld was trained on and which tools that
read the benchmark split into sections.
"""

from __future__ import annotations

import json
import re

from transforms.prompts import system_prompt

RESPONSE_PREFIX = "**Environment Observation:**"
_BACKTICK_RUNS = re.compile(r"`+")


def file_name(domain: str) -> str:
    return f"{domain}_test.jsonl"


def _is_json_value(text: str) -> bool:
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


def action_block(action_text: str) -> str:
    """The action as a Markdown code block, `json` for tool calls and keystroke batches. The fence is longer than
    any backtick run in the action, so an action that writes Markdown cannot close it early."""
    fence = "`" * max(3, 1 + max((len(run) for run in _BACKTICK_RUNS.findall(action_text)), default=0))
    language = "json" if _is_json_value(action_text) else ""
    return f"{fence}{language}\n{action_text}\n{fence}"


def turn_prompt(turn: int, action_text: str, instruction: str | None = None, state_text: str = "") -> str:
    """The prompt of turn `turn`; the task and the state before the first action are given on turn 1 only, and an
    empty one is left out rather than shown as an empty section."""
    sections = [f"**Task Instruction:**\n{instruction}"] if instruction else []
    if state_text:
        sections.append(f"**Current State:**\n{state_text}")
    sections.append(f"**Action:**\n{action_block(action_text)}")
    return f"### Turn {turn}\n" + "\n\n".join(sections)


def response(observation: str) -> str:
    return f"{RESPONSE_PREFIX}\n{observation}"


def episode_lines(rows: list[dict], trajectory_id: int = 0) -> list[dict]:
    """rows: the curated transitions of one episode. Returns one line per turn, all with `id` trajectory_id."""
    if not rows:
        return []
    rows = sorted(rows, key=lambda row: row["step"])
    domain = rows[0]["domain"]
    if any(row["domain"] != domain or row["episode_id"] != rows[0]["episode_id"] for row in rows):
        raise ValueError(f"episode {rows[0]['episode_id']}: rows of several episodes or domains were mixed")
    prompts = [turn_prompt(1, rows[0].get("action_text") or "", rows[0].get("instruction"),
                           rows[0].get("state_text") or "")]
    prompts += [turn_prompt(turn, row.get("action_text") or "") for turn, row in enumerate(rows[1:], start=2)]
    responses = [response(row.get("next_text") or "") for row in rows]
    system = system_prompt(domain)
    return [{"task": domain, "id": trajectory_id, "prompt": prompts[:i + 1], "response": responses[:i + 1],
             "current_prompt": prompts[i], "system_str": system, "turn_idx": i + 1, "total_turns": len(rows)}
            for i in range(len(rows))]
