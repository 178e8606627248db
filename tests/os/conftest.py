"""Fixtures for the os domain: the desktop image (built by scripts/setup.d/70-desktop-image.sh; built here only if
missing) and a per-test container prefix that must leave nothing behind."""

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
def desktop_image(docker_client):
    from sandboxes.desktop.image import build_desktop_image
    return build_desktop_image(client=docker_client)


def containers_named(client, prefix: str) -> list[str]:
    return [c["Names"][0].lstrip("/") for c in client.api.containers(all=True)
            if c["Names"][0].lstrip("/").startswith(prefix)]


@pytest.fixture
def prefix(docker_client):
    name = f"wltest-os-{uuid.uuid4().hex[:8]}"
    yield name
    assert containers_named(docker_client, name) == [], "desktop containers left behind"
