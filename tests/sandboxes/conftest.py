"""Fixtures for tests against the real Docker engine: a client, the base image, and a per-test container prefix
that the leftover check filters on (other engineers' containers run on the same engine at the same time)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="session")
def docker_client():
    import docker
    client = docker.from_env()
    client.ping()
    return client


@pytest.fixture(scope="session")
def base_image(docker_client):
    from sandboxes.images import DEFAULT_TERMINAL_IMAGE, build_base_image
    build_base_image(DEFAULT_TERMINAL_IMAGE, client=docker_client)  # no-op when scripts/setup.d built it
    return DEFAULT_TERMINAL_IMAGE


def _containers_named(client, prefix: str) -> list[str]:
    # One list call: containers.list() inspects each container and fails when another test removes one meanwhile.
    return [c["Names"][0].lstrip("/") for c in client.api.containers(all=True)
            if c["Names"][0].lstrip("/").startswith(prefix)]


@pytest.fixture
def prefix(docker_client):
    """A unique container name prefix; the test fails if any container with it is left behind."""
    name = f"wltest-sb-{uuid.uuid4().hex[:8]}"
    yield name
    assert _containers_named(docker_client, name) == [], "containers left behind"


@pytest.fixture
def containers_named(docker_client):
    """containers_named(prefix) -> names of the containers whose name starts with prefix."""
    return lambda prefix: _containers_named(docker_client, prefix)
