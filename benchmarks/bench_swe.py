"""SWE collection speed: episodes per minute and where the time goes (environment vs collector), side by side for a
tiny local project and a real starter project (inflection from PyPI), with one and two workers; then the median
latency of each action kind. "Environment" is time spent waiting on Docker: container start and every exec
(test runs dominate); "collector" is everything else (planning, parsing, the runner, writing Parquet)."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from collectors.command import plans_for
from collectors.runner import collect
from collectors.swe import BugFixPolicy, SweCollector, generate_bugfix_tasks
from sandboxes.swe_images import ensure_image
from sandboxes.swe_repos import RepoSpec, load_repo_specs
from tests.swe.swe_helpers import write_tiny_project

ROOT = Path(__file__).resolve().parents[1]
BUGS = 4


def _tiny_spec(folder: Path) -> RepoSpec:
    # The SWE tests' tiny real project: a measurement of it means the same project as a failing test does.
    return RepoSpec(name="wl-bench-tiny", path=str(write_tiny_project(folder)), mutate=("calc.py",))


def _run(spec: RepoSpec, image: str, tasks, workers: int, out: Path) -> dict:
    collectors: list[SweCollector] = []

    def make() -> SweCollector:
        collectors.append(SweCollector({spec.name: spec}, {spec.name: image}, name_prefix="worldline-swe-bench"))
        return collectors[-1]

    started = time.perf_counter()
    report = collect(make, plans_for(tasks, policy_factory=BugFixPolicy), out, domain="swe", workers=workers,
                     progress=False)
    wall = time.perf_counter() - started
    env = sum(c.env_seconds for c in collectors)
    busy = wall * len(collectors)  # each worker thread is busy for the whole run (one episode after another)
    return {"episodes": report.completed, "errors": report.errored, "transitions": report.transitions,
            "wall": wall, "env_share": env / busy if busy else 0.0}


def _latencies(out: Path) -> dict[str, list[float]]:
    by_kind: dict[str, list[float]] = {}
    for path in (out / "transitions" / "swe").glob("*.parquet"):
        for row in pq.read_table(path, columns=["action", "timings"]).to_pylist():
            by_kind.setdefault(row["action"]["kind"], []).append(row["timings"]["observe_latency_ms"])
    return by_kind


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="worldline-bench-swe-") as tmp:
        tmp = Path(tmp)
        starter = {s.name: s for s in load_repo_specs(ROOT / "tasks" / "swe_repos.yaml")}
        repos = [_tiny_spec(tmp / "tiny"), starter["inflection"]]
        print(f"{'repo':<14} {'workers':>7} {'episodes':>8} {'steps':>6} {'wall s':>8} {'ep/min':>7} "
              f"{'env %':>6} {'collector %':>11}   (task generation: s)")
        kinds: dict[str, list[float]] = {}
        for spec in repos:
            image = ensure_image(spec)
            t0 = time.perf_counter()
            tasks = generate_bugfix_tasks(spec, image, BUGS, seed=0)
            generation = time.perf_counter() - t0
            for workers in (1, 2):
                out = tmp / f"{spec.name}-w{workers}"
                result = _run(spec, image, tasks, workers, out)
                per_minute = result["episodes"] / result["wall"] * 60
                print(f"{spec.name:<14} {workers:>7} {result['episodes']:>8} {result['transitions']:>6} "
                      f"{result['wall']:>8.1f} {per_minute:>7.2f} {result['env_share'] * 100:>5.1f}% "
                      f"{(1 - result['env_share']) * 100:>10.1f}%   ({generation:.1f} s for {len(tasks)} tasks)",
                      flush=True)
                for kind, values in _latencies(out).items():
                    kinds.setdefault(f"{spec.name}:{kind}", []).extend(values)
        print(f"\n{'action (repo:kind)':<28} {'median ms':>10} {'n':>4}")
        for name, values in sorted(kinds.items()):
            print(f"{name:<28} {statistics.median(values):>10.1f} {len(values):>4}")
        print(json.dumps({"note": "env share = Docker start + exec time / worker busy time"}))
