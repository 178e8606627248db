"""Read one raw file and check its rows against the transition schema; a bad part becomes a dead letter."""

from __future__ import annotations

from typing import Iterator, NamedTuple

from schemas.validate import record_id, transition_errors
from transforms import stats
from transforms.io import ReadError, SourcedRow, dead_letter, read_raw_file

DEAD_LETTER = "dead_letter"


class Rejected(NamedTuple):
    """A part of a raw file that cannot be curated, with the dead-letter record that explains why."""
    letter: dict


def read_valid_rows(path: str, count: bool = True) -> Iterator[SourcedRow | Rejected]:
    """One raw file -> (source, position, row) for every valid row, Rejected for every unreadable or invalid part.
    `count` adds them to the run's counters; a second read of the same file (the dedupe keys) must not."""
    for item in read_raw_file(path):
        if isinstance(item, ReadError):
            if count:
                stats.count(stats.IN, stats.UNKNOWN_DOMAIN)
                stats.count(stats.DEAD, stats.UNKNOWN_DOMAIN, "read")
            yield Rejected(item.letter)
            continue
        source, position, row = item
        if count:
            stats.count(stats.IN, stats.domain_of(row))
        errors = transition_errors(row)
        if not errors:
            yield item
            continue
        rid = record_id(row)
        if rid == "<unknown>":
            rid = f"{source}#{position}"
        if count:
            stats.count(stats.DEAD, stats.domain_of(row), "validate")
        yield Rejected(dead_letter(rid, source, "validate", "; ".join(str(e) for e in errors), row))
