"""A small raw collection written the way collectors write one (collectors.store.EpisodeStore), plus a JSONL drop
with a record that has a wrong field and a line that is not JSON."""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from collectors.store import EpisodeStore
from schemas import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
LONG = " ".join(f"line{i} of a listing with several words" for i in range(40))


def write_episode(store, episode_id, task_id, steps, group=None, domain="terminal", *, instruction=None,
                  raw_format="text", collector="terminal-test"):
    """One scripted, successful episode of `steps` ((action, output) pairs; an output given as bytes is its raw
    form, one given as str its text), each step's observation the next one's state."""
    env = EnvInfo("docker-image", "worldline/test:1")
    provenance = Provenance(collector=collector, collector_version="1")
    instruction = f"do {task_id}" if instruction is None else instruction
    state, transitions = Observation("$ ", b"$ ", raw_format), []
    for step, (action, output) in enumerate(steps):
        text, raw = (output.decode(), output) if isinstance(output, bytes) else (output, output.encode())
        after = Observation(text, raw, raw_format, {"exit_status": 0})
        transitions.append(Transition(episode_id, step, domain, env, task_id, instruction, state,
                                      Action("keys", {"keys": action}, action), after,
                                      Timings(T0, T0 + timedelta(milliseconds=40)), provenance,
                                      done=step == len(steps) - 1, task_group=group))
        state = after
    store.write(Episode(episode_id, domain, env, task_id, instruction, "scripted", "success", len(steps),
                        "script_done", T0, T0 + timedelta(seconds=1), provenance, task_group=group), transitions)


def _episode(store, domain, episode_id, steps, raw_format="text"):
    write_episode(store, episode_id, "task-1", steps, domain=domain, instruction="list the files",
                  raw_format=raw_format, collector=f"{domain}-test")


def write_raw_collection(root: Path) -> dict:
    """Returns what the test expects of it."""
    store = EpisodeStore(root)
    # Two runs of the same script: only the clock and the PID differ, so each step is an exact duplicate.
    _episode(store, "terminal", "term-a", [("date; echo $$", "Wed Nov 25 12:00:01 UTC 2026\npid 4312"),
                                           ("ls", LONG), ("wc -l notes", "17 notes")])
    _episode(store, "terminal", "term-b", [("date; echo $$", "Thu Nov 26 09:30:59 UTC 2026\npid 977"),
                                           ("ls", LONG), ("wc -l notes", "17 notes")])
    # Same as term-a's listing but one word in ~300 differs: a near duplicate. Its last step shares that long
    # screen as state but runs another command: not a duplicate of anything.
    _episode(store, "terminal", "term-c", [("date; echo $$", "Fri Nov 27 01:02:03 UTC 2026\npid 55"),
                                           ("ls", LONG.replace("line39", "lineXX")), ("cat notes", "different")])
    _episode(store, "web", "web-a", [("click('a1')", "[a1] link 'Home'\n[b2] button 'Search'"),
                                     ("fill('b2', 'cats')", "[b2] textbox 'Search' value='cats'")])
    _episode(store, "mcp", "mcp-a", [("read_file", "file body")], raw_format="no-such-format")
    drop = root / "transitions" / "drop.jsonl"
    good = {"schema_version": "1.0", "episode_id": "json-a", "step": 0, "domain": "search",
            "action": {"kind": "call", "arguments_json": "{\"q\": \"x\"}", "text": "search(x)"},
            "next_observation": {"text": "1 result", "raw": "1 result", "raw_format": "text", "meta_json": "{}"}}
    wrong = dict(good, episode_id="json-b", step="three")
    drop.write_text("\n".join([json.dumps(good), json.dumps(wrong), "{not json"]) + "\n")
    return {"records_in": 3 + 3 + 3 + 2 + 1 + 3, "bad_line": f"{drop.relative_to(root)}:3", "wrong_field": "json-b:three",
            "exact": {"term-b:0": "term-a:0", "term-b:1": "term-a:1", "term-b:2": "term-a:2",
                      "term-c:0": "term-a:0"},
            "near": {"term-c:1": "term-a:1"}, "normalize_failure": "mcp-a:0"}
