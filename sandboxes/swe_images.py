"""Sandbox images for SWE episodes: one image per repository, built offline FROM a local Debian base.

Layers: `worldline/swe-base:bookworm` (debootstrap: python3, python3-venv, git, ...) -> a venv with the project's test
dependencies installed from wheels downloaded on the host (the build itself runs with no network, so the image
provably needs none) -> the repository at REPO_DIR, already a git repository with no future (sandboxes.swe_git) ->
ENV_FILE, the environment as measured inside the image (Python, installed distributions, git).
The tag carries a fingerprint of everything that went in, so a changed spec or base builds a new image.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sandboxes.engine import engine_client
from sandboxes.images import ImageBuildError, build_base_image, image_exists
from sandboxes.swe_git import commit_tree, is_git_repo, resolve_commit, snapshot_repo
from sandboxes.swe_repos import RepoSpec

log = logging.getLogger(__name__)

SWE_BASE_TAG = "worldline/swe-base:bookworm"
SWE_BASE_PACKAGES = ["bash", "procps", "python3", "python3-venv", "git", "patch", "diffutils", "less", "tree",
                     "ca-certificates"]
IMAGE_PYTHON = "3.11"  # bookworm's python3; host-side wheel downloads target it
REPO_DIR = "/opt/swe/repo"
ENV_FILE = "/opt/swe/environment.json"
LABEL_REPO = "worldline.swe.repo"

DOCKERFILE = f"""\
FROM {SWE_BASE_TAG}
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PYTHONDONTWRITEBYTECODE=1 PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 GIT_PAGER=cat PAGER=cat LANG=C.UTF-8
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/venv \\
 && pip install -q --no-index --find-links /tmp/wheels -r /tmp/wheels/requirements.txt \\
 && rm -rf /tmp/wheels /root/.cache
RUN git config --system user.name worldline && git config --system user.email worldline@localhost \\
 && git config --system safe.directory '*' && git config --system init.defaultBranch main \\
 && git config --system core.pager cat && git config --system advice.detachedHead false
COPY repo {REPO_DIR}
COPY environment.py /opt/swe/environment.py
RUN python /opt/swe/environment.py > {ENV_FILE}
WORKDIR /work
"""

# platform.platform() is SYSTEM-RELEASE-MACHINE[-with-LIBC]; a release starts with a digit and may hold hyphens, a
# machine holds none.
_PLATFORM = re.compile(r"^(?P<system>[^-]+)-\d.*?-(?P<rest>[^-]+(?:-with-.+)?)$")


def without_kernel_release(platform_string: str) -> str:
    """The image's platform less the kernel release, which is the building host's (a container has no kernel of its
    own) and names the machine's hosting stack (`6.18.44-fc-v669`). Applied when the record is read, not in the image,
    so image tags, and with them the replays of earlier episodes, stay as they were."""
    match = _PLATFORM.match(platform_string)
    return f"{match['system']}-{match['rest']}" if match else platform_string


# Runs inside the image at build time: what a reproduction needs to know about the environment.
ENVIRONMENT_PY = """\
import importlib.metadata, json, platform, subprocess, sys
print(json.dumps({
    "python": platform.python_version(),
    "python_executable": sys.executable,
    "platform": platform.platform(),
    "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
    "packages": sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()),
}, sort_keys=True))
"""


def ensure_swe_base(client=None, force: bool = False) -> str:
    return build_base_image(SWE_BASE_TAG, SWE_BASE_PACKAGES, force=force, client=engine_client(client))


def _source_identity(spec: RepoSpec) -> str:
    if spec.pypi:
        return f"pypi:{spec.pypi}"
    path = Path(spec.path)
    if is_git_repo(path):
        # The authors choice changes the history the image holds, and so must change its tag.
        return f"git:{resolve_commit(path, spec.base_commit)}:authors={spec.authors}"
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + b"\0" + file.read_bytes())
    return f"folder:{digest.hexdigest()}"


def image_tag(spec: RepoSpec, client=None) -> str:
    """`worldline/swe-NAME:FINGERPRINT`, the fingerprint covering source, dependencies, recipe and base image."""
    base_id = engine_client(client).images.get(SWE_BASE_TAG).id
    recipe = json.dumps([_source_identity(spec), sorted(spec.test_requires), DOCKERFILE, ENVIRONMENT_PY, base_id])
    return f"worldline/swe-{spec.name}:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def _pip(*args: str, what: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise ImageBuildError(f"{what} failed: {(done.stdout + done.stderr).strip()[-1500:]}")


def fetch_sdist(requirement: str, dest: Path) -> Path:
    """Download and unpack the source distribution of `requirement` into `dest` (the project's top folder)."""
    with tempfile.TemporaryDirectory(prefix="worldline-sdist-") as tmp:
        _pip("download", "-q", "--no-binary", ":all:", "--no-deps", "-d", tmp, requirement,
             what=f"downloading the sdist of {requirement}")
        archives = [p for p in Path(tmp).iterdir() if p.name.endswith((".tar.gz", ".zip", ".tar.bz2"))]
        if len(archives) != 1:
            raise ImageBuildError(f"expected one sdist for {requirement}, got {[p.name for p in archives]}")
        unpacked = Path(tmp) / "unpacked"
        shutil.unpack_archive(archives[0], unpacked, filter="data")
        tops = list(unpacked.iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise ImageBuildError(f"sdist {archives[0].name} does not hold one top folder")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(tops[0]), dest)
    return dest


def prepare_context(spec: RepoSpec, context: Path) -> str:
    """Fill a docker build context for `spec`; returns the base commit of the repository it holds."""
    repo = context / "repo"
    if spec.pypi:
        fetch_sdist(spec.pypi, repo)
        base_commit = commit_tree(repo, f"{spec.pypi} (source distribution)")
    elif is_git_repo(Path(spec.path)):
        base_commit = snapshot_repo(Path(spec.path), spec.base_commit, repo, authors=spec.authors)
    else:
        shutil.copytree(spec.path, repo, symlinks=True)
        base_commit = commit_tree(repo, f"{spec.name} (local folder)")
    wheels = context / "wheels"
    wheels.mkdir()
    _pip("download", "-q", "--only-binary", ":all:", "--python-version", IMAGE_PYTHON, "-d", str(wheels),
         *spec.test_requires, what=f"downloading test dependencies of {spec.name} {list(spec.test_requires)}")
    (wheels / "requirements.txt").write_text("\n".join(spec.test_requires) + "\n")
    (context / "environment.py").write_text(ENVIRONMENT_PY)
    (context / "Dockerfile").write_text(DOCKERFILE)
    return base_commit


def ensure_image(spec: RepoSpec, *, force: bool = False, client=None) -> str:
    """The tag of `spec`'s image, building the base and the image first if missing (or if `force`)."""
    client = engine_client(client)
    ensure_swe_base(client)
    tag = image_tag(spec, client)
    if not force and image_exists(tag, client):
        return tag
    import docker.errors
    with tempfile.TemporaryDirectory(prefix=f"worldline-swe-{spec.name}-", dir="/var/tmp") as tmp:
        base_commit = prepare_context(spec, Path(tmp))
        labels = {"worldline": "1", LABEL_REPO: spec.name, "worldline.swe.base_commit": base_commit}
        try:
            # network_mode none: whatever the image needs must already be in the context.
            client.images.build(path=tmp, tag=tag, rm=True, forcerm=True, network_mode="none", labels=labels)
        except docker.errors.BuildError as exc:
            tail = "".join(str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log)[-1500:]
            raise ImageBuildError(f"docker build of {tag} for repo {spec.name!r} failed: {exc.msg}\n{tail}") from exc
    log.info("built %s (base commit %s)", tag, base_commit)
    return tag


def main(argv: list[str] | None = None) -> None:
    """`python -m sandboxes.swe_images [REPOS_FILE ...]`: build (or find) the image of every repo listed."""
    from sandboxes.swe_repos import load_repo_specs

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for repos_file in (argv if argv is not None else sys.argv[1:]) or ["tasks/swe_repos.yaml"]:
        for spec in load_repo_specs(repos_file):
            print(f"{spec.name}: {ensure_image(spec)}", flush=True)


if __name__ == "__main__":
    main()
