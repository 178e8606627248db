"""Which repositories the SWE sandbox can hold: a PyPI source distribution or a local folder / git repository.

A repos file (YAML) is a list, or a mapping with a `repos:` list, of entries such as

    - name: six
      pypi: six==1.17.0                  # sdist from PyPI; pin the version so the image is reproducible
      test_requires: [pytest==9.0.3]     # wheels installed into the image's venv (offline once built)
      test_command: python -m pytest -q -p no:cacheprovider
      mutate: [six.py]                   # files bug-fix tasks may plant bugs in (globs); default: non-test *.py
    - name: mylib
      path: ~/src/mylib                  # a git repository (history up to base_commit) or a plain folder
      base_commit: v1.2                  # any revision; default HEAD
      authors: rewrite                   # default: people in its history get pseudonyms (commit ids change);
                                         # keep: history byte for byte, names and emails published
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sandboxes.swe_git import AUTHOR_MODES
from schemas.yaml_file import load_yaml

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")
DEFAULT_TEST_COMMAND = "python -m pytest -q -p no:cacheprovider"
DEFAULT_TEST_REQUIRES = ("pytest==9.0.3",)
FIELDS = {"name", "pypi", "path", "base_commit", "test_command", "test_requires", "mutate", "authors"}


class RepoSpecError(ValueError):
    pass


@dataclass(frozen=True)
class RepoSpec:
    name: str
    pypi: str | None = None
    path: str | None = None
    base_commit: str = "HEAD"
    test_command: str = DEFAULT_TEST_COMMAND
    test_requires: tuple[str, ...] = DEFAULT_TEST_REQUIRES
    mutate: tuple[str, ...] = ()
    authors: str = "rewrite"  # AUTHOR_MODES; a git repository's only (sdists and folders commit as worldline)


def spec_from_dict(entry: dict, where: str, base_dir: Path | None = None) -> RepoSpec:
    if not isinstance(entry, dict):
        raise RepoSpecError(f"{where}: a repo must be a mapping, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RepoSpecError(f"{where}: 'name' must match {NAME_PATTERN.pattern} (it names the image), got {name!r}")
    where = f"{where} (repo {name!r})"
    unknown = set(entry) - FIELDS
    if unknown:
        raise RepoSpecError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(FIELDS)}")
    if bool(entry.get("pypi")) == bool(entry.get("path")):
        raise RepoSpecError(f"{where}: give exactly one of 'pypi' (a pinned sdist) or 'path' (a local folder)")
    pypi = entry.get("pypi")
    if pypi and not re.match(r"^[A-Za-z0-9_.-]+==[A-Za-z0-9_.+!-]+$", str(pypi)):
        raise RepoSpecError(f"{where}: 'pypi' must pin one version like 'six==1.17.0', got {pypi!r}")
    path = entry.get("path")
    if path:
        resolved = Path(str(path)).expanduser()
        if not resolved.is_absolute() and base_dir is not None:
            resolved = base_dir / resolved
        if not resolved.is_dir():
            raise RepoSpecError(f"{where}: path {resolved} is not a folder")
        path = str(resolved.resolve())
    authors = entry.get("authors", "rewrite")
    if authors not in AUTHOR_MODES:
        raise RepoSpecError(f"{where}: 'authors' must be one of {list(AUTHOR_MODES)}, got {authors!r}")
    if "authors" in entry and pypi:
        raise RepoSpecError(f"{where}: 'authors' applies to a 'path' git repository; an sdist is committed as "
                            f"worldline and names nobody")
    lists = {}
    for key in ("test_requires", "mutate"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise RepoSpecError(f"{where}: '{key}' must be a list of strings")
        lists[key] = tuple(value) if value is not None else None
    return RepoSpec(
        name=name, pypi=pypi, path=path, base_commit=str(entry.get("base_commit") or "HEAD"),
        test_command=str(entry.get("test_command") or DEFAULT_TEST_COMMAND),
        test_requires=lists["test_requires"] if lists["test_requires"] is not None else DEFAULT_TEST_REQUIRES,
        mutate=lists["mutate"] or (), authors=authors,
    )


def load_repo_specs(path: str | Path) -> list[RepoSpec]:
    path = Path(path)
    if not path.exists():
        raise RepoSpecError(f"repos file {path} does not exist")
    data = load_yaml(path, path.read_text(encoding="utf-8"), RepoSpecError)
    if isinstance(data, dict):
        data = data.get("repos")
    if not isinstance(data, list) or not data:
        raise RepoSpecError(f"{path}: expected a non-empty list of repos or a mapping with a 'repos' list")
    specs = [spec_from_dict(entry, f"{path} repo #{i + 1}", path.parent) for i, entry in enumerate(data)]
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RepoSpecError(f"{path}: repo names {duplicates} appear more than once; names must be unique")
    return specs
