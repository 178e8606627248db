"""Throughput of the per-row format functions curation calls: renderers, grounded reasoning, stage rows, exports.

Figures are rows per second on one core. The terminal renderer is shown beside a regex ANSI strip, the cheap
alternative it replaces (which gets carriage returns, cursor moves and wide characters wrong).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import time
from pathlib import Path

from schemas.render.json_text import render_json, render_mcp
from schemas.render import terminal
from schemas.render.terminal import render_terminal
from transforms.exports.agentworldbench import episode_lines
from transforms.exports.atif import episode_trajectory, trajectory_json
from transforms.reasoning.grounded import grounded_trace
from transforms.stages import build_stage_rows

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
COLORS = ["\x1b[1m\x1b[34m", "\x1b[32m", "\x1b[1m\x1b[36m", "\x1b[38;5;208m", ""]


def _terminal_capture(rng: random.Random, cols: int = 120, rows: int = 40) -> bytes:
    """A pane like `ls --color` output in tmux -e form: ~4 KB, SGR around words, LF line ends."""
    lines = []
    for _ in range(rows):
        words, width = [], 0
        while width < cols - 20:
            word = "".join(rng.choice("abcdefghijklmnop_.") for _ in range(rng.randint(3, 14)))
            color = rng.choice(COLORS)
            words.append(f"{color}{word}\x1b[0m\x1b[39m\x1b[49m" if color else word)
            width += len(word) + 2
        lines.append("  ".join(words))
    return ("\n".join(lines) + "\n").encode()


def _tree_text(rng: random.Random, n: int = 80) -> str:
    return "\n".join(f"[a{i}] {rng.choice(['button', 'link', 'textbox', 'heading'])} 'item {rng.randint(0, 999)}'"
                     for i in range(n))


def _rate(fn, items, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for item in items:
            fn(item)
    return repeat * len(items) / (time.perf_counter() - start)


def _curated_episodes(rng: random.Random, episodes: int, steps: int) -> list[list[dict]]:
    out = []
    for e in range(episodes):
        rows, state = [], _tree_text(rng)
        for s in range(steps):
            nxt = _tree_text(rng)
            rows.append({"id": f"e{e}:{s}", "episode_id": f"e{e}", "step": s, "domain": "web", "task_id": "t",
                         "instruction": "find the item", "action_kind": "click", "action_text": f'click("a{s}")',
                         "state_text": state, "next_text": nxt, "next_volatile_spans": [], "content_hash": "h",
                         "done": s == steps - 1, "error": None, "perturbations": [], "collector": "web",
                         "stand_in": None})
            state = nxt
        out.append(rows)
    return out


def main() -> None:
    rng = random.Random(7)
    captures = [_terminal_capture(rng) for _ in range(200)]
    meta = {"cols": 120, "rows": 40}
    print(f"terminal capture: {sum(map(len, captures)) / len(captures) / 1024:.1f} KB average, 120x40")
    print(f"{'render_terminal (SGR-only: direct path)':40s} "
          f"{_rate(lambda c: render_terminal(c, meta), captures, repeat=5):10,.0f} /s")
    print(f"{'  the same through the pyte replay':40s} "
          f"{_rate(lambda c: terminal._replay(terminal._decoded(c), meta), captures[:40]):10,.0f} /s")
    print(f"{'regex ANSI strip (for comparison)':40s} "
          f"{_rate(lambda c: ANSI.sub('', c.decode()), captures, repeat=5):10,.0f} /s")

    docs = [json.dumps({"items": [{"id": i, "name": f"n{i}", "score": rng.random()} for i in range(60)],
                        "next": None}).encode() for _ in range(200)]
    print(f"{'render_json (4 KB)':40s} {_rate(lambda d: render_json(d, {}), docs, repeat=5):10,.0f} /s")
    results = [json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": d.decode()}],
                                                                 "isError": False}}).encode() for d in docs]
    print(f"{'render_mcp (tool result)':40s} {_rate(lambda d: render_mcp(d, {}), results, repeat=5):10,.0f} /s")

    episodes = _curated_episodes(rng, 50, 8)
    rows = [row for episode in episodes for row in episode]
    print(f"{'grounded_trace (80-element trees)':40s} {_rate(grounded_trace, rows):10,.0f} /s")
    print(f"{'build_stage_rows (window 4)':40s} "
          f"{_rate(lambda r: build_stage_rows(episodes[int(r['episode_id'][1:])], r, 'trace'), rows):10,.0f} /s")
    print(f"{'agentworldbench episode_lines (8 turns)':40s} "
          f"{_rate(lambda e: episode_lines(e), episodes, repeat=5) * 8:10,.0f} turns/s")
    print(f"{'ATIF trajectory + validate (8 turns)':40s} "
          f"{_rate(lambda e: trajectory_json(episode_trajectory(e)), episodes, repeat=2) * 8:10,.0f} turns/s")
    _bench_export_cli(episodes)


def _bench_export_cli(episodes: list[list[dict]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from pipelines.cli import build_cli
    from schemas import CURATED_TRANSITION_SCHEMA

    rows = [row for episode in episodes for row in episode] * 10
    rows = [{**row, "episode_id": f"{row['episode_id']}-{i // len(episodes[0]) // len(episodes)}",
             "id": f"{i}"} for i, row in enumerate(rows)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "curated" / "transitions"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=CURATED_TRANSITION_SCHEMA), folder / "part-0.parquet")
        for name in ("agentworldbench", "atif"):
            start = time.perf_counter()
            result = CliRunner().invoke(build_cli(), ["export", name, "--input", str(folder.parent),
                                                      "--out", str(Path(tmp) / name)])
            assert result.exit_code == 0, result.output
            print(f"{'worldline export ' + name + f' ({len(rows)} rows)':40s} "
                  f"{len(rows) / (time.perf_counter() - start):10,.0f} rows/s")


if __name__ == "__main__":
    main()
