"""AgentWorldBench JSONL: the line format Qwen-AgentWorld's eval reads from `{domain}_test.jsonl`.

One line per evaluated turn. A line for turn t carries the episode's turns 1..t: `prompt[i]` is what the agent did
at turn i+1 (turn 1 also carries the task and the observation before it), `response[i]` what the environment
returned; `response[t-1]` is the reference for the evaluated turn. Later turns are left out so no line shows the
future of the turn it evaluates (the eval reads nothing past `turn_idx`). Every line of an episode has the same
`id`, as the benchmark's lines of one trajectory do, so consumers can group turns by trajectory.

The turn prompts follow the benchmark's layout (`### Turn N`, then `**Task Instruction:**`, `**Current State:**`
and `**Action:**` sections, the action in a code block), which Qwen-AgentWorld was trained on and which tools that
read the benchmark split into sections. The layout is transforms/prompts.py's turn_prompt, which the stage 2/3 chat
rows are written with too, and a turn's number is its recorded step + 1, as there. A step curation removed as a
duplicate is not in the curated transitions, so an episode that lost one mid-way shows a gap in its numbers (and
in its history) here, where its stage rows still show the step.
"""

from __future__ import annotations

from transforms.prompts import system_prompt, turn_prompt

RESPONSE_PREFIX = "**Environment Observation:**"


def file_name(domain: str) -> str:
    return f"{domain}_test.jsonl"


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
    prompts = [turn_prompt(rows[0]["step"] + 1, rows[0].get("action_text") or "", rows[0].get("instruction"),
                           rows[0].get("state_text") or "")]
    prompts += [turn_prompt(row["step"] + 1, row.get("action_text") or "") for row in rows[1:]]
    responses = [response(row.get("next_text") or "") for row in rows]
    system = system_prompt(domain)
    return [{"task": domain, "id": trajectory_id, "prompt": prompts[:i + 1], "response": responses[:i + 1],
             "current_prompt": prompts[i], "system_str": system, "turn_idx": i + 1, "total_turns": len(rows)}
            for i in range(len(rows))]
