"""Fixtures for the SWE collector tests: real images built offline from real sources, real containers."""

import pytest
from tests.swe.swe_helpers import ROOT, write_tiny_project

from sandboxes.swe_images import ensure_image
from sandboxes.swe_repos import RepoSpec, load_repo_specs


@pytest.fixture(scope="session")
def tiny_spec(tmp_path_factory) -> RepoSpec:
    folder = write_tiny_project(tmp_path_factory.mktemp("tiny") / "calc")
    return RepoSpec(name="wl-test-tiny", path=str(folder), mutate=("calc.py",))


@pytest.fixture(scope="session")
def tiny_image(tiny_spec) -> str:
    return ensure_image(tiny_spec)


@pytest.fixture(scope="session")
def starter_specs() -> dict[str, RepoSpec]:
    return {spec.name: spec for spec in load_repo_specs(ROOT / "tasks" / "swe_repos.yaml")}
