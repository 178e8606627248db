"""A terminal collector on the real engine, shared by the module; its containers carry a unique name prefix."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="module")
def collector(base_image, docker_client):
    from collectors.terminal import TerminalCollector
    prefix = f"wltest-term-{uuid.uuid4().hex[:8]}"
    terminal = TerminalCollector(base_image, name_prefix=prefix)
    yield terminal
    terminal.close()
    left = [n for c in docker_client.api.containers(all=True) for n in c["Names"] if n.lstrip("/").startswith(prefix)]
    assert left == [], "terminal containers left behind"
