"""The card's install recipe for the scorer names every package it needs (trainer walkthrough P5): with only the
packages of the card's `pip install` line (and what they depend on), the standard library and worldline's own
`transforms` and `schemas`, the scorer imports and scores every stage-3 row of a real curation (the `curated`
fixture) against its stage-2 target. Any other import fails in the child process, as in a training venv that
installed worldline with --no-deps."""

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import importlib.abc, importlib.machinery, json, sys, sysconfig
allowed = set(json.loads(sys.argv[1]))
# The standard library by where it is, not by sys.stdlib_module_names, which leaves out private modules such as
# _sysconfigdata_* that pyarrow.dataset imports.
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in allowed or top in sys.stdlib_module_names or path is not None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name)
        if spec is None or ((spec.origin or "").startswith(stdlib) and "site-packages" not in spec.origin):
            return None
        raise ImportError(f"{name} is not among the packages the card names")

sys.meta_path.insert(0, Blocker())
import glob
import pyarrow.parquet as pq
from transforms.rewards import compute_score, extract_prediction, score, trl_reward
out = sys.argv[2]
rows = pq.read_table(glob.glob(f"{out}/stage3/*.parquet")).to_pylist()
stage2 = pq.read_table(glob.glob(f"{out}/stage2/*.parquet"), columns=["id", "target"]).to_pydict()
targets = dict(zip(stage2["id"], stage2["target"]))
rewards = [score(extract_prediction(targets[row["id"]], row["reference"]), row["reference"], row["exact_spans"],
                 row["format_spans"], row["rubric_id"]).reward for row in rows]
rewards += trl_reward(prompts=[row["prompt"] for row in rows], completions=[targets[row["id"]] for row in rows],
                      **{key: [row[key] for row in rows] for key in ("reference", "exact_spans", "format_spans",
                                                                     "rubric_id")})
rewards += [compute_score(row["rubric_id"], targets[row["id"]],
                          {key: row[key] for key in ("reference", "exact_spans", "format_spans")}) for row in rows]
print(json.dumps({"rows": len(rows), "rewards": rewards}))
"""


def _closure(names: list[str]) -> set[str]:
    """The distributions `pip install NAMES` installs: the named ones and their requirements, transitively."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        todo += [requirement.name for requirement in map(Requirement, importlib.metadata.requires(name) or [])
                 if requirement.marker is None or requirement.marker.evaluate({"extra": ""})]
    return seen


def test_the_packages_the_card_names_are_all_the_scorer_needs(curated):
    out, _, _ = curated
    card = (out / "README.md").read_text()
    assert "`pip install --no-deps /path/to/worldline`" in card
    named = re.search(r"`pip install ((?:[\w-]+ ?)+)`", card.split("`pip install --no-deps /path/to/worldline`")[1])[1]
    distributions = _closure(named.split())
    modules = {module for module, owners in importlib.metadata.packages_distributions().items()
               if any(owner.lower() in distributions for owner in owners)}
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(sorted(modules | {"transforms", "schemas"})),
                             str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert found["rows"] > 0 and found["rewards"] == [1.0] * (3 * found["rows"])
