"""The exact-duplicate key does not depend on the order of an episode's rows in a file: a state takes the mask of
its previous step's next observation (replay spans included) wherever that row stands, not only right before it
(a JSONL drop written in another order, another tool's Parquet). Generated episodes with replays, as in
test_replay."""

import random

from tests.transforms.test_replay import _prepared, _two_episodes, _with_random_token


def _replayed_episode() -> list[dict]:
    """The terminal episode, one step's next observation holding a number that only its replay shows to vary."""
    base = _two_episodes()[:20]
    recorded, replayed = _with_random_token(base, b"21734"), _with_random_token(base, b"4410")
    for row, again in zip(recorded, replayed):
        row["replay_observations"] = [again["next_observation"]]
    return recorded


def _by_id(rows: list[dict]) -> dict[str, tuple]:
    return {row["id"]: (row["content_hash"], row["next_volatile_spans"]) for row in rows}


def test_reversed_or_shuffled_rows_hash_as_rows_in_step_order():
    rows = _replayed_episode()
    in_order = _prepared(rows)
    assert not in_order.letters
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    for other in (rows[::-1], shuffled):
        prepared = _prepared(other)
        assert _by_id(prepared.rows) == _by_id(in_order.rows)
    # The step after the replayed one is what differed: its state carries the number, masked only by the replay.
    reversed_rows = {row["id"]: row for row in _prepared(rows[::-1]).rows}
    assert reversed_rows["terminal-0:4"]["content_hash"] == in_order.rows[4]["content_hash"]


def test_a_state_that_is_not_its_previous_steps_next_observation_keeps_its_own_mask():
    rows = _replayed_episode()
    rows[4]["state"] = dict(rows[4]["state"], raw=rows[4]["state"]["raw"] + b"\n# edited",
                            text=rows[4]["state"]["text"] + "\n# edited")
    in_order, reversed_rows = _prepared(rows), _prepared(rows[::-1])
    assert _by_id(reversed_rows.rows) == _by_id(in_order.rows)
    # Not the replay-masked observation of step 3: the edited state is masked by the rules alone.
    assert in_order.rows[4]["content_hash"] != _prepared(_replayed_episode()).rows[4]["content_hash"]
