"""Read raw transition files (Parquet or JSONL, layout in schemas.layout) and write curated Parquet shards.

Reading goes through Beam's FileSystems so the same code reads a local folder or gs:// on Dataflow. A file is read
one batch (Parquet) or one line (JSONL) at a time: a reader never holds a whole collection.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import re
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas.layout import EPISODES_DIR, TRANSITION_GLOBS, TRANSITIONS_DIR
from schemas.transition import TRANSITION_SCHEMA

TABLE_ROWS = 1000  # rows per Arrow table a step hands to a writer: one row group each (~10-30 MB of stage text)
# Row groups a part file holds before the next begins: an open writer keeps every row group's metadata (~46 KB
# a row group over the four stage tables) until it closes, which grew a worker by ~21 MB at 1M transitions and
# would by ~200 MB at 10M (h238); 64 of TABLE_ROWS rows keep a part file at a few hundred MB.
PART_ROW_GROUPS = 64
# Leaf columns holding whole observations, documents, chat turns or records (KB per value; `content` is a
# message's): their min/max statistics serve no query (~3,500 instructions a transition to compute).
LONG_TEXT_COLUMNS = frozenset({"state_text", "next_text", "text", "content", "target", "reference", "record_json"})
# The long columns whose values repeat within a row group: a chat turn comes back in the history window of the next
# steps (~3.3 uses per distinct turn on generated episodes). They keep their dictionary; the other long columns hold
# one distinct value per row (state_text equals the previous row's next_text, but in another column), where
# hashing them into a dictionary that then overflows costs ~20% of the write for nothing.
REPEATED_TEXT_COLUMNS = frozenset({"content"})
# Room for the distinct chat turns of a row group (~3 MB per 1,000 rows generated); past the limit Arrow writes
# the rest of the column chunk plain, which is correct, only dearer.
DICTIONARY_PAGE_BYTES = 8 << 20
# Pages are cut only between batches: at Arrow's 1,024 values a batch, a stage 1 page buffer held ~8 MB of text,
# which Arrow's allocator (mimalloc in these wheels) kept resident after freeing it (+35 MB peak RSS of a run once
# the long columns were written plain). 256 values keep pages ~2 MB.
WRITE_BATCH_VALUES = 256

# A raw row is (source file, position in it, row dict); the position is the line (JSONL) or row index (Parquet).
SourcedRow = tuple[str, int, dict]


def raw_file_patterns(input_dir: str) -> list[str]:
    base = FileSystems.join(input_dir.rstrip("/"), TRANSITIONS_DIR)
    return [f"{base}/**{glob.removeprefix('*')}" for glob in TRANSITION_GLOBS]


def is_hidden(path: str) -> bool:
    # Atomic writers leave `.name.tmp` files while they work; those are not part of the collection.
    return path.rsplit("/", 1)[-1].startswith(".")


def raw_files(input_dir: str) -> list[str]:
    """The raw transition files of a collection (local or gs://): not the hidden files atomic writers leave, nor the
    members a pack killed before deleting them left beside it (their rows are in the pack: read twice, every row
    counted twice and deduped against itself). Then, for a local collection, the record of each episode whose
    transitions no file holds (records_without_rows): reading one gives that episode's dead letter."""
    from schemas.packs import packed_copies

    paths = [meta.path for match in FileSystems.match(raw_file_patterns(input_dir)) for meta in match.metadata_list
             if not is_hidden(meta.path)]
    copies = packed_copies(paths, metadata_of=_parquet_metadata, content_of=read_bytes)
    return [path for path in paths if path not in copies] + records_without_rows(input_dir, paths)


def is_episode_record(path: str) -> bool:
    """Whether a path raw_files gave is an episode record (episodes/DOMAIN/ID.json), not a transitions file."""
    return path.endswith(".json") and f"/{EPISODES_DIR}/" in path


def records_without_rows(input_dir: str, paths: list[str]) -> list[str]:
    """The episode records (episodes/DOMAIN/ID.json) of a local collection whose transitions are in none of `paths`:
    neither their own file (transitions/DOMAIN/ID.parquet), nor a readable pack of that folder naming them, nor a
    row of any other file (JSONL, a renamed file, a pack rewritten by another tool without its member list): the
    file deleted, or its pack cut short. Collect takes such an episode as damaged and records it again
    (collectors.store.EpisodeStore.damage). The records are listed, not read: one folder entry an episode, a
    domain's names held at a time; each pack's footer is read once more. Only where names leave records unaccounted
    for are the other files' episode ids read (episode_ids), and only until all are found. On a bucket none:
    listing every record is a request per thousand."""
    from schemas.packs import PACK_PREFIX, held_by_packs

    episodes = Path(input_dir) / EPISODES_DIR
    if "://" in input_dir or not episodes.is_dir():
        return []
    files: dict[str, dict[str, str]] = {}  # domain folder name -> transition file name in it -> its path
    for path in paths:
        folder, _, name = path.rpartition("/")
        parent, _, domain = folder.rpartition("/")
        if parent.endswith(f"/{TRANSITIONS_DIR}") or parent == TRANSITIONS_DIR:
            files.setdefault(domain, {})[name] = path
    missing, named = [], set()  # named: the paths whose names say which episodes they hold
    for domain in sorted(entry.name for entry in os.scandir(episodes) if entry.is_dir() and not is_hidden(entry.path)):
        in_folder = files.get(domain, {})
        names = set(in_folder)
        folder = f"{input_dir.rstrip('/')}/{TRANSITIONS_DIR}/{domain}"
        packs = sorted(name for name in names if name.startswith(PACK_PREFIX))
        listing = [pack for pack in packs if not _lists_no_members(f"{folder}/{pack}")]
        held = held_by_packs(folder, listing, _parquet_metadata)
        present = names | held.keys()
        records = [entry for entry in os.scandir(episodes / domain)
                   if is_episode_record(entry.path) and not is_hidden(entry.path)]
        own_files = {f"{entry.name.removesuffix('.json')}.parquet" for entry in records}
        named.update(in_folder[name] for name in names & (own_files | set(listing)))
        candidates = [entry.path for entry in records
                      if f"{entry.name.removesuffix('.json')}.parquet" not in present]
        missing += sorted(_still_missing(folder, candidates, names))
    if not missing:
        return []
    return _in_no_row(missing, [path for path in paths if path not in named])


def _in_no_row(records: list[str], paths: list[str]) -> list[str]:
    """The `records` whose episode id is in no row of `paths`, read in turn until every one is found."""
    wanted: dict[str, list[str]] = {}
    for record in records:
        wanted.setdefault(record.rpartition("/")[2].removesuffix(".json"), []).append(record)
    for path in paths:
        for episode_id in episode_ids(path):
            # A JSONL row's id may be any JSON value (the validator dead-letters it); only a string names a record.
            if isinstance(episode_id, str) and wanted.pop(episode_id, None) is not None and not wanted:
                return []
    left = {record for found in wanted.values() for record in found}
    return [record for record in records if record in left]


def episode_ids(path: str) -> Iterator:
    """The episode id of each row of a raw file that reads: a Parquet file's episode_id column, a row group at a
    time; a JSONL file's lines, parsed."""
    if path.endswith(".jsonl"):
        for item in _read_jsonl(path):
            if not isinstance(item, ReadError) and isinstance(item[2], dict):
                yield item[2].get("episode_id")
        return
    for table in parquet_row_groups(path, _episode_id_column):
        if not isinstance(table, ReadError) and "episode_id" in table.column_names:
            yield from table.column("episode_id").to_pylist()


def _episode_id_column(schema: pa.Schema) -> list[str]:
    return ["episode_id"] if "episode_id" in schema.names else []


def _still_missing(folder: str, records: list[str], listed: set[str]) -> list[str]:
    """The `records` whose transitions are in no file of `folder` now either: a collect writes an episode's file,
    then its record, so an episode it finished after the transition files were listed has a record whose file the
    listing missed. That episode is not missing, only new: left for the next run. Only the candidates cost a look."""
    from schemas.packs import PACK_PREFIX, held_by_packs

    def transitions_of(record: str) -> str:
        return f"{record.rsplit('/', 1)[-1].removesuffix('.json')}.parquet"

    records = [record for record in records if not os.path.exists(f"{folder}/{transitions_of(record)}")]
    if not records or not os.path.isdir(folder):
        return records
    new_packs = sorted(entry.name for entry in os.scandir(folder)
                       if entry.name.startswith(PACK_PREFIX) and entry.name not in listed)
    held = held_by_packs(folder, new_packs, _parquet_metadata)
    return [record for record in records if transitions_of(record) not in held]


def _lists_no_members(pack: str) -> bool:
    """A pack whose footer reads but names no members (rewritten without worldline's key-value metadata); a pack
    that does not read is not one: its episodes are missing indeed."""
    from schemas.packs import MEMBERS_KEY

    try:
        metadata = _parquet_metadata(pack)
    except (OSError, ValueError, pa.ArrowException):
        return False
    return MEMBERS_KEY not in (metadata or {})


def _parquet_metadata(path: str) -> dict[bytes, bytes] | None:
    with _parquet_reader(path) as reader:
        return reader.metadata.metadata


_EACH = None  # in a path: every item of the list there


def _binary_paths(schema: pa.Schema | pa.StructType, prefix: tuple = ()) -> list[tuple]:
    fields = schema if isinstance(schema, pa.Schema) else [schema.field(i) for i in range(schema.num_fields)]
    found = []
    for arrow_field in fields:
        path = prefix + (arrow_field.name,)
        if pa.types.is_struct(arrow_field.type):
            found += _binary_paths(arrow_field.type, path)
        elif pa.types.is_list(arrow_field.type) and pa.types.is_struct(arrow_field.type.value_type):
            found += _binary_paths(arrow_field.type.value_type, path + (_EACH,))
        elif pa.types.is_binary(arrow_field.type) or pa.types.is_timestamp(arrow_field.type):
            found.append((path, arrow_field.type))
    return found


_JSON_COERCED = _binary_paths(TRANSITION_SCHEMA)


def _coerce(value, arrow_type: pa.DataType):
    """JSON has no bytes or timestamps: raw bytes arrive as text, times as ISO strings. Anything else stays as it
    is, for the validator to reject with its reason."""
    if isinstance(value, str) and pa.types.is_binary(arrow_type):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"} and pa.types.is_binary(arrow_type):
        try:
            return base64.b64decode(value["base64"])
        except (ValueError, TypeError):  # not base64 (binascii.Error is a ValueError): it failed the run
            return value
    if isinstance(value, str) and pa.types.is_timestamp(arrow_type):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def row_from_json(obj):
    if not isinstance(obj, dict):
        return obj
    for path, arrow_type in _JSON_COERCED:
        for parent in _parents(obj, path[:-1]):
            if isinstance(parent, dict) and path[-1] in parent:
                parent[path[-1]] = _coerce(parent[path[-1]], arrow_type)
    return obj


def _parents(value, path: tuple):
    if not path:
        yield value
    elif path[0] is _EACH:
        for item in value if isinstance(value, list) else ():
            yield from _parents(item, path[1:])
    elif isinstance(value, dict):
        yield from _parents(value.get(path[0]), path[1:])


def to_json(record) -> str:
    """A record as JSON for the dead-letter output: bytes as text when they are UTF-8, else as base64."""
    def default(value):
        if isinstance(value, (bytes, bytearray)):
            try:
                return bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                return {"base64": base64.b64encode(value).decode("ascii")}
        if isinstance(value, datetime):
            return value.isoformat()
        return repr(value)
    return json.dumps(record, default=default, ensure_ascii=False, sort_keys=True)


def dead_letter(record_id: str, source: str, stage: str, reason: str, record) -> dict:
    return {"record_id": record_id, "source": source, "stage": stage, "reason": reason,
            "record_json": record if isinstance(record, str) else to_json(record)}


class InputPaths:
    """Names the files of a collection relative to its folder in the dead letters, which are published with the
    shards: the folder's place on the collecting machine (`/home/alice/...`) is no part of a record, as stats.json
    names the input by its folder's name alone. Each stage names files in the form the listing gave them: as
    --input was written (`./raw/transitions/...`), as a Path writes it (records without rows), or absolute."""

    def __init__(self, input_dir: str):
        folder = input_dir.rstrip("/")
        self.name = PurePosixPath(folder).name or folder
        forms = {folder} if "://" in input_dir else {folder, str(Path(input_dir)), os.path.abspath(input_dir)}
        forms = sorted((form for form in forms if form), key=len, reverse=True)
        # The folder only where a path begins, not inside a longer one: then either a path in it (`/`) or the
        # folder itself, where it ends (a sentence's full stop may follow).
        self.pattern = re.compile(r"(?<![\w./~-])(?:" + "|".join(map(re.escape, forms)) +
                                  r")(?:(?P<inside>/)|(?![\w/~-]|\.\w))")

    def relative(self, path: str) -> str:
        found = self.pattern.match(path)
        return path[found.end():] if found and found["inside"] else path

    def text(self, text: str) -> str:
        """`text` with every path in the folder made relative to it, and the folder itself named by its name."""
        return self.pattern.sub(lambda found: "" if found["inside"] else (
            self.name if found[0] != "." else found[0]), text)

    def letter(self, letter: dict) -> dict:
        """The letter with the folder left out of its source, record id (`FILE#N`, `FILE:LINE`), reason (dedupe's
        name the other copy's file; a missing episode's, the folder to collect into) and the `source` of a curated
        row in record_json. The record as read is otherwise kept byte for byte: an observation that shows a path
        is what the environment showed."""
        source = letter["source"]
        relative = self.relative(source)
        record = letter["record_json"]
        if relative != source and record.startswith("{") and json.dumps(source, ensure_ascii=False) in record:
            row = json.loads(record)
            if isinstance(row, dict) and row.get("source") == source:
                # to_json's own settings: every other byte of the record is as it was.
                record = json.dumps({**row, "source": relative}, ensure_ascii=False, sort_keys=True)
        return {**letter, "source": relative, "record_id": self.relative(letter["record_id"]),
                "reason": self.text(letter["reason"]), "record_json": record}


class ReadError(Exception):
    """A raw file, line or Parquet row group that could not be parsed; carries a dead-letter record for each raw
    record it held (`letters`: one for a line, or for a file whose metadata cannot be read; one per row for a row
    group, whose row count the file's metadata gives), the first as `letter`."""

    def __init__(self, letter: dict, *more: dict):
        self.letter, self.letters = letter, [letter, *more]
        super().__init__(f"{letter['record_id']}: {letter['reason']}")


def read_raw_file(path: str) -> Iterator[SourcedRow | ReadError]:
    """Every row of one raw file, or a ReadError for each part that cannot be parsed."""
    if path.endswith(".jsonl"):
        yield from _read_jsonl(path)
    else:
        yield from _read_parquet(path)


def _unreadable(path: str, position: int, exc: Exception, group: int | None = None, rows: int = 1) -> ReadError:
    """The dead letters of an unreadable file (group None: one, as its rows are unknown) or row group (one per row,
    each named by its position in the file)."""
    part = "" if group is None else f" (row group {group}, rows {position}-{position + max(rows, 1) - 1})"
    reason = f"unreadable Parquet{part}: {type(exc).__name__}: {' '.join(str(exc).split())}"
    return ReadError(*(dead_letter(f"{path}#{row}", path, "read", reason, "")
                       for row in range(position, position + max(rows, 1))))


@contextmanager
def _parquet_reader(path: str) -> Iterator[pq.ParquetReader]:
    """Arrow's own reader, not pq.ParquetFile, which maps every column path to its leaves in Python on opening
    (~0.1 ms an episode file). A local file is opened by path: a Python file object in between costs more than
    the decoding. Page checksums are verified where the writer stored them (collectors and `pack` do): a page that
    does not match is an unreadable row group, dead-lettered, not a changed value."""
    reader = pq.ParquetReader()
    if "://" in path:
        with FileSystems.open(path) as handle:
            reader.open(handle, pre_buffer=False, page_checksum_verification=True)
            yield reader
    else:
        reader.open(path, pre_buffer=False, page_checksum_verification=True)
        try:
            yield reader
        finally:
            reader.close()


# Where a file's Arrow schema comes from: Arrow derives it from the Parquet schema and this stored one, if any.
STORED_ARROW_SCHEMA = b"ARROW:schema"
# Distinct file schemas whose leaf columns to read are remembered (a collection has one or two).
KNOWN_SCHEMAS = 8


class _LeafColumns:
    """The leaf column indices `columns_of` picks, worked out once per file schema: deriving a file's Arrow schema
    and matching column names against its 40 leaf paths cost an episode file ~0.15 ms, where comparing its Parquet
    schema and stored Arrow schema with a known file's costs ~3 us. The Arrow schema is a function of those two (for
    the fixed reader options used here), so equal ones pick the same columns."""

    def __init__(self):
        self.known: list[tuple] = []  # (columns_of, Parquet schema, stored Arrow schema, leaf indices or None)

    def of(self, reader: pq.ParquetReader, columns_of: Callable[[pa.Schema], list[str] | None]) -> list[int] | None:
        metadata = reader.metadata
        schema, stored = metadata.schema, (metadata.metadata or {}).get(STORED_ARROW_SCHEMA)
        for known_of, known_schema, known_stored, indices in self.known:
            if known_of is columns_of and known_stored == stored and known_schema.equals(schema):
                return indices
        names = columns_of(reader.schema_arrow)
        indices = None if names is None else leaf_indices(reader.column_paths, names)
        # Replaced whole, never changed in place: a worker's threads may read it meanwhile.
        self.known = [(columns_of, schema, stored, indices), *self.known[:KNOWN_SCHEMAS - 1]]
        return indices


def leaf_indices(leaf_paths: list[list[str]], names: list[str]) -> list[int]:
    """Indices of the leaf columns under each name (a top-level column, or a struct field as `parent.child`), in
    the order pq.ParquetFile.read_row_group(columns=names) reads them."""
    dotted = [".".join(path) for path in leaf_paths]
    return [index for name in names for index, path in enumerate(dotted)
            if path == name or path.startswith(name + ".")]


_leaf_columns = _LeafColumns()


def parquet_row_groups(path: str, columns_of: Callable[[pa.Schema], list[str] | None] | None = None
                       ) -> Iterator[pa.Table | ReadError]:
    """A raw Parquet file one row group at a time (an episode file is one group; a packed file holds whole
    episodes in each): a table, or a ReadError for a row group that cannot be read, or for the rest of a file whose
    metadata cannot. `columns_of` picks the columns to read (dotted for a struct's fields) from the file's Arrow
    schema; None reads them all. It must depend on nothing but that schema: its answer is reused for files of the
    same schema."""
    position = 0
    try:
        with _parquet_reader(path) as reader:
            columns = _leaf_columns.of(reader, columns_of) if columns_of else None
            for group in range(reader.num_row_groups):
                try:
                    table = reader.read_row_group(group, column_indices=columns, use_threads=False)
                except (pa.ArrowException, OSError) as exc:
                    # A bad page spoils its row group only: stopping there lost every later group of a pack,
                    # neither read nor counted.
                    rows = reader.metadata.row_group(group).num_rows
                    yield _unreadable(path, position, exc, group, rows)
                    position += rows
                    continue
                yield table
                position += table.num_rows
    except (pa.ArrowException, OSError) as exc:
        yield _unreadable(path, position, exc)


def read_parquet_row_group(path: str, group: int) -> pa.Table:
    """One whole row group of a raw Parquet file, for the rows of it a validator flags."""
    with _parquet_reader(path) as reader:
        return reader.read_row_group(group, use_threads=False)


def read_parquet_rows(path: str, positions: list[int]) -> dict[int, dict]:
    """Whole rows of a raw Parquet file by position, for dead letters: each row group holding one is read once
    (reading the file up to each row made a pack whose 3,000 rows all failed to normalize take 30 s). A row whose
    row group cannot be read is left out."""
    wanted, found, start = sorted(set(positions)), {}, 0
    with _parquet_reader(path) as reader:
        for group in range(reader.num_row_groups):
            rows = reader.metadata.row_group(group).num_rows
            inside = [position for position in wanted if start <= position < start + rows]
            start += rows
            if not inside:
                continue
            try:
                table = reader.read_row_group(group, use_threads=False)
            except (pa.ArrowException, OSError):
                continue
            for position in inside:
                found[position] = table.slice(position - (start - rows), 1).to_pylist()[0]
    return found


def _read_parquet(path: str):
    position = 0
    for table in parquet_row_groups(path):
        if isinstance(table, ReadError):
            yield table
            position += len(table.letters)
            continue
        for row in table.to_pylist():
            yield path, position, row
            position += 1


def _read_jsonl(path: str):
    with FileSystems.open(path) as handle:
        # A byte that is not UTF-8 comes through as a lone surrogate (surrogateescape) and the line is dead-lettered:
        # replacing it changed the record unseen, and strict decoding would stop the file there. utf-8-sig drops an
        # editor's byte-order mark, which JSON does not allow.
        lines = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="surrogateescape")
        for number, line in enumerate(lines, start=1):
            if line.isspace() or not line:
                continue
            try:
                obj = _parsed_line(line)
            except (ValueError, RecursionError) as exc:
                yield ReadError(dead_letter(f"{path}:{number}", path, "read", f"line {number} {_unparsed(exc)}",
                                            _printable(line).rstrip("\r\n")))
                continue
            yield path, number, row_from_json(obj)


# A JSON escape of a UTF-16 surrogate: only lines holding one can parse to a str that is not valid Unicode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _parsed_line(line: str):
    """One JSONL line -> its value. Raises UnicodeEncodeError if it holds bytes that are not UTF-8, ValueError if it
    is not JSON or holds a lone surrogate (`"\\ud800"`: JSON accepts it, but no UTF-8 writer does, and it failed
    the whole run where the row was written), RecursionError if it nests too deeply."""
    if not line.isascii():  # O(1) on a str
        line.encode("utf-8")
    value = json.loads(line)
    if _SURROGATE_ESCAPE.search(line):  # ~0.3 ns a byte; a lone surrogate has no other way in
        _check_unicode(value, "")
    return value


def _check_unicode(value, path: str) -> None:
    """Raise ValueError naming the first string of a parsed JSON value (keys included) that is not valid Unicode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"holds a lone surrogate {exc.object[exc.start]!r} in {path or 'a value'}, which is "
                             "not a character") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key, f"a key of {path or 'the record'}")
            _check_unicode(item, f"{path}.{key}".lstrip("."))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_unicode(item, f"{path}[{index}]")


def _unparsed(exc: Exception) -> str:
    """Why a JSONL line cannot be read, after `line N `."""
    if isinstance(exc, json.JSONDecodeError):
        return f"is not JSON: {exc.msg} at column {exc.colno}"
    if isinstance(exc, UnicodeEncodeError):  # a byte surrogateescape let through
        return f"is not UTF-8: byte 0x{ord(exc.object[exc.start]) - 0xDC00:02x} at column {exc.start + 1}"
    if isinstance(exc, RecursionError):
        return "nests too deeply to read"
    return f"cannot be read: {exc}"  # a lone surrogate, or an integer of more than 4,300 digits


def _printable(line: str) -> str:
    """A line for a dead letter: the bytes that are not UTF-8 as \\xNN (Arrow cannot write a lone surrogate)."""
    return line if line.isascii() else line.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def shard_prefix(run_id: str) -> str:
    """Shard names carry the run: `datasets` caches a local folder by its config's file patterns, so a card whose
    patterns name this run's files never loads a previous run's rows from that cache."""
    return f"part-{run_id}" if run_id else "part"


class TableBatches:
    """Rows per output, added as row dicts or as tables -> Arrow tables of `rows` rows each (one row group each
    when written); flush gives the rest."""

    def __init__(self, schemas: dict[str, pa.Schema], rows: int = TABLE_ROWS):
        self.schemas, self.rows = schemas, rows
        self.pending_rows: dict[str, list[dict]] = {name: [] for name in schemas}
        self.pending_tables: dict[str, list[pa.Table]] = {name: [] for name in schemas}

    def add(self, name: str, row: dict) -> pa.Table | None:
        pending = self.pending_rows[name]
        pending.append(row)
        return self._from_rows(name) if len(pending) >= self.rows else None

    def add_table(self, name: str, table: pa.Table) -> list[pa.Table]:
        """The full tables of `rows` rows that the added table completes, cut without copying. The rest waits as a
        slice, which keeps alive the buffers of the tables it was cut from: less than a full table's rows, plus
        the rest of the last table added."""
        pending = self.pending_tables[name]
        pending.append(table)
        held = sum(map(len, pending))
        if held < self.rows:
            return []
        whole = pa.concat_tables(pending)
        complete = held - held % self.rows
        self.pending_tables[name] = [whole.slice(complete)] if complete < held else []
        return [whole.slice(start, self.rows) for start in range(0, complete, self.rows)]

    def flush(self):
        for name in self.schemas:
            if self.pending_rows[name]:
                yield name, self._from_rows(name)
            if self.pending_tables[name]:
                tables, self.pending_tables[name] = self.pending_tables[name], []
                yield name, pa.concat_tables(tables)

    def _from_rows(self, name: str) -> pa.Table:
        rows, self.pending_rows[name] = self.pending_rows[name], []
        return pa.Table.from_pylist(rows, schema=self.schemas[name])


class PartFiles:
    """Zstd Parquet part files, one per output per worker bundle (a new one every `row_groups` row groups), written
    where the rows are made.

    A step that made its rows and handed them to a Beam Write would have them all held between the two steps
    (FnApiRunner cannot fuse a writer, which takes a side input, with its producer). Parts go to a work folder
    under a unique name and are only renamed into place by `commit_parts`, with the paths of the bundles that
    succeeded: a retried bundle's abandoned parts are never published."""

    def __init__(self, folder: str, schemas: dict[str, pa.Schema], row_groups: int = PART_ROW_GROUPS):
        self.folder, self.schemas, self.row_groups = folder.rstrip("/"), schemas, row_groups
        self.open: dict[str, list] = {}
        self.done: list[tuple[str, str]] = []

    def write(self, name: str, table: pa.Table) -> None:
        if not table.num_rows:
            return  # a row group of 0 rows stops `datasets` from loading the whole table (BatchSize 0)
        if name not in self.open:
            path = f"{self.folder}/{name}/{uuid.uuid4().hex}.parquet"
            if "://" not in path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            handle = FileSystems.create(path)
            self.open[name] = [path, handle, parquet_writer(handle, self.schemas[name]), 0]
        part = self.open[name]
        part[2].write_table(table)
        part[3] += 1
        if part[3] >= self.row_groups:
            self._finish(name)

    def _finish(self, name: str) -> None:
        path, handle, writer, _ = self.open.pop(name)
        writer.close()
        handle.close()
        self.done.append((name, path))

    def close(self) -> list[tuple[str, str]]:
        """(output name, part path) of every part written since the last close."""
        for name in list(self.open):
            self._finish(name)
        done, self.done = self.done, []
        return done


class BundleParts:
    """A worker bundle's rows of each output, batched into tables of TABLE_ROWS rows (TableBatches) and written as
    row groups of its part files under WORK/parts (PartFiles), so a step writes rows as it makes them."""

    def __init__(self, work_dir: str, schemas: dict[str, pa.Schema]):
        self.batches = TableBatches(schemas)
        self.parts = PartFiles(f"{work_dir.rstrip('/')}/parts", schemas)

    def add(self, name: str, row: dict) -> None:
        table = self.batches.add(name, row)
        if table is not None:
            self.parts.write(name, table)

    def add_table(self, name: str, table: pa.Table) -> None:
        for full in self.batches.add_table(name, table):
            self.parts.write(name, full)

    def close(self) -> list[tuple[str, str]]:
        """Writes the rows still batched; (output name, part path) of every part written since the last close."""
        for name, table in self.batches.flush():
            self.parts.write(name, table)
        return self.parts.close()


def parquet_writer(sink, schema: pa.Schema) -> pq.ParquetWriter:
    """A zstd writer (Arrow's default level, 1) with statistics on every column but the long text ones, and
    dictionaries on every column but the long ones whose values do not repeat."""
    return pq.ParquetWriter(sink, schema, compression="zstd", write_statistics=short_column_paths(schema),
                            use_dictionary=dictionary_column_paths(schema),
                            dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES, write_batch_size=WRITE_BATCH_VALUES)


def short_column_paths(schema: pa.Schema) -> list[str]:
    """Parquet paths of the leaf columns not named in LONG_TEXT_COLUMNS (a list's items are `name.list.element`)."""
    return [path for field in schema for path, name in _leaves(field, "") if name not in LONG_TEXT_COLUMNS]


def dictionary_column_paths(schema: pa.Schema) -> list[str]:
    """Parquet paths of the leaf columns to dictionary-encode: the short ones and REPEATED_TEXT_COLUMNS."""
    return [path for field in schema for path, name in _leaves(field, "")
            if name not in LONG_TEXT_COLUMNS or name in REPEATED_TEXT_COLUMNS]


def _leaves(arrow_field: pa.Field, prefix: str) -> list[tuple[str, str]]:
    """(Parquet path, field name) of every leaf column under a field."""
    path, arrow_type = prefix + arrow_field.name, arrow_field.type
    if pa.types.is_list(arrow_type):
        return _leaves(arrow_type.value_field.with_name("element"), f"{path}.list.")
    if pa.types.is_struct(arrow_type):
        return [leaf for index in range(arrow_type.num_fields)
                for leaf in _leaves(arrow_type.field(index), f"{path}.")]
    return [(path, arrow_field.name)]


def commit_parts(parts: list[tuple[str, str]], output_dir: str, schemas: dict[str, pa.Schema],
                 run_id: str = "") -> None:
    """Rename the parts to OUTPUT/{name}/part-RUN-NNNNN-of-MMMMM.parquet; an output without parts gets one empty
    file with its schema, so readers always find the table."""
    prefix = shard_prefix(run_id)
    for name, schema in schemas.items():
        paths = sorted(path for part_name, path in parts if part_name == name)
        folder = FileSystems.join(output_dir, name)
        if not FileSystems.exists(folder):
            FileSystems.mkdirs(folder)
        if not paths:
            sink = pa.BufferOutputStream()
            pq.write_table(schema.empty_table(), sink, compression="zstd")
            write_bytes(FileSystems.join(folder, f"{prefix}-00000-of-00001.parquet"), sink.getvalue().to_pybytes())
            continue
        targets = [FileSystems.join(folder, f"{prefix}-{i:05d}-of-{len(paths):05d}.parquet")
                   for i in range(len(paths))]
        FileSystems.rename(paths, targets)


def write_text(path: str, text: str) -> None:
    """Write a small output file whole, atomically (see write_bytes)."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str, data: bytes) -> None:
    """Write a file whole: local files through a temp file and rename, remote ones (gs://) in one object upload,
    which is atomic there."""
    if "://" in path:
        with FileSystems.create(path) as handle:
            handle.write(data)
        return
    from schemas.files import atomic_open

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # No fsync: curation's outputs can be made again from the raw collection, and a flush per small file would
    # cost every part and shard a disk round trip.
    with atomic_open(target, "wb", fsync=False) as handle:
        handle.write(data)


def read_bytes(path: str) -> bytes:
    if "://" not in path:
        return Path(path).read_bytes()
    with FileSystems.open(path) as handle:
        return handle.read()


def write_pickled(path: str, value) -> None:
    """A value pickled and LZ4-compressed, for files only this run reads (prepared rows, dedupe keys): for a file's
    worth of rows, ten times cheaper both ways than an Arrow file, whose fixed cost per file outweighs its per-row
    speed at episode sizes."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    write_bytes(path, len(data).to_bytes(8, "little") + pa.compress(data, codec="lz4", asbytes=True))


def read_pickled(path: str):
    blob = read_bytes(path)
    size = int.from_bytes(blob[:8], "little")
    return pickle.loads(pa.decompress(blob[8:], decompressed_size=size, codec="lz4", asbytes=True))
