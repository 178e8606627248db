"""The os collector against the real desktop container: scripted tasks change real apps and files, element
targeting resolves against the observed tree, and the sandbox is closed."""

from __future__ import annotations

import re
import uuid

import pytest

from collectors.api import ScriptedPolicy, Task
from collectors.os_desktop import DesktopCollector
from collectors.runner import EpisodePlan, run_episode
from collectors.tasks import load_tasks
from schemas import Action
from schemas.render import render
from schemas.render.os import parse_dump, walk

TASKS = {task.id: task for task in load_tasks("tasks/os.yaml")}
CALCULATOR = Task(id="calc", instruction="use the calculator", setup=[{"launch": {"argv": ["galculator"],
                                                                                    "app": "galculator"}}])


@pytest.fixture(scope="module")
def collector(desktop_image, docker_client):
    # One collector for the module: every test resets to a fresh container, taken warm from the collector's pool.
    prefix = f"wltest-os-{uuid.uuid4().hex[:8]}"
    with DesktopCollector(desktop_image, name_prefix=prefix) as live:
        yield live
    names = [c["Names"][0].lstrip("/") for c in docker_client.api.containers(all=True)]
    assert [n for n in names if n.startswith(prefix)] == [], "desktop containers left behind"


def display(text: str) -> str:
    """The calculator display: galculator's only `text` node."""
    return re.search(r"^\[\d+\]\ttext\t\t([^\t]*)\t", text, re.M).group(1)


def element_id(text: str, tag: str, name: str) -> int:
    return int(re.search(rf"^\[(\d+)\]\t{re.escape(tag)}\t{re.escape(name)}\t", text, re.M).group(1))


def play(collector, task_id):
    episode, transitions = run_episode(collector, EpisodePlan(TASKS[task_id], 0, ScriptedPolicy))
    assert episode.outcome != "error", episode.end_reason
    assert [t.error for t in transitions] == [None] * len(transitions)
    return transitions


def test_calculator_shows_the_product(collector):
    transitions = play(collector, "calc-multiply")
    assert display(transitions[0].state.text) == "0"
    assert display(transitions[-1].next_observation.text) == "42"
    last = transitions[-1].next_observation
    assert last.raw_format == "atspi-json" and last.text == render("atspi-json", last.raw, last.meta)
    assert last.meta["active_window"]["app"] == "galculator"
    # Where each element-targeted click landed is recorded with the action.
    assert transitions[0].action.arguments["resolved"]["element"] == element_id(transitions[0].state.text,
                                                                                 "toggle-button", "7")


def test_editor_edits_and_saves_a_file(collector):
    transitions = play(collector, "editor-append-and-save")
    assert collector.session.read_file("/home/user/notes.txt") == b"first line\nsecond line"
    assert transitions[1].next_observation.meta["active_window"]["name"].startswith("*")  # unsaved marker
    assert not transitions[2].next_observation.meta["active_window"]["name"].startswith("*")


def test_save_as_dialog_writes_the_named_file(collector):
    transitions = play(collector, "editor-save-as-dialog")
    assert transitions[1].next_observation.meta["active_window"]["role"] == "file chooser"
    assert collector.session.read_file("/home/user/todo.txt") == b"buy milk"
    after = parse_dump(transitions[-1].next_observation.raw)
    assert [n for n, _ in walk(after) if n["role"] == "file chooser"] == []  # the dialog is gone


def test_gtk2_menu_changes_a_setting(collector):
    transitions = play(collector, "files-show-hidden")
    assert "\tcheck-menu-item\tShow Hidden\t" in transitions[0].next_observation.text  # the open GTK2 menu
    assert re.search(r"\tlabel\t\d+ items \(\d+ hidden\)\t", transitions[0].state.text)
    assert not re.search(r"\(\d+ hidden\)", transitions[1].next_observation.text)  # hidden files now listed


def test_click_by_element_id_and_a_missing_element(collector):
    first = collector.reset(CALCULATOR)
    seven = element_id(first.text, "toggle-button", "7")
    result = collector.step(collector.parse_action(f"click(element={seven})"))
    assert result.error is None and display(result.observation.text) == "7"
    missing = collector.step(collector.parse_action('click(name="No Such Button")'))
    assert "No Such Button" in missing.error and display(missing.observation.text) == "7"
    typed = collector.step(Action("type", {"args": ["*6="]}, 'type("*6=")'))
    assert display(typed.observation.text) == "42"


def test_sandbox_is_closed(collector):
    collector.reset(CALCULATOR)
    sandbox = collector.session.sandbox
    interfaces = sandbox.exec("cat /proc/net/dev").output.decode()
    assert re.findall(r"^\s*(\w+):", interfaces, re.M) == ["lo"]
    assert sandbox.exec("touch /usr/evil").exit_code != 0
    assert sandbox.exec("id -u").output.strip() == b"1000"
    config = sandbox.client.api.inspect_container(sandbox.name)["HostConfig"]
    assert config["Memory"] == 1 << 30 and config["NetworkMode"] == "none" and not config["Binds"]
