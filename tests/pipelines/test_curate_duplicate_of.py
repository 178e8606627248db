"""Every dedupe row's duplicate_of names a transition that was kept (audit R6), so that the documented
`dedupe JOIN transitions ON duplicate_of = id` keeps every removed row: here an exact copy of a content that is
itself a near duplicate of an earlier one."""
import random
from datetime import timedelta

import pyarrow.parquet as pq

from collectors.store import EpisodeStore
from pipelines.curate import run_curation
from schemas import Action, EnvInfo, Episode, Observation, Provenance, Timings, Transition
from tests.pipelines.curation_raw_collection import T0


def _episode(store, episode_id, outputs):
    env, provenance = EnvInfo("docker-image", "worldline/test:1"), Provenance(collector="terminal-test",
                                                                               collector_version="1")
    state, transitions = Observation("$ ", b"$ ", "text"), []
    for step, output in enumerate(outputs):
        after = Observation(output, output.encode(), "text", {"exit_status": 0})
        transitions.append(Transition(episode_id, step, "terminal", env, "show", "show the report", state,
                                      Action("keys", {"keys": f"step {step}"}, f"step {step}"), after,
                                      Timings(T0, T0 + timedelta(milliseconds=40)), provenance,
                                      done=step == len(outputs) - 1))
        state = after
    store.write(Episode(episode_id, "terminal", env, "show", "show the report", "scripted", "success", len(outputs),
                        "script_done", T0, T0 + timedelta(seconds=1), provenance), transitions)


def test_every_duplicate_of_names_a_kept_transition(tmp_path):
    rng = random.Random(3)
    words = [f"word{i}" for i in range(3000)]
    report = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(40)]
    edited = list(report)
    edited[7] = edited[7].replace(edited[7].split()[3], "changed")
    tail = "\nthe report ends here with these words"
    raw, out = tmp_path / "raw", tmp_path / "out"
    store = EpisodeStore(raw)
    # a-first is near m-copy-1 and comes first; m-copy-2 is an exact copy of m-copy-1.
    _episode(store, "a-first", ["\n".join(edited), "\n".join(edited) + tail])
    for episode in ("m-copy-1", "m-copy-2"):
        _episode(store, episode, ["\n".join(report), "\n".join(report) + tail])
    run_curation(str(raw), str(out))
    kept = set(pq.read_table(out / "transitions").column("id").to_pylist())
    dedupe = pq.read_table(out / "dedupe").to_pylist()
    assert {row["id"] for row in dedupe} == {"m-copy-1:0", "m-copy-1:1", "m-copy-2:0", "m-copy-2:1"}
    assert {row["duplicate_of"] for row in dedupe} <= kept, dedupe
    # The copy of a near duplicate is near the transition kept, not an exact copy of it.
    assert all(row["kind"] == "near" for row in dedupe), dedupe
