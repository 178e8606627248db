"""Find the volatile spans of an observation: the parts that change from run to run of the same action.

The observation is never rewritten. The spans are stored as offsets (Python str indices into the normalized
text, CURATED_TRANSITION_SCHEMA.next_volatile_spans), and a masked copy, with each span replaced by `<kind>`, is
used only for hashing, so two runs that differ only in a PID or a clock reading hash the same.

mask(text) masks one text; mask_many(texts) gives the same result for each of many texts, for less: it runs every
rule once over groups of texts joined by newlines (see _masked_group). Second passes, over the few texts that may
need them, find what no line-local rule can: the pid and usage columns of process tables (ps, top), which a header
line identifies (_table_spans), and of ps rows printed without it (_ps_row_spans), the rows of a ps format list or
of a git command printing commit ids, read under their command line (_command_spans), and the day of the week a
JSON object gives beside a masked date (_weekday_key_spans).

The rules are syntactic: without_distant_dates(text, spans, recorded_at_s) then drops the timestamp and date spans
whose full date is far from the time the transition was recorded (a preserved mtime, a fixture's log line: content,
not a clock reading), and masked(text, spans) gives the masked copy for the spans kept.
"""

from __future__ import annotations

import math
import re
import shlex
from bisect import bisect_right
from datetime import date
from functools import lru_cache
from itertools import accumulate

from transforms import _masking

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"

# `_B` after a pattern's first character stands for the word boundary that would have led the pattern (the
# patterns were written so for a regex scan to jump between literals; tried only at candidate starts now, they
# find the same matches either way).
_B = r"(?<![\w]{0})"
_D = "[0-9]"
_H = "[0-9a-fA-F]"

# Forms that start with a digit share one rule: `[0-9]` then the rest of each form, in priority order. A new form
# must have, right after its leading digits, a character the digits finder of _masking.c counts as a follower (after
# a space, one it counts as following a space), and get a reference form and fragments in
# tests/transforms/test_masking_reference.py. A lookbehind at the start of a form's rest sees the digit the rule
# matched already: each one below ends with `{_D}`.
_FRACTION = rf"(?:\.{_D}+)?"
# What a time of day or an elapsed time can say after its first digit: 0:03, 00:01, 1:02:03, 01:02:03.
# (_CLOCK_REST and _ELAPSED_BEFORE are the elapsed rule's, in RULES.)
_CLOCK_REST = rf"{_D}?(?::{_D}{{2}}){{1,2}}"
# Words after which a time is elapsed or left to run, not read off a clock: "Elapsed: 00:01", "elapsed 1:02",
# pip's "eta 0:00:01", "ETA: 00:12".
_ELAPSED_BEFORE = "|".join(rf"(?<=\b{word}{_D})" for word in (
    "[Ee]lapsed ", "[Ee]lapsed: ", "[Ee]lapsed=", "ETA ", "ETA: ", "eta ", "eta: "))
# A date a time of day is next to ("2026-11-25 3:04:35", "2026/11/25, 3:04:35", "27.11.2026 3:04:35", "27 Nov 2026
# 3:04:35", "Nov 27 3:04:35"): it ends in digits after "-", "/" or "." or is a day and month name, then a space or
# a comma and a space.
_DATE_BEFORE = "|".join(rf"(?<={date}{gap}{_D})" for date in (
    rf"[-/.]{_D}{{2}}", rf"[-/.]{_D}{{4}}", rf" {_MONTH} {_D}{{4}}", rf"{_MONTH} {_D}{{2}}") for gap in (" ", ", "))
# An abbreviated or full commit id, and the words after which git prints one (git_id rule of RULES; each lookbehind
# sees the id's first character already, as _ELAPSED_BEFORE's do): the last of them as a rebase todo line has it
# ("pick 4997019 msg"), at a line's start or under git status's "Last command done:" (indented three spaces).
_COMMIT = "[0-9a-f]{7,40}"
_GIT_ID_AFTER = "|".join(rf"(?<={before}.)" for before in (
    "HEAD is now at ", "HEAD detached at ", "HEAD detached from ", "HEAD position was ", r"\bcommit ",
    "rebase in progress; onto "))
_GIT_TODO = "|".join(rf"(?<=^{indent}{command} .)" for indent in ("", "   ")
                     for command in ("pick", "reword", "edit", "squash", "fixup", "drop"))
# What follows a commit id leading a line of git blame: the file's name or the original line number if shown (-f,
# -n), then in parentheses the author (or -e's address, padded), the commit's date, time and offset, and the line's
# number ("86067227 (Ann Author 2026-11-27 13:00:00 +0000 2) TWO"); -c separates them with tabs.
_BLAME_AFTER = (rf"(?: [^()\n]*)?[ \t]\((?:[^()\n]*[ \t])?{_D}{{4}}-{_D}{{2}}-{_D}{{2}} {_D}{{2}}:{_D}{{2}}:{_D}{{2}}"
                rf" [+-]{_D}{{4}}[ \t]+{_D}+\)")
# The same under git blame -s, which drops the parentheses with the author and date ("86067227  1) line"): -f's
# file name and -n's original line number if shown, the line's number padded to the widest, then ")" and a space
# (or the line's end: a terminal drops the trailing space of an empty line's "13) ").
_BLAME_BARE_AFTER = rf"(?: [^\s()]+)?(?: +{_D}+)? +{_D}+\)(?: |\r?$)"
# The end of a line of text written with escaped newlines: an escaped newline or carriage return, or the end of the
# AT-SPI cell (a tab; a quote first where the cell is quoted) or of the JSON string (a quote) or of the line.
_ESCAPED_LINE_END = r'(?:\\[nr]|"?\t|"?$)'
# The keys whose durations are settings (see the setting rule of RULES), in any case.
_SETTING_KEYS = ("timeout", "interval", "retry after", "retry-after", "retry_after", "retryafter", "delay", "ttl")


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in word)


_DURATION_REST = rf"{_D}*+(?:\.{_D}++)? ?(?:ms|us|µs|ns|sec|secs|seconds|s)\b"
_SIZE_REST = rf"{_D}*+(?:\.{_D}++)? ?(?:[KMGTP]i?B|[KMGTP])\b"
# A figure of df -h's Used or Avail column: "0" when empty, "k" for a kilobyte under --si.
_DF_FIGURE = rf"{_D}+(?:\.{_D}+)?[kKMGTPEZY]?"
_TWELVE_HOUR = rf"{_D}?:{_D}{{2}}:{_D}{{2}}{_FRACTION} ?(?:AM|PM|am|pm)\b"
DIGIT_FORMS = (
    ("timestamp", rf"{_D}{{3}}-{_D}{{2}}-{_D}{{2}}[T ]{_D}{{2}}:{_D}{{2}}(?::{_D}{{2}}(?:[.,]{_D}+)?)?"
                  rf"(?:Z|[+-]{_D}{{2}}:?{_D}{{2}}\b)?"),  # ISO 8601
    # Times with a colon (audit of the 2026-11-27 run). A time of day and an elapsed time look alike: 21:58:00 is
    # what a clock shows, ps's TIME, Python's timedelta, pip's "eta 0:00:01", GNU time's "1:02:03elapsed" and
    # progress bars print elapsed and remaining times as H:MM:SS too. Both are volatile; the kind tells the RL check
    # which kind of value a prediction must hold there, so an elapsed time is a duration. The rule, in order:
    # - a 12-hour clock's suffix makes it a time of day, with a one- or two-digit hour ("3:04:35 AM", "9:05:07.25pm",
    #   "12:00:00PM"; the suffix is in the span);
    # - a time after a word that says it is elapsed or left ("Elapsed: 00:01", "eta 0:00:01"), before "elapsed"
    #   (GNU time's "0:03.45elapsed"), or as tqdm prints its elapsed and remaining times ("[00:01<00:02, ...]") is a
    #   duration, with or without its hours: the elapsed rule of RULES, which overrides this one (as a form here, its
    #   lookbehinds cost every time of day in ls -l output and logs);
    # - H:MM:SS with a two-digit hour is a time of day (what clocks, logs, date(1) and top print: they pad the hour);
    # - with a one-digit hour and neither a suffix nor a date right before it, it is a duration: clocks pad the hour
    #   to two digits or add AM/PM, while timedelta, ps, time and progress bars print "1:02:03" or "0:00:05". A
    #   one-digit hour right after a date ("2026-11-25 3:04:35", "27.11.2026, 3:04:35") is that date's time of day.
    # MM:SS with no context ("3:04", "12:30") is neither: a score, a ratio, a line and column.
    # In one form, a two-digit hour with or without the suffix first (most times), then a one-digit hour with it,
    # then one after a date (its lookbehinds only after cheap tests: seconds, a digit or comma and a space before).
    ("timestamp", rf"{_D}:{_D}{{2}}:{_D}{{2}}{_FRACTION}(?: ?(?:AM|PM|am|pm))?\b"
                  rf"|:{_D}{{2}}:{_D}{{2}}{_FRACTION} ?(?:AM|PM|am|pm)\b"
                  rf"|(?=:{_D}{{2}}:{_D}{{2}})(?<=[0-9,] {_D})(?:{_DATE_BEFORE}):{_D}{{2}}:{_D}{{2}}{_FRACTION}\b"),
    ("duration", rf":{_D}{{2}}:{_D}{{2}}{_FRACTION}\b"),
    ("date", rf"{_D}{{3}}-{_D}{{2}}-{_D}{{2}}\b"),
    ("date", rf"{_D}? {_MONTH} {_D}{{4}}\b"),
    ("duration", rf"{_D}*m{_D}+(?:\.{_D}+)?s\b"),  # 0m0.003s
    # Possessive `*+`/`++` (Python 3.11): giving digits back would put a digit where the rest needs ".", " " or a
    # unit's letter, so it never finds a match; it only made each failed attempt ("42717 took") backtrack.
    ("duration", _DURATION_REST),
    # A size rounded to a unit (4.0K, 12 MB, 256.0 MiB) is what ls -lh, du, df, free and progress bars report about
    # storage, memory and transfers: it moves with block allocation, with everything else on the filesystem or in
    # memory, and with timing, none of which the transcript shows. An exact count ("wrote 42 bytes", "[image/png,
    # 4035 bytes]") is a function of the data the action read or wrote, as ls -l's and wc -c's plain numbers are
    # (never masked): content. (Audit of the 2026-11-27 run: the 2 exact counts were fixed by fixtures. Most of the
    # 30 rounded sizes were too, but in fresh sandboxes, where they move least; a masked size that happens to be
    # stable costs the RL check one value, which must still be a size, while an unmasked one that moves makes the
    # reference wrong.) The digits finder still offers "b" after digits as it did for "bytes": a test too loose.
    # A filesystem's size, though, is a setting (a tmpfs's size=130m, a disk's size), the same on every run: df -h's
    # Size column (the size that two sizes, Used and Avail, and a Use% follow: "tmpfs  130M  348K  130M   1% /work")
    # and a file manager's "(Total: 128.0 MiB)" after its free space. Content (kind None), before the byte size form
    # it would otherwise be; Used and Avail stay volatile (fourth output audit: replays reproduced the 8 Sizes).
    (None, rf"(?:(?<=\(Total: {_D})|(?={_SIZE_REST} +{_DF_FIGURE} +{_DF_FIGURE} +{_D}{{1,3}}%(?!\S))){_SIZE_REST}"),
    ("byte_size", _SIZE_REST),
)

_COLON_FORMS = range(1, 3)  # DIGIT_FORMS[1:3], the times: each starts with at most one more digit and H:MM:SS


def _digit_alternatives() -> list[str]:
    """The digits rule's alternatives: a group d{i} per form of DIGIT_FORMS, in order, the times behind one test for
    their H:MM:SS (a number with no such time after it, most of them, then fails them all at once)."""
    groups = [f"(?P<d{i}>{rest})" for i, (_, rest) in enumerate(DIGIT_FORMS)]
    times = "|".join(groups[i] for i in _COLON_FORMS)
    return [*groups[:_COLON_FORMS.start], rf"(?={_D}?:{_D}{{2}}:{_D}{{2}})(?:{times})", *groups[_COLON_FORMS.stop:]]


# ---- the figures of uptime's, top's and free's summary lines (the usage rules of RULES) ----------------------------
# A figure's span holds the padding it is right-aligned in, since that moves with the figure's width: uptime prints
# "up %2d:%02d" ("up  2:16," / "up 12:16,"), top prints "%Cpu(s):%5.1f us,%5.1f sy" ("%Cpu(s):  0.0 us, 14.3 sy",
# "%Cpu(s):100.0 us,100.0 sy") and free " %11s" per column. So a figure has every space before it up to a colon, a
# comma or a period (top glues the figure to the label's punctuation when it fills its width), and all but one
# after a word or another figure (free's and BSD's separating space, as a column's in the process tables): each of
# "%Cpu(s):  0.0 us, 14.3 sy" and "%Cpu(s):100.0 us,  0.0 sy" masks to "%Cpu(s):<usage> us,<usage> sy".
_LOAD = rf"{_D}+[.,]{_D}+"
# Between two figures: a label ending in punctuation (" us,", " total,", " used."), or one space.
_FIGURE_GAP = rf"(?:,| [^0-9\s][^0-9\n]*?[,.:]|(?<=\w) )"
# A summary figure: a count, a share or an amount, with free -h's unit ("23Gi", "0B") or old top's ("2055556k").
_SUMMARY_FIGURE = rf"{_D}+(?:[.,]{_D}+)?(?:[kKMGTPE]i?|B)?"
_MOST_SUMMARY_FIGURES = 12  # top's %Cpu line has 8, free -w's Mem line 7; a line with more is not masked


def _figures(figure: str, most: int) -> str:
    """A run of 1 to most figures, each in a group v0, v1... with its padding, with _FIGURE_GAP between them."""
    run = ""
    for k in reversed(range(1, most)):
        run = rf"(?:{_FIGURE_GAP}(?P<v{k}> *{figure}){run})?"
    return rf"(?P<v0> *{figure}){run}"


# A day of the week, named in full or cut to three letters.
_WEEKDAY = r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)"
# The starts of what a rule masks as a date or a timestamp, after a day's name: an ISO date (alone or with a time),
# "27 Nov 2026", ls's and last's "Nov 27 03:04".
_DATE_AFTER_WEEKDAY = (rf"(?:{_D}{{4}}-{_D}{{2}}-{_D}{{2}}(?:\b|T{_D}{{2}}:{_D}{{2}})|{_D}{{1,2}} {_MONTH} {_D}{{4}}\b"
                       rf"|{_MONTH} +{_D}{{1,2}} +{_D}{{2}}:{_D}{{2}}\b)")
# An ISO date right before a day's name: "2026-11-27 Friday", "2026-11-27, Fri", "2026-11-27 (Friday)".
_DATE_BEFORE_WEEKDAY = "|".join(rf"(?<=(?<!\w){_D}{{4}}-{_D}{{2}}-{_D}{{2}}{gap})" for gap in (" ", ", ", r" \("))

# A temp path component (between slashes) that looks generated: what mktemp, tempfile, mkdtemp, pytest or a pid
# suffix would put there, not a name a task or fixture chose. Any one of:
# - a run of 6+ letters and digits in which letters and digits alternate at least three times (u17r31m8,
#   3f9a2b1c0d, a UUID's groups), or that mixes upper case, lower case and digits with no 3 lower case letters in a
#   row (Xa81bC, Node's mkdtemp); "sha256sums", "x11vnc", "Version2Final" stay content (v1beta1 does not);
# - a number of 5+ digits (a pid suffix, Go's MkdirTemp, a date stamp): "foo-12345", "go-build2871639";
# - Python tempfile's name: "tmp" then 8 of [a-z0-9_] with a digit or an inner "_" (tmpk2j_x9ab, tmpq1w2e3r4.txt),
#   or, after a prefix, 8 such characters ending the component in which letters and digits alternate
#   ("wl-mcp-everything-u17r31m8", "pip-req-build-k2j_x9ab"; "my_file_01" is content);
# - mktemp's "tmp." then 6+ letters and digits, one of them a digit or upper case (tmp.Xa81bC);
# - pytest's numbered base directory "pytest-3" ("pytest-of-root" is the fixed user part).
# Measured on random names: tempfile 93%, tempfile with a prefix 81%, mktemp 100%, Go 100%, UUIDs and hex ids ~100%,
# Node's 6 characters ~55% (a random 6-character name often looks like a word with a digit).
_IN_PATH = r"[^\s'\"`:;,)\]}\\/]"  # a path character other than "/"
_RANDOM_RUN = (r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]{6})"
               r"(?:(?=[A-Za-z0-9]*?(?:[A-Za-z][0-9]+[A-Za-z]+[0-9]|[0-9][A-Za-z]+[0-9]+[A-Za-z]))"
               r"|(?=[A-Za-z]*[0-9])(?=[a-z0-9]*[A-Z])(?=[A-Z0-9]*[a-z])(?![A-Za-z0-9]*?[a-z]{3}))")
_TEMPFILE_TAIL = r"(?=[a-z0-9_]{0,5}(?:[a-z][0-9]+[a-z]|[0-9][a-z]+[0-9]))[a-z0-9_]{8}"
GENERATED = (rf"(?:{_IN_PATH}*?(?:{_RANDOM_RUN}|(?<![0-9])[1-9][0-9]{{4}}|[-_.]{_TEMPFILE_TAIL}(?!{_IN_PATH}))"
             r"|tmp(?=[a-z0-9_]{0,7}[0-9]|[a-z0-9_]{1,7}_)[a-z0-9_]{8}(?![A-Za-z0-9_])"
             r"|tmp\.(?=[A-Za-z0-9]*?[0-9A-Z])[A-Za-z0-9]{6,}(?![A-Za-z0-9])"
             rf"|pytest-[0-9]+){_IN_PATH}*(?!{_IN_PATH})")
_GENERATED_NAME = re.compile(GENERATED)

# (kind, pattern, finder, check), in priority order: where matches start at the same place the earlier rule wins,
# so the longer, more specific forms come first (a UUID before its hex groups, a temp path before the hex id inside
# it). The pattern is tried only where its finder (one of _masking.FINDERS, all run in one pass over the text in C)
# says a match may start: most observations lack most kinds, and a screen's few candidates cost less than a regex
# scan per rule. Where a pattern has a group `v`, only that group is volatile (the number after "pid ", not the
# word); where it has groups v0, v1..., each of them that matched is a span. `check`, if any, must accept the
# matched text. A rule of kind None finds content: its match masks nothing, but keeps the later rules' matches at
# and inside it out.
RULES = (
    # What a machine reports of its own load, which moves with time and with everything else running on it: uptime
    # and load averages (uptime, w, top), top's task and CPU lines, top's and free's memory lines. First: a number in
    # them would otherwise start a duration ("1.2 us" is top's user CPU share) or a byte size. Each figure is a span
    # of its own (the groups v0, v1...: see _figures); the labels between them ("user", "load average:", "total,",
    # "us,", "buff/cache") are content, and so are the units of uptime's own ("up 1 day, 10:59", "up 2 days, 45
    # min": the days, the hours and minutes, the minutes are figures; "day,", "min" are labels).
    ("usage", rf"u{_B.format('u')}p (?:(?P<v0> *{_D}+) days?,(?= ))?(?:(?P<v1> *{_D}{{1,2}}:{_D}{{2}})"
              rf"|(?P<v2> *{_D}+) min),(?:(?P<v3> +{_D}+) users?,)? +load averages?:(?P<v4> +{_LOAD})"
              rf"{_FIGURE_GAP}(?P<v5> *{_LOAD}){_FIGURE_GAP}(?P<v6> *{_LOAD})", "up_time", None),
    # Content (None): the total of top's and free's memory and swap lines ("MiB Mem :    512.0 total,", free's first
    # column "Mem:     524288     5732 ..."), which is the container's memory cap (lxcfs shows it) or the machine's
    # RAM, a setting; its used, free and available figures are usage. Only a first figure labeled total or in
    # free's unlabeled columns: BusyBox's top leads with "Mem: 473784K used,". Before the rule below, whose figure
    # it is too, with the same padding. (Tasks' total is a process count, which moves: usage.)
    (None, rf"^(?:[KMGTPE]iB )?(?:Mem|Swap) *:(?P<v> *{_SUMMARY_FIGURE})(?= +[Tt]otal\b| +{_D}|[ \t\r]*$)",
     "memory_total", None),
    ("usage", rf"^(?:(?:Tasks|Threads):(?= *{_D}+ total,)|%Cpu{_D}*(?:\(s\))?:|(?:[KMGTPE]iB )?(?:Mem|Swap) *:)"
              rf"{_figures(_SUMMARY_FIGURE, _MOST_SUMMARY_FIGURES)}(?: [^0-9\s][^0-9\n]*)?(?=[ \t\r]*$)",
     "usage_line", None),
    ("uuid", rf"{_H}{_B.format(_H)}{_H}{{7}}-{_H}{{4}}-{_H}{{4}}-{_H}{{4}}-{_H}{{12}}\b", "uuid", None),
    # Content, not a kind (None: masks nothing, but its match keeps the digits rule's duration at the same place
    # out): a duration that is a setting, the same every run, not a measurement. The number in the notices a command
    # or a call that ran out of time ends with (SWE-agent's "The command was cancelled because it took more than 30
    # seconds.", the mcp client's "Request 'tools/call' timed out after 30 s"), the value of a timeout or interval
    # key or option ("timeout=5000ms", "--timeout 30s", "read_timeout: 5s", '"interval": "60 s"', "INTERVAL = 2s"),
    # of a delay or a time to live ("--delay 2s", "retry_delay=5s", "ttl: 300s", '"TTL": "60s"': a configured wait
    # or lifetime, echoed) and the argument of sleep ("sleep 0.5s"). So is the wait a server or a client asks for
    # before the next try ("Rate limited: retry after 60 s", "Retry-After: 30s", "retry_after=5s"): a policy's
    # value, where "Retrying in 2.5s" (a backoff, often jittered) stays volatile. So is the window of a rate limit
    # ("at most 2 calls per 60 s", "1 request per 0.5 seconds"): a measured rate puts its unit after the figure
    # ("12.3 MB/s", "253 nsec per loop"), not a duration after "per". Other words before a duration say it was
    # measured ("in 0.52s", "took 3.1 seconds", "real 0m1.2s", "timed out after 30.2s"): those stay volatile. Tried
    # only where the setting finder saw those words right before a number (the lookbehinds would cost every duration
    # 36 tests).
    (None, "(?:" + "|".join(rf"(?<={before})" for before in (
        "took more than ", "' timed out after ", "sleep ", r"\b[Pp]er ",
        *(_any_case(key) + separator for key in _SETTING_KEYS
          for separator in (r"[=: ]", r"(?:: |=[\"'])", r"(?:: \"| = |\":\")", r"(?:\": \"| = \")"))))
     + rf"){_D}(?:{_D}*m{_D}+(?:\.{_D}+)?s\b|{_DURATION_REST})", "setting", None),
    # An elapsed or remaining time with colons, by what is next to it (see DIGIT_FORMS): after "Elapsed: ", "eta "...
    # (_ELAPSED_BEFORE), before "elapsed" (GNU time), as tqdm's "[00:01<00:02, ...]". A 12-hour clock's suffix still
    # makes it a time of day. Before the digits rule, whose match at the same place it overrides, and tried only
    # where the elapsed finder saw one of those next to a number. It is a form of the digits rule split off: the two
    # share one reach (_masking.c), so neither is tried inside the other's match.
    ("duration", rf"{_D}{_B.format(_D)}(?!{_TWELVE_HOUR})(?:(?:{_ELAPSED_BEFORE}){_CLOCK_REST}{_FRACTION}\b"
                 rf"|{_CLOCK_REST}(?:\.{_D}{{1,20}})?(?=elapsed\b)|(?<=\[{_D}){_CLOCK_REST}(?=<)"
                 rf"|(?<={_D}<{_D}){_CLOCK_REST}(?=[,\]]))", "elapsed", None),
    ("digits", rf"{_D}{_B.format(_D)}(?:" + "|".join(_digit_alternatives()) + ")", "digits", None),
    # date(1), and JavaScript's Date.toString with the year before the time ("Fri Nov 27 2026 00:35:13 GMT").
    ("timestamp", rf"{_DAY},? +{_MONTH} +{_D}{{1,2}},?(?: +{_D}{{4}})? +{_D}{{2}}:{_D}{{2}}:{_D}{{2}}"
                  rf"(?: +[A-Z]{{2,5}})?(?: +{_D}{{4}})?\b", "day_date", None),
    ("timestamp", rf"{_MONTH} +{_D}{{1,2}} +{_D}{{2}}:{_D}{{2}}(?::{_D}{{2}})?\b", "month_time", None),  # ls, syslog
    # Python's reprs of a clock reading, as a REPL or a log of objects prints them: datetime.datetime(2026, 11, 28, 2,
    # 25, 38, 558825) (seconds and microseconds left out when 0), datetime.time(2, 25, 38) and time.struct_time(
    # tm_year=2026, ..., tm_yday=332, tm_isdst=0). Their hour and minute are plain numbers no other rule reads as a
    # time, and a replay seconds later reads them the same. The span is the fields, from the first to the day of
    # the year (struct_time's tm_isdst is the zone's, a setting), the module's and the fields' names in it included:
    # a prediction must hold the same names. A tzinfo or fold after the fields is content.
    ("timestamp", rf"(?:d{_B.format('d')}atetime\.datetime\((?P<v0>{_D}{{4}}(?:, {_D}{{1,2}}){{4}}"
                  rf"(?:, {_D}{{1,2}}(?:, {_D}{{1,6}})?)?)|d{_B.format('d')}atetime\.time\((?P<v1>{_D}{{1,2}}, "
                  rf"{_D}{{1,2}}(?:, {_D}{{1,2}}(?:, {_D}{{1,6}})?)?)|t{_B.format('t')}ime\.struct_time\(tm_year="
                  rf"(?P<v2>{_D}{{4}}, tm_mon={_D}{{1,2}}, tm_mday={_D}{{1,2}}, tm_hour={_D}{{1,2}}, tm_min={_D}{{1,2}}"
                  rf", tm_sec={_D}{{1,2}}, tm_wday={_D}, tm_yday={_D}{{1,3}})(?=, tm_isdst=))(?=[,)])", "py_clock",
     None),
    # datetime.date(2026, 11, 28): a date.
    ("date", rf"d{_B.format('d')}atetime\.date\((?P<v>{_D}{{4}}, {_D}{{1,2}}, {_D}{{1,2}})\)", "py_date", None),
    # The day of the week of a date the rules mask ("Friday, 2026-11-27", "Fri, 27 Nov 2026 03:04:02 GMT" as HTTP's
    # Date and date -R print it, "2026-11-27 (Friday)", last's "Fri Nov 27 03:04"): it changes with the date. Only
    # next to such a date: "closed on Sunday" is content. (date(1)'s day name is in the rule above's span.) The JSON
    # form, "day_of_week": "Friday" in the object of a masked "datetime" (the mcp time server), is found by a second
    # pass (_weekday_key_spans).
    ("date", rf"\b(?:{_DATE_BEFORE_WEEKDAY}|(?={_WEEKDAY},? {{1,2}}{_DATE_AFTER_WEEKDAY}))(?P<v>{_WEEKDAY})\b",
     "weekday", None),
    ("timestamp", rf"1{_B.format('1')}[5-9]{_D}{{8}}(?:\.{_D}+)?\b", "unix_seconds", None),  # 2017..2033
    # Only the generated part of a temp path (see GENERATED): from its first generated component to its last one.
    # "/tmp/workspace/plan.md", a name the task chose, is content. A backslash ends the path: in JSON-escaped text
    # (tool results) it starts "\n" or "\t", not a path character.
    ("temp_path", rf"(?:/tmp|/var/tmp|/dev/shm|/private/var/folders)(?:/{_IN_PATH}*)*?"
                  rf"/(?P<v>{GENERATED}(?:(?:/{_IN_PATH}*)*/{GENERATED})?)", "temp_dir", None),
    # A bare temp name ("tmpq1w2e3r4") under the same test: "tmp_output_dir" is content.
    ("temp_path", rf"tmp{_B.format('tmp')}[a-zA-Z0-9_]{{6,}}\b", "tmp_name",
     lambda word: _GENERATED_NAME.fullmatch(word) is not None),
    # One rule per word rather than one alternation: no match of one can start inside a match of another, so they
    # find the same matches.
    *(("pid", rf"{word}(?:[=:] ?| )(?P<v>{_D}{{1,7}})\b", finder, None)
      for word, finder in (("pid", "pid_word"), ("PID", "pid_upper"), ("process", "process_word"))),
    # Shell job control: [1] 12345. `(?<!.\[)` is `^` (MULTILINE) spelled after the "[": `.` is anything but a
    # newline. A line also starts after an escaped newline, a backslash and an "n": the os-desktop collector writes
    # a terminal's text as one AT-SPI cell with its newlines so escaped (`galculator &\n[1] 106\nuser@desktop:~$`),
    # as JSON does a tool's output; schemas/render/os.py doubles the text's own backslashes, so one doubled before
    # "n" is no newline. There the pid must also end its line (_ESCAPED_LINE_END), as bash prints it: "[1] 2015
    # paper" after an escaped newline may be a footnote.
    ("pid", rf"\[(?:(?<!.\[)|(?<=(?<!\\)\\n\[)(?={_D}{{1,3}}\] {_D}{{1,7}}{_ESCAPED_LINE_END})){_D}{{1,3}}\] "
            rf"(?P<v>{_D}{{1,7}})\b", "shell_job", None),
    # Only ephemeral-range ports: fixed service ports are content.
    ("port", rf"(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::\]):(?P<v>[1-5]{_D}{{4}}|6[0-5]{_D}{{3}})\b",
     "local_port", None),
    ("port", rf"port (?P<v>[1-5]{_D}{{4}}|6[0-5]{_D}{{3}})\b", "port_word", None),
    ("hex_id", rf"0x{_H}{{4,}}\b", "hex_literal", None),
    # A commit id where git prints one, whatever its digits: an abbreviated id is all digits 3.7% of the time (4997019)
    # and all letters 0.1% (deadbee), which the hex_word rule below takes for numbers and words. git commit's (and
    # cherry-pick's, revert's) summary "[main 4997019] message", "[main (root-commit) 4997019] ...", "[detached HEAD
    # 4997019] ..."; "HEAD is now at 4997019", "HEAD detached at 4997019", "Previous HEAD position was 4997019";
    # "commit 4997019"; a decorated --oneline line "4997019 (HEAD -> main) ...", "4997019 (tag: v1) ...". The other
    # lines of git log --oneline (and of git branch -v) name nothing git-specific: a second pass reads them under
    # their command (_command_spans).
    ("hex_id", r"\[(?<!.\[)(?:detached HEAD|[\w./+-]+(?: \(root-commit\))?) (?P<v>[0-9a-f]{7,40})\] ", "git_summary",
     None),
    # The other places git 2.39 prints an abbreviated commit id (each seen in a scratch repo), a span per id (v0...):
    # after "HEAD is now at", "HEAD detached at"/"from", "HEAD position was", "commit" (git status's "You are
    # currently cherry-picking commit 4997019."), "rebase in progress; onto"; before "..." after "could not apply"
    # and "Stopped at" (cherry-pick, rebase); "rebasing branch 'topic' on '4997019'."; a rebase todo line ("pick
    # 4997019 msg", as the editor and git status show it); before " (HEAD", " (tag: " and a reflog selector
    # ("4997019 HEAD@{1}: commit: ...", "4997019 main@{0}: ..."); the two of merge's and pull's "Updating
    # 3603180..4209338" and of push's and fetch's "   3603180..4209338  main -> main" (" + a...b" when forced);
    # stash's "WIP on main: 4997019 msg" (git stash, git stash list), "index on main: ..." and "untracked files on
    # main: ..." (its commits' messages); git describe's "v1.0-3-g4997019"; the id leading a line of git blame,
    # read without the command on screen since blame's output is long ("86067227 (Ann Author 2026-11-27 ... 2) x",
    # "^5316367 (..." for a boundary commit: blame pads ids to 8 characters, a ^ taking the first; "86067227  2) x"
    # under -s, whose bare line number an id-shaped number rarely leads: _BLAME_BARE_AFTER). Not: a stash's
    # own message ("On main: 1234567 msg" is what the user wrote), "Updating 3 files", bisect's full ids (40 digits
    # are never all digits), blame's "00000000 (Not Committed Yet ...", the same on every run.
    ("hex_id", rf"(?P<v0>[0-9a-f]{_B.format('[0-9a-f]')}(?:(?:{_GIT_ID_AFTER})[0-9a-f]{{6,39}}\b"
               rf"|(?:(?<=[Cc]ould not apply .)|(?<=Stopped at .))[0-9a-f]{{6,39}}(?=\.\.\.)"
               rf"|(?<=' on '.)[0-9a-f]{{6,39}}(?=')|(?:{_GIT_TODO})[0-9a-f]{{6,39}}(?= )"
               r"|[0-9a-f]{6,39}(?= \((?:HEAD|tag: )| [^\s@{}]+@\{[^}\n]*\}: )"
               rf"|(?:(?<=^.)|(?<=^\^.))(?!(?<=0)0{{6,39}}\b)[0-9a-f]{{6,39}}"
               rf"(?={_BLAME_AFTER}|{_BLAME_BARE_AFTER})))"
               rf"|(?<=^Updating )(?P<v1>{_COMMIT})\.\.(?P<v2>{_COMMIT})(?=[ \t\r]*$)"
               rf"|(?<=^ [ +] )(?P<v3>{_COMMIT})\.\.\.?(?P<v4>{_COMMIT})(?= +\S+ +-> )"
               rf"|\b(?:WIP|index|untracked files) on (?:\(no branch\)|[^\s:]+): (?P<v5>{_COMMIT})\b"
               rf"|-g(?<=[0-9]-g)(?P<v6>{_COMMIT})\b", "git_id", None),
    # Content (None): the two blob ids of a diff's "index 814f4a4..ddc897f 100644" line (and a merge's three, "index
    # 1234567,89abcde..fedcba9") are hashes of the file's content before and after, the same on every run that
    # shows the same diff (the 2026 audit: every replay reproduced them). Only a line of exactly git's form.
    (None, r"^index [0-9a-f]{7,64}(?:,[0-9a-f]{7,64})*\.\.[0-9a-f]{7,64}(?: [0-7]{6})?(?=[ \t\r]*$)", "git_index",
     None),
    # Git shas, container ids: lowercase hex with both digits and letters (so "facade" and "2026" stay content).
    ("hex_id", r"\b[0-9a-f]{7,64}\b", "hex_word", lambda token: not token.isdigit() and not token.isalpha()),
)
KINDS = tuple(dict.fromkeys([kind for kind, *_ in RULES if kind not in ("digits", None)]
                            + [kind for kind, _ in DIGIT_FORMS if kind is not None]))
_DIGIT_KIND = {f"d{i}": kind for i, (kind, _) in enumerate(DIGIT_FORMS)}


def _compiled(kind: str, pattern: str, finder: str, check):
    """A rule as _masking.mask_group takes it: (pattern.match, finder index, value groups, kind or for the digits
    rule a dict from the matched form's group name to its kind, check or None). The value groups are the group
    number of `v`, or a tuple of the numbers of v0, v1... (a span each, for those that matched), or None."""
    compiled = re.compile(pattern, re.MULTILINE)
    figures = tuple(number for name, number in compiled.groupindex.items() if re.fullmatch(r"v[0-9]+", name))
    return (compiled.match, _masking.FINDERS.index(finder), figures or compiled.groupindex.get("v"),
            _DIGIT_KIND if kind == "digits" else kind, check)


_COMPILED = tuple(_compiled(*rule) for rule in RULES)


def _replaced(text: str, spans) -> str:
    parts, position = [], 0
    for start, end, kind in spans:
        parts.append(text[position:start])
        parts.append(f"<{kind}>")
        position = end
    parts.append(text[position:])
    return "".join(parts)


# ---- process tables: the pid columns of ps, top, lsof, docker top ----------------------------------------------
# No line says that the 18 of "root  18  0.0  0.0 2920 1744 pts/0 S 01:30 0:00 sleep 1000" is a pid: its table's
# header does. So the rules above cannot find it, being line-local, and a second pass does, on each text where the C
# pass saw "PID" before a space, "=" or ":" (see _masked_group): it finds header lines (upper-case column names only,
# one of them a pid column) and masks the pid columns' values in the rows under them. A row is read as
# whitespace-separated fields, the n-th under the n-th name: the columns before a pid column hold one word each in
# ps, top, lsof and docker top output, and a value wider than its column (a long user name) still counts right.
# The table ends at the first line whose field under the first pid column is not a number (the next prompt, a blank
# line), except for a row the terminal wrapped: a line under a row that is as long as the longest line of the text
# (the screen's width) may be the row's continuation, and the rows after it go on only if their pid ends in the same
# column as the last row's (ps and top right-align it), so the output of a command after a truncated row is not read
# as rows. The same rows' CPU, memory and time columns are masked too, as "usage": they move with the machine's load
# (a process's RSS differs by some pages from run to run of the same command). A time column's value is cumulative
# CPU time (TIME, TIME+) or time since the start (ELAPSED), "[DD-]hh:mm:ss" as ps prints both: the digits rule reads
# "00:00:01" as a clock time, so the column's usage span replaces a rule's time span inside it (see
# _with_second_passes).
_PID_COLUMNS = ("PID", "PPID", "PGID", "SID", "TPGID", "LWP", "SPID", "TGID")
_USAGE_COLUMNS = ("%CPU", "%MEM", "C", "CPU", "VSZ", "RSS", "SZ", "VIRT", "RES", "SHR", "START", "STIME", "TIME",
                  "TIME+", "ELAPSED")
# A figure, or ps's "1-02:03:04" (a day and a time) and "Nov26" (a start before today, as the ps_row pass reads it).
_USAGE_VALUE = re.compile(rf"(?:[0-9]+-)?[0-9][0-9.:,]*[kmgtpKMGTP]?|{_MONTH}[0-9]{{2}}")
_HEADER_NAME = r"[A-Z%][A-Z0-9%+_/:.()-]*"
_TABLE_HEADER = re.compile(rf"^[ \t]*(?:{_HEADER_NAME}[ \t]+)*(?:{'|'.join(_PID_COLUMNS)})(?:[ \t]+{_HEADER_NAME})*"
                           r"[ \t\r]*$", re.MULTILINE)
_FIELD = re.compile(r"\S+")
_PID_VALUE = re.compile(r"[0-9]{1,7}")


def _table_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each value in a pid ("pid") or usage ("usage") column of a process table in text."""
    spans, width = [], None
    for header in _TABLE_HEADER.finditer(text):
        names = header.group().split()
        columns = [k for k, name in enumerate(names) if name in _PID_COLUMNS]
        # Not the last column: a command line there may hold any words.
        usage = [k for k, name in enumerate(names[:-1]) if name in _USAGE_COLUMNS]
        first, pid_column, wrapped = columns[0], None, False
        line_start, previous_length = header.end() + 1, len(header.group())
        while line_start <= len(text):
            line_end = text.find("\n", line_start)
            line_end = len(text) if line_end < 0 else line_end
            fields = [field.span() for field in _FIELD.finditer(text, line_start, line_end)]
            if (len(fields) > first and _PID_VALUE.fullmatch(text, *fields[first])
                    and (not wrapped or fields[first][1] - line_start == pid_column)):
                spans += [(*_padded_field(fields, k, line_start), "pid") for k in columns
                          if k < len(fields) and _PID_VALUE.fullmatch(text, *fields[k])]
                spans += [(*_padded_field(fields, k, line_start), "usage") for k in usage
                          if k < len(fields) and _USAGE_VALUE.fullmatch(text, *fields[k])]
                pid_column, wrapped = fields[first][1] - line_start, False
            elif pid_column is not None and previous_length >= (width := width or _width(text)):
                wrapped = True
            else:
                break
            previous_length = len(text[line_start:line_end].rstrip("\r"))
            line_start = line_end + 1
    return spans


def _padded_field(fields: list[tuple[int, int]], k: int, line_start: int) -> tuple[int, int]:
    """The span of the k-th of a line's fields with the padding before it (see _padded): from the space after the
    field before, or from the line's start."""
    return fields[k - 1][1] + 1 if k else line_start, fields[k][1]


def _width(text: str) -> int:
    """The length of the longest line of text: a screen's width, if a line filled it."""
    return max(len(line.rstrip("\r")) for line in text.split("\n"))


# ---- process rows without their header: ps aux | grep, ps -ef | grep --------------------------------------------
# `ps aux | grep sleep` prints the rows without the header that _table_spans reads them under. A row is still
# unambiguous when the whole line has the column shape of ps aux (or ps u: USER PID %CPU %MEM VSZ RSS TTY STAT
# START TIME COMMAND) or of ps -ef (UID PID PPID C STIME TTY TIME CMD): a user name or uid, the pid, then exactly
# those numeric, tty, state and time columns in that order, then the command. Its pid and usage columns are masked
# as under a header (the same columns: _PID_COLUMNS, _USAGE_COLUMNS). The pass runs on the texts where the ps_row
# finder of _masking.c saw a line start with a name, spaces, a number (the candidate), spaces and a digit. Not
# read: rows of other layouts (top's, ps's default PID TTY TIME CMD, BusyBox's), which start with the pid, as many
# numbered lines do.
_PS_USER = r"(?:[a-z_][a-z0-9_.-]{0,31}[$+]?|[0-9]{1,10})"  # ps cuts a long name to 7 characters and "+"
_PS_TTY = r"(?:\?|[A-Za-z]+[0-9]*(?:/[0-9]+)?)"  # ?, pts/0, tty1, ttyS0, console
_PS_STARTED = rf"(?:{_D}{{2}}:{_D}{{2}}|{_MONTH}{_D}{{2}}|{_D}{{4}})"  # today, this year, before
_PS_ROW = re.compile(
    rf"^{_PS_USER} +(?P<pid>{_D}{{1,7}}) +(?:"
    rf"(?P<cpu>{_D}{{1,4}}\.{_D}) +(?P<mem>{_D}{{1,3}}\.{_D}) +(?P<vsz>{_D}{{1,12}}) +(?P<rss>{_D}{{1,12}})"
    rf" +{_PS_TTY} +[DIPRSTWXZt][<NLsl+]* +(?P<start>{_PS_STARTED}) +(?P<time>{_D}{{1,6}}:{_D}{{2}})"
    rf"|(?P<ppid>{_D}{{1,7}}) +(?P<c>{_D}{{1,3}}) +(?P<stime>{_PS_STARTED}) +{_PS_TTY}"
    rf" +(?P<cputime>(?:{_D}{{1,4}}-)?{_D}{{2}}:{_D}{{2}}:{_D}{{2}})"
    r")(?= +\S)", re.MULTILINE)
_PS_ROW_KINDS = tuple((_PS_ROW.groupindex[group], kind) for group, kind in (
    ("pid", "pid"), ("cpu", "usage"), ("mem", "usage"), ("vsz", "usage"), ("rss", "usage"), ("start", "usage"),
    ("time", "usage"), ("ppid", "pid"), ("c", "usage"), ("stime", "usage"), ("cputime", "usage")))


def _ps_row_spans(text: str, pids: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each value in a pid ("pid") or usage ("usage") column of a headerless ps row whose pid
    may start at one of pids (the ps_row finder's candidates: only those lines are read)."""
    spans = []
    for pid in pids:
        row = _PS_ROW.match(text, text.rfind("\n", 0, pid) + 1)
        if row is not None and row.start("pid") == pid:
            regs = row.regs
            spans += [(*regs[group], kind) for group, kind in _PS_ROW_KINDS if regs[group][0] >= 0]
    return spans


# ---- rows whose columns their command names: ps -o, git log --oneline ------------------------------------------
# `ps -eo pid,comm | grep sleep` prints "   4242 sleep": no header, and a line of a number and a word is what wc -l,
# uniq -c, du, cat -n and numbered lists print too, so such a line alone says nothing. A terminal's screen shows
# the command above its output, though, and the command names the columns: the pass reads the lines right after a
# ps command line with a format list (-o, -eo, -axo, --format, BSD's "axo") as rows of those columns, and the lines
# after a git command that prints one commit id at the start of each line (log --oneline, log --format=%h...,
# reflog, rev-parse) as rows led by an id, and those after git branch -v (-vv, --verbose) as rows of a branch's name
# and its commit's id ("* main 4997019 msg", "  (HEAD detached at 4997019) 4997019 msg"), and those after git
# worktree list as rows of a path and its HEAD's id ("/work/wt  4997019 [feat]"), up to the first line that is not
# such a row (the next prompt). The output must reach the screen as the command printed its lines: a pipe
# only into grep (not a count), head, tail, sort or less, no redirection. A ps row's columns are read up to the first
# whose value may hold spaces (comm, args) or that the pass does not know, and the row must have a value of each kind
# there (a pid of 1 to 7 digits, a usage figure); a first line that is no row is skipped once as the header (the
# table pass reads a header it knows). The pass runs on the texts where the command finder of _masking.c saw "ps "
# or "git " start a word.
_PS_FORMAT_KINDS = {
    **dict.fromkeys(("pid", "ppid", "pgid", "pgrp", "sid", "sess", "session", "tpgid", "lwp", "spid", "tid", "tgid"),
                    "pid"),
    **dict.fromkeys(("%cpu", "pcpu", "%mem", "pmem", "c", "vsz", "vsize", "rss", "rssize", "rsz", "sz", "stime",
                     "start_time", "time", "cputime", "etime", "etimes"), "usage"),
    # One word each, content.
    **dict.fromkeys(("user", "euser", "ruser", "uid", "euid", "ruid", "group", "egroup", "gid", "egid", "tty", "tt",
                     "tname", "stat", "s", "state", "ni", "nice", "pri", "nlwp", "psr", "f"), None),
}
_PS_FORMAT_OPTION = re.compile(r"-[A-Za-z]*o|--format")  # the list is the next word
_PS_FORMAT_JOINED = re.compile(r"-o(?P<list>.+)|--format=(?P<list2>.+)")
_BSD_FORMAT_OPTION = re.compile(r"[A-Za-z]*o")  # "axo", "o": BSD options, only as ps's first word
_GIT_ID_FORMAT = re.compile(r"(?:--oneline|--(?:pretty|format)=(?:oneline|(?:t?format:)?%[hH]\b.*))")
_GIT_VERBOSE = re.compile(r"-[A-Za-z]*v[A-Za-z]*|--verbose")
_PIPED_INTO = frozenset(("grep", "egrep", "fgrep", "head", "tail", "sort", "less", "more", "cat"))
_COUNTING = re.compile(r"-[A-Za-z]*c[A-Za-z]*|--count|-[A-Za-z]*[lL][A-Za-z]*")  # grep -c, -l: no rows
# What a command the pass reads has on its line: a ps format option, a git subcommand printing commit ids. The
# command finder of _masking.c offers only the commands with one (most, "git status", have none).
_COMMAND_CUE = re.compile(r"ps [^\n\0]*?(?<!\S)(?:-[A-Za-z]*o|--format|[A-Za-z]*o(?= ))"
                          r"|git [^\n\0]*?(?<!\S)(?:log|reflog|rev-parse|branch|worktree)\b")
_QUOTING = re.compile(r"['\"\\]")
_COMMAND_AFTER = ("$ ", "# ", "% ", "> ", "&& ", "; ", "sudo ")
_COMMAND_END = re.compile(r"&&|\|\||;|\r?$", re.MULTILINE)
_GIT_ROW = re.compile(r"[*|\\/_ ]*(?P<v>[0-9a-f]{7,40})(?= |\r?$)|[*|\\/_ ]*[*|\\/_][*|\\/_ .-]*\r?$")
# A row of git branch -v: "*" (the current branch), "+" (checked out in another worktree) or a space, the branch's
# name padded to the longest, its commit's id; a symbolic ref ("  remotes/origin/HEAD -> origin/main") has none.
_GIT_BRANCH_ROW = re.compile(r"[*+ ] (?:\([^)\n]*\)|\S+) +(?P<v>[0-9a-f]{7,40})(?= |\r?$)|  \S+ -> \S+\r?$")
# A row of git worktree list: the worktree's path padded to the longest, its HEAD's id, then its branch or that it
# is detached ("/work/wt  8606722 [feat]", "/work/wt2 8606722 (detached HEAD)"); a bare repository's has none.
_GIT_WORKTREE_ROW = re.compile(r"\S.*? +(?:(?P<v>[0-9a-f]{7,40})(?= \[[^\]\n]+\]| \(detached HEAD\))|\(bare\)\r?$)")
_LINE_FIELD = re.compile(r"[^ \t\r]+")


def _command_words(text: str, start: int) -> list[str] | None:
    """The words of the command at start (up to a pipe, "&&", ";" or the line's end) when a command starts there
    (at its line's start or after a prompt, "&&", ";" or sudo: not as "echo ps" or "man git" does) and its output
    reaches the screen as the command printed it, else None (a redirection, a pipe into another command, words
    shlex cannot split)."""
    line_start = text.rfind("\n", 0, start) + 1
    if start > line_start and not text.endswith(_COMMAND_AFTER, line_start, start):
        return None
    end = _COMMAND_END.search(text, start).start()
    line = text[start:end]
    try:  # shlex only where quotes or escapes need it: it costs ~10 us a line
        stages = [shlex.split(stage) if _QUOTING.search(stage) else stage.split() for stage in line.split("|")]
    except ValueError:
        return None
    if any(">" in word for stage in stages for word in stage) or not all(stages):
        return None
    for stage in stages[1:]:
        if stage[0] not in _PIPED_INTO or (stage[0].endswith("grep") and any(map(_COUNTING.fullmatch, stage[1:]))):
            return None
    return stages[0]


def _ps_columns(words: list[str]) -> tuple[list[str | None], bool]:
    """The kinds of the leading columns a ps command's format list names (see _PS_FORMAT_KINDS), up to the first
    column whose value may hold spaces or that is not known, and whether more columns follow them; no kinds without
    a format list or a pid column in them."""
    names = []
    for k, word in enumerate(words[1:], 1):
        if _PS_FORMAT_OPTION.fullmatch(word) or (k == 1 and _BSD_FORMAT_OPTION.fullmatch(word)):
            names += re.split(r"[,\s]+", words[k + 1]) if k + 1 < len(words) else []
        elif joined := _PS_FORMAT_JOINED.fullmatch(word):
            names += re.split(r"[,\s]+", joined["list"] or joined["list2"])
    names = [re.split("[=:]", name, maxsplit=1)[0].lower() for name in names if name]
    kinds = []
    for name in names:
        if name not in _PS_FORMAT_KINDS:
            break
        kinds.append(_PS_FORMAT_KINDS[name])
    return (kinds if "pid" in kinds else []), len(kinds) < len(names)


def _ps_format_row(text: str, start: int, end: int, kinds: list[str | None], more: bool
                   ) -> list[tuple[int, int, str]] | None:
    """The pid and usage spans of text[start:end] as a row of the columns of kinds (and at least one more if more),
    None if it is no such row."""
    fields = [field.span() for field in _LINE_FIELD.finditer(text, start, end)]
    if len(fields) < len(kinds) + more:
        return None
    for kind, field in zip(kinds, fields):
        if kind == "pid" and not _PID_VALUE.fullmatch(text, *field):
            return None
        if kind == "usage" and not _USAGE_VALUE.fullmatch(text, *field):
            return None
    return [(*_padded_field(fields, k, start), kind) for k, kind in enumerate(kinds) if kind is not None]


def _git_id_row(text: str, start: int, end: int, rows: re.Pattern) -> list[tuple[int, int, str]] | None:
    """The span of the commit id of text[start:end], a line of a git command's output that rows reads (none for a
    line with no id: only log's graph, branch's symbolic ref), None for another line."""
    row = rows.match(text, start, end)
    if row is None:
        return None
    return [(*row.span("v"), "hex_id")] if row["v"] else []


def _command_spans(text: str, commands: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the pid and usage values of the rows of ps commands, and of the commit ids of git
    commands, starting at one of commands (the command finder's candidates: only those lines are read)."""
    spans = []
    for command in commands:
        # The finder offers only lines with a word that _COMMAND_CUE finds (it tests for every line it offers).
        if not _COMMAND_CUE.match(text, command) or (words := _command_words(text, command)) is None:
            continue
        if words[0] == "ps":
            kinds, more = _ps_columns(words)
            if kinds:
                spans += _rows_after(
                    text, command, lambda s, e, kinds=kinds, more=more: _ps_format_row(text, s, e, kinds, more), True)
        elif words[0] == "git" and (rows := _git_rows(words)) is not None:
            spans += _rows_after(text, command, lambda s, e, rows=rows: _git_id_row(text, s, e, rows), False)
    return spans


def _git_rows(words: list[str]) -> re.Pattern | None:
    """How the lines of a git command that prints a commit id on each read: reflog, rev-parse and log with a
    one-line format lead with it (_GIT_ROW), branch -v has it after the name (_GIT_BRANCH_ROW), worktree list after
    the path (_GIT_WORKTREE_ROW); None for others."""
    subcommand, options = _git_subcommand(words)
    arguments = [word for word in options if not word.startswith("-")]
    if subcommand in ("reflog", "rev-parse") or (subcommand == "log" and any(map(_GIT_ID_FORMAT.fullmatch, options))):
        return _GIT_ROW
    if subcommand == "branch" and any(map(_GIT_VERBOSE.fullmatch, options)):
        return _GIT_BRANCH_ROW
    if subcommand == "worktree" and arguments[:1] == ["list"]:
        return _GIT_WORKTREE_ROW
    return None


# git's own options that take the next word as their value, before the subcommand ("git -C /work/repo log",
# "git -c core.pager=cat branch -v"): that word is no subcommand. Its others are one word ("--no-pager",
# "--git-dir=/x").
_GIT_OPTIONS_WITH_VALUE = frozenset(("-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix",
                                     "--config-env"))


def _git_subcommand(words: list[str]) -> tuple[str | None, list[str]]:
    """The subcommand of a git command's words and the words after it, past git's own options (None, [] if none)."""
    k = 1
    while k < len(words) and words[k].startswith("-"):
        k += 2 if words[k] in _GIT_OPTIONS_WITH_VALUE else 1
    return (words[k], words[k + 1:]) if k < len(words) else (None, [])


def _rows_after(text: str, command: int, row_spans, header: bool) -> list[tuple[int, int, str]]:
    """The spans row_spans(start, end) gives each line after the command's line, up to the first it says (None) is
    no row; if header, a first line that is no row is skipped once."""
    spans, line_start = [], text.find("\n", command) + 1
    first = True
    while 0 < line_start <= len(text):
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end < 0 else line_end
        found = row_spans(line_start, line_end)
        if found is None and not (header and first):
            break
        spans += found or []
        first, line_start = False, line_end + 1
    return spans


# ---- the padding of right-aligned columns -------------------------------------------------------------------------
def _padded(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """spans (of values in ps and top columns) each grown left over the spaces before it, but for the one space that
    separates it from a field before it on its line: ps and top right-align numbers in a fixed width, so the padding
    ("      1", "   4242") moves with the value's width and is as volatile as the value."""
    padded = []
    for start, end, kind in spans:
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start].rstrip(" ")
        padded.append((min(line_start + len(before) + (1 if before else 0), start), end, kind))
    return padded


# ---- a day of the week named by a JSON key, in the object of a masked date ------------------------------------
# The mcp time server answers {"datetime": "2026-11-27T06:01:02+00:00", "day_of_week": "Friday", ...}: the day moves
# with the date, but it is not next to it. A string value that is a day's name, of a key naming the day of the week,
# is masked as a date where a timestamp or date span lies in the same JSON object: the nearest such span before the
# value (else after it) with no brace between the two. A day a file or a setting fixes ({"backup": {"weekday":
# "Sunday"}}) has no date beside it and is content. The key may be escaped (JSON in a JSON string). The pass runs
# on the texts where the weekday_key finder of _masking.c saw such a key (see _masked_group).
_WEEKDAY_KEY = re.compile(rf'"(?:day_of_week|dayOfWeek|DayOfWeek|weekday|Weekday)\\?" ?: ?\\?"(?P<v>{_WEEKDAY})\\?"')


def _is_weekday(text: str, span: dict) -> bool:
    """A date span that is a day's name (the weekday rule's or the pass's), not a date."""
    return span["kind"] == "date" and text[span["start"]].isalpha()


def _same_object_date(text: str, spans: list[dict], before: int, after: int, start: int, end: int) -> int | None:
    """The index of the timestamp or date span (not a day's name) in the same JSON object as text[start:end]: the
    last one of spans[:before + 1], else the first of spans[after:], if no brace lies between it and start (end)."""
    brace = max(text.rfind("{", 0, start), text.rfind("}", 0, start))
    for index in range(before, -1, -1):
        span = spans[index]
        if span["end"] <= brace:
            break
        if span["kind"] in _DATED_KINDS and not _is_weekday(text, span):
            return index
    brace = min(position for position in (text.find("{", end), text.find("}", end), len(text)) if position >= 0)
    for index in range(after, len(spans)):
        span = spans[index]
        if span["start"] >= brace:
            break
        if span["kind"] in _DATED_KINDS and not _is_weekday(text, span):
            return index
    return None


def _weekday_key_spans(text: str, spans: list[dict], keys: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, "date") of each day's name that is the value of a day-of-week key starting at one of keys (the
    weekday_key finder's candidates) in the JSON object of a timestamp or date span of spans (text's, sorted)."""
    found, starts = [], [span["start"] for span in spans]
    for key in keys:
        if (match := _WEEKDAY_KEY.match(text, key)) is None:
            continue
        start, end = match.span("v")
        after = bisect_right(starts, start)
        if _same_object_date(text, spans, after - 1, after, start, end) is not None:
            found.append((start, end, "date"))
    return found


# ---- the second passes, on the few texts that need them --------------------------------------------------------
def _merged(spans: list[dict], found: list[tuple[int, int, str]]) -> list[dict]:
    """spans (sorted, non-overlapping) with those of found that overlap neither one of spans nor one of found kept
    before them, sorted: the two merged in one walk."""
    merged, position, reach = [], 0, 0
    for start, end, kind in sorted(set(found)):
        while position < len(spans) and spans[position]["start"] < start:
            merged.append(spans[position])
            reach = spans[position]["end"]
            position += 1
        if start < reach or (position < len(spans) and spans[position]["start"] < end):
            continue
        merged.append({"start": start, "end": end, "kind": kind})
        reach = end
    merged += spans[position:]
    return merged


# The kinds of the rules' spans a usage column's value takes the place of: what the digits rule reads "00:00:01" and
# "1:02:03" as.
_COLUMN_TIME_KINDS = frozenset(("timestamp", "duration"))


def _without_times_in_columns(spans: list[dict], found: list[tuple[int, int, str]]) -> list[dict]:
    """spans without those of a time kind that lie inside a usage span of found: a process table's TIME column
    holds CPU time, not a clock reading, so its value's kind is the column's (the table's header or the row's shape
    says so; a rule sees only "00:00:01")."""
    columns = sorted((start, end) for start, end, kind in found if kind == "usage")
    if not columns:
        return spans
    starts = [start for start, _ in columns]
    kept = []
    for span in spans:
        if span["kind"] in _COLUMN_TIME_KINDS and (index := bisect_right(starts, span["start"]) - 1) >= 0 \
                and span["end"] <= columns[index][1]:
            continue
        kept.append(span)
    return kept if len(kept) < len(spans) else spans


def _with_second_passes(text: str, result: tuple[list[dict], str],
                        marks: tuple[bool, list[int], list[int], list[int]]) -> tuple[list[dict], str]:
    """result (the rules' spans and masked text) with what the second passes find in text added, where no rule's
    span overlaps it (but for a time span inside a usage column's value, which that value replaces): the pid and
    usage columns of process tables (if marks[0]) and of headerless ps rows (at the pids marks[1] offers), the rows
    of the ps and git commands at marks[3], then the days of the week of JSON objects with a date (at the keys
    marks[2] offers)."""
    tables, pids, keys, commands = marks
    spans = result[0]
    found = _table_spans(text) if tables else []
    if found and pids:  # the rows under a header are read already (the spans hold the pids' padding)
        pids = list(set(pids).difference(end - len(text[start:end].lstrip(" ")) for start, end, kind in found
                                         if kind == "pid"))
    if pids:
        found += _padded(text, _ps_row_spans(text, pids))
    if commands:
        found += _command_spans(text, commands)
    if found:
        spans = _merged(_without_times_in_columns(spans, found), found)
    if keys and (found := _weekday_key_spans(text, spans, keys)):
        spans = _merged(spans, found)
    if spans is result[0]:
        return result
    return spans, _replaced(text, [(span["start"], span["end"], span["kind"]) for span in spans])


_PID_UPPER = _masking.FINDERS.index("pid_upper")
_PS_ROW_FINDER = _masking.FINDERS.index("ps_row")
_WEEKDAY_KEY_FINDER = _masking.FINDERS.index("weekday_key")
_COMMAND_FINDER = _masking.FINDERS.index("command")


def _masked_group(texts: list[str]) -> list[tuple[list[dict], str]]:
    """(spans, masked text) of each text, from one scan of them joined by "\n" in one _masking call: its fixed
    costs (the call, the rules' setup, the one-byte copy of the text) are then paid once per group of texts.

    This finds in each text exactly what a scan of that text alone finds because every rule is line-local: no
    match contains a newline, and a newline next to a match counts as the start or end of a lone text does (\\b
    and the lookbehinds see a non-word character, `.` does not match it). Matches therefore never cross from one
    text into the next, and each one lies at its text's offset in the join.

    The second passes, the process table one not line-local, then run on each text alone, but only on the texts
    where a finder saw what they need: the pid_upper finder "PID" before a space, "=", ":" or a line's end, as a
    header naming a PID column has it (the table pass); the ps_row finder a number after a name that starts its
    line and before more numbers, as a ps row's pid is (the headerless row pass); the weekday_key finder a
    day-of-week key (the JSON weekday pass); the command finder "ps " or "git " starting a word (the command pass).
    The same C pass hands back those finders' candidate starts (its `marks`: a substring test of every text cost 10%
    more); the ps_row, weekday_key and command finders are no rule's."""
    tables, rows, weekday_keys, commands = [], [], [], []
    results = _masking.mask_group(texts, _COMPILED, ((_PID_UPPER, tables), (_PS_ROW_FINDER, rows),
                                                     (_WEEKDAY_KEY_FINDER, weekday_keys), (_COMMAND_FINDER, commands)))
    if tables or rows or weekday_keys or commands:
        ends = list(accumulate(len(text) + 1 for text in texts))  # where each text's joining newline ends
        passes = {}  # text index -> (a table header may be there, pid, key and command offsets) in that text
        for kind, marks in enumerate((tables, rows, weekday_keys, commands)):
            for mark in marks:
                index = bisect_right(ends, mark)
                found = passes.setdefault(index, (False, [], [], []))
                if kind == 0:
                    passes[index] = (True, *found[1:])
                else:
                    found[kind].append(mark - (ends[index - 1] if index else 0))
        for index, marks in passes.items():
            results[index] = _with_second_passes(texts[index], results[index], marks)
    return results


# Every rule is line-local, and consecutive screens share most lines, so a memo of spans per line was built and
# measured (2026-11, generated mixed-domain screens): looking up ~30 lines and learning the new ones cost about as
# much per character as this scan did then (rules run as regex scans), so it lost even on the domains where 80% of
# lines repeat; the scan is cheaper now. Not kept.
def _spans_and_masked(text: str) -> tuple[list[dict], str]:
    return _masked_group([text])[0]


# Big enough that a call's fixed costs are paid rarely, small enough that the join and its one-byte copy stay in
# the CPU caches while the rules' patterns run over them.
_GROUP_CHARS = 1 << 16


def mask_many(texts: list[str]) -> list[tuple[list[dict], str]]:
    """mask(text) for each text, scanned in groups: the rules run once over each group of texts joined."""
    results, group, group_chars = [], [], 0
    for text in texts:
        group.append(text)
        group_chars += len(text) + 1
        if group_chars >= _GROUP_CHARS:
            results += _masked_group(group)
            group, group_chars = [], 0
    if group:
        results += _masked_group(group)
    return results


def volatile_spans(text: str) -> list[dict]:
    """Non-overlapping spans [start, end) with their kind, in order of position. Test oracle / reference: only tests
    call it (curation masks chunks with mask_many), to state one text's spans; kept on purpose, not dead code."""
    return _spans_and_masked(text)[0]


def masked(text: str, spans: list[dict]) -> str:
    """The text with each span replaced by `<kind>`; spans must be sorted and non-overlapping."""
    if not spans:
        return text or ""
    return _replaced(text, [(span["start"], span["end"], span["kind"]) for span in spans])


# ---- dates far from the recording: content, not clock readings ------------------------------------------------
# The rules are syntactic, so a date a file or fixture fixed is masked like a clock reading: a preserved mtime
# (`ls -l --time-style=long-iso`: "2024-01-02 03:04 config.ini.bak"), a log fixture's "2024-05-01T10:01:19", a pinned
# commit's "Date:   Mon Jan 1 00:00:00 2024" (audit of the 2026-11-27 run). A clock read while the transition was
# recorded shows about the recording time, give or take its time zone (at most 14 hours); a full date further from
# it than that is what the data says.
_MONTH_NUMBERS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# The full dates of the timestamp and date rules' matches, at the start of a span's text: ISO 8601 ("2026-11-25",
# with a time and an offset or not), "5 Nov 2026", and date(1)'s or JavaScript's ("Mon Jan 1 00:00:00 2024", "Fri Nov
# 27 2026 00:35:13 GMT", with or without the day name). A clock time, "Nov 25 21:58" or a unix time has no match, and
# the last form matches with no year where there is none ("Thu, Dec 3, 08:01:09"): such spans are kept.
_FULL_DATE = re.compile(
    rf"(?P<year>{_D}{{4}})-(?P<month>{_D}{{2}})-(?P<day>{_D}{{2}})"
    rf"(?:[T ](?P<hour>{_D}{{2}}):(?P<minute>{_D}{{2}})(?::(?P<second>{_D}{{2}}))?(?:[.,]{_D}+)?"
    rf"(?P<zone>Z|[+-]{_D}{{2}}:?{_D}{{2}})?)?"
    rf"|(?P<day2>{_D}{{1,2}}) (?P<month2>{_MONTH}) (?P<year2>{_D}{{4}})"
    rf"|(?:{_DAY},? +)?(?P<month3>{_MONTH}) +(?P<day3>{_D}{{1,2}}),?(?: +(?P<year3>{_D}{{4}}))?"
    rf" +(?P<hour3>{_D}{{2}}):(?P<minute3>{_D}{{2}}):(?P<second3>{_D}{{2}})(?: +[A-Z]{{2,5}})?"
    rf"(?: +(?P<year4>{_D}{{4}}))?"
    # Python's datetime.datetime and datetime.date fields, and time.struct_time's (see the rules).
    rf"|(?P<year5>{_D}{{4}}), (?:tm_mon=)?(?P<month5>{_D}{{1,2}}), (?:tm_mday=)?(?P<day5>{_D}{{1,2}})"
    rf"(?:, (?:tm_hour=)?(?P<hour5>{_D}{{1,2}}), (?:tm_min=)?(?P<minute5>{_D}{{1,2}})"
    rf"(?:, (?:tm_sec=)?(?P<second5>{_D}{{1,2}}))?)?")
# Between a date span and a time span of the same reading ("Wed, 21 Oct 2015 07:28:00 GMT", date -R, HTTP headers;
# "2026-11-25 3:04:35 PM"): the time is part of that date, so it goes where the date goes.
_DATE_TIME_GAP = re.compile(r",? {1,2}")
_CLOCK = re.compile(rf"{_D}{{1,2}}:{_D}{{2}}:")
_DATED_KINDS = frozenset(("timestamp", "date"))
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_DAY_SECONDS = 86400
_MOST_OFFSET = 14 * 3600  # UTC-12 .. UTC+14


@lru_cache(maxsize=64)
def _iso_days(first_day: int, last_day: int) -> frozenset[str]:
    """The ISO dates ("2026-11-27") of the days first_day to last_day (days since 1970-01-01), none for a range
    out of bounds or longer than a month."""
    if not 0 <= last_day - first_day <= 31:
        return frozenset()
    try:
        return frozenset(date.fromordinal(_EPOCH_ORDINAL + day).isoformat() for day in range(first_day, last_day + 1))
    except (ValueError, OverflowError):
        return frozenset()


def _date_range(span_text: str) -> tuple[float, float] | None:
    """(first, last) UTC epoch seconds a span's text can mean, when it starts with a full calendar date: the instant
    where it gives a time of day (at its offset if it has one, else read as UTC: a zone name is not looked up), the
    whole day where it does not. None for a text with no full date or an impossible one ("2024-13-45")."""
    found = _FULL_DATE.match(span_text)
    if found is None:
        return None
    (year, month, day, hour, minute, second, zone, day2, month2, year2, month3, day3, year3, hour3, minute3, second3,
     year4, year5, month5, day5, hour5, minute5, second5) = found.groups()
    if year is None:
        if year5 is not None:
            year, month, day, hour, minute, second = year5, month5, day5, hour5, minute5, second5
        elif year2 is not None:
            year, month, day = year2, _MONTH_NUMBERS[month2], day2
        elif (year := year3 or year4) is None:
            return None
        else:
            month, day, hour, minute, second = _MONTH_NUMBERS[month3], day3, hour3, minute3, second3
    try:
        first = (date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL) * _DAY_SECONDS
    except ValueError:
        return None
    if hour is None:
        return first, first + _DAY_SECONDS
    first += int(hour) * 3600 + int(minute) * 60 + int(second or 0)
    if zone and zone != "Z":
        first -= (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[-2:]) * 60)
    return first, first


def without_distant_dates(text: str, spans: list[dict], recorded_at_s: float | None,
                          window_days: float = 2.0) -> list[dict]:
    """spans (text's volatile spans, as volatile_spans or mask_many give them) without the timestamp and date spans
    whose text holds a full calendar date (year, month and day) more than window_days from recorded_at_s, the time
    the transition was recorded (UTC epoch seconds): such a date is content (a preserved mtime, a log fixture's
    line, a pinned commit's date), not a clock reading. A time span that directly follows a dropped date as part of
    the same reading ("21 Oct 2015 07:28:00", "2015-10-21 7:28:00 AM") is dropped with it, and so is the name of
    its day of the week ("Wed, 21 Oct 2015", "2015-10-21 (Wednesday)", a JSON object's "day_of_week": see
    _weekday_date). Kept: spans of other kinds, spans with no year ("21:58:00", "Nov 25 21:58", "Thu, Dec 3,
    08:01:09"), unix times, impossible dates, and every span when recorded_at_s is None (or not finite).

    A date with a time and an offset is compared as that instant; with no offset (or a zone name) it is read as UTC,
    and a date alone as its whole day (UTC): a local clock is at most 14 hours off UTC, well within the default
    window of 2 days. Not caught: a date the environment computes relative to now (a token's expiry in 30 days),
    which a far window keeps out, and a sandbox whose clock is wrong by more than the window, whose readings would
    be taken for content.

    Pure and cheap: only spans of kind timestamp or date are read (a dict lookup per span otherwise, nothing parsed
    when there are none). Returns spans itself, not a copy, when it drops nothing; otherwise a new list of the same
    dicts, still sorted and non-overlapping.

    How it is meant to be called (transforms/prepare.py, with_masks; not wired in yet): after
    `masks = masking.mask_many(texts)`, once per masked text, before the rows take their parts from masks:

        spans, _ = masks[i]
        kept = masking.without_distant_dates(texts[i], spans, recorded_at_s)
        if kept is not spans:
            masks[i] = kept, masking.masked(texts[i], kept)

    with recorded_at_s the time of the row whose next observation texts[i] is (for a state text that is not the
    previous row's next observation, the row's own time): its `timings.action_start` as epoch seconds
    (`row["timings"]["action_start"].timestamp()`; curated_row would have to carry it), or None when unknown.
    Filtering each text once, in masks, keeps what with_masks relies on: the masked state is the very str of the
    previous row's masked next observation. next_volatile_spans (stage 3's format-only spans) and the content hash
    then both leave the distant dates as content."""
    if recorded_at_s is None or not spans or not math.isfinite(recorded_at_s):
        return spans
    window = window_days * _DAY_SECONDS
    dropped, date_end, near_days, weekdays = None, -1, None, None
    for index, span in enumerate(spans):
        if span["kind"] not in _DATED_KINDS:
            continue
        start, end = span["start"], span["end"]
        span_text = text[start:end]
        if span["kind"] == "date" and span_text[0].isalpha():  # a day's name: it goes where its date goes, below
            weekdays = weekdays or []
            weekdays.append(index)
            continue
        if span_text[4:5] == "-":
            # An ISO date on a day that lies within the window even at the farthest offset and time of day (with a
            # window of 2 days, always the recording's own UTC day): kept, with nothing parsed.
            if near_days is None:
                near_days = _iso_days(math.ceil((recorded_at_s - window + _MOST_OFFSET) / _DAY_SECONDS),
                                      math.floor((recorded_at_s + window - _MOST_OFFSET) / _DAY_SECONDS) - 1)
            if span_text[:10] in near_days:
                continue
        dates = _date_range(span_text)
        if dates is None:
            # A clock time with no date of its own, right after a dropped date: that date's time of day.
            if 0 <= date_end and _DATE_TIME_GAP.fullmatch(text, date_end, start) and _CLOCK.match(span_text):
                dropped.append(index)
            continue
        if dates[0] - window <= recorded_at_s <= dates[1] + window:
            continue
        dropped = dropped or []
        dropped.append(index)
        date_end = end
    if not dropped:
        return spans
    dropped = set(dropped)
    for index in weekdays or ():
        if _weekday_date(text, spans, index) in dropped:
            dropped.add(index)
    return [span for index, span in enumerate(spans) if index not in dropped]


# Between a day's name and its date ("Fri, 27 Nov 2026", "Friday 2026-11-27"), and between a date and its day's name
# ("2026-11-27 (Friday)"): as the weekday rule reads them.
_WEEKDAY_DATE_GAP = re.compile(r",? {1,2}")
_DATE_WEEKDAY_GAP = re.compile(r",? | \(")


def _weekday_date(text: str, spans: list[dict], index: int) -> int | None:
    """The index of the date or timestamp span whose day of the week spans[index] names: the span right after it
    ("Fri, 27 Nov 2026"), else the one right before it ("2026-11-27 (Friday)"), else the one in its JSON object
    ("day_of_week": "Friday" beside "datetime": "2026-11-27T06:01:02+00:00"), if any."""
    span = spans[index]
    if index + 1 < len(spans):
        following = spans[index + 1]
        if (following["kind"] in _DATED_KINDS and not _is_weekday(text, following)
                and _WEEKDAY_DATE_GAP.fullmatch(text, span["end"], following["start"])):
            return index + 1
    if index:
        previous = spans[index - 1]
        if (previous["kind"] in _DATED_KINDS and not _is_weekday(text, previous)
                and _DATE_WEEKDAY_GAP.fullmatch(text, previous["end"], span["start"])):
            return index - 1
    return _same_object_date(text, spans, index - 1, index + 1, span["start"], span["end"])


# One text at a time (curation masks whole chunks with mask_many): a caller walking an episode in order passes each
# screen twice, as one step's next observation and the next step's state, and the cache masks it once.
@lru_cache(maxsize=256)
def mask(text: str) -> tuple[list[dict], str]:
    return _spans_and_masked(text)
