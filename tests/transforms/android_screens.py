"""Real Android screens for trace tests: the view lists of AppAgent's recorded runs in shared/data/android."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.render import render
from transforms.reasoning.grounded import grounded_trace

TASKS = Path(__file__).resolve().parents[3] / "shared" / "data" / "android" / "Untergang1__AppAgent" / "tasks"


def screen(run: str, step: int) -> str:
    path = TASKS / run / f"{run}_{step}.xml"
    if not path.is_file():
        pytest.fail(f"the real Android dumps are missing: expected {path} (CI keeps a read-only copy of shared/)")
    return render("uiautomator-xml", path.read_bytes())


def phone_trace(state: str, after: str, action: str) -> str:
    return grounded_trace({"domain": "android", "state_text": state, "next_text": after, "action_text": action})
