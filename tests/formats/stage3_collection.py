"""A raw terminal collection whose next observations hold values of the masking kinds (a clock reading, a date
and its day, pids in `pid` and in a ps table, a uuid, a temp path, a port, durations, a byte size, a commit id,
uptime's figures) and a step whose replay showed another word (a `replay` span), curated for real: stage 3 rows to
score."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.curate import run_curation
from schemas import TRANSITION_SCHEMA, Action, EnvInfo, Observation, Provenance, Timings, Transition

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)

STEPS = [
    ("date; echo $$", "Wed Nov 25 12:00:01 UTC 2026\npid 4312\n$ "),
    ("ps -ef", "UID          PID    PPID  C STIME TTY          TIME CMD\n"
               "root           1       0  0 12:00 ?        00:00:00 bash\n"
               "root        4242       1  0 12:00 ?        00:00:01 sleep 100\n$ "),
    ("uuidgen; mktemp -d", "3f2b8c9e-1d4a-4b6f-9a2e-7c5d1e0f4a3b\n/tmp/tmp.Xa81bC9\n$ "),
    ("python3 -m http.server &", "[1] 5120\nServing HTTP on 0.0.0.0 port 43817 (http://0.0.0.0:43817/) ...\n$ "),
    ("time make; du -sh build", "make: Nothing to be done for 'all'.\n\nreal\t0m0.003s\nuser\t0m0.002s\n"
                                "sys\t0m0.001s\n4.0K\tbuild\n$ "),
    ("git commit -qam notes && git log -1 --oneline", "[main 4997019] notes\n 1 file changed, 2 insertions(+)\n$ "),
    ("date '+%A %F'", "Wednesday 2026-11-25\n$ "),
    ("uptime", " 12:00:09 up  2:16,  1 user,  load average: 0.00, 0.01, 0.05\n$ "),
    ("./build.sh", "build finished in 12 ms, artifact id q7h2\ntotal 4\n$ "),
]
REPLAYED_STEP = len(STEPS) - 1
REPLAY_TEXT = "build finished in 15 ms, artifact id z9k4\ntotal 4\n$ "


def _rows() -> list[dict]:
    env, provenance = EnvInfo("docker-image", "worldline/test:1"), Provenance("terminal-test", "1")
    state, rows = Observation("$ ", b"$ ", "text"), []
    for step, (command, output) in enumerate(STEPS):
        after = Observation(output, output.encode(), "text", {"exit_status": 0})
        replays = [Observation(REPLAY_TEXT, REPLAY_TEXT.encode(), "text", {"exit_status": 0})] \
            if step == REPLAYED_STEP else []
        start = T0 + timedelta(seconds=step)
        rows.append(Transition("rw-a", step, "terminal", env, "task-1", "inspect the machine", state,
                               Action("keys", {"keys": command}, command), after,
                               Timings(start, start + timedelta(milliseconds=40)), provenance,
                               done=step == len(STEPS) - 1, replay_observations=replays).to_row())
        state = after
    return rows


def curate_stage3_collection(root: Path) -> Path:
    raw, out = root / "raw", root / "out"
    (raw / "transitions" / "terminal").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(_rows(), schema=TRANSITION_SCHEMA),
                   raw / "transitions" / "terminal" / "rw-a.parquet")
    run_curation(str(raw), str(out))
    return out
