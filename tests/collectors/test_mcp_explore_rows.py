"""What an exploring episode's stored rows say about its calls made invalid on purpose: the kind the explorer meant,
in the row's action, where a reader of the raw collection tells an intended error from one the state gave; the call
as sent and as replayed is the call alone."""

from __future__ import annotations

import json

import pyarrow as pa

from collectors.api import Task
from collectors.mcp import McpCollector
from collectors.mcp_explore import INVALID_KEY, INVALID_KINDS, ExplorePolicy
from collectors.runner import EpisodePlan, recorded_actions, replay_once, run_episode
from sandboxes.mcp_server_spec import load_servers
from schemas.transition import TRANSITION_SCHEMA
from tests.mcp.mcp_helpers import SERVERS_FILE


def test_a_call_made_invalid_on_purpose_records_its_kind_in_the_row():
    servers = load_servers(SERVERS_FILE)
    policies: list[ExplorePolicy] = []

    def explorer() -> ExplorePolicy:
        policies.append(ExplorePolicy())
        return policies[-1]

    task = Task(id="explore-memory", instruction="Explore.", domain="mcp", options={"server": "memory"})
    plan = EpisodePlan(task, seed=2, policy_factory=explorer, max_steps=20)
    with McpCollector(servers) as collector:
        episode, transitions = run_episode(collector, plan)
        assert episode.outcome != "error", episode.end_reason
        rows = [t.to_row() for t in transitions]
        intended = dict(policies[0].invalid_calls)
        assert len(intended) >= 2
        recorded = {}
        for row in rows:
            arguments = json.loads(row["action"]["arguments_json"])
            if INVALID_KEY in arguments:
                recorded[row["action"]["text"]] = arguments[INVALID_KEY]
            # The text is the call as the benchmark writes it (and the server got it): name and arguments only.
            if row["action"]["kind"] == "tools/call":
                assert json.loads(row["action"]["text"]) == {k: v for k, v in arguments.items() if k != INVALID_KEY}
        assert recorded == intended
        assert set(recorded.values()) <= set(INVALID_KINDS)

        # Played again from the stored rows, each call gets the answer it got: the kind is the record's, not sent.
        table = pa.Table.from_pylist(rows, schema=TRANSITION_SCHEMA)
        actions = recorded_actions(table, episode.episode_id)
        _, again = replay_once(collector, plan, actions)
    assert [t.next_observation.text for t in again] == [t.next_observation.text for t in transitions]
