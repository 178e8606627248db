"""AgentWorldBench JSONL: the line format Qwen-AgentWorld's eval reads from `{domain}_test.jsonl`.

One line per evaluated turn. A line for turn t carries the episode's turns 1..t: `prompt[i]` is what the agent did
at turn i+1 (turn 1 also carries the task and the observation before it), `response[i]` what the environment
returned; `response[t-1]` is the reference for the evaluated turn. Later turns are left out so no line shows the
future of the turn it evaluates.
"""

from __future__ import annotations

from transforms.prompts import system_prompt
from transforms.stages import first_turn_prompt, turn_prompt

RESPONSE_PREFIX = "**Environment Observation:**"


def file_name(domain: str) -> str:
    return f"{domain}_test.jsonl"


def episode_lines(rows: list[dict], first_id: int = 0) -> list[dict]:
    """rows: the curated transitions of one episode. Returns one line per turn, ids first_id, first_id+1, ..."""
    if not rows:
        return []
    rows = sorted(rows, key=lambda row: row["step"])
    domain = rows[0]["domain"]
    if any(row["domain"] != domain or row["episode_id"] != rows[0]["episode_id"] for row in rows):
        raise ValueError(f"episode {rows[0]['episode_id']}: rows of several episodes or domains were mixed")
    prompts = [first_turn_prompt(rows[0].get("instruction"), rows[0].get("state_text") or "",
                                 rows[0].get("action_text") or "")]
    prompts += [turn_prompt(row.get("action_text") or "") for row in rows[1:]]
    responses = [f"{RESPONSE_PREFIX}\n{row.get('next_text') or ''}" for row in rows]
    system = system_prompt(domain)
    return [{"task": domain, "id": first_id + i, "prompt": prompts[:i + 1], "response": responses[:i + 1],
             "current_prompt": prompts[i], "system_str": system, "turn_idx": i + 1, "total_turns": len(rows)}
            for i in range(len(rows))]
