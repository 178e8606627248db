"""The desktop image for the os tests (built by scripts/setup.d/70-desktop-image.sh; built here only if missing)."""

import pytest


@pytest.fixture(scope="session")
def desktop_image(docker_client):
    from sandboxes.desktop.image import build_desktop_image
    return build_desktop_image(client=docker_client)
