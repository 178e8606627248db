"""Beam step that checks raw rows against the transition schema; a bad row goes to the dead-letter output."""

from __future__ import annotations

import apache_beam as beam

from schemas.validate import record_id, transition_errors
from transforms import stats
from transforms.io import ReadError, dead_letter, read_raw_file

DEAD_LETTER = "dead_letter"


class ReadRawFn(beam.DoFn):
    """file path -> its raw rows as (source, position, row); unparseable parts -> dead letters."""

    def process(self, path: str):
        for item in read_raw_file(path):
            if isinstance(item, ReadError):
                stats.count(stats.IN, stats.UNKNOWN_DOMAIN)
                stats.count(stats.DEAD, stats.UNKNOWN_DOMAIN, "read")
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, item.letter)
            else:
                stats.count(stats.IN, stats.domain_of(item[2]))
                yield item


class ValidateFn(beam.DoFn):
    def process(self, element):
        source, position, row = element
        errors = transition_errors(row)
        if not errors:
            yield element
            return
        rid = record_id(row)
        if rid == "<unknown>":
            rid = f"{source}#{position}"
        stats.count(stats.DEAD, stats.domain_of(row), "validate")
        yield beam.pvalue.TaggedOutput(
            DEAD_LETTER, dead_letter(rid, source, "validate", "; ".join(str(e) for e in errors), row))


class ValidateTransitions(beam.PTransform):
    """(source, position, row) -> valid rows (main output) and dead letters (tag `dead_letter`)."""

    def expand(self, rows):
        return rows | beam.ParDo(ValidateFn()).with_outputs(DEAD_LETTER, main="valid")
