"""Exploration: tap clickable elements and scroll scrollable ones inside one app, preferring what was not yet tried
on the screen at hand; BACK when a screen is exhausted, reopen the app when the agent left it. The runner's step
budget ends the episode."""

from __future__ import annotations

import hashlib
import random

from collectors.android.actions import build_action
from collectors.api import Collector, Policy, Task
from schemas import Action, Observation
from schemas.render.android import flatten_uiautomator


class ExplorePolicy(Policy):
    name = "explore"

    def __init__(self, package: str):
        self.package = package

    def begin(self, task: Task, collector: Collector, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tried: dict[str, set[str]] = {}

    def candidates(self, observation: Observation) -> list[Action]:
        actions = []
        for node in flatten_uiautomator(observation.raw):
            if node.has("clickable") and node.enabled:
                actions.append(build_action("tap", node.index))
            if node.has("scrollable"):
                actions += [build_action("scroll", [node.index, "down"]), build_action("scroll", [node.index, "up"])]
        return actions

    def act(self, observation, history):
        if observation.meta.get("package") not in (self.package, None):
            # Left the app: BACK once, then reopen it if BACK did not bring it back.
            recent_back = history and history[-1][0].text == "key(back)"
            return build_action("open_app", self.package) if recent_back else build_action("key", "back")
        screen = hashlib.sha1(observation.text.encode()).hexdigest()
        tried = self.tried.setdefault(screen, set())
        fresh = [a for a in self.candidates(observation) if a.text not in tried]
        if not fresh:
            return build_action("key", "back")
        action = self.rng.choice(fresh)
        tried.add(action.text)
        return action


def explore_task(package: str) -> Task:
    # Grouped by the app, as tasks/android.yaml groups its tasks on that app: held out or trained on together.
    return Task(id=f"explore-{package}", instruction=f"Explore the app {package}.", domain="android",
                setup=[{"open_app": package}], group=package)
