"""Stage 3 asks for a volatile identifier exactly when the prompt already shows it (transforms/stages.py
copied_spans): a pid the action kills, a port the action fetches, a sha or a host name the state shows. Measurements
(clock readings, usage) stay format spans even when the state shows the same text. The spans come from the real
masking rules, and the row and table builders must agree."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from schemas import STAGE3_SCHEMA
from transforms.curate import curated_table
from transforms.masking import volatile_spans
from transforms.stage_tables import build_stage_tables
from transforms.stages import build_stage_rows

DATA = Path(__file__).parent / "data"


def _row(step: int, state: str, action: str, next_text: str, *, spans: list[dict] | None = None,
         episode: str = "ep") -> dict:
    return {"id": f"{episode}:{step}", "episode_id": episode, "step": step, "domain": "terminal", "task_id": "t",
            "instruction": "Do it.", "action_kind": "keys", "action_text": action, "state_text": state,
            "next_text": next_text,
            "next_volatile_spans": volatile_spans(next_text) if spans is None else spans,
            "content_hash": f"h{step}", "done": False, "error": None, "perturbations": [], "collector": "terminal",
            "stand_in": None}


def _stage3(state: str, action: str, next_text: str) -> dict:
    return build_stage_rows([], _row(0, state, action, next_text), "T")[2]


def _texts(stage3: dict, name: str) -> list[tuple[str, str]]:
    reference = stage3["reference"]
    return [(span["kind"], reference[span["start"]:span["end"]]) for span in stage3[name]]


def _assert_cover(stage3: dict) -> None:
    """The spans, sorted, are back to back from the start of the reference to its end."""
    pieces = sorted(stage3["exact_spans"] + stage3["format_spans"], key=lambda span: span["start"])
    assert [span["start"] for span in pieces] == [0] + [span["end"] for span in pieces[:-1]]
    assert (pieces[-1]["end"] if pieces else 0) == len(stage3["reference"])


def test_a_killed_pid_is_exact_and_merged_into_the_text_around_it():
    reference = "$ kill 4242\n[1]+  Terminated              sleep 300 (pid 4242)\n$ "
    stage3 = _stage3("$ ", "kill 4242", reference)  # only the action names it
    assert stage3["format_spans"] == []
    # One exact stretch: the pid is not a span of its own, so the spans still cover the reference once.
    assert stage3["exact_spans"] == [{"start": 0, "end": len(reference), "kind": "exact"}]


def test_a_port_the_action_fetches_is_exact():
    reference = "curl: (7) Failed to connect to localhost port 38123 after 0 ms: Couldn't connect to server"
    stage3 = _stage3("$ ", "curl -s http://localhost:38123/health", reference)
    # The connect time is a measurement: format only, though the port before it is exact.
    assert _texts(stage3, "format_spans") == [("duration", "0 ms")]
    assert _texts(stage3, "exact_spans")[0][1].endswith("localhost port 38123 after ")
    _assert_cover(stage3)


def test_a_sha_the_state_shows_is_exact_and_a_new_one_is_not():
    state = "$ git log --oneline -2\n3f2a9c1d0e fix the parser\n9b8c7d6e5f add tests\n$ "
    reference = "commit 3f2a9c1d0e\nMerge: 9b8c7d6e5f 77aa88bb99\nAuthor: dev\n"
    stage3 = _stage3(state, "git show --no-patch 3f2a9c1d", reference)
    assert _texts(stage3, "format_spans") == [("hex_id", "77aa88bb99")]
    _assert_cover(stage3)


def test_top_usage_stays_format_while_the_host_id_and_the_pids_it_shows_are_exact():
    # The same top screen again: every value is in the state, but only the host name (a container id) and the pids
    # name something; %CPU, memory and the load are read afresh each time. The pids are 1-2 digits, exact because
    # their whole rows stand in the state.
    screen = (DATA / "top_b_n_1.txt").read_text()
    stage3 = _stage3(screen, "top -b -n 1", screen)
    masked = volatile_spans(screen)
    kinds = [kind for kind, _ in _texts(stage3, "format_spans")]
    assert kinds.count("usage") == sum(span["kind"] == "usage" for span in masked) > 0
    assert kinds.count("timestamp") == 1 and "pid" not in kinds
    assert "hex_id" not in kinds
    _assert_cover(stage3)


@pytest.mark.parametrize("state, action, reference, still_format, copied", [
    # A 1-2 digit pid coincides with any small number: kept as a format span even though the action names it.
    ("$ ", "kill 42 4242", "process 42 exited; process 4242 exited", "42", "4242"),
    # The state shows 4242 only inside a longer number (and inside a hex word): not the same value.
    ("$ du -b\n142424 .\n0x4242ab\nPID 4343 ok\n", "ps", "pid 4242, pid 4343", "4242", "4343"),
    # ... and the action too: a digit or a letter right before or after it.
    ("$ ", "sleep 14242; kill a4242 4343", "pid 4242, pid 4343", "4242", "4343"),
])
def test_a_value_shown_only_short_or_inside_another_stays_format(state, action, reference, still_format, copied):
    stage3 = _stage3(state, action, reference)
    assert _texts(stage3, "format_spans") == [("pid", still_format)]
    assert copied in reference[stage3["exact_spans"][-1]["start"]:]
    _assert_cover(stage3)


def test_a_padded_pid_is_looked_for_without_its_padding():
    # ps right-aligns its PID column, and the pid spans hold the padding: "   4242" is the value 4242, and "     42"
    # is a 2-digit pid however wide its column.
    reference = "    PID TTY          TIME CMD\n   4242 pts/0    00:00:00 sleep\n     42 pts/0    00:00:00 ps"
    spans = [{"start": reference.index("   4242"), "end": reference.index("   4242") + 7, "kind": "pid"},
             {"start": reference.index("     42"), "end": reference.index("     42") + 7, "kind": "pid"}]
    stage3 = build_stage_rows([], {**_row(0, "$ ", "kill -0 4242 && ps", reference), "next_volatile_spans": spans},
                              "T")[2]
    assert _texts(stage3, "format_spans") == [("pid", "     42")]
    _assert_cover(stage3)


# ---- the table builder ----------------------------------------------------------------------------------------

_SCREENS = [
    "[1] {pid}\n$ ", "pid {pid} started at 12:00:{sec:02d}", "Serving on http://localhost:{port}/ ...",
    "commit {sha}\nDate: 2026-11-27 12:00:{sec:02d}", "process {pid} took 0.{sec:02d}s",
    "created /tmp/tmp.{tmp}\n", "job {small} done, process {pid} still up", "nothing volatile here",
]
_ACTIONS = ["kill {pid}", "curl localhost:{port}", "git show {sha}", "ls /tmp/tmp.{tmp}", "echo {other}", "true"]


def _values(rng: random.Random) -> dict:
    return {"pid": rng.choice(["4242", "31337", "777", "142424"]), "port": rng.choice(["38123", "45001"]),
            "sha": rng.choice(["3f2a9c1d0e", "deadbeef42"]), "tmp": rng.choice(["Xa81bC", "q9ZzT1"]),
            "small": rng.choice(["7", "42"]), "sec": rng.randrange(60), "other": rng.choice(["4242", "x"])}


def _mixed_file(seed: int = 5) -> list[dict]:
    """Episodes whose values repeat by chance between a state, its action and its next observation, with the real
    masking spans; some rows hold them unsorted or without a kind, one a span outside its observation."""
    rng = random.Random(seed)
    rows = []
    for episode in range(6):
        state = "$ "
        for step in range(8):
            values = _values(rng)
            next_text = "\n".join(rng.choice(_SCREENS).format(**values) for _ in range(rng.randint(1, 3)))
            action = rng.choice(_ACTIONS).format(**_values(rng) if rng.random() < 0.3 else values)
            row = _row(step, state, action, next_text, episode=f"e{episode}")
            spans = row["next_volatile_spans"]
            if step % 3 == 1:
                rng.shuffle(spans)
            if step % 4 == 2 and spans:
                spans[0] = {**spans[0], "kind": None}
            rows.append(row)
            state = next_text
    rows[9]["next_volatile_spans"] = [{"start": 0, "end": 999, "kind": "pid"}]  # dead-lettered
    return rows


def test_both_builders_agree_on_a_mixed_file():
    rows = _mixed_file()
    starts = np.array([next(i for i, other in enumerate(rows) if other["episode_id"] == row["episode_id"])
                       for row in rows])
    currents = np.arange(len(rows))
    built = build_stage_tables(rows, curated_table(rows), currents, starts, currents, ["T"] * len(rows))
    assert [position for position, _ in built.errors] == [9]
    expected = [build_stage_rows(rows[starts[k]:k], rows[k], "T")[2] for k in range(len(rows)) if k != 9]
    assert built.stage3.equals(pa.Table.from_pylist(expected, schema=STAGE3_SCHEMA))
    # The file exercises both outcomes: values asked for exactly because the prompt shows them, and identifiers
    # that stay format spans.
    volatile = sum(len(rows[k]["next_volatile_spans"] or []) for k in range(len(rows)) if k != 9)
    format_spans = sum(len(row["format_spans"]) for row in expected)
    assert 0 < format_spans < volatile
    assert any(span["kind"] == "pid" for row in expected for span in row["format_spans"])
    for row in expected:
        _assert_cover(row)


def test_the_card_says_which_kinds_a_prompt_can_give_away():
    from transforms.card import dataset_card

    rewards = dataset_card({}, {}, "run").split("## Rewards (stage 3)")[1].split("## License")[0]
    assert ("identifier kind (`pid`, `port`, `hex_id`, `uuid`, `temp_path`) that the current action or the state "
            "it was taken in already shows") in rewards


# ---- a 1-2 character identifier on a line the prompt shows whole ------------------------------------------------

_JOB_STATE = "$ sleep 300 &\n[1] 44\n$ jobs\n[1]+  Running                 sleep 300 &\n$ "


def test_a_short_pid_on_a_line_the_state_shows_whole_is_exact():
    # terminal-proc-background-job:2 (make run, 2026-11-27): `kill %1` with the job's `[1] 44` still on screen.
    stage3 = _stage3(_JOB_STATE, "kill %1", _JOB_STATE + "kill %1\n$ ")
    assert stage3["format_spans"] == []
    # terminal-proc-ps-top:1: the ps rows of the state still on screen above top's.
    ps = "$ ps -eo pid,comm | grep sleep\n      8 sleep\n     50 sleep\n$ "
    reference = ps + "top -b -n 1 | head -2\ntop - 07:10:22 up  7:56,  0 user,  load average: 4.14, 2.52, 1.79\n" \
                     "Tasks:   8 total,   1 running,   7 sleeping,   0 stopped,   0 zombie\n$ "
    stage3 = _stage3(ps, "top -b -n 1 | head -2", reference)
    pids = [reference[span["start"]:span["end"]] for span in volatile_spans(reference) if span["kind"] == "pid"]
    assert pids == ["      8", "     50"]
    assert "pid" not in [kind for kind, _ in _texts(stage3, "format_spans")]
    assert ("usage", "   8") in _texts(stage3, "format_spans")  # top's task count: a reading, and not on a ps row
    _assert_cover(stage3)


@pytest.mark.parametrize("state", [
    "$ sleep 44\n$ ",  # inside another line
    "$ echo 44\n44\n$ ",  # a line that is the value alone
    "$ sleep 300 &\n[1] 45\n$ ",  # the same place on a line that differs
    "$ sleep 300 &\n[1] 441\n$ ",
])
def test_a_short_pid_shown_only_by_coincidence_stays_format(state):
    stage3 = _stage3(state, "jobs", "$ sleep 300 &\n[1] 44\n$ ")
    assert _texts(stage3, "format_spans") == [("pid", "44")]
    _assert_cover(stage3)


def _carried_file(seed: int = 9) -> list[dict]:
    """Terminal episodes whose screen keeps its earlier lines, so 1-2 digit pids are carried over on whole lines
    and new ones coincide with small numbers the state shows elsewhere."""
    rng = random.Random(seed)
    lines = ["[1] {small}", "      {small} sleep", "     {small} python3", "job {small} done", "sleep {small}",
             "{small}", "Tasks:   {small} total", "[2] {pid}"]
    rows = []
    for episode in range(5):
        screen = ["$ "]
        for step in range(8):
            values = {"small": rng.choice(["7", "8", "42", "44"]), "pid": rng.choice(["4242", "777"])}
            screen = (screen + [rng.choice(lines).format(**values) for _ in range(rng.randint(1, 3))])[-6:]
            state = rows[-1]["next_text"] if step else "$ "
            rows.append(_row(step, state, rng.choice(["jobs", "ps", "kill %1", "kill 42"]), "\n".join(screen),
                             episode=f"c{episode}"))
    return rows


def test_both_builders_agree_on_short_pids_carried_over():
    rows = _carried_file()
    starts = np.array([next(i for i, other in enumerate(rows) if other["episode_id"] == row["episode_id"])
                       for row in rows])
    currents = np.arange(len(rows))
    built = build_stage_tables(rows, curated_table(rows), currents, starts, currents, ["T"] * len(rows))
    assert built.errors == []
    expected = [build_stage_rows(rows[starts[k]:k], rows[k], "T")[2] for k in range(len(rows))]
    assert built.stage3.equals(pa.Table.from_pylist(expected, schema=STAGE3_SCHEMA))
    # Both outcomes for short pids: carried over (exact) and coincidences (format).
    short = [(row["reference"], span) for row in expected for span in row["format_spans"]
             if span["kind"] == "pid" and len(row["reference"][span["start"]:span["end"]].strip()) < 3]
    volatile_short = sum(1 for row in rows for span in row["next_volatile_spans"]
                         if span["kind"] == "pid" and len(row["next_text"][span["start"]:span["end"]].strip()) < 3)
    assert 0 < len(short) < volatile_short


def test_the_card_says_a_short_id_is_copied_only_on_a_whole_line():
    from transforms.card import dataset_card

    rewards = dataset_card({}, {}, "run").split("## Rewards (stage 3)")[1].split("## License")[0]
    assert "or a shorter one (a 1-2 digit pid) on a line that stands there whole" in rewards
