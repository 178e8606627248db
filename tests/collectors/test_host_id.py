"""provenance.host is a keyed id of the collecting machine, not its hostname (privacy audit PR3): the hostname
reached published dead letters through their record_json."""

from __future__ import annotations

import json
import logging
import re
import socket
import stat

import pyarrow.parquet as pq

from collectors.api import Task
from collectors.host_id import _machine_id, key_path, machine_id
from collectors.runner import EpisodePlan, run_episode
from collectors.store import EpisodeStore
from tests.plugin_example.sqlite_demo.collector import SqliteCollector

ID = re.compile(r"host-[0-9a-f]{12}")


def test_records_carry_a_machine_id_and_neither_the_hostname_nor_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    collector = SqliteCollector()
    try:
        episode, transitions = run_episode(collector, EpisodePlan(Task("one", "Select one.", "sqlite",
                                                                       actions=["SELECT 1"])))
    finally:
        collector.close()
    EpisodeStore(tmp_path / "raw").write(episode, transitions)
    record = (tmp_path / "raw" / "episodes" / "sqlite" / f"{episode.episode_id}.json").read_text()
    rows = pq.read_table(tmp_path / "raw" / "transitions" / "sqlite" / f"{episode.episode_id}.parquet").to_pylist()
    hosts = {json.loads(record)["provenance"]["host"], *(row["provenance"]["host"] for row in rows)}
    assert len(hosts) == 1 and ID.fullmatch(hosts.pop()), hosts
    key_file = tmp_path / "config" / "worldline" / "host-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) == 64
    stored = record + json.dumps(rows, default=str)
    assert json.dumps(socket.gethostname()) not in stored and key not in stored  # no string value is the hostname


def test_the_id_is_stable_on_a_machine_and_differs_between_keys_and_machines(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "team-a"))
    first = machine_id()
    assert key_path() == tmp_path / "team-a" / "worldline" / "host-key"
    assert _machine_id.__wrapped__(key_path(), socket.gethostname()) == first  # read back, not made again
    other_machine = _machine_id(key_path(), socket.gethostname() + "-other")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "team-b"))
    other_team = machine_id()
    assert len({first, other_machine, other_team}) == 3
    assert all(ID.fullmatch(value) for value in (first, other_machine, other_team))


def test_a_relative_config_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert key_path() == tmp_path / ".config" / "worldline" / "host-key"


def test_without_a_key_file_a_run_has_its_own_key_and_says_so_once(tmp_path, monkeypatch, caplog):
    blocked = tmp_path / "config"
    blocked.write_text("a file where the folder would go")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocked))
    with caplog.at_level(logging.WARNING, logger="collectors.host_id"):
        ids = {machine_id() for _ in range(3)}
    assert len(ids) == 1 and ID.fullmatch(ids.pop())
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "no other run's will match" in warnings[0] and str(blocked) in warnings[0]


def test_a_file_that_holds_no_key_is_left_alone(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    key_file = tmp_path / "worldline" / "host-key"
    key_file.parent.mkdir()
    key_file.write_text("not a key\n")
    with caplog.at_level(logging.WARNING, logger="collectors.host_id"):
        assert ID.fullmatch(machine_id())
    assert key_file.read_text() == "not a key\n"
    assert "does not hold 64 hex digits" in caplog.text
