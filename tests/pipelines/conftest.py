import subprocess
import sys

import pytest

from tests.pipelines.curation_raw_collection import write_raw_collection


@pytest.fixture(scope="session")
def raw_collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    return root, write_raw_collection(root)


@pytest.fixture(scope="session")
def curated(raw_collection, tmp_path_factory):
    """One real curation run through the CLI, Beam options passed through; shared by the tests that read it."""
    raw, expected = raw_collection
    out = tmp_path_factory.mktemp("curated")
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "curate", "--input", str(raw), "--output",
                             str(out), "--overwrite", "--dedupe-partitions", "5", "--runner=FnApiRunner"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, expected, result.stdout
