"""The Docker engine client every sandbox and image builder uses: whatever `docker.from_env()` finds, so a
DOCKER_HOST pointing at a remote engine works unchanged."""

from __future__ import annotations


def engine_client(client=None):
    """`client` if given, else a new client from the environment that does not read proxy settings on each request.
    requests looks them up by iterating os.environ for every call; sandboxes are made from pool threads, and an
    iteration racing with another thread setting a variable fails with KeyError (seen in CI while pytest set
    PYTEST_CURRENT_TEST). The engine is reached over its own socket or DOCKER_HOST, not through an HTTP proxy."""
    if client is not None:
        return client
    import docker
    client = docker.from_env()
    client.api.trust_env = False
    return client
