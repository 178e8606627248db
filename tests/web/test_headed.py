"""`--headed` runs Chromium with a window on a real X display (an Xvfb this test starts on a free display number):
its main process has no --headless switch, its pages have browser chrome around them (outerHeight > innerHeight),
and an episode step still records the accessibility tree. Without a display, `collect web --headed` is refused
before any browser starts. Xvfb comes from scripts/setup.d/30-chromium.sh; a missing one fails, not skips."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.api import Task
from collectors.web import WebCollector, resolve_reference
from sandboxes.bwrap import process_tree
from tests.web.browser_helpers import require_chromium

WORLDLINE = [str(Path(sys.executable).with_name("worldline")), "collect", "web"]
TASK = """
- id: headed-search
  instruction: Search the forum for tomatoes.
  options: {site: forum}
  actions: ['fill("searchbox ''Search posts''", "tomato")']
"""


def _display_number(stream: int, xvfb: subprocess.Popen, timeout: float = 20) -> int:
    """The number Xvfb writes to -displayfd once it accepts connections."""
    text, deadline = b"", time.monotonic() + timeout
    while not text.endswith(b"\n"):
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(stream, 16) if ready else b""
        if not chunk:
            xvfb.kill()
            raise AssertionError(f"Xvfb gave no display number within {timeout} s: {xvfb.communicate()[1][-2000:]}")
        text += chunk
    return int(text)


@pytest.fixture
def display(monkeypatch):
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is missing: run scripts/setup.d/30-chromium.sh (it installs Debian's xvfb package)"
    # -displayfd: Xvfb takes the first free display number itself, so parallel runs and other X servers never clash.
    read_end, write_end = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        number = _display_number(read_end, server)
        socket = Path(f"/tmp/.X11-unix/X{number}")
        deadline = time.monotonic() + 10
        while not socket.exists():
            assert time.monotonic() < deadline and server.poll() is None, f"Xvfb :{number} made no {socket}"
            time.sleep(0.05)
        monkeypatch.setenv("DISPLAY", f":{number}")
        yield f":{number}"
    finally:
        os.close(read_end)
        server.terminate()
        server.communicate(timeout=10)


def chromium_main_command_line(browser_pid: int) -> bytes:
    """The command line of Chromium's browser process (the one in the sandbox without a --type= switch)."""
    for pid in process_tree(browser_pid):
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) != "chromium":
                continue
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--type=" not in command_line:
            return command_line
    raise AssertionError(f"no Chromium browser process under {browser_pid}")


def test_a_headed_episode_step_runs_chromium_with_a_window(display):
    require_chromium()
    collector = WebCollector(headless=False, step_deadline_s=30)
    try:
        first = collector.reset(Task("headed", "read the forum", options={"site": "forum"}))
        command_line = chromium_main_command_line(collector.browser.pid)
        assert b"--headless" not in command_line, command_line.replace(b"\0", b" ")
        page = collector.session.page
        # A headless page's outer size is its viewport; a window adds the tab strip and toolbar above it.
        chrome = page.evaluate("window.outerHeight - window.innerHeight")
        assert chrome > 0, f"no browser chrome around the page on {display}: outer - inner height = {chrome}"
        search = resolve_reference("searchbox 'Search posts'", first.text)
        result = collector.step(collector.parse_action(f'fill("{search}", "tomato")'))
        assert result.error is None, result.error
        assert "RootWebArea 'Boards - Commons Forum'" in first.text
        assert "tomato" in result.observation.text, result.observation.text
        screenshot = page.screenshot()
        assert screenshot.startswith(b"\x89PNG") and len(screenshot) > 1000
        assert collector.env_info().details["headless"] is False
    finally:
        collector.close()


def test_collect_web_headed_records_an_episode(display, tmp_path):
    require_chromium()
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(TASK)
    done = subprocess.run(WORLDLINE + ["--tasks", str(tasks), "--headed", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "1 episode collected (1 transition)" in " ".join(done.stderr.split()), done.stderr
    episode = json.loads(next((tmp_path / "out" / "episodes" / "web").glob("*.json")).read_text())
    assert episode["outcome"] != "error", episode
    assert json.loads(episode["env"]["details_json"])["headless"] is False, episode["env"]


def test_headed_without_a_display_is_refused_before_the_browser_starts(tmp_path):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(TASK)
    environment = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
    done = subprocess.run(WORLDLINE + ["--tasks", str(tasks), "--headed", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 2, done.stderr
    message = " ".join(done.stderr.split())
    assert "--headed" in message and "DISPLAY is not set" in message and "Xvfb" in message, done.stderr
    assert not (tmp_path / "out").exists()
