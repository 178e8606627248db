"""Fixtures for tests against the real Docker engine, loaded by tests/conftest.py.

Other test runs share the engine, so every test works under its own container name prefix and checks only that.
"""

from __future__ import annotations

import uuid

import pytest


def containers_with_prefix(client, prefix: str) -> list[str]:
    # One list call: containers.list() inspects each container and fails when another test removes one meanwhile.
    return [c["Names"][0].lstrip("/") for c in client.api.containers(all=True)
            if c["Names"][0].lstrip("/").startswith(prefix)]


@pytest.fixture(scope="session")
def docker_client():
    from sandboxes.engine import engine_client
    client = engine_client()
    client.ping()
    return client


@pytest.fixture(scope="session")
def base_image(docker_client):
    from sandboxes.images import DEFAULT_TERMINAL_IMAGE, build_base_image
    build_base_image(DEFAULT_TERMINAL_IMAGE, client=docker_client)  # a no-op when scripts/setup.d built it
    return DEFAULT_TERMINAL_IMAGE


@pytest.fixture
def prefix(docker_client, request):
    """A unique container name prefix; the test fails if any container with it is left behind."""
    name = f"wltest-{request.node.path.parent.name}-{uuid.uuid4().hex[:8]}"
    yield name
    left = containers_with_prefix(docker_client, name)
    for container in left:
        docker_client.api.remove_container(container, force=True)
    assert left == [], f"containers left behind: {left}"


@pytest.fixture
def containers_named(docker_client):
    """containers_named(prefix) -> names of the containers whose name starts with prefix."""
    return lambda prefix: containers_with_prefix(docker_client, prefix)
