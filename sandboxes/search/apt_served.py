"""Which packages an apt repository serves, kept on disk between corpus builds. `apt-cache policy` costs about 1 s
a call here: this image turns apt's binary cache off, so apt re-reads its ~19 MB of lz4 lists each time, and every
search-packages server start (each episode's) builds its corpus again.

The answer depends on the lists (`apt-get update` replaces them), the sources naming them (apt ignores lists no
source names) and dpkg's status (an install or a removal: the packages asked change, and a status-only version is
no repository's). The cache file records those files' names, sizes and mtimes, and is used only when they all match;
a package it was never asked about is asked again. A file that does not read as one of these (corrupt, truncated,
another program's) is ignored and rewritten: it decides what gets published, so nothing in it is taken on trust."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable, Iterable

from schemas.files import atomic_open

APT_LISTS = Path("/var/lib/apt/lists")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
DPKG_STATUS = Path("/var/lib/dpkg/status")
FORMAT = "worldline-apt-served"
VERSION = 1
log = logging.getLogger(__name__)


def default_cache_file() -> Path | None:
    """Where worldline keeps its other caches (transforms/reasoning/llm.py: reasoning.sqlite); None (no cache: apt
    is asked) for a user with no home folder ($HOME unset and a uid with no passwd entry) who set no
    WORLDLINE_CACHE_DIR."""
    folder = os.environ.get("WORLDLINE_CACHE_DIR")
    if not folder:
        try:
            folder = Path.home() / ".cache" / "worldline"
        except RuntimeError:
            return None
    return Path(folder) / "apt-served.json"


def _stat_entries(path: Path) -> list[list]:
    """[name, size, mtime_ns] for `path`, or for each file of it when a folder (by name); none when missing."""
    try:
        if path.is_dir():
            entries = sorted(os.scandir(path), key=lambda e: e.name)
            stats = [(e.name, e.stat()) for e in entries if e.is_file()]
        else:
            stats = [(path.name, path.stat())]
    except FileNotFoundError:
        return []
    return [[name, st.st_size, st.st_mtime_ns] for name, st in stats]


def apt_state(lists: Path = APT_LISTS, sources: Iterable[Path] = APT_SOURCES,
              status: Path = DPKG_STATUS) -> dict:
    """What `apt-cache policy`'s answer depends on, as names, sizes and mtimes (reading them would cost what apt
    does)."""
    return {"lists": _stat_entries(lists), "sources": [_stat_entries(Path(s)) for s in sources],
            "status": _stat_entries(status)}


def _read(cache_file: Path, state: dict) -> dict[str, bool] | None:
    """The cached answers (package -> served) if the file is one of ours for `state`, else None."""
    try:
        data = json.loads(cache_file.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.info("ignoring the apt cache %s: unreadable (%s)", cache_file, e)
        return None
    answers = data.get("answers") if isinstance(data, dict) else None
    if (not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION
            or not isinstance(answers, dict)
            or not all(isinstance(k, str) and isinstance(v, bool) for k, v in answers.items())):
        log.info("ignoring the apt cache %s: not a %s v%d file", cache_file, FORMAT, VERSION)
        return None
    if data.get("state") != state:
        return None  # apt or dpkg changed since: asked again
    return answers


def _write(cache_file: Path, state: dict, answers: dict[str, bool]) -> None:
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(cache_file, "w", encoding="utf-8") as handle:
            json.dump({"format": FORMAT, "version": VERSION, "state": state, "answers": answers}, handle)
    except OSError as e:  # a read-only home (a sandbox): the next build asks apt again
        log.info("could not write the apt cache %s (%s)", cache_file, e)


def served_packages(packages: Iterable[str], ask: Callable[[list[str]], set[str]],
                    cache_file: Path | None = None, state: dict | None = None) -> set[str]:
    """Those of `packages` that `ask` (apt-cache policy over a sorted list) says a repository serves, from
    `cache_file` when it holds an answer for each under the same apt `state`; apt is asked about all of them
    otherwise, and the file rewritten. `cache_file` None: no cache."""
    packages = sorted(set(packages))
    if cache_file is None:
        return ask(packages)
    state = apt_state() if state is None else state
    answers = _read(cache_file, state)
    if answers is not None and all(p in answers for p in packages):
        return {p for p in packages if answers[p]}
    # Asked together rather than only the missing ones: one apt call costs the same for 1 or 200 names.
    found = ask(packages)
    if found:  # nothing served is apt failing or never updated (a warning): not an answer to keep
        _write(cache_file, state, {p: p in found for p in packages})
    return found
