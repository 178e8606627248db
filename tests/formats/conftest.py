import pytest

from tests.formats.stage3_collection import curate_stage3_collection


@pytest.fixture(scope="session")
def stage3_curated(tmp_path_factory):
    """A real curation (pipelines.curate.run_curation) of a raw collection whose observations hold a value of each
    masking kind and a replay span: its output folder, with stage3/ shards."""
    return curate_stage3_collection(tmp_path_factory.mktemp("stage3_curated"))
