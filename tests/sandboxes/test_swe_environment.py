"""The environment record of a swe image (ENVIRONMENT_PY, stored in env details) names the image's system, not the
building host's kernel, which a container shares."""

from __future__ import annotations

import json

import pytest

from sandboxes.swe_images import ENVIRONMENT_PY, ensure_swe_base, without_kernel_release

# The script's own record and the kernel release, measured beside it in the same container.
MEASURE = ENVIRONMENT_PY + "import platform; print(json.dumps(platform.release()))\n"


def test_the_recorded_platform_has_no_kernel_release(docker_client):
    image = ensure_swe_base(docker_client)  # a no-op when scripts/setup.d built it
    out = docker_client.containers.run(image, ["python3", "-c", MEASURE], remove=True, network_mode="none")
    record_line, release_line = out.decode().splitlines()
    measured, release = json.loads(record_line)["platform"], json.loads(release_line)
    assert release and f"-{release}-" in measured  # what the image itself says, unchanged (its tag depends on it)
    assert without_kernel_release(measured) == measured.replace(f"-{release}", "", 1)


@pytest.mark.parametrize(("measured", "recorded"), [
    ("Linux-6.18.44-fc-v669-x86_64-with-glibc2.36", "Linux-x86_64-with-glibc2.36"),
    ("Linux-5.15.0-1049-aws-aarch64-with-glibc2.31", "Linux-aarch64-with-glibc2.31"),
    ("Linux-6.1.0-x86_64", "Linux-x86_64"),
    ("Linux-x86_64-with-glibc2.36", "Linux-x86_64-with-glibc2.36"),  # already without: unchanged
    ("", ""),
])
def test_without_kernel_release(measured, recorded):
    assert without_kernel_release(measured) == recorded
