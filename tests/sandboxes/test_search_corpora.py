"""The packages corpus publishes only what came from a package index or an apt repository: distributions installed
from a folder, a VCS or an archive by URL, metadata on the path outside a site directory, and the READMEs of local
.debs or of no package at all, are private until shown otherwise."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandboxes.search.corpora import debian_doc_pages

ROOT = Path(__file__).resolve().parents[2]
README = "A long description, as a README on an index would be. " * 8  # over corpora.MIN_DOC_CHARS

# PEP 610 records, as pip writes them for installs that did not come from an index.
DIRECT_URLS = {
    "acme-editable": {"url": "file:///home/alice/acme", "dir_info": {"editable": True}},
    "acme-folder": {"url": "file:///home/alice/acme-folder", "dir_info": {}},
    "acme-vcs": {"url": "https://git.acme.internal/tools.git",
                 "vcs_info": {"vcs": "git", "commit_id": "1" * 40}},
    "acme-wheel": {"url": "file:///home/alice/dist/acme_wheel-1.0-py3-none-any.whl",
                   "archive_info": {"hash": "sha256=" + "0" * 64}},
}


def _dist_info(folder: Path, name: str, direct_url: dict | None = None) -> None:
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nSummary: {name} here\n\n"
                                   f"{name}: {README}\n")
    (info / "RECORD").write_text("")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))


def _page_ids(tmp_path: Path, code: str) -> list[str]:
    site = tmp_path / "lib" / "site-packages"
    _dist_info(site, "public-from-index")
    _dist_info(site, "acme-private-index")
    for name, direct_url in DIRECT_URLS.items():
        _dist_info(site, name, direct_url)
    # A source checkout on the path (or a legacy `setup.py develop` install): metadata, no direct_url.json.
    checkout = tmp_path / "acme-checkout"
    (checkout / "acme_checkout.egg-info").mkdir(parents=True)
    (checkout / "acme_checkout.egg-info" / "PKG-INFO").write_text(
        f"Metadata-Version: 2.1\nName: acme-checkout\nVersion: 1.0\n\n{README}\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{site}:{checkout}"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_only_distributions_from_an_index_are_pages(tmp_path):
    ids = _page_ids(tmp_path, "import json; from sandboxes.search.corpora import python_package_pages; "
                              "print(json.dumps([p.page_id for p in python_package_pages()]))")
    assert "pypi/public-from-index" in ids and "pypi/acme-private-index" in ids
    assert "pypi/apache-beam" in ids  # the venv's own distributions still are
    leaked = [i for i in ids if i.startswith("pypi/acme-") and i != "pypi/acme-private-index"]
    assert leaked == []
    assert "pypi/worldline" not in ids


def test_exclude_leaves_out_matching_pages(tmp_path):
    code = ("import json; from sandboxes.search.server import build_index; "
            "index = build_index('packages', 0, exclude=['PYPI/acme-*', 'debian/*']); "
            "print(json.dumps([r[0] for r in index.db.execute('SELECT page_id FROM pages')]))")
    ids = _page_ids(tmp_path, code)
    assert "pypi/public-from-index" in ids and "pypi/apache-beam" in ids
    assert not [i for i in ids if i.startswith(("pypi/acme-", "debian/"))]


def test_exclude_is_refused_for_a_world():
    done = subprocess.run([sys.executable, "-m", "sandboxes.search.server", "--corpus", "world", "--exclude",
                           "pypi/*"], cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "--exclude applies to --corpus packages, not to 'world'" in done.stderr


LOCAL_DEB = "worldline-test-private-doc"


def test_readmes_no_repository_package_owns_are_left_out(tmp_path):
    (tmp_path / "acme-tool").mkdir()
    (tmp_path / "acme-tool" / "README.md").write_text(README)  # put there by hand: no package owns it
    (tmp_path / "apt").symlink_to("/usr/share/doc/apt")  # apt's, from Debian's repository
    ids = [p.page_id for p in debian_doc_pages(tmp_path)]
    assert "debian/apt/README.md" in ids and not [i for i in ids if i.startswith("debian/acme-tool/")]


@pytest.fixture
def local_deb(tmp_path):
    """A package installed from a .deb built here, as a private package would be; purged after."""
    if os.geteuid() != 0 or not (shutil.which("dpkg-deb") and shutil.which("apt-cache")):
        pytest.skip("installing a .deb needs root, dpkg and apt (CI has them)")
    root = tmp_path / LOCAL_DEB
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {LOCAL_DEB}\nVersion: 1.0\nArchitecture: all\nMaintainer: Acme <dev@acme.invalid>\n"
        "Description: private documentation, built by worldline's tests\n")
    doc = root / "usr" / "share" / "doc" / LOCAL_DEB
    doc.mkdir(parents=True)
    (doc / "README.md").write_text(f"Acme internal tool. {README}")
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(tmp_path / "acme.deb")],
                   check=True, capture_output=True, timeout=60)
    subprocess.run(["dpkg", "--install", str(tmp_path / "acme.deb")], check=True, capture_output=True, timeout=120)
    try:
        yield Path("/usr/share/doc") / LOCAL_DEB / "README.md"
    finally:
        subprocess.run(["dpkg", "--purge", LOCAL_DEB], check=True, capture_output=True, timeout=120)


def test_readme_of_a_locally_installed_deb_is_left_out(local_deb):
    assert local_deb.is_file()
    ids = [p.page_id for p in debian_doc_pages()]
    assert "debian/apt/README.md" in ids
    assert f"debian/{LOCAL_DEB}/README.md" not in ids
