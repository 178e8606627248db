"""Curation runs on jemalloc (see pipelines/__init__.py); a pool the user chose is left alone."""

import os
import platform
import subprocess
import sys

import pytest

PROBE = "import pipelines.curate, pyarrow; print(pyarrow.default_memory_pool().backend_name)"


def arrow_pool(env_pool: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(not (sys.platform == "linux" and platform.machine() == "x86_64"),
                    reason="jemalloc is chosen only on Linux x86-64, where the pyarrow wheels ship it")
def test_importing_the_pipelines_makes_arrow_allocate_from_jemalloc():
    assert arrow_pool(None) == "jemalloc"


def test_a_pool_the_user_set_is_kept():
    assert arrow_pool("system") == "system"
