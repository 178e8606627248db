"""Find the volatile spans of an observation: the parts that change from run to run of the same action.

The observation is never rewritten. The spans are stored as offsets (Python str indices into the normalized
text, CURATED_TRANSITION_SCHEMA.next_volatile_spans), and a masked copy, with each span replaced by `<kind>`, is
used only for hashing, so two runs that differ only in a PID or a clock reading hash the same.

mask(text) masks one text; mask_many(texts) gives the same result for each of many texts, for less: it runs every
rule (rules.py: RULES, DIGIT_FORMS) once over groups of texts joined by newlines (core.py, _masked_group). Second
passes, over the few texts that may need them, find what no line-local rule can: the pid and usage columns of
process tables (ps, top), which a header line identifies, and of ps rows printed without it (tables.py), the rows
of a ps format list or of a git command printing commit ids, read under their command line (commands.py), and the
day of the week a JSON object gives beside a masked date (weekdays.py).

The rules are syntactic: without_distant_dates(text, spans, recorded_at_s) (dates.py) then drops the timestamp and
date spans whose full date is far from the time the transition was recorded (a preserved mtime, a fixture's log
line: content, not a clock reading), and masked(text, spans) gives the masked copy for the spans kept.

The names below are the public ones (docs/formats.md names RULES and DIGIT_FORMS for stage-3 users), so
`transforms.masking.<name>` is where callers take them from; the modules' underscored names are the package's own.
"""

from transforms.masking.core import mask, mask_many, masked, volatile_spans
from transforms.masking.dates import without_distant_dates
from transforms.masking.rules import DIGIT_FORMS, GENERATED, KINDS, RULES

__all__ = ["DIGIT_FORMS", "GENERATED", "KINDS", "RULES", "mask", "mask_many", "masked", "volatile_spans",
           "without_distant_dates"]
