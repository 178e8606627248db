"""Real Android screens for trace tests: the view lists of AppAgent's recorded runs in shared/data/android."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.render import render
from transforms.reasoning._linediff import line_diff, renumbered
from transforms.reasoning.grounded import grounded_trace
from transforms.reasoning.views import view_sentences

TASKS = Path(__file__).resolve().parents[3] / "shared" / "data" / "android" / "Untergang1__AppAgent" / "tasks"


def screen(run: str, step: int) -> str:
    path = TASKS / run / f"{run}_{step}.xml"
    if not path.is_file():
        pytest.fail(f"the real Android dumps are missing: expected {path} (CI keeps a read-only copy of shared/)")
    return render("uiautomator-xml", path.read_bytes())


def phone_trace(state: str, after: str, action: str) -> str:
    return grounded_trace({"domain": "android", "state_text": state, "next_text": after, "action_text": action})


def handed_lines(state: str, after: str) -> dict[str, list]:
    """The lines line_diff hands its describe, as the android trace gets them (ids renumbered first)."""
    handed = {"appear": [], "disappear": [], "change": []}

    def keep(added, removed, pairs):
        handed.update(appear=added, disappear=removed, change=pairs)
        return view_sentences(added, removed, pairs)

    numbered, _ = renumbered(state, after)
    line_diff(numbered, after, "element", None, keep)
    return handed
