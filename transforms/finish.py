"""What Finish decides for one prepared file, as pure functions over plain data (transforms.curate.FinishFn reads
the file, counts, and hands the outcome to Beam): which rows are dead-lettered, which go to the dedupe list as
duplicates, which are kept, and each kept row's history (the rows of its episode it is built after).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from transforms import dedupe

SAME_ID_OTHER_CONTENT = "another record with the same id and different content was kept"


@dataclass(frozen=True)
class Letter:
    """A row dead-lettered by dedupe, and why; it is named by the raw file it was read from (row["source"])."""
    row: dict
    reason: str


@dataclass(frozen=True)
class FileDecisions:
    """One prepared file's outcome. `rows`: its rows but those of rejected recordings, grouped by episode, each
    episode in step order; `kept`: positions in `rows` of the rows to build stage rows for; per kept row, the
    position in `rows` of its episode's first row (`history_starts`) and of the last row of its episode with its
    id (`history_ends`). `letters`: the rejected recordings' rows, then the conflicting copies in `rows` order;
    `duplicates`: dedupe list rows (dedupe.DUPLICATE_SCHEMA), in `rows` order."""
    letters: list[Letter]
    duplicates: list[dict]
    rows: list[dict]
    kept: list[int]
    history_starts: list[int]
    history_ends: list[int]


def decide_file(file, read: list[dict], removed: dict, collisions: dict, episodes: dict) -> FileDecisions:
    """A prepared file's rows (`read`, by row index; `file`: its key) -> what becomes of each. `removed`: id ->
    (kind, duplicate_of) of every removed transition; `collisions`: (file, row) -> (same content?, where the copy
    kept was read, the kept copy's (file, row)) of every repeated id; `episodes`: (episode id, source) -> verdict
    of curate.settle_episode (None for the recording kept whole)."""
    # Before ordering: a rejected recording's rows must not enter the history of the kept one's.
    rejected, letters = rejected_recordings(read, episodes)
    refs, rows, episode_starts = in_episode_order(file, read, skip=rejected)
    # A row's history is every row of its episode before the last one with its id (duplicates included).
    last_with_id = {(start, row["id"]): position for position, (start, row) in enumerate(zip(episode_starts, rows))}
    duplicates, kept = [], []
    for position, (ref, row) in enumerate(zip(refs, rows)):
        outcome = removal(ref, row, removed, collisions, read, episodes)
        if outcome is None:
            kept.append(position)
        elif isinstance(outcome, Letter):
            letters.append(outcome)
        else:
            duplicates.append(outcome)
    return FileDecisions(letters, duplicates, rows, kept, [episode_starts[position] for position in kept],
                         [last_with_id[episode_starts[position], rows[position]["id"]] for position in kept])


def rejected_recordings(read: list[dict], episodes: dict) -> tuple[set[int], list[Letter]]:
    """The row indices of `read` that belong to a recording settle_episode rejected, and their dead letters, each
    naming the recording kept (and, for an id the kept recording holds too, where its copy was read)."""
    rejected, letters = set(), []
    for index, row in enumerate(read):
        verdict = episodes.get((row["episode_id"], row["source"]))
        if verdict is not None:
            rejected.add(index)
            _kept_source, reason, locations = verdict
            if row["id"] in locations:
                reason += f"; {SAME_ID_OTHER_CONTENT}: {locations[row['id']]}"
            letters.append(Letter(row, reason))
    return rejected, letters


def removal(ref, row: dict, removed: dict, collisions: dict, read: list[dict], episodes: dict) -> Letter | dict | None:
    """What a row at `ref` ((file, row index)) is removed as: a Letter (a copy of an id whose kept copy has other
    content), its dedupe list row (a duplicate), or None when it is kept. `read`: the prepared file's rows, by
    row index."""
    decision = removed.get(row["id"])
    if decision is None:
        same_content, kept_source, kept_ref = collisions.get(ref, (None, None, None))
        if kept_ref is not None and (row["episode_id"], row["source"]) in episodes and not (
                kept_ref[0] == ref[0] and read[kept_ref[1]]["source"] == row["source"]):
            same_content = None  # the copy kept per id is in a recording of the episode dead-lettered whole
        if same_content is False:
            return Letter(row, f"{SAME_ID_OTHER_CONTENT}: {kept_source}")
        if same_content:
            decision = (dedupe.EXACT, row["id"])
    if decision is None:
        return None
    kind, duplicate_of = dedupe.representative(decision, removed)
    return {"id": row["id"], "duplicate_of": duplicate_of, "kind": kind, "domain": row["domain"],
            "episode_id": row["episode_id"], "content_hash": row["content_hash"]}


def in_episode_order(file, rows: list[dict], skip=frozenset()) -> tuple[list, list[dict], list[int]]:
    """A prepared file's rows but those at `skip`, grouped by episode, each episode in step order: (file, row index)
    of each, the rows, and the position of each row's episode's first row."""
    episodes = defaultdict(list)
    for row_index, row in enumerate(rows):
        if row_index not in skip:
            episodes[row["episode_id"]].append(row_index)
    order, episode_starts = [], []
    for members in episodes.values():
        members.sort(key=lambda row_index: (rows[row_index]["step"], rows[row_index]["content_hash"]))
        episode_starts += [len(order)] * len(members)
        order += members
    return [(file, row_index) for row_index in order], [rows[row_index] for row_index in order], episode_starts
