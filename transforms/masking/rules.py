"""The masking rules, run in one pass over each group of texts (transforms/_masking.c): RULES (kind, pattern,
finder, check) in priority order, the forms of the digits rule (DIGIT_FORMS), KINDS, GENERATED (a temp path
component that looks generated), and the rules compiled as _masking.mask_group takes them (_COMPILED). The regex
fragments here (_D, _MONTH, _DAY, _WEEKDAY) are also what the second passes and the date filter build theirs from.
"""

from __future__ import annotations

import re

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
    # pass (weekdays.py, _weekday_key_spans).
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
    # their command (commands.py, _command_spans).
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
