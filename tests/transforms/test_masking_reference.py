"""volatile_spans skips rules by precheck and uses shorter pattern forms; a plain reference that runs every rule's
pattern on every text, with the word boundary spelled as a lookbehind, must find exactly the same spans."""

import random
import re

from transforms.masking import RULES, _DIGIT_KIND, volatile_spans

# The hex_id rule as first written: a lookbehind after the first character instead of a leading \b.
_REFERENCE_PATTERNS = {len(RULES) - 1: r"[0-9a-f](?<![\w][0-9a-f])[0-9a-f]{6,63}\b"}


def reference_spans(text):
    found = []
    for priority, (kind, pattern, _, check) in enumerate(RULES):
        compiled = re.compile(_REFERENCE_PATTERNS.get(priority, pattern), re.MULTILINE)
        for match in compiled.finditer(text):
            if check is not None and not check(match.group()):
                continue
            if kind == "digits":
                found.append((match.start(), priority, match.end(), _DIGIT_KIND[match.lastgroup]))
                continue
            start, end = match.span("v") if "v" in compiled.groupindex else match.span()
            found.append((start, priority, end, kind))
    spans, reach = [], 0
    for start, _, end, kind in sorted(found):
        if start >= reach:
            spans.append({"start": start, "end": end, "kind": kind})
            reach = end
    return spans


PIECES = [
    "2026-11-25T21:58:00Z", "2026-11-25 21:58:00,123+01:00", "21:58:00.5", "2026-11-24", "5 Nov 2026",
    "0m0.003s", "12ms", "1.5 sec", "4.0K", "12 MiB", "900 bytes", "550e8400-e29b-41d4-a716-446655440000",
    "550E8400-E29B-41D4-A716-44665544000", "Wed Nov 25 21:58:00 UTC 2026", "Thu, Dec 3, 08:01:09",
    "Nov 25 21:58", "Jan  5 09:00:01", "1764107880", "1764107880.25", "/tmp/tmpab12cd34/run.log",
    "/var/tmp/x", "/dev/shm/q", "/private/var/folders/ab/T", "tmpq1w2e3r4", "pid 4312", "PID=77", "process: 9",
    "[1] 12345", "localhost:43123", "127.0.0.1:8080", "0.0.0.0:61234", "[::]:50000", "port 55555", "port 80",
    "0x7fff1234", "0xDEADBEEF", "3f9a2b1c0d", "deadbeef", "facade", "2026", "a1b2c3d4e5f6a7b8", "abc-1234567",
    "x3f9a2b1c0d", "_3f9a2b1c0d", "é3f9a2b1c0d", "data123", "file42 node7", "exit 0", ":8000", "-", "—", "µs",
    "12µs", "ça", "src1 lib2 test3", "\x1b", "\t", "  ", "-e29b-41d4-a716-",
]


def test_volatile_spans_match_the_reference_on_varied_inputs():
    rng = random.Random(5)
    for _ in range(600):
        pieces = [rng.choice(PIECES) for _ in range(rng.randint(1, 30))]
        text = "".join(piece + rng.choice(["", " ", "\n", ", ", "/", ":", "="]) for piece in pieces)
        assert volatile_spans(text) == reference_spans(text), text
