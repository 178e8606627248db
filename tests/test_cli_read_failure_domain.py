"""A raw file curation cannot read is counted under the domain its folder names (transitions/{domain}/), not under
`<unknown>`: the summary's mcp row says how many mcp records there were, broken ones included."""

import json
import subprocess
import sys
from pathlib import Path

from collectors.store import EpisodeStore
from tests.pipelines.curation_raw_collection import _episode
from transforms.stats import UNKNOWN_DOMAIN, domain_of, domain_of_path

REPO = Path(__file__).resolve().parents[1]


def test_domain_of_path_takes_the_folder_under_transitions():
    assert domain_of_path("raw/transitions/mcp/mcp-x.parquet") == "mcp"
    assert domain_of_path("gs://bucket/transitions/x/raw/transitions/swe/drop.jsonl") == "swe"
    assert domain_of_path("raw/transitions/drop.jsonl") == UNKNOWN_DOMAIN  # a JSONL drop straight in transitions/
    assert domain_of_path("elsewhere.parquet") == UNKNOWN_DOMAIN
    assert domain_of({"domain": "web"}, "raw/transitions/mcp/a.parquet") == "web"  # the row's own domain first
    assert domain_of({"step": 0}, "raw/transitions/mcp/a.parquet") == "mcp"


def test_curate_counts_unreadable_files_under_their_folders_domain(tmp_path):
    raw = tmp_path / "raw"
    _episode(EpisodeStore(raw), "mcp", "mcp-good", [("call a", "first answer of the server"),
                                                     ("call b", "second answer, other words")])
    (raw / "transitions" / "mcp" / "mcp-broken.parquet").write_bytes(b"PAR1 truncated by a full disk")
    (raw / "transitions" / "swe").mkdir()
    (raw / "transitions" / "swe" / "drop.jsonl").write_text("{not json\n")
    out = tmp_path / "shards"
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    domains = json.loads((out / "stats.json").read_text())["domains"]
    assert UNKNOWN_DOMAIN not in domains, domains
    assert domains["mcp"]["in"] == 3 and domains["mcp"]["dead_lettered"] == 1, domains["mcp"]
    assert domains["swe"]["in"] == 1 and domains["swe"]["dead_lettered"] == 1, domains["swe"]
