"""Real documents found on this machine: the long descriptions of the Python distributions installed from a package
index (their PyPI READMEs) and the READMEs Debian packages install under /usr/share/doc."""

from __future__ import annotations

import fnmatch
import gzip
import importlib.metadata
import itertools
import re
from pathlib import Path
from typing import Iterable, Iterator

from sandboxes.search.index import Page

MAX_DOC_CHARS = 60_000
MIN_DOC_CHARS = 200
# worldline is installed in the environment the search server reads: its README describes this tool, not a package an
# agent would look up (pypi/worldline was the top hit for "parquet").
OWN_DISTRIBUTION = "worldline"
SITE_DIRS = ("site-packages", "dist-packages")


def from_an_index(dist: importlib.metadata.Distribution) -> bool:
    """Whether `dist` was installed from a package index, where its README is public. Installers write
    direct_url.json (PEP 610) for everything else (a local folder, an editable install, a VCS checkout, an archive
    by path or URL), and metadata outside a site directory is a source checkout on the path or a legacy `setup.py
    develop` install, which writes no direct_url.json: either may be private work or a plugin of the collecting
    machine's own, which the corpus would publish."""
    if dist.read_text("direct_url.json") is not None:
        return False
    try:
        return Path(dist.locate_file("")).name in SITE_DIRS
    except NotImplementedError:  # a custom finder's distribution: nothing says where it came from
        return False


def excluded(page_id: str, patterns: Iterable[str]) -> bool:
    """Whether `page_id` matches one of the glob `patterns` (`pypi/acme-*`, `debian/libacme*`), case-blind."""
    return any(fnmatch.fnmatchcase(page_id.lower(), pattern.lower()) for pattern in patterns)


def python_package_pages() -> Iterator[Page]:
    seen = set()
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        name = dist.metadata["Name"]
        if not name or name.lower() in seen or name.lower() == OWN_DISTRIBUTION:
            continue
        # Marked seen either way: a copy from an index behind a local one on the path is not the one imported.
        seen.add(name.lower())
        if not from_an_index(dist):
            continue
        text = (dist.metadata.get_payload() or dist.metadata.get("Description") or "").strip()
        if len(text) < MIN_DOC_CHARS:
            continue
        summary = dist.metadata.get("Summary") or ""
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        body = f"{name} {dist.version}: {summary}\n\n{text}"[:MAX_DOC_CHARS]
        yield Page(f"pypi/{slug}", f"{name} {dist.version} — {summary}".strip(" —"),
                   f"https://pypi.org/project/{name}/{dist.version}/", body, "packages")


def debian_doc_pages(root: Path = Path("/usr/share/doc")) -> Iterator[Page]:
    if not root.is_dir():
        return
    for path in sorted(root.glob("*/README*")):
        if not path.is_file() or path.suffix not in ("", ".md", ".txt", ".gz", ".rst") or "Debian" in path.name:
            continue
        try:
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError, gzip.BadGzipFile):
            continue
        if len(text.strip()) < MIN_DOC_CHARS:
            continue
        package = path.parent.name
        name = path.name.removesuffix(".gz")
        yield Page(f"debian/{package}/{name}", f"{package}: {name}", f"file://{path}", text[:MAX_DOC_CHARS],
                   "packages")


def package_pages(exclude: Iterable[str] = ()) -> Iterator[Page]:
    """The packages corpus, less the pages whose id matches a glob of `exclude` (packages installed from a private
    index, which from_an_index cannot tell from public ones)."""
    exclude = list(exclude)
    for page in itertools.chain(python_package_pages(), debian_doc_pages()):
        if not excluded(page.page_id, exclude):
            yield page
