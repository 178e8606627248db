"""Web collector cost against bare Playwright, and how fast exploration finds new page states.

1. One search on the forum (fill the search box, click Search, observe the results page), median of interleaved
   rounds: bare Playwright with one aria snapshot, bare Playwright with a snapshot after each action, and the
   collector (two steps, each with settle wait + bids + CDP AX tree + aria snapshot + render). Target <= 1.2x.
2. Distinct states (hash of the rendered tree) per minute: the novelty-seeking explorer vs uniform random choice
   among the same candidate actions, same sites, same step budget.
"""

from __future__ import annotations

import statistics
import time

ROUNDS = 15
EXPLORE_STEPS = 25


def _forum_round_raw(page, base: str, snapshots: int) -> float:
    page.goto(base + "/")
    start = time.perf_counter()
    page.get_by_role("searchbox", name="Search posts").fill("tomato")
    if snapshots == 2:
        page.locator("body").aria_snapshot()
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state("load")
    page.locator("body").aria_snapshot()
    return (time.perf_counter() - start) * 1000


def _forum_round_collector(collector) -> float:
    from collectors.web import resolve_reference
    first = collector.step(collector.parse_action('goto("/")')).observation
    search = resolve_reference("searchbox 'Search posts'", first.text)
    button = resolve_reference("button 'Search'", first.text)
    start = time.perf_counter()
    collector.step(collector.parse_action(f'fill("{search}", "tomato")'))
    result = collector.step(collector.parse_action(f'click("{button}")'))
    elapsed = (time.perf_counter() - start) * 1000
    assert "Search results" in result.observation.text, result.observation.text[:500]
    return elapsed


def step_cost() -> None:
    from collectors.api import Task
    from collectors.web import WebCollector
    from sandboxes.browser import CHROMIUM, LAUNCH_ARGS

    collector = WebCollector()
    collector.reset(Task("bench", "bench", options={"site": "forum"}))
    base = collector.sites.url("forum")
    timings = {"raw": [], "raw2": [], "collector": []}
    # A second, bare browser on the collector's own Playwright driver (one driver per thread is allowed).
    browser = collector.browser.playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    page = browser.new_page()
    for _ in range(2):  # warm both up
        _forum_round_raw(page, base, 1)
        _forum_round_collector(collector)
    for _ in range(ROUNDS):
        timings["raw"].append(_forum_round_raw(page, base, 1))
        timings["raw2"].append(_forum_round_raw(page, base, 2))
        timings["collector"].append(_forum_round_collector(collector))
    browser.close()
    collector.close()
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(f"forum search round, median of {ROUNDS} interleaved rounds (ms):")
    print(f"  bare Playwright: fill + click + 1 aria snapshot           {med['raw']:8.1f}")
    print(f"  bare Playwright: fill + snapshot + click + snapshot        {med['raw2']:8.1f}")
    print(f"  collector: step(fill) + step(click), full observations    {med['collector']:8.1f}")
    print(f"  ratio collector / bare (same observation count): {med['collector'] / med['raw2']:.2f}x; "
          f"/ bare with one snapshot: {med['collector'] / med['raw']:.2f}x (target <= 1.2x)")


class _RandomPolicy:
    name = "random"

    def __init__(self, budget):
        from collectors.web import ExplorePolicy
        self.inner = ExplorePolicy(budget)

    def begin(self, task, collector, seed):
        self.inner.begin(task, collector, seed)

    def act(self, observation, history):
        from collectors.api import Action
        from sandboxes.web_actions import format_call, parse_call
        if len(history) >= self.inner.budget:
            return None
        options = [text for text, _ in self.inner.candidates(observation.text)] + (["go_back()"] if history else [])
        name, arguments = parse_call(self.inner.rng.choice(options) if options else "go_back()")
        return Action(kind=name, arguments=arguments, text=format_call(name, arguments))


def exploration_rate() -> None:
    from collectors.api import Task
    from collectors.runner import EpisodePlan, run_episode
    from collectors.web import ExplorePolicy, WebCollector, state_key

    collector = WebCollector()
    print(f"exploration, {EXPLORE_STEPS} steps per site:")
    print(f"  {'site':8} {'policy':8} {'distinct states':>15} {'seconds':>8} {'states/min':>10}")
    totals = {"explore": [0, 0.0], "random": [0, 0.0]}
    try:
        for site in ("shop", "forum", "tracker", "form"):
            for label, factory in (("explore", lambda: ExplorePolicy(EXPLORE_STEPS)),
                                   ("random", lambda: _RandomPolicy(EXPLORE_STEPS))):
                task = Task(f"bench-{site}", "explore", options={"site": site}, max_steps=EXPLORE_STEPS)
                start = time.perf_counter()
                _, transitions = run_episode(collector, EpisodePlan(task, 1, factory, EXPLORE_STEPS))
                seconds = time.perf_counter() - start
                states = len({state_key(t.next_observation.text) for t in transitions})
                totals[label][0] += states
                totals[label][1] += seconds
                print(f"  {site:8} {label:8} {states:15d} {seconds:8.1f} {states / seconds * 60:10.1f}")
    finally:
        collector.close()
    for label, (states, seconds) in totals.items():
        print(f"  {'all':8} {label:8} {states:15d} {seconds:8.1f} {states / seconds * 60:10.1f}")


def main() -> None:
    step_cost()
    exploration_rate()


if __name__ == "__main__":
    main()
