"""Atomic, resumable storage of raw episodes (layout in schemas.layout)."""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import SCHEMA_VERSION, TRANSITION_SCHEMA, Episode, Transition
from schemas.files import atomic_open
from schemas.transition import ADDED_IN_1_1, with_current_columns
from schemas.layout import EPISODES_DIR, TRANSITIONS_DIR, episode_path, transitions_path
from schemas.packs import PACK_PREFIX, held_by_packs
from sandboxes.leftovers import owner_of, owner_tag
from schemas.processes import alive

log = logging.getLogger(__name__)


class StoreAccessError(PermissionError):
    """A stored file this user may not read: an environment problem (another user's file), not damage to record
    again over. It carries EACCES and the file, as the OSError it stands for, so the commands' one-line report of
    permission errors (pipelines.os_errors) names the file."""

    def __init__(self, path: Path):
        super().__init__(errno.EACCES, os.strerror(errno.EACCES), str(path))


def atomic_write(path: Path, write, named: Callable[[], Path] | None = None) -> None:
    """Write through a temp file in the same folder, fsync, then rename: a reader sees all or nothing. The file
    gets the mode open() would give it (schemas.files.temp_file). `named`, called once written, gives another path
    in the same folder to publish under, for a name that depends on what was written. The temp file's name carries
    the writer's owner tag, so that a later store can remove it if the writer was killed (remove_dead_temp_files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # fsync: an episode cost environment time to record and a rerun trusts the files it finds, so a power loss must
    # not leave the final name on an empty file.
    with atomic_open(path, "wb", fsync=True, temp_name=f"{path.name}-{owner_tag()}-", publish_as=named) as handle:
        write(handle)


REPLAYS = ADDED_IN_1_1.name
# One small leaf of the replay column: enough to count an episode's replays without reading their observations.
REPLAY_COUNT_LEAF = f"{REPLAYS}.list.element.raw_format"


# Column chunks of an episode smaller than this are stored uncompressed: Arrow decompresses each zstd page with a
# fresh zstd context (~15 us a page on reading), which on a 20-step episode's small columns (a few hundred bytes
# each) cost a reader about a third of its time per file to save ~100 bytes a column. At 2 KB, real collected
# episodes (112, 6 domains) take as much room as in the older format (zstd everywhere, Arrow schema stored: +1%;
# +9% at 4 KB, -5% at 1 KB), with 2.6 zstd column chunks a file instead of 40.
ZSTD_MIN_BYTES = 2048


def write_episode_table(table: pa.Table, handle) -> None:
    """An episode's transitions as one small Parquet file: zstd for its big column chunks only, no dictionaries or
    statistics (over a few dozen rows they save nothing and cost every reader about a third of its time per file),
    and no stored Arrow schema (3.4 KB a file, decoded by every reader; the Parquet schema gives the same Arrow
    types back), only the table's own metadata. Pages carry a CRC (~1% of a file) that curation verifies: a
    collection is the record of what the environments returned, and a flipped byte in an uncompressed page was
    read back as a different value."""
    with pq.ParquetWriter(handle, table.schema, compression=episode_codecs(table), use_dictionary=False,
                          write_statistics=False, store_schema=False, write_page_checksum=True) as writer:
        writer.write_table(table)
        if table.schema.metadata:
            writer.add_key_value_metadata(table.schema.metadata)


def episode_codecs(table: pa.Table) -> dict[str, str]:
    """Per Parquet leaf column path (a list's items are `name.list.element`): zstd from ZSTD_MIN_BYTES of data on."""
    sizes: dict[str, int] = {}
    for name, column in zip(table.column_names, table.columns):
        for chunk in column.chunks:
            for path, size in _leaf_sizes(name, chunk):
                sizes[path] = sizes.get(path, 0) + size
    return {path: "zstd" if size >= ZSTD_MIN_BYTES else "none" for path, size in sizes.items()}


def _leaf_sizes(path: str, array: pa.Array):
    """(Parquet path, bytes held) of every leaf column under an array."""
    if pa.types.is_struct(array.type):
        for index in range(array.type.num_fields):
            yield from _leaf_sizes(f"{path}.{array.type.field(index).name}", array.field(index))
    elif pa.types.is_list(array.type):
        yield from _leaf_sizes(f"{path}.list.element", array.values)
    else:
        yield path, array.nbytes


def remove_dead_temp_files(root: Path) -> list[Path]:
    """Remove the temp files atomic_write left in a collection's domain folders whose writer is gone (SIGKILL runs
    no cleanup: a killed pack left a pack-sized one each time). A file without an owner tag is left, as its writer
    cannot be told."""
    removed = []
    for path in (*root.glob(f"{TRANSITIONS_DIR}/*/.*.tmp"), *root.glob(f"{EPISODES_DIR}/*/.*.tmp")):
        owner = owner_of(path.name)
        if owner and not alive(*owner):
            path.unlink(missing_ok=True)  # another store may be removing it at the same time
            removed.append(path)
    if removed:
        log.info("removed %d temp files of killed writers in %s", len(removed), root)
    return removed


class EpisodeStore:
    def __init__(self, root: str | Path):
        """A store of the collection at `root`; opening one removes the temp files of killed writers there."""
        self.root = Path(root)
        # domain -> {episode file name: the pack holding it}, read when first asked
        self._packed: dict[str, dict[str, str]] = {}
        remove_dead_temp_files(self.root)

    def is_complete(self, domain: str, episode_id: str) -> bool:
        return episode_path(self.root, domain, episode_id).exists()

    def damage(self, domain: str, episode_id: str) -> str | None:
        """Why a complete episode's stored files cannot be trusted, naming the file; None if they can. A record that
        is not a JSON object, an own transitions file that does not read whole (a page that fails its checksum or
        does not decode, a footer cut off), or one holding other than the record's number of steps (a disk or copy
        that cut it short). The whole file is read, not only its footer: a damaged page would otherwise be found
        only by pack or curate, after resume had taken the episode as done. Episode files are small: this check
        takes ~1.0 ms an episode against ~0.26 ms reading the footer only (73 collected terminal and web episodes,
        8-110 KB files; ~10 s on resuming 10,000 episodes). A missing transitions file is damage unless a pack holds
        the episode. A file this user may not read raises StoreAccessError: it is not damage, and recording the
        episode again would replace another user's file."""
        path = episode_path(self.root, domain, episode_id)
        try:
            record = self._record(path)
        except PermissionError:
            raise StoreAccessError(path) from None
        except (OSError, ValueError) as exc:
            return f"{path} is not a readable episode record ({' '.join(str(exc).split())[:200]})"
        transitions = transitions_path(self.root, domain, episode_id)
        if not transitions.exists():
            return None if self.in_pack(domain, episode_id) else (
                f"{transitions} is missing and no pack in its folder holds the episode")
        try:
            with pq.ParquetFile(transitions, page_checksum_verification=True) as file:
                rows = file.read().num_rows
        except PermissionError:
            raise StoreAccessError(transitions) from None
        except (OSError, pa.ArrowException) as exc:
            return f"{transitions} is not readable Parquet ({' '.join(str(exc).split())[:200]})"
        if isinstance(record.get("steps"), int) and rows != record["steps"]:
            return f"{transitions} holds {rows} transitions where its record {path.name} says {record['steps']}"
        return None

    def ended_in_error(self, domain: str, episode_id: str) -> bool:
        """True for an episode stored with outcome 'error': the environment broke, so a new run retries it."""
        path = episode_path(self.root, domain, episode_id)
        return path.exists() and self._record(path).get("outcome") == "error"

    @staticmethod
    def _record(path: Path) -> dict:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise ValueError(f"a JSON {type(record).__name__}, not an object")
        return record

    def write(self, episode: Episode, transitions: list[Transition]) -> None:
        # Transitions first, metadata last: the metadata file is the commit marker that resume trusts.
        table = pa.Table.from_pylist([t.to_row() for t in transitions], schema=TRANSITION_SCHEMA)
        atomic_write(transitions_path(self.root, episode.domain, episode.episode_id),
                      lambda handle: write_episode_table(table, handle))
        row = episode.to_row()
        payload = json.dumps(row, default=lambda v: v.isoformat(), ensure_ascii=False, indent=1).encode()
        atomic_write(episode_path(self.root, episode.domain, episode.episode_id), lambda h: h.write(payload))

    def has_own_file(self, domain: str, episode_id: str) -> bool:
        """False for a complete episode whose transitions were moved into a pack (collectors.pack); True for one
        whose own file is there, or is missing with no pack holding it (damage, recorded again)."""
        return transitions_path(self.root, domain, episode_id).exists() or not self.in_pack(domain, episode_id)

    def in_pack(self, domain: str, episode_id: str) -> bool:
        """Whether a pack of the domain names the episode's file."""
        return self.pack_holding(domain, episode_id) is not None

    def pack_holding(self, domain: str, episode_id: str) -> Path | None:
        """The pack of the domain that names the episode's file, if any. The packs' member lists are read once per
        domain (a pack's footer each); a name not found reads them again, in case a pack was written since."""
        path = transitions_path(self.root, domain, episode_id)
        if path.name not in self._packed.get(domain, {}):
            self._packed[domain] = {name: pack for name, (pack, _) in held_by_packs(
                str(path.parent), [pack.name for pack in path.parent.glob(f"{PACK_PREFIX}*.parquet")]).items()}
        pack = self._packed[domain].get(path.name)
        return path.parent / pack if pack is not None else None

    def stored_replays(self, domain: str, episode_id: str) -> int | None:
        """How many replays a stored episode holds (the most any step has; 0 in a 1.0 file, which has no replay
        column), or None for an episode without steps, which has nothing to replay."""
        with pq.ParquetFile(transitions_path(self.root, domain, episode_id)) as file:
            if file.metadata.num_rows == 0:
                return None
            if REPLAYS not in file.schema_arrow.names:
                return 0
            lengths = pc.list_value_length(file.read(columns=[REPLAY_COUNT_LEAF]).column(0))
        return pc.max(lengths).as_py() or 0

    def read_transitions(self, domain: str, episode_id: str) -> pa.Table:
        """A stored episode's transitions in the current schema (a 1.0 file's replay column as nulls)."""
        return with_current_columns(pq.read_table(transitions_path(self.root, domain, episode_id))).cast(
            TRANSITION_SCHEMA)

    def add_replays(self, domain: str, episode_id: str, table: pa.Table, replays: list[list[dict]],
                    groups: dict[str, str] | None = None) -> None:
        """Rewrite a stored episode's transitions (`table`, as read_transitions gave it) with `replays` appended to
        the replays its steps hold: one list of next-observation rows per replay, one row per step. Atomic: a reader
        or a killed run sees the old file or the new one. The episode record stays as it is.

        The file is rewritten in the current schema, so an older file's rows (1.0, 1.1) hold task.group, and their
        version must say whether it is there: a row without a group gets the group of its task id in `groups` (the
        group collect records for that task today) and the current version; a row whose group is still unknown keeps
        its own version, so that "1.2" keeps meaning "has a group" and curation keeps counting the row as grouped by
        its task id (transforms.prepare). Nothing else of the recording changes."""
        if any(len(replay) != table.num_rows for replay in replays):
            raise ValueError(f"episode {episode_id}: a replay does not have one observation per step "
                             f"({[len(replay) for replay in replays]} for {table.num_rows} steps)")
        held = table.column(REPLAYS).to_pylist()
        column = pa.array([(old or []) + [replay[step] for replay in replays] for step, old in enumerate(held)],
                          ADDED_IN_1_1.type)
        table = table.set_column(table.schema.get_field_index(REPLAYS), ADDED_IN_1_1, column)
        table = _with_groups(table, groups or {})
        atomic_write(transitions_path(self.root, domain, episode_id),
                     lambda handle: write_episode_table(table, handle))

    def episodes(self) -> list[dict]:
        return [json.loads(p.read_bytes()) for p in sorted((self.root / EPISODES_DIR).rglob("*.json"))]


def _with_groups(table: pa.Table, groups: dict[str, str]) -> pa.Table:
    """`table` (current schema) with each row's null task.group filled from `groups` by its task id, and each row's
    schema_version the current one where it now has a group, its own where it has none."""
    tasks = table.column("task").to_pylist()
    filled = [{**task, "group": task.get("group") or groups.get(task.get("id"))} if task else task for task in tasks]
    versions = [SCHEMA_VERSION if task and task["group"] else version
                for task, version in zip(filled, table.column("schema_version").to_pylist())]
    for name, values in (("task", filled), ("schema_version", versions)):
        field = TRANSITION_SCHEMA.field(name)
        table = table.set_column(table.schema.get_field_index(name), field, pa.array(values, field.type))
    return table
