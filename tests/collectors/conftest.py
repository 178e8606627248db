"""Runs of `worldline collect terminal` as real subprocesses, each with its own container name prefix."""

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
    build_base_image(DEFAULT_TERMINAL_IMAGE, client=docker_client)
    return DEFAULT_TERMINAL_IMAGE


def _containers_named(client, prefix: str) -> list[str]:
    # One list call: containers.list() inspects each container and fails when another test removes one meanwhile.
    return [c["Names"][0].lstrip("/") for c in client.api.containers(all=True)
            if c["Names"][0].lstrip("/").startswith(prefix)]


@pytest.fixture
def prefix(docker_client):
    name = f"wltest-run-{uuid.uuid4().hex[:8]}"
    yield name
    left = _containers_named(docker_client, name)
    for container in left:
        docker_client.api.remove_container(container, force=True)
    assert left == [], "a run left containers behind"


@pytest.fixture
def containers_named(docker_client):
    """containers_named(prefix) -> names of the containers whose name starts with prefix."""
    return lambda prefix: _containers_named(docker_client, prefix)
