"""verl's older custom-reward loaders execute the file by path without putting the module in sys.modules
(spec_from_file_location + exec_module): the scorer must load and score so, where dataclasses would look up
sys.modules[cls.__module__] for string annotations and fail with "'NoneType' object has no attribute '__dict__'"."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import transforms


def test_the_scorer_loads_by_path_without_being_registered():
    path = Path(transforms.__file__).parent / "rewards.py"
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    assert "custom_module" not in sys.modules
    spec.loader.exec_module(module)
    reference = "total 4\n"
    spans = [{"start": 0, "end": len(reference), "kind": "exact"}]
    ground_truth = {"reference": reference, "exact_spans": spans, "format_spans": []}
    rubric = "worldline/terminal/v1"  # verl's data_source
    assert module.compute_score(rubric, f"<predicted_observation>{reference}</predicted_observation>", ground_truth) == 1.0
    assert module.compute_score(rubric, "<predicted_observation>total 5\n</predicted_observation>", ground_truth) == 0.0
