"""Exact and near-duplicate detection over masked transition text, as pure functions the Beam steps call.

Exact: xxh64 of the masked state, action and next observation. Near: MinHash (transforms.minhash) over word n-gram
shingles, banded for LSH; candidates are verified with an 8-bit sketch (the low byte of every MinHash value):
Pr[low bytes equal] = J + (1 - J) / 256, which inverts to an unbiased estimate of the Jaccard similarity J.

The shuffle carries only numbers: per transition one 28-byte entry per band (bucket key, content hash, where the
row is) and two small entries with its id (by content hash for exact duplicates, by id for ids read twice), packed
per partition into numpy arrays. A partition's reducer finds exact duplicates and ids read twice at once; for near
duplicates it names one representative row per distinct content in each bucket shared by two contents, and only
those rows' sketches are fetched (from the prepared files) and compared.

Near-duplicates must share the action text, perturbations and error exactly, and make the same change: the word
shingles of the masked lines that appear and disappear between state and next observation must be nearly the same
(change_signatures, change_jaccard, NearDupOptions.change_threshold). The whole-transition Jaccard of two big screens is dominated by what does not change: a
calculator showing 8 or 0 after the same click, a spreadsheet cursor moving to A3 or A4, a step and its reverse
(go back from / to /status, or from /status to /) all score ~1.0, and each is what a world model must learn to tell
apart. Within a cluster the first record is kept (by episode id, then step: `id_order`); every other one names a
kept record: the one its chain of duplicates ends at (`representative`), since near-duplication is not transitive
(a ~ b and b ~ c, a not ~ c, removes b and c; c names a).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import xxhash

from transforms import _shingles, minhash

EXACT, NEAR = "exact", "near"
SEPARATOR = "\x1f"  # cannot occur in normalized observation text

# The dedupe/ output: every removed transition and the one it duplicates.
DUPLICATE_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("duplicate_of", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),  # exact, near
    pa.field("domain", pa.string()),
    pa.field("episode_id", pa.string()),
    pa.field("content_hash", pa.string()),
])


@dataclass(frozen=True)
class NearDupOptions:
    threshold: float = 0.8  # estimated Jaccard at or above which two transitions are near-duplicates
    # ... and the Jaccard of their changes (change_signatures) at or above which they make the same change: higher,
    # since a change is small and one line of it can be the whole point (on the 2026-11-27 run: a spreadsheet's
    # cursor on A2 or A3 after the same Enter 0.92, one tab or two 0.87; a repeated tool answer 1.0, a menu whose
    # ids were renumbered 0.98).
    change_threshold: float = 0.95
    num_perm: int = 256  # MinHash values; all of them go into the verification sketch
    # LSH: `bands` bucket keys of `rows` values each. 12 x 4 makes pairs at J=0.8 candidates with probability
    # 0.998 (1 - (1 - 0.8^4)^12) while each transition sends only 12 small entries through the shuffle.
    bands: int = 12
    rows: int = 4
    ngram: int = 5  # words per shingle
    seed: int = 1
    max_bucket: int = 5000  # distinct contents compared pairwise in one bucket; the rest are left alone
    partitions: int = 16  # dedupe keys are shuffled as this many packed groups

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"near-dup threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.change_threshold <= 1.0:
            raise ValueError(f"near-dup change threshold must be in [0, 1], got {self.change_threshold}")
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) must be at least 1 and fit in num_perm "
                             f"{self.num_perm}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {self.ngram}")
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")


def hash_text(state_masked: str, action_text: str, next_masked: str, conditions: str = "") -> str:
    return xxhash.xxh64_hexdigest(SEPARATOR.join((state_masked, action_text or "", next_masked, conditions)).encode())


def conditions_text(perturbations: list[str] | None, error: str | None) -> str:
    """What a transition was recorded under besides its action: a perturbed step (a truncated page, an injected
    latency) or a failed one is never a duplicate of a plain one, even where the texts agree, so that the only
    perturbed example of a task is not dropped for a plain one."""
    if not perturbations and not error:
        return ""
    return SEPARATOR.join(sorted(perturbations or ())) + "\x1e" + (error or "")


def id_order(record_id: str) -> tuple[str, int]:
    """Sort key of a record id `episode:step`: by episode, then step as a number ("e:7" before "e:12")."""
    episode, _, step = record_id.rpartition(":")
    return (episode, int(step)) if step.isdigit() else (record_id, -1)


def change_signature(state_masked: str, next_masked: str) -> bytes:
    """change_signatures of one transition. Test oracle / reference: only tests call it (curation signs a chunk at
    once with change_signatures), to state what one transition's signature is; kept on purpose, not dead code."""
    return change_signatures([(state_masked, "", next_masked)])[0]


# Marks the shingles of what disappeared, so that a step and its reverse differ.
_REMOVED = np.uint32(0x9E3779B9)
# Stands for the whole state, disappeared: a line no normalized observation holds.
_ALL_GONE = "\x00all of the state"


def change_signatures(masked_parts: list[tuple[str, str, str]], ngram: int = 5) -> list[bytes]:
    """The change each transition makes, given as (masked state, action, masked next observation): the word n-gram
    shingle hashes (minhash.shingle_hashes of each line, low 32 bits, as uint32 bytes) of the lines that appear in
    the next observation and, marked apart, of those that disappear from the state. Lines that only move (a
    terminal scrolling) are no change; a transition that changes nothing has b"". Shingles, not whole lines: a
    one-word edit in a long line (a search snippet, a JSON value) leaves most of the change the same. A next
    observation that keeps no line of the state (a tool's answer replacing the previous one) disappears all of it:
    one mark, not the state's shingles, which the whole-transition sketch compares already and which say nothing of
    the change. A state that is the previous transition's next observation (the same str, see
    transforms.prepare.with_masks) has its lines split once."""
    lines, counts, row_ends = [], [], []  # counts: each row's appeared, then disappeared, lines
    previous_next, previous_lines = None, None
    for state_masked, _, next_masked in masked_parts:
        before = previous_lines if state_masked is previous_next else frozenset(state_masked.split("\n"))
        after = frozenset(next_masked.split("\n"))
        previous_next, previous_lines = next_masked, after
        start = len(lines)
        if before != after:
            lines += after - before
            middle = len(lines)
            if before.isdisjoint(after):
                lines.append(_ALL_GONE)
            else:
                lines += before - after
            counts += (middle - start, len(lines) - middle)
        else:
            counts += (0, 0)
        row_ends.append(len(lines))
    hashes, offsets = minhash.shingle_hashes(lines, ngram)
    offsets = offsets.astype(np.int64)
    marked = np.repeat(np.repeat(np.tile(np.array([False, True]), len(row_ends)), counts), np.diff(offsets))
    values = hashes.astype(np.uint32)
    values[marked] ^= _REMOVED
    # A line without words has minhash's one empty-text shingle: no change there, not a shingle of one.
    kept = hashes != np.uint64(_shingles.EMPTY_TEXT)
    ends = np.concatenate(([0], np.cumsum(kept)))[offsets[row_ends]].tolist() if row_ends else []
    data = values[kept].tobytes()
    return [data[4 * start:4 * end] for start, end in zip([0, *ends], ends)]


def change_jaccard(first: bytes, second: bytes) -> float:
    """Jaccard similarity of two change signatures; two transitions that change nothing make the same change."""
    if first == second:
        return 1.0
    a, b = (np.unique(np.frombuffer(signature, dtype=np.uint32)) for signature in (first, second))
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)


def file_signatures(masked_texts: list[str], actions: list[str], options: NearDupOptions
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(LSH bucket keys uint64 [n, bands], sketches uint8 [n, num_perm]) of one file's transitions, each given as
    one masked text."""
    sigs = minhash.signatures(masked_texts, options.num_perm, options.ngram, options.seed)
    return _keys_and_sketches(sigs, actions, options)


def file_part_signatures(masked_parts: list[tuple[str, ...]], actions: list[str], options: NearDupOptions
                         ) -> tuple[np.ndarray, np.ndarray]:
    """file_signatures of transitions given as parts (masked state, action, masked next observation): each
    transition's shingle set is the union of its parts' (minhash.union_signatures), so an observation that is one
    transition's next and the following one's state is sketched once, not twice."""
    sigs = minhash.union_signatures(masked_parts, options.num_perm, options.ngram, options.seed)
    return _keys_and_sketches(sigs, actions, options)


def _keys_and_sketches(sigs: np.ndarray, actions: list[str], options: NearDupOptions
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The action is part of every key: a long screen shared by two transitions must not make `ls` and `rm -rf`
    near-duplicates of each other, whatever their shingle overlap."""
    keys = minhash.band_keys(sigs, minhash.action_hashes(actions), options.bands, options.rows)
    return keys, minhash.sketches(sigs)


estimated_jaccard = minhash.estimated_jaccard


# ---- the shuffled keys ---------------------------------------------------------------------------------------

def file_key(path: str) -> int:
    """Names a prepared file in the shuffled keys (a path would cost ~60 bytes per entry)."""
    return xxhash.xxh64_intdigest(path.encode())


NO_TIME = np.iinfo(np.int64).min  # a copy without an action time: any copy with one is later


@dataclass(frozen=True)
class CopyOrder:
    """Per row of a prepared file, what chooses among an id's copies of one content: its action's start
    (microseconds, NO_TIME without one), the raw file it was read from and its row or line there. A prepared file's
    key hashes a path with a random name, so choosing by file key kept a different copy from run to run wherever
    the copies differ outside the content (the same recording merged in twice, with other action times)."""
    started: np.ndarray
    sources: list
    positions: np.ndarray

    @classmethod
    def of_rows(cls, rows: list[dict]) -> "CopyOrder":
        """The order of prepared rows (transforms.prepare's: action_started_at, source, position)."""
        started = [row.get("action_started_at") for row in rows]
        return cls(np.array([NO_TIME if value is None else value for value in started], dtype=np.int64),
                   [row["source"] for row in rows], np.array([row["position"] for row in rows], dtype=np.int64))

    @classmethod
    def unknown(cls, count: int) -> "CopyOrder":
        """Rows whose copies tie on all three: the copy kept is then the first by (file, row)."""
        return cls(np.full(count, NO_TIME, dtype=np.int64), [""] * count, np.zeros(count, dtype=np.int64))


@dataclass
class KeyBatch:
    """Dedupe keys of some rows, for one partition. Band entries: (bucket key, content hash, file, row). Content
    entries (partitioned by content hash): (id, content hash). Id entries (partitioned by id): (id, content hash,
    file, row, recorded start, source, position), the last three to choose among an id's copies (CopyOrder)."""
    band_key: np.ndarray
    band_hash: np.ndarray
    band_file: np.ndarray
    band_row: np.ndarray
    content_ids: list
    content_hash: np.ndarray
    id_ids: list
    id_hash: np.ndarray
    id_file: np.ndarray
    id_row: np.ndarray
    id_started: np.ndarray
    id_source: list
    id_position: np.ndarray

    @classmethod
    def concat(cls, batches: list["KeyBatch"]) -> "KeyBatch":
        def arrays(name):
            return np.concatenate([getattr(batch, name) for batch in batches])

        def lists(name):
            return [item for batch in batches for item in getattr(batch, name)]

        return cls(arrays("band_key"), arrays("band_hash"), arrays("band_file"), arrays("band_row"),
                   lists("content_ids"), arrays("content_hash"), lists("id_ids"), arrays("id_hash"),
                   arrays("id_file"), arrays("id_row"), arrays("id_started"), lists("id_source"),
                   arrays("id_position"))

    def __len__(self) -> int:
        return len(self.band_key) + len(self.content_hash) + len(self.id_hash)


def _by_partition(keys: np.ndarray, partitions: int) -> dict[int, np.ndarray]:
    """partition -> indices of the keys that fall in it, in ascending order."""
    # The smallest type that holds a partition number: a stable sort of 8- or 16-bit values is a radix sort,
    # several times faster than one of int64.
    parts = (keys % np.uint64(partitions)).astype(np.min_scalar_type(partitions - 1))
    order = np.argsort(parts, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(parts, minlength=partitions))))
    return {p: order[bounds[p]:bounds[p + 1]] for p in range(partitions) if bounds[p] < bounds[p + 1]}


def _hash_values(content_hashes: list[str]) -> np.ndarray:
    """hash_text's 16-digit hex digests -> uint64, parsed in one bytes.fromhex call."""
    if set(map(len, content_hashes)) - {16}:
        raise ValueError("content hashes must be 16 hex digits (hash_text's)")
    return np.frombuffer(bytes.fromhex("".join(content_hashes)), dtype=">u8").astype(np.uint64)


def _picked(items: list, indices: np.ndarray) -> list:
    return list(map(items.__getitem__, indices.tolist()))


def partitioned_keys(file: int, ids: list[str], content_hashes: list[str], band_keys: np.ndarray,
                     partitions: int, copies: CopyOrder | None = None) -> dict[int, KeyBatch]:
    """One prepared file's rows -> their dedupe keys, split by partition. `copies`: the rows' CopyOrder (without
    it, an id's copies of one content are told apart by file key and row alone)."""
    copies = copies or CopyOrder.unknown(len(ids))
    n, bands = band_keys.shape if len(ids) else (0, 0)
    hashes = _hash_values(content_hashes)
    rows = np.arange(n, dtype=np.uint32)
    flat_keys = band_keys.reshape(-1).astype(np.uint64)
    band_rows = np.repeat(rows, bands)
    by_band = _by_partition(flat_keys, partitions)
    by_content = _by_partition(hashes, partitions)
    id_keys = np.fromiter(map(xxhash.xxh64_intdigest, map(str.encode, ids)), dtype=np.uint64, count=len(ids))
    by_id = _by_partition(id_keys, partitions)
    empty = np.zeros(0, dtype=np.int64)
    out = {}
    for part in by_band.keys() | by_content.keys() | by_id.keys():
        in_bands, in_contents, in_ids = (found.get(part, empty) for found in (by_band, by_content, by_id))
        out[part] = KeyBatch(
            flat_keys[in_bands], hashes[band_rows[in_bands]], np.full(len(in_bands), file, np.uint64),
            band_rows[in_bands],
            _picked(ids, in_contents), hashes[in_contents],
            _picked(ids, in_ids), hashes[in_ids], np.full(len(in_ids), file, np.uint64), rows[in_ids],
            copies.started[in_ids], _picked(copies.sources, in_ids), copies.positions[in_ids])
    return out


def kept_id(ids) -> str:
    """The id kept for one content: the first by id_order, then by the id itself, so that "e:7" and "e:07" (one
    order) give one answer whatever order the copies were read in. exact_duplicates and the near check
    (kept_members) must agree on it."""
    return min(ids, key=lambda record_id: (id_order(record_id), record_id))


def exact_duplicates(batch: KeyBatch):
    """(id, EXACT, kept id) for every id whose content another, smaller id also has."""
    hashes = batch.content_hash
    values, counts = np.unique(hashes, return_counts=True)
    shared = set(values[counts > 1].tolist())
    groups: dict[int, list[str]] = {}
    for index in np.flatnonzero(np.isin(hashes, list(shared))) if shared else ():
        groups.setdefault(int(hashes[index]), []).append(batch.content_ids[index])
    for ids in groups.values():
        kept = kept_id(ids)
        for record_id in sorted(set(ids), key=id_order):
            if record_id != kept:
                yield record_id, EXACT, kept


def id_collisions(batch: KeyBatch):
    """((file, row), same content?, (file, row) of the kept copy) for every copy of an id but the one kept: of
    the copies with the smallest content hash, the last (`_last_copy`); another copy with that content is its
    exact duplicate, one with other content a conflict (across raw files, curate.settle_episode then keeps one
    recording of the episode whole)."""
    copies: dict[str, list] = {}
    for index, record_id in enumerate(batch.id_ids):
        copies.setdefault(record_id, []).append(index)
    for indices in copies.values():
        if len(indices) < 2:
            continue
        first_hash = min(int(batch.id_hash[i]) for i in indices)
        kept = _last_copy(batch, [i for i in indices if int(batch.id_hash[i]) == first_hash])
        kept_ref = (int(batch.id_file[kept]), int(batch.id_row[kept]))
        for i in indices:
            if i != kept:
                yield (int(batch.id_file[i]), int(batch.id_row[i])), int(batch.id_hash[i]) == first_hash, kept_ref


def _last_copy(batch: KeyBatch, indices: list[int]) -> int:
    """The copy of one content to keep: the later recording (as curate.settle_episode keeps an episode's), then the
    last by raw file name and position in it, so the choice depends on the input alone; copies alike in all three
    (the same row read twice) are the same row to the output: the first by (file, row)."""
    return max(indices, key=lambda i: (int(batch.id_started[i]), batch.id_source[i], int(batch.id_position[i]),
                                       -int(batch.id_file[i]), -int(batch.id_row[i])))


# Set in a candidate row's number (rows are uint32) for a row that stands for its id alone: its content's sketch is
# fetched once, from the content's first row (by file, row), and each other copy brings only its id.
ID_ONLY = 1 << 32


def candidate_row(value: int) -> tuple[int, bool]:
    """A candidate group's row number -> (row in its prepared file, whether it stands for its id alone)."""
    return value & (ID_ONLY - 1), bool(value & ID_ONLY)


def near_candidates(batch: KeyBatch):
    """For every bucket that holds two or more distinct contents, the rows whose sketches must be compared: every
    row of those contents, as a sorted tuple of (file, row). Of each content, the first row (by file, row) is the
    one whose sketch is fetched; the others are marked ID_ONLY: they bring their ids, so that the near check names
    each content by the id kept for it (kept_id, as exact_duplicates does) with no run-wide map of exact decisions.
    Identical contents share every bucket (a partition sees all copies of a content in each of its buckets); a
    near pair shares most of its buckets, so callers compare each distinct tuple once."""
    if not len(batch.band_key):
        return
    order = np.lexsort((batch.band_row, batch.band_file, batch.band_hash, batch.band_key))
    keys, hashes = batch.band_key[order], batch.band_hash[order]
    # First row of each (key, content) run, and how many distinct contents each key has.
    first = np.ones(len(keys), dtype=bool)
    first[1:] = (keys[1:] != keys[:-1]) | (hashes[1:] != hashes[:-1])
    values, counts = np.unique(keys[first], return_counts=True)
    shared = values[counts > 1]
    if not len(shared):
        return
    in_shared = np.isin(keys, shared)
    chosen = order[in_shared]  # sorted by key: each bucket's rows are adjacent
    chosen_keys = batch.band_key[chosen]
    starts = np.flatnonzero(np.r_[True, chosen_keys[1:] != chosen_keys[:-1]])
    files = batch.band_file[chosen].tolist()
    rows = (batch.band_row[chosen].astype(np.uint64)
            | np.where(first[in_shared], np.uint64(0), np.uint64(ID_ONLY))).tolist()
    for start, end in zip(starts.tolist(), [*starts[1:].tolist(), len(chosen)]):
        yield tuple(sorted(zip(files[start:end], rows[start:end])))


def kept_members(members, group=None) -> list[tuple]:
    """A candidate group's members [(id, content hash, sketch, change signature)], every copy of each content (the
    ID_ONLY rows with an empty sketch) -> one member per content: its kept id (kept_id) with its sketch and change."""
    contents: dict[str, list] = {}
    for member_id, content_hash, sketch, change in members:
        content = contents.setdefault(content_hash, [[], None, None])
        content[0].append(member_id)
        if sketch:
            content[1], content[2] = sketch, change
    kept = []
    for content_hash, (ids, sketch, change) in contents.items():
        if sketch is None:
            raise ValueError(f"candidate group {group}: content {content_hash} (ids {sorted(ids)[:3]}) has no row "
                             "with a sketch: its first row was not fetched")
        kept.append((kept_id(ids), content_hash, sketch, change))
    return sorted(kept, key=lambda member: (id_order(member[0]), member[0], member[1]))


def group_key(rows: tuple) -> int:
    """A stable name for one group of candidate rows."""
    return xxhash.xxh64_intdigest(np.asarray(rows, dtype=np.uint64).tobytes())


def resolve_bucket(members, options: NearDupOptions, report_exact: bool = True):
    """Decide the duplicates among one bucket's members.

    members: iterable of (id, content_hash, sketch bytes) or (id, content_hash, sketch bytes, change signature).
    Yields (id, kind, duplicate_of) for each member that has an exact or near duplicate earlier (id_order) in this
    bucket; with change signatures, a near duplicate must also make a change at least `change_threshold` similar. Exact
    duplicates collapse first, so a bucket of ten thousand identical screens costs one comparison, not fifty
    million. A member is compared with every earlier one, removed or not, so which members are removed does not
    depend on the order of the comparisons; one whose earlier duplicate was removed names what that one names.
    """
    members = sorted(members, key=lambda member: id_order(member[0]))
    first_by_hash: dict[str, tuple] = {}
    for member_id, content_hash, *rest in members:
        kept = first_by_hash.setdefault(content_hash, (member_id, *rest))
        if kept[0] != member_id and report_exact:
            yield member_id, EXACT, kept[0]
    distinct = sorted(first_by_hash.values(), key=lambda member: id_order(member[0]))[:options.max_bucket]
    if len(distinct) < 2:
        return
    sketches = np.frombuffer(b"".join(member[1] for member in distinct), dtype=np.uint8).reshape(len(distinct), -1)
    named: dict[str, str] = {}  # removed member -> the kept member it names
    for i in range(1, len(distinct)):
        for j in np.flatnonzero(estimated_jaccard(sketches[:i], sketches[i]) >= options.threshold).tolist():
            # Two contents of one id (recorded twice, differently) are not duplicates of each other: which copy
            # stays is the id collisions' and episodes' call, and an id naming itself made an endless chain.
            if named.get(distinct[j][0], distinct[j][0]) == distinct[i][0]:
                continue
            if len(distinct[i]) < 3 or change_jaccard(distinct[i][2], distinct[j][2]) >= options.change_threshold:
                named[distinct[i][0]] = named.get(distinct[j][0], distinct[j][0])
                yield distinct[i][0], NEAR, named[distinct[i][0]]
                break


def decide(decisions):
    """Combine one record's decisions from all its buckets: exact beats near, then the first id (id_order) wins."""
    return min(decisions, key=lambda d: (d[0] != EXACT, id_order(d[1])))


def representative(decision: tuple[str, str], removed: dict) -> tuple[str, str]:
    """A removed record's (kind, duplicate_of) -> the same, naming a kept record: the one its chain of duplicates
    (`removed`: id -> its decide()d (kind, duplicate_of)) ends at, since buckets decide apart (b near a in one, c
    near b in another) and an exact duplicate names its content's first id, which may be a near duplicate. The
    kind is `exact` only if every link is (the same content_hash). Every link names an earlier id (id_order), so
    the chain ends."""
    kind, duplicate_of = decision
    passed = set()
    while duplicate_of in removed:
        if duplicate_of in passed:
            raise ValueError(f"the duplicates chain of {decision} comes back to {duplicate_of}: it has no kept end")
        passed.add(duplicate_of)
        link_kind, duplicate_of = removed[duplicate_of]
        kind = EXACT if kind == link_kind == EXACT else NEAR
    return kind, duplicate_of
