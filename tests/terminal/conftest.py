"""A terminal collector on the real engine, shared by the module; its containers carry a unique name prefix."""

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


@pytest.fixture(scope="module")
def collector(base_image, docker_client):
    from collectors.terminal import TerminalCollector
    prefix = f"wltest-term-{uuid.uuid4().hex[:8]}"
    terminal = TerminalCollector(base_image, name_prefix=prefix)
    yield terminal
    terminal.close()
    left = [n for c in docker_client.api.containers(all=True) for n in c["Names"] if n.lstrip("/").startswith(prefix)]
    assert left == [], "terminal containers left behind"
