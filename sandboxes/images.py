"""Base images for sandboxes, built without a registry when none can be reached.

A registry image (debian:bookworm-slim + apt) is used when the engine can pull one; otherwise the image is made
offline: debootstrap a minbase rootfs from the same Debian mirror this machine's apt uses, then `docker import` it.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sandboxes.engine import engine_client

log = logging.getLogger(__name__)

DEFAULT_TERMINAL_IMAGE = "worldline/base:bookworm"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
REGISTRY_BASE = f"debian:{SUITE}-slim"
# What a realistic shell task needs: tmux drives the terminal, the rest are the tools tasks exercise.
TERMINAL_PACKAGES = [
    "tmux", "bash", "procps", "python3", "git", "xz-utils", "bzip2", "gzip", "zip", "unzip", "file", "less",
    "jq", "bc", "curl", "iputils-ping", "ca-certificates", "sqlite3", "vim-tiny", "psmisc", "tree",
]
IMAGE_CHANGES = ["ENV LANG=C.UTF-8", "ENV TERM=xterm-256color", "WORKDIR /work", 'CMD ["/bin/bash"]']


class ImageBuildError(RuntimeError):
    pass


def image_exists(tag: str, client=None) -> bool:
    import docker.errors
    try:
        engine_client(client).images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def apt_mirror(sources_dir: str = "/etc/apt") -> str:
    """The Debian archive URI this machine's apt already uses (deb822 .sources or one-line .list files)."""
    root = Path(sources_dir)
    files = sorted(root.glob("sources.list.d/*.sources")) + [root / "sources.list"] + sorted(
        root.glob("sources.list.d/*.list"))
    for path in files:
        if not path.is_file():
            continue
        for uri in re.findall(r"(?:^URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", path.read_text(), re.M):
            if "security" not in uri and "debian" in uri:
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def build_base_image(tag: str = DEFAULT_TERMINAL_IMAGE, packages: list[str] | None = None, *, force: bool = False,
                     client=None) -> str:
    """Return the id of image `tag`, building it first if it is missing (or if `force`)."""
    client = engine_client(client)
    packages = list(packages if packages is not None else TERMINAL_PACKAGES)
    if not force and image_exists(tag, client):
        return client.images.get(tag).id
    if _pull_registry_base(client):
        return _build_from_registry(client, tag, packages)
    return _build_offline(client, tag, packages)


def _pull_registry_base(client) -> bool:
    import docker.errors
    try:
        client.images.pull(REGISTRY_BASE)
        return True
    except docker.errors.APIError as exc:  # no registry reachable here is the normal case, not a failure
        log.info("cannot pull %s (%s); building offline with debootstrap", REGISTRY_BASE, str(exc)[:120])
        return False


def _build_from_registry(client, tag: str, packages: list[str]) -> str:
    dockerfile = "\n".join([
        f"FROM {REGISTRY_BASE}",
        "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
        + " ".join(packages) + " && rm -rf /var/lib/apt/lists/*",
        "RUN mkdir -p /work",
        *IMAGE_CHANGES,
    ]).encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    image, _ = client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    return image.id


def _build_offline(client, tag: str, packages: list[str]) -> str:
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed (scripts/setup.d/10-docker.sh installs it)")
    repository, _, version = tag.partition(":")
    with tempfile.TemporaryDirectory(prefix="worldline-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        command = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", SUITE, str(rootfs),
                   apt_mirror()]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr)[-2000:]
            raise ImageBuildError(f"debootstrap failed for {tag} (exit {done.returncode}): {tail}")
        for mount in ("proc", "sys", "dev/pts"):  # debootstrap may leave these mounted; never ship them
            subprocess.run(["umount", "-l", str(rootfs / mount)], capture_output=True)
        (rootfs / "work").mkdir(exist_ok=True)
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        archive = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."], check=True)
        client.api.import_image_from_file(str(archive), repository=repository, tag=version or "latest",
                                          changes=IMAGE_CHANGES)
    return client.images.get(tag).id
