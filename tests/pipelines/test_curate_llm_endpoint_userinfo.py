"""An --llm-endpoint holding credentials (`http://user:pw@host/v1`) is never printed with them (privacy audit PR12):
every error line naming the endpoint shows it without its userinfo, and stats.json does not record it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from collectors.store import EpisodeStore
from pipelines.commands.curate import llm_endpoint_failure
from pipelines.curate import run_curation
from tests.pipelines.curation_raw_collection import _episode
from transforms.curate import CurateOptions
from transforms.reasoning.llm import LLMEndpointError, LLMSynthesizer, shown_url

ENDPOINT = "http://planteduser:plantedpw@127.0.0.1:1/v1"


def _collection(root, episodes: int):
    store = EpisodeStore(root)
    for e in range(episodes):
        _episode(store, "terminal", f"ep-{e}", [(f"cat notes{e}-{s}", f"note {e} {s} " * 20) for s in range(2)])
    return root


def test_the_model_check_names_the_endpoint_without_its_credentials(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input",
                             str(_collection(tmp_path / "raw", 1)), "--output", str(tmp_path / "out"), "--reasoning",
                             "llm", "--llm-endpoint", ENDPOINT, "--llm-model", "m"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "plantedpw" not in result.stderr and "planteduser" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: cannot reach http://127.0.0.1:1/v1/: "), result.stderr


def test_failures_in_a_row_name_the_endpoint_without_its_credentials(tmp_path):
    options = CurateOptions(reasoning="llm", reasoning_options={
        "model": "m", "base_url": ENDPOINT, "retries": 0, "cache_path": str(tmp_path / "traces.sqlite")})
    with pytest.raises(LLMEndpointError) as caught:
        run_curation(str(_collection(tmp_path / "raw", 14)), str(tmp_path / "out"), options)
    assert llm_endpoint_failure(caught.value).startswith("24 calls in a row to http://127.0.0.1:1/v1/ failed")


@pytest.mark.parametrize("url, shown", [
    ("http://user:pw@host:8000/v1", "http://host:8000/v1"),
    ("https://token@api.example/v1/", "https://api.example/v1/"),
    ("http://a%40b:p@ss@10.0.0.1/v1", "http://10.0.0.1/v1"),
    ("http://localhost:8000/v1", "http://localhost:8000/v1"),
])
def test_shown_url_drops_userinfo_only(url, shown):
    assert shown_url(url) == shown


def test_the_synthesizer_keeps_the_credentials_it_connects_with():
    assert LLMSynthesizer(model="m", base_url=ENDPOINT).base_url == ENDPOINT
