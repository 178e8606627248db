"""duckdb views over a worldline folder: the curated output (transitions, stage1..3, dedupe, dead_letter) or a raw
collection (raw_transitions, episodes), whichever the folder holds."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import duckdb

from schemas.collection_lock import collection_lock
from schemas.layout import CURATED_VIEWS, has_visible, is_curation_output, raw_layout


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _raw_transition_files(root: Path) -> str:
    """The raw transition files as a duckdb argument: a glob, or the list of files but the members a pack killed
    before deleting them left beside it (schemas.packs.packed_copies), whose rows the glob would count twice."""
    from schemas.packs import packed_copies

    pattern = root / "transitions" / "*" / "*.parquet"
    files = [str(path) for path in sorted(root.glob("transitions/*/*.parquet")) if not path.name.startswith(".")]
    copies = packed_copies(files)
    if not copies:
        return _literal(pattern)
    return "[" + ", ".join(_literal(Path(path)) for path in files if path not in copies) + "]"


def view_sources(folder: str | Path) -> dict[str, str]:
    """view name -> the duckdb table function that reads it, for every view the folder can back."""
    root = Path(folder)
    sources = {}
    for name in CURATED_VIEWS:
        if has_visible(root / name, "*.parquet"):
            sources[name] = f"read_parquet({_literal(root / name / '*.parquet')})"
    # A raw collection keeps one folder per domain under transitions/ (schemas.layout).
    if has_visible(root / "transitions", "*/*.parquet"):
        sources["raw_transitions"] = f"read_parquet({_raw_transition_files(root)}, union_by_name = true)"
    if has_visible(root / "episodes", "*/*.json"):
        sources["episodes"] = f"read_json_auto({_literal(root / 'episodes' / '*' / '*.json')}, union_by_name = true)"
    return sources


def unfinished_curation(folder: str | Path) -> str | None:
    """A warning when the folder holds curation output but no stats.json, which a run writes last: the run was
    killed, maybe while publishing, so some shards may be missing."""
    root = Path(folder)
    if is_curation_output(root) and not (root / "stats.json").exists():
        return (f"{folder} has no stats.json: the curation run that wrote it did not finish, so its shards may be "
                "incomplete; curate again with --overwrite")
    return None


def reading(folder: str | Path) -> AbstractContextManager:
    """Hold a raw collection's lock shared (schemas.collection_lock) while its views are made and queried: duckdb
    lists the files when a view is made and opens them when a query runs, and a pack deleting them in between failed
    the query ("Cannot open file"). A curate output is published whole, so it needs none."""
    return collection_lock(folder, exclusive=False) if raw_layout(folder) else nullcontext()


def connect(folder: str | Path) -> duckdb.DuckDBPyConnection:
    return open_views(folder)[0]


def open_views(folder: str | Path) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """A connection with a view per source the folder holds, and why each view that could not be made failed: duckdb
    reads a source when its view is made, and one broken episode file stopped every query of the folder, those of
    the other views too."""
    if not Path(folder).exists():
        raise FileNotFoundError(f"{folder} does not exist")
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"{folder} is a file, not a folder")
    sources = view_sources(folder)
    if not sources:
        raise FileNotFoundError(f"{folder} holds neither curated shards ({', '.join(CURATED_VIEWS)}) nor a raw "
                                "collection (transitions/DOMAIN/*.parquet, episodes/DOMAIN/*.json)")
    connection, broken = duckdb.connect(), {}
    # duckdb shows and truncates TIMESTAMP WITH TIME ZONE values in the host's zone: under TZ=Asia/Tokyo a row
    # recorded at 2026-11-25T15:00Z read 2026-11-26 00:00:00+09:00 and `date_trunc('day', ...)` put it on the next
    # day. The data is recorded in UTC; its queries read the same on every host.
    connection.execute("SET TimeZone = 'UTC'")
    for name, source in sources.items():
        try:
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM {source}")
        except duckdb.Error as exc:
            broken[name] = str(exc).split("\n", 1)[0]
    return connection, broken
