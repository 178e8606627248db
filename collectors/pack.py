"""Pack a collection's finished per-episode transition files into a few big Parquet files.

Collectors write one small file per episode (atomic, resumable), but reading a Parquet file has a fixed cost of a
few milliseconds whatever its size: over 20-step episodes that is most of what curation spends reading. A pack
holds many whole episodes, each row group a run of whole episodes, so a reader can take it a row group at a time
and never split an episode.

Only complete episodes are packed (their episode JSON exists and the run did not end in error, since those are
retried). A pack is written atomically and names each member in its metadata with the member file's size and xxh64
digest; the members are deleted after it, each only if it is still the file read (by inode, size and mtime): a
collect may rewrite an episode's file meanwhile (adding replays, or re-recording it), and that one is left. A pack
found with a member still present (a run killed between the two) has it deleted on the next run, and readers skip
it meanwhile (`schemas.packs.packed_copies`), but only if the file is the one the pack holds, byte for byte:
episode ids come from domain, task and seed, so another collection of the same tasks merged into the folder has
files of the same names, and those are recordings of their own. (A byte-identical file merged in after the pack is
deleted too, and counted apart from the leftovers of a killed pack.)

A run holds the collection's lock (schemas.collection_lock) exclusively: a curate or query listing the files it
deletes would read files that are gone, and a second pack would put the same episodes in a second pack.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from collectors.runner import TASK_ERROR
from collectors.store import EpisodeStore, atomic_write
from schemas import TRANSITION_SCHEMA
from schemas.collection_lock import collection_lock
from schemas.transition import is_transition_schema, with_current_columns
from schemas.layout import EPISODES_DIR, TRANSITIONS_DIR, episode_path
from schemas.packs import MEMBERS_KEY, PACK_PREFIX, Digest, digest_of, has_digest, held_by_packs, is_pack

ROWS_PER_GROUP = 2_000
ROWS_PER_PACK = 100_000


class NotACollection(FileNotFoundError):
    """The folder given is no raw collection: a refusal before any work (exit 2)."""


@dataclass
class PackReport:
    packs_written: int = 0
    episodes_packed: int = 0
    transitions_packed: int = 0
    left_unpacked: int = 0  # incomplete, errored, or not in the transition schema
    leftovers_removed: int = 0  # members of an earlier pack that a killed run had not deleted yet
    # Files put in the folder after the pack that holds them byte for byte was written (the same recordings merged
    # in again), removed too: a reader would count their rows twice.
    copies_removed: int = 0
    left: list[tuple[str, str]] = field(default_factory=list)  # (path under the collection, why), one per left file
    # Set once every pack is published and its members deleted: an interrupt after that leaves nothing undone.
    finished: bool = False


def pack_collection(root: str | Path, rows_per_group: int = ROWS_PER_GROUP, rows_per_pack: int = ROWS_PER_PACK,
                    progress: Callable[[int], None] | None = None, report: PackReport | None = None,
                    on_finished: Callable[[], None] | None = None) -> PackReport:
    """Pack `root`'s finished episodes. A `report` given is filled as the run goes, so a caller that an interrupt
    ends the run for can tell whether the packing had finished (PackReport.finished). `on_finished` runs the moment
    it has, before anything else: the command stops taking signals as interrupts there, not after the return."""
    root = Path(root)
    check_collection(root)
    base = root / TRANSITIONS_DIR
    report = PackReport() if report is None else report
    with collection_lock(root, exclusive=True):
        store = EpisodeStore(root)  # sweeps the temp files of killed writers, an earlier pack's among them
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            _pack_folder(store, folder, rows_per_group, rows_per_pack, progress, report)
    report.finished = True
    if on_finished:
        on_finished()
    return report


def check_collection(root: Path) -> None:
    """Raise NotACollection for a folder pack has nothing to do in, before it makes the lock file there."""
    if not root.exists():
        raise NotACollection(f"{root} is not a raw collection: it does not exist")
    if not (root / TRANSITIONS_DIR).is_dir():
        raise NotACollection(f"{root} is not a raw collection: it has no {TRANSITIONS_DIR}/ folder")


def _pack_folder(store: EpisodeStore, folder: Path, rows_per_group: int, rows_per_pack: int,
                 progress: Callable[[int], None] | None, report: PackReport) -> None:
    root = store.root
    held = held_by_packs(str(folder), [p.name for p in folder.glob(f"{PACK_PREFIX}*.parquet")])
    _name_lost_episodes(store, folder, held, report)
    others = _settle_leftovers(folder, held, report)
    members, sizes = [], []
    for path in sorted(folder.glob("*.parquet")):
        if is_pack(path) or path.name.startswith(".") or path in others:
            continue
        why = _why_not_packable(store, folder.name, path)
        if why:
            report.left_unpacked += 1
            report.left.append((str(path.relative_to(root)), why))
            continue
        members.append(path)
        sizes.append(pq.ParquetFile(path).metadata.num_rows)
    for group in _groups(members, sizes, rows_per_pack):
        written = _write_pack(folder, group, rows_per_group)
        _delete_packed(written, root, report)
        for path, why in written.unreadable:
            report.left_unpacked += 1
            report.left.append((str(path.relative_to(root)), why))
        report.packs_written += bool(written.packed)
        report.episodes_packed += len(written.packed)
        report.transitions_packed += written.rows
        if progress:
            progress(len(group))


def _delete_packed(written: PackWritten, root: Path, report: PackReport) -> None:
    """Delete the members now in the pack, but one a collect replaced since pack read it (EpisodeStore.add_replays,
    or a damaged episode recorded again): its new content is in no pack, and the next collect would take the
    episode as packed."""
    for path, identity in zip(written.packed, written.identities):
        try:
            if _identity(os.stat(path)) != identity:
                report.left_unpacked += 1
                report.left.append((str(path.relative_to(root)), CHANGED_AFTER_PACKED))
                continue
            path.unlink()
        except FileNotFoundError:
            pass  # removed by hand meanwhile: its rows are in the pack all the same


CHANGED_AFTER_PACKED = "changed after it was packed (a collect rewrote it): left as it is, beside the pack"


def _identity(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _why_not_packable(store: EpisodeStore, domain: str, path: Path) -> str | None:
    """None for a file to pack, else why it stays as it is."""
    if not store.is_complete(domain, path.stem):
        return "episode not finished (no episode record yet)"
    try:
        record = _record(store.root, domain, path.stem)
    except (OSError, ValueError) as exc:
        return (f"its episode record {EPISODES_DIR}/{domain}/{path.stem}.json is not readable "
                f"({_one_line(exc)}): the next collect of its task records the episode again")
    if record.get("outcome") == "error":
        return _why_errored(str(record.get("end_reason") or ""))
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        return f"not readable Parquet ({_one_line(exc)})"
    if not is_transition_schema(schema):
        return "not in the transition schema"
    return None


def _record(root: Path, domain: str, episode_id: str) -> dict:
    record = json.loads(episode_path(root, domain, episode_id).read_text(encoding="utf-8"))
    if not isinstance(record, dict):
        raise ValueError(f"a JSON {type(record).__name__}, not an object")
    return record


def _why_errored(end_reason: str) -> str:
    """Why an episode that ended in an error stays unpacked, of the kind its end_reason says: collect plays every
    such episode again (collectors.runner.collect), a task error too, which fails the same way until the task is
    fixed."""
    reason = _one_line(end_reason) if end_reason else "no end_reason recorded"
    if end_reason.startswith(TASK_ERROR):
        return (f"episode ended in a task error ({reason.removeprefix(TASK_ERROR)}): the next collect plays it "
                "again, which fails the same way until the task is fixed")
    return f"episode ended in an environment error ({reason.removeprefix('error: ')}): the next collect retries it"


def _groups(paths: list[Path], sizes: list[int], rows_per_pack: int):
    group, rows = [], 0
    for path, size in zip(paths, sizes):
        if group and rows + size > rows_per_pack:
            yield group
            group, rows = [], 0
        group.append(path)
        rows += size
    if group:
        yield group


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


@dataclass
class PackWritten:
    packed: list[Path] = field(default_factory=list)  # members now in the pack, to delete
    digests: list[tuple[int, str]] = field(default_factory=list)  # of the packed members, in the same order
    # (inode, size, mtime_ns) of each packed member as read, in the same order: deleted only if still that file.
    identities: list[tuple[int, int, int]] = field(default_factory=list)
    rows: int = 0
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (member left out, why)


class UnreadableMember(Exception):
    pass


class NothingPacked(Exception):
    """Every member of a group was unreadable: no pack is published."""


def _write_pack(folder: Path, members: list[Path], rows_per_group: int) -> PackWritten:
    """Pack the members that read whole, with their page checksums verified: a damaged page is left out with its
    file named, where it had stopped the whole pack with a traceback naming no file (and every rerun the same). The
    pack is named after the members it holds, known only once written."""
    written = PackWritten()

    def write(handle) -> None:
        with pq.ParquetWriter(handle, TRANSITION_SCHEMA, compression="zstd", write_page_checksum=True) as writer:
            pending, pending_rows = [], 0
            for path in members:
                try:
                    data, identity = _member_bytes(path)
                    table = _read_member(path, data)
                except UnreadableMember as exc:
                    written.unreadable.append((path, str(exc)))
                    continue
                written.packed.append(path)
                written.digests.append(digest_of(data))
                written.identities.append(identity)
                pending.append(table)
                pending_rows += table.num_rows
                if pending_rows >= rows_per_group:
                    writer.write_table(pa.concat_tables(pending), row_group_size=pending_rows)
                    written.rows += pending_rows
                    pending, pending_rows = [], 0
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=pending_rows)
                written.rows += pending_rows
            if not written.packed:
                raise NothingPacked
            writer.add_key_value_metadata({MEMBERS_KEY: names()})

    def names() -> bytes:
        return json.dumps([{"name": path.name, "bytes": size, "xxh64": digest}
                           for path, (size, digest) in zip(written.packed, written.digests)]).encode()

    try:
        atomic_write(folder / PACK_PREFIX, write,
                     named=lambda: folder / f"{PACK_PREFIX}{xxhash.xxh64_hexdigest(names())}.parquet")
    except NothingPacked:
        pass
    return written


def _member_bytes(path: Path) -> tuple[bytes, tuple[int, int, int]]:
    """A member file whole (the pack records its digest, and its rows are decoded from these same bytes), with the
    identity of the file they were read from (_delete_packed)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(), _identity(os.fstat(handle.fileno()))
    except OSError as exc:
        raise UnreadableMember(f"not readable ({_one_line(exc)})") from None


def _read_member(path: Path, data: bytes) -> pa.Table:
    """A member's rows (its file's bytes `data`) in the pack's schema; UnreadableMember (saying which row group and
    why) if any page fails its checksum or does not decode."""
    try:
        # Opened inside the try too: a file cut after pack checked it has no footer, which stopped the whole pack
        # with a traceback.
        with pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True) as file:
            groups = []
            for index in range(file.num_row_groups):
                try:
                    # One thread: a page that does not decode, met while Arrow's pool decoded other columns, once
                    # ended pack with "terminate called without an active exception" (SIGABRT) at exit in CI.
                    groups.append(file.read_row_group(index, use_threads=False))
                except (pa.ArrowException, OSError) as exc:
                    raise _unreadable(path, f"row group {index}: {_one_line(exc)}") from None
            table = pa.concat_tables(groups) if groups else file.schema_arrow.empty_table()
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, _one_line(exc)) from None
    return with_current_columns(table).cast(TRANSITION_SCHEMA)


def _unreadable(path: Path, why: str) -> UnreadableMember:
    return UnreadableMember(f"not readable Parquet ({why}): delete it and {EPISODES_DIR}/{path.parent.name}/"
                            f"{path.stem}.json, then rerun collect to record the episode again")


def _settle_leftovers(folder: Path, held: dict[str, tuple[str, Digest]], report: PackReport) -> set[Path]:
    """Delete the files a pack of the folder already holds (left by a pack killed before deleting them, or merged in
    again since); return the files a pack names that hold something else. Those are another recording of the same
    episode id, not packed here, as a pack name is one file: curate reads them beside the pack and keeps or
    dead-letters them by content."""
    others = set()
    for name, (pack, digest) in held.items():
        member = folder / name
        if not member.exists():
            continue
        if _is_packed_copy(folder / pack, member, digest):
            _remove_copy(folder / pack, member, report)
            continue
        others.add(member)
        report.left_unpacked += 1
        report.left.append((str(member.relative_to(folder.parent.parent)),
                            f"{pack} holds another recording under this name (different content; or a collect "
                            "rewrote the file after it was packed): left for curate, "
                            "which keeps one recording of an episode id and dead-letters the others"))
    return others


def _remove_copy(pack: Path, member: Path, report: PackReport) -> None:
    """Delete a file the pack holds byte for byte, counted as what it is: the summary named every such file a
    leftover of an interrupted pack. A member the pack was made from last changed (its ctime, which a copy or move
    sets and nothing sets back) before the pack's last write; a file changed after was put there since (the same
    recordings merged in again)."""
    was_there = member.stat().st_ctime_ns <= pack.stat().st_mtime_ns
    member.unlink()
    if was_there:
        report.leftovers_removed += 1
    else:
        report.copies_removed += 1


def _is_packed_copy(pack: Path, member: Path, digest: Digest) -> bool:
    """Whether `member` is what the pack holds under its name: by digest, or for a pack written before digests were
    recorded, by its rows (in the pack's schema) against the pack's rows of the same episode."""
    try:
        if digest:
            return has_digest(str(member), digest)
        rows = _read_member(member, _member_bytes(member)[0])
        episode_ids = rows.column("episode_id").unique().to_pylist()
        return pq.read_table(pack, filters=[("episode_id", "in", episode_ids)]).equals(rows)
    except (UnreadableMember, OSError, pa.ArrowException):
        return False


def _name_lost_episodes(store: EpisodeStore, folder: Path, held: dict, report: PackReport) -> None:
    """Name each complete episode whose transitions are neither in their own file nor in a pack: lost, which the
    next collect of its task records again (EpisodeStore.damage)."""
    for record in sorted((store.root / EPISODES_DIR / folder.name).glob("*.json")):
        name = f"{record.stem}.parquet"
        if name not in held and not (folder / name).exists():
            report.left.append((str(record.relative_to(store.root)),
                                f"its transitions ({TRANSITIONS_DIR}/{folder.name}/{name}) are missing and in no pack: "
                                "the next collect of its task records the episode again"))
