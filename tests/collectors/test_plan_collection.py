"""collectors.runner.plan_collection: what a collect run sets out to do, decided from the episodes a real store holds
(recorded here by collect with the host's /bin/sh), without starting a worker."""

import pytest

from collectors.api import Task
from collectors.command import plans_for
from collectors.out_folder import OutFolderError
from collectors.pack import pack_collection
from collectors.runner import CollectionReport, StoredReplays, collect, episode_id_for, plan_collection
from collectors.store import EpisodeStore
from schemas.layout import episode_path, transitions_path
from tests.collectors.test_store_resume import ShellCollector

DOMAIN = "shelltest"


def _task(task_id: str, action: str = "echo 1") -> Task:
    return Task(id=task_id, instruction="echo", actions=[action])


def _record(tmp_path, out, tasks, broken=False):
    flag = tmp_path / "broken"
    flag.touch() if broken else flag.unlink(missing_ok=True)
    collect(lambda: ShellCollector(flag), plans_for(tasks), out, domain=DOMAIN, progress=False)
    flag.unlink(missing_ok=True)


def _plan(out, plans, limit=None):
    report = CollectionReport()
    todo, replays = plan_collection(EpisodeStore(out), plans, DOMAIN, limit, report)
    return [plan.task.id for plan in todo], replays, report


@pytest.fixture
def stored(tmp_path):
    """A collection holding a complete episode (done), one that ended in an error (broke) and one whose transitions
    file was cut short (cut)."""
    out = tmp_path / "out"
    _record(tmp_path, out, [_task("done"), _task("cut")])
    _record(tmp_path, out, [_task("broke")], broken=True)
    cut = transitions_path(out, DOMAIN, episode_id_for(DOMAIN, "cut", 0))
    cut.write_bytes(cut.read_bytes()[:100])
    return out


TASKS = [_task("done"), _task("broke"), _task("new1"), _task("cut"), _task("new2")]


def test_errored_damaged_and_new_episodes_are_planned_in_order_and_complete_ones_skipped(stored):
    todo, replays, report = _plan(stored, plans_for(TASKS))
    assert todo == ["broke", "new1", "cut", "new2"]
    assert replays == []
    assert (report.planned, report.skipped_complete, report.retried_errors) == (4, 1, 1)
    [damage] = report.recollected_damaged
    assert str(transitions_path(stored, DOMAIN, episode_id_for(DOMAIN, "cut", 0))) in damage, damage
    assert report.completed == 0  # nothing ran


def test_limit_cuts_the_episodes_to_play_but_not_the_replays_to_add(stored):
    todo, _, report = _plan(stored, plans_for(TASKS), limit=2)
    assert (todo, report.planned) == (["broke", "new1"], 2)

    todo, replays, report = _plan(stored, plans_for(TASKS, replays=2), limit=0)
    assert (todo, report.planned) == ([], 0)
    done = episode_id_for(DOMAIN, "done", 0)
    assert [(job.plan.task.id, job.episode_id, job.missing) for job in replays] == [("done", done, 2)]
    assert isinstance(replays[0], StoredReplays) and report.skipped_complete == 0


def test_a_complete_episode_recorded_from_other_actions_is_kept_and_reported(stored):
    todo, _, report = _plan(stored, plans_for([_task("done", "echo 2")]))
    assert todo == [] and report.skipped_complete == 1
    assert report.script_changed == [episode_id_for(DOMAIN, "done", 0)]


def test_packed_episodes_get_no_replay_job_and_one_to_record_again_is_refused(tmp_path):
    out = tmp_path / "out"
    _record(tmp_path, out, [_task("a"), _task("b")])
    assert pack_collection(out).episodes_packed == 2

    todo, replays, report = _plan(out, plans_for([_task("a"), _task("b")], replays=1))
    assert (todo, replays, report.replays_packed, report.skipped_complete) == ([], [], 2, 2)

    episode_path(out, DOMAIN, episode_id_for(DOMAIN, "b", 0)).unlink()
    with pytest.raises(OutFolderError, match="its episode record was deleted"):
        _plan(out, plans_for([_task("a"), _task("b")]))
