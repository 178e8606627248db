"""The packages corpus publishes only what came from a package index: distributions installed from a folder, a VCS
or an archive by URL, and metadata on the path outside a site directory, are private until shown otherwise."""

import json
import subprocess
import sys
from pathlib import Path

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
