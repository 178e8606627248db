"""The "did not finish" warning is for curate outputs without stats.json, never for a raw collection (whose
transitions/ folder holds one folder per domain)."""

import shutil
import subprocess
import sys

from pipelines.views import unfinished_curation
from schemas.layout import is_curation_output, raw_layout


def test_the_readme_query_on_a_raw_collection_gives_no_warning(raw_collection):
    raw, _ = raw_collection
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", str(raw),
                             "SELECT domain, outcome, count(*) FROM episodes GROUP BY ALL"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "stats.json" not in result.stderr, result.stderr
    assert "terminal" in result.stdout


def test_a_raw_collection_is_not_a_curate_output(raw_collection, tmp_path):
    raw, _ = raw_collection
    assert raw_layout(raw) and not is_curation_output(raw) and unfinished_curation(raw) is None
    # Collectors' layout alone (one folder per domain), without episodes/ or a JSONL drop.
    bare = tmp_path / "bare"
    shutil.copytree(raw / "transitions" / "terminal", bare / "transitions" / "terminal")
    assert raw_layout(bare) and unfinished_curation(bare) is None


def test_curate_outputs_finished_or_not(curated, tmp_path):
    out = curated[0]
    assert is_curation_output(out) and not raw_layout(out) and unfinished_curation(out) is None
    # Killed while publishing: transitions/ is committed first, so it may be the only folder there.
    published = tmp_path / "published"
    shutil.copytree(out / "transitions", published / "transitions")
    assert "has no stats.json" in unfinished_curation(published)
    # Killed before publishing: only the work folder.
    (tmp_path / "working" / ".work" / "parts").mkdir(parents=True)
    assert "has no stats.json" in unfinished_curation(tmp_path / "working")
    killed = tmp_path / "killed"
    shutil.copytree(out, killed)
    (killed / "stats.json").unlink()
    assert "has no stats.json" in unfinished_curation(killed)
