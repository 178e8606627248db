"""AgentWorldBench JSONL: the line format Qwen-AgentWorld's eval reads from `{domain}_test.jsonl`.

One line per evaluated turn. Every line of an episode carries the whole episode, as the benchmark's own lines do:
`prompt[i]` is what the agent did at turn i+1 (turn 1 also carries the task and the observation before it),
`response[i]` what the environment returned; a line for turn t evaluates `current_prompt` = `prompt[t-1]` against
`response[t-1]`, and the eval reads nothing past it. Every line of an episode has the same `id`, as the benchmark's
lines of one trajectory do, so consumers can group turns by trajectory.

The turn prompts follow the benchmark's layout (`### Turn N`, then `**Task Instruction:**`, `**Current State:**` and
`**Action:**` sections, the action in a code block), which Qwen-AgentWorld was trained on and which tools that read
the benchmark split into sections. The layout is transforms/prompts.py's turn_prompt, which the stage 2/3 chat rows
are written with too, but for the state: the benchmark writes it as it is, so it is not fenced here (a state holding
a fence or a section header line can then break the sections for a Markdown reader: curation counts such states,
stats.json `states_with_prompt_markup`). A turn's number is its place in `prompt`, so `### Turn N` is the line's
`turn_idx` and the last is `total_turns`: the benchmark numbers the turns of a line's lists so, and its eval.py
picks a turn by that place (`prompt[turn_idx - 1]`). Where curation removed a step as a duplicate the turns are
numbered on without a gap (a stage 2/3 chat keeps the recorded step + 1 instead); the turn after it was taken in a
state the history does not show, so it restates that state (`**Current State:**`), by the rule episode-layout stage
1 documents restate theirs (transforms/stages.py document_starts).

`system_str` is the system message of the episode's own stage-2 rows (`system` on its rows, as the export command
reads it), so that an export of shards curated by an older worldline carries the prompt their rows were written
with, not today's; only an episode with none gets today's (transforms/prompts.py system_prompt).
"""

from __future__ import annotations

from transforms.prompts import system_prompt, turn_prompt
from transforms.stages import document_starts

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
    prompts = turn_prompts(rows)
    responses = [response(row.get("next_text") or "") for row in rows]
    system = own_system(rows) or system_prompt(domain)
    return [{"task": domain, "id": trajectory_id, "prompt": prompts, "response": responses,
             "current_prompt": prompts[i], "system_str": system, "turn_idx": i + 1, "total_turns": len(rows)}
            for i in range(len(rows))]


def own_system(rows: list[dict]) -> str | None:
    """The system message the episode's curated rows were written with (the first in step order that has one), or
    None when none has."""
    return next((row["system"] for row in sorted(rows, key=lambda row: row["step"]) if row.get("system")), None)


def turn_prompts(rows: list[dict]) -> list[str]:
    """The prompt of each of one episode's rows (in step order), numbered by its place: the first carries the task,
    and each that does not follow the row before (the first, and the first after a removed step) the state its
    action was taken in."""
    restated = document_starts(rows, max_chars=0)
    return [turn_prompt(position + 1, row.get("action_text") or "",
                        row.get("instruction") if position == 0 else None,
                        (row.get("state_text") or "") if restated[position] else "", fence_state=False)
            for position, row in enumerate(rows)]
