"""Web task mistakes that used to hang a run or record a broken start as a normal episode (a task author's
walkthrough, findings T1, T10, T7): real Chromium, the real sites, the real collector and `worldline collect web`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.api import Task
from collectors.web import SLOW_LIMIT_MS, WebCollector, WebTaskError
from tests.http_pages import serving

WORLDLINE = [str(Path(sys.executable).with_name("worldline")), "collect", "web"]
# Not a measure of anything: on the old code the run with a 600 s hold never ended on its own (14 min, two SIGTERMs).
RUN_TIMEOUT_S = 240


def run(*args):
    return subprocess.run(WORLDLINE + list(args), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def one_line(text: str) -> str:
    return " ".join(text.split())


def episodes(out: Path) -> dict[str, dict]:
    found = [json.loads(path.read_text()) for path in (out / "episodes" / "web").glob("*.json")]
    return {episode["task"]["id"]: episode for episode in found}


@pytest.mark.parametrize("arg, reason", [
    ("600000", f"slow ARG 600000 ms is more than {SLOW_LIMIT_MS:g} ms, the longest hold a step allows"),
    ("-5", "slow ARG (milliseconds) must be a number from 0 up"),
    ("nan", "slow ARG (milliseconds) must be a number from 0 up"),
])
def test_a_slow_hold_a_step_cannot_wait_for_is_refused_before_chromium_starts(tmp_path, arg, reason):
    """T1: `slow:/*:600000` slept 600 s in Playwright's dispatcher per request, and the run hung. T10: `-5` passed the
    check and failed every episode as an environment error (retried on every run)."""
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(f"""
- id: slow-mistake
  instruction: Open the shop while every request is slow.
  options: {{site: shop}}
  perturbations: ["slow:/*:{arg}"]
  actions: ["noop()"]
""")
    done = run("--tasks", str(tasks), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    message = one_line(done.stderr)
    assert f"{tasks}: task 'slow-mistake': perturbation 'slow:/*:{arg}': {reason}" in message, message
    assert not (tmp_path / "out" / "episodes").exists()  # refused before any episode started


# Twelve images, each its own request: the page's load event waits for all of them.
IMAGES = 12
GALLERY = ("<title>gallery</title>" + "".join(f'<img src="/img/{n}.png" alt="picture {n}">' for n in range(IMAGES))
           ).encode()


def test_the_holds_of_one_step_together_stay_within_the_limit():
    """Holds are taken one after another (each blocks the dispatcher), so a page with many matching requests held
    for their sum: here 12 x the limit, past the step deadline, and the browser was killed and restarted and held
    again. The collector gives one step at most the limit in all; the rest of the requests go through at once."""
    web = WebCollector(step_deadline_s=8)  # a limit of 4 s: half the deadline
    limit_ms = web.step_deadline_s * 1000 / 2
    try:
        with serving(lambda path: GALLERY if path == "/" else b"") as url:
            first = web.reset(Task("gallery", "look at the pictures", options={"url": f"{url}/"},
                                   perturbations=[f"slow:/img/*:{limit_ms:g}"]))
            assert first.meta["browser_restarts"] == 0 and first.meta["perturbations"] == [f"slow:/img/*:{limit_ms:g}"]
            assert "gallery" in first.text and web._holds.held_ms == limit_ms
            again = web.step(web.parse_action('goto("/")'))  # a new step: a full budget again
            assert again.error is None and again.perturbations == [f"slow:/img/*:{limit_ms:g}"]
            assert web.env_info().details["browser_restarts_total"] == 0
    finally:
        web.close()


def test_a_hold_above_a_shorter_deadline_is_a_task_error_at_reset():
    """The load check is for the collector `collect web` makes (30 s deadline); a collector with a shorter deadline
    refuses at reset what it cannot wait for."""
    web = WebCollector(step_deadline_s=8)
    try:
        with pytest.raises(WebTaskError, match=r"task 'short': perturbation 'slow:/\*:5000': slow ARG 5000 ms is "
                                               r"more than 4000 ms"):
            web.reset(Task("short", "x", options={"site": "shop"}, perturbations=["slow:/*:5000"]))
    finally:
        web.close()


def test_a_start_page_that_answers_an_error_is_a_task_error_unless_a_perturbation_gives_it(tmp_path):
    """T7: a start page that does not exist was recorded as a normal episode of 404 pages."""
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("""
- id: start-missing
  instruction: Browse a category the shop does not have.
  options: {site: shop, start: /no/such/page}
  actions: ["noop()"]
- id: start-broken-on-purpose
  instruction: Open the cart while it fails with HTTP 500.
  options: {site: shop, start: /cart}
  perturbations: ["http_500:/cart"]
  actions: ["noop()"]
- id: start-missing-on-purpose
  instruction: Open a product page that is gone.
  options: {site: shop, start: /product/3}
  perturbations: ["http_404:/product/*"]
  actions: ["noop()"]
""")
    out = tmp_path / "out"
    done = run("--tasks", str(tasks), "--out", str(out))
    message = one_line(done.stderr)
    assert done.returncode == 0, done.stderr
    assert "3 episodes collected (2 transitions), 0 already complete, 1 ended in an error (1 task error)" in message
    assert "task error (web-start-missing-s0-" in message, message
    assert "/no/such/page (options.start '/no/such/page') answered HTTP 404 Not Found" in message, message
    recorded = episodes(out)
    assert recorded["start-missing"]["end_reason"].startswith(
        "task error: WebTaskError: task 'start-missing': the start page http://127.0.0.1:")
    assert recorded["start-missing"]["steps"] == 0
    assert recorded["start-broken-on-purpose"]["end_reason"] == "script_done"
    assert recorded["start-missing-on-purpose"]["end_reason"] == "script_done"

    # Fixed, the task is collected by the next run (an episode that ended in an error is not complete).
    tasks.write_text(tasks.read_text().replace("/no/such/page", "/category/books"))
    again = run("--tasks", str(tasks), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "2 already complete, 0 ended in an error" in one_line(again.stderr), again.stderr
    assert episodes(out)["start-missing"]["end_reason"] == "script_done"
