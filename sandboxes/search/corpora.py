"""Real documents found on this machine: the long descriptions of installed Python distributions (their PyPI
READMEs) and the READMEs Debian packages install under /usr/share/doc."""

from __future__ import annotations

import gzip
import importlib.metadata
import re
from pathlib import Path
from typing import Iterator

from sandboxes.search.index import Page

MAX_DOC_CHARS = 60_000
MIN_DOC_CHARS = 200
# worldline is installed in the environment the search server reads: its README describes this tool, not a package an
# agent would look up (pypi/worldline was the top hit for "parquet").
OWN_DISTRIBUTION = "worldline"


def python_package_pages() -> Iterator[Page]:
    seen = set()
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        name = dist.metadata["Name"]
        if not name or name.lower() in seen or name.lower() == OWN_DISTRIBUTION:
            continue
        seen.add(name.lower())
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


def package_pages() -> Iterator[Page]:
    yield from python_package_pages()
    yield from debian_doc_pages()
