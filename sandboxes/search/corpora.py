"""Real documents found on this machine: the long descriptions of the Python distributions installed from a package
index (their PyPI READMEs) and the READMEs that Debian packages installed from an apt repository put under
/usr/share/doc."""

from __future__ import annotations

import fnmatch
import gzip
import importlib.metadata
import itertools
import logging
import os
import re
import subprocess
from pathlib import Path
from typing import Iterable, Iterator

from sandboxes.search.apt_served import default_cache_file, served_packages
from sandboxes.search.index import Page

MAX_DOC_CHARS = 60_000
MIN_DOC_CHARS = 200
# worldline is installed in the environment the search server reads: its README describes this tool, not a package an
# agent would look up (pypi/worldline was the top hit for "parquet").
OWN_DISTRIBUTION = "worldline"
SITE_DIRS = ("site-packages", "dist-packages")
# The version table's source for a version known only because it is installed (`apt-cache policy`).
DPKG_STATUS = "/var/lib/dpkg/status"
log = logging.getLogger(__name__)


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


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "LC_ALL": "C"})
    return done.stdout


def file_owners(paths: Iterable[Path]) -> dict[str, set[str]]:
    """The packages owning each of `paths`, from dpkg's database; a path no package owns has none. dpkg records a
    file under a symlinked doc folder (libffi-dev -> libffi8) at its target, so each path is asked by its real path."""
    real: dict[str, list[str]] = {}
    for path in paths:
        real.setdefault(os.path.realpath(path), []).append(str(path))
    owners: dict[str, set[str]] = {}
    if not real:
        return owners
    # Exit status 1 names the paths no package owns: those simply get no owner.
    for line in _run(["dpkg-query", "--search", *real]).splitlines():
        if line.startswith("diversion by ") or ": " not in line:
            continue
        packages, path = line.split(": ", 1)
        for original in real.get(path, ()):
            owners.setdefault(original, set()).update(p.strip() for p in packages.split(","))
    return owners


def _ask_apt(packages: list[str]) -> set[str]:
    served: dict[str, bool] = {}  # by apt's name: a native package's is without its architecture
    name = None
    for line in _run(["apt-cache", "policy", *packages]).splitlines():
        if not line.startswith(" ") and line.endswith(":"):
            name = line[:-1]
            served[name] = False
        elif name and line.startswith("        ") and line.split(None, 1)[-1] != DPKG_STATUS:
            served[name] = True
    return {p for p in packages if served.get(p, served.get(p.split(":")[0], False))}


def from_a_repository(packages: Iterable[str], cache_file: Path | None = None, state: dict | None = None) -> set[str]:
    """Those of `packages` that an apt repository serves, as `apt-cache policy` tells: a package whose version table
    has no source but dpkg's status file was installed from a local .deb (or from a repository since removed from
    the sources) and may be private work. The package, not its installed version: a version the lists no longer
    hold (an upgrade pending, 34 of 167 READMEs here) is as public as the one they do, and the corpus would
    otherwise change with each `apt-get update`. apt's answer is kept in `cache_file` (default
    apt_served.default_cache_file()) for as long as apt's and dpkg's files (`state`, default apt_served.apt_state())
    stay as they were."""
    packages = sorted(set(packages))
    if not packages:
        return set()
    found = served_packages(packages, _ask_apt, cache_file or default_cache_file(), state)
    if not found:
        log.warning("apt knows no repository serving any of %d installed packages (no lists: run apt-get update)",
                    len(packages))
    return found


def debian_doc_pages(root: Path = Path("/usr/share/doc")) -> Iterator[Page]:
    if not root.is_dir():
        return
    paths = [path for path in sorted(root.glob("*/README*")) if path.is_file() and "Debian" not in path.name
             and path.suffix in ("", ".md", ".txt", ".gz", ".rst")]
    try:
        owners = file_owners(paths)
        served = from_a_repository(set().union(*owners.values()))
    except (OSError, subprocess.TimeoutExpired) as e:  # no dpkg or apt here: nothing says where a README came from
        log.warning("the packages corpus leaves out %s: dpkg and apt could not tell which packages came from a "
                    "repository (%s)", root, e)
        return
    if paths and not owners:
        # dpkg-query answers a missing database as it does an unowned file (exit 1): say which it was.
        log.warning("the packages corpus leaves out %s: dpkg owns none of its %d READMEs (%s)", root, len(paths),
                    "dpkg's database is not here: a sandbox not showing /var/lib/dpkg?"
                    if not os.path.exists(DPKG_STATUS) else "none came from a package")
    for path in paths:
        if not owners.get(str(path), set()) & served:
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
