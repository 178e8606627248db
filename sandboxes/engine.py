"""The Docker engine client every sandbox and image builder uses: whatever `docker.from_env()` finds, so a
DOCKER_HOST pointing at a remote engine works unchanged."""

from __future__ import annotations

import os


class EngineUnreachable(RuntimeError):
    """No Docker engine answered where the environment points: the likeliest first failure on a machine where
    dockerd was not started. Commands show it as one line, not the docker SDK's traceback."""


def engine_client(client=None):
    """`client` if given, else a new client from the environment that does not read proxy settings on each request.
    requests looks them up by iterating os.environ for every call; sandboxes are made from pool threads, and an
    iteration racing with another thread setting a variable fails with KeyError (seen in CI while pytest set
    PYTEST_CURRENT_TEST). The engine is reached over its own socket or DOCKER_HOST, not through an HTTP proxy."""
    if client is not None:
        return client
    import docker

    try:
        client = docker.from_env()
    except docker.errors.DockerException as exc:
        where = f"DOCKER_HOST={os.environ['DOCKER_HOST']}" if os.environ.get("DOCKER_HOST") else \
            "the default socket; DOCKER_HOST is not set"
        reason = " ".join(str(exc).split())
        raise EngineUnreachable(f"cannot reach the Docker engine ({where}): {reason}. Start dockerd (`make run` "
                                "starts it) or set DOCKER_HOST to a running engine") from None
    client.api.trust_env = False
    return client
