"""An episode a pack holds is not recorded again. A user who deleted only its record (the one file of it left
outside the pack) to record an edited task again got a second recording in its own file beside the pack's rows,
and curation then kept some steps of each: rows built from a history that never happened. Collect now refuses
before any episode runs, naming the pack and a new --out; the changed-actions warning names the real files."""

import logging

import pytest

from collectors.api import Task
from collectors.command import plans_for
from collectors.out_folder import OutFolderError
from collectors.pack import pack_collection
from collectors.runner import collect, episode_id_for
from schemas.layout import episode_path, transitions_path
from tests.collectors.test_store_resume import ShellCollector

DOMAIN = "shelltest"


def _tasks(first: str) -> list[Task]:
    return [Task(id="edited", instruction="echo", actions=[first, "echo world"]),
            Task(id="same", instruction="echo", actions=["echo b"])]


def _collect(tmp_path, out, tasks):
    return collect(lambda: ShellCollector(tmp_path / "never"), plans_for(tasks), out, domain=DOMAIN, progress=False)


def test_an_episode_whose_record_was_deleted_after_pack_is_refused_naming_the_pack(tmp_path):
    out = tmp_path / "out"
    _collect(tmp_path, out, _tasks("echo hello"))
    assert pack_collection(out).episodes_packed == 2
    [pack] = (out / "transitions" / DOMAIN).glob("pack-*.parquet")
    edited = episode_id_for(DOMAIN, "edited", 0)
    episode_path(out, DOMAIN, edited).unlink()

    with pytest.raises(OutFolderError) as refused:
        _collect(tmp_path, out, _tasks("echo HELLO"))
    message = str(refused.value)
    assert f"{pack} holds episode {edited} (task 'edited', seed 0)" in message, message
    assert "its episode record was deleted" in message and "collect its task into a new --out" in message, message
    assert not transitions_path(out, DOMAIN, edited).exists() and not episode_path(out, DOMAIN, edited).exists()

    # A new --out records it, as the message says.
    assert _collect(tmp_path, tmp_path / "new", _tasks("echo HELLO")).completed == 2


def test_the_changed_actions_warning_names_the_real_files_and_says_warning(tmp_path, caplog):
    out = tmp_path / "out"
    tasks = [Task(id=f"t{number}", instruction="echo", actions=["echo 1"]) for number in range(5)]
    _collect(tmp_path, out, tasks)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _collect(tmp_path, out, [Task(id=task.id, instruction="echo", actions=["echo 2"]) for task in tasks])
    [warning] = [record.getMessage() for record in caplog.records if "other actions" in record.getMessage()]
    assert warning.startswith("Warning: 5 stored episodes of tasks t0, t1, t2, t3, t4 kept as complete"), warning
    ids = [episode_id_for(DOMAIN, f"t{number}", 0) for number in range(5)]
    shown = " ".join(f"{episode_path(out, DOMAIN, episode_id)} {transitions_path(out, DOMAIN, episode_id)}"
                     for episode_id in ids[:3])
    assert f"delete {shown}, and the two files of each of the 2 more ({ids[3]}, {ids[4]})" in warning, warning
    assert "<id>" not in warning
