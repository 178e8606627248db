"""transforms/_masking.c: its finders must offer every position where a rule's pattern matches (a rule's pattern is
tried nowhere else), and its results must be the plain-Python oracle's for texts of any character width."""

import random
import re

import pytest

from tests.transforms.test_masking_reference import (GIT_PIECES, OVERLAP_PIECES, PIECES, PYTHON_PIECES, SEPARATORS,
                                                     SETTING_PIECES, UPTIME_PIECES, random_text, reference_mask,
                                                     screens)
from transforms import _masking
from transforms.masking import commands, core, rules, tables, weekdays
from transforms.masking import RULES, mask, mask_many

# Characters next to which the finders' ASCII-only tests must still let a match through (or let `re` reject it):
# non-ASCII letters and digits are \w for `re`, the rest are not; a few need two or four bytes per character.
NON_ASCII = ["é", "µ", "ß", "٣", "ſ", "İ", "K", "—", "Ω", "ж", "€", "\u00a0", "\u2028", "😀", "\ud800"]
# Pieces that lead into a rule's literal or digits from either side, and a match of each alternative of each rule
# (each host of the port rule, each directory of the temp path rule, each day and month name...).
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
EDGES = ["0x", "0x1234", "0.0.0.0:", "127.0.0.1:", "localhost:", "[::]:", "[1] ", "[", "/tmp/", "/var/tmp/",
         "/dev/shm/", "/private/var/folders/", "tmp", "tmpabcdef", "pid", "PID", "process", "port ", "Mon", "Tue, ",
         "Nov ", "Dec", "1764107880", "21:58:00", "2026-11-25", "12", "3f9a2b1", "abcdef1", "-", ":", ".", " ",
         "\n", "ms", "MiB", "bytes", "s", "K", "_", "x",
         "localhost:43123", "127.0.0.1:43123", "0.0.0.0:65001", "[::]:50000", "port 12345", "[123] 4567", "\n[7] 9",
         "pid=1", "PID: 22", "process 333", "/var/tmp/a", "/dev/shm/b", "/private/var/folders/c", "0xABCDEF",
         "/tmp/tmp.Xa81bC", "/var/tmp/q1w2e3r4", "/dev/shm/x-12345", "/private/var/folders/a/k2j_x9ab", "/pytest-3",
         "tmp_1234567", "1599999999.5", "4bytes", "3 TB", "2.5 PiB", "7 ns", "9us", "1µs", "12 secs", "1 seconds",
         "0m1.5s", "2026-11-25 21:58:00.123-0700", "up 2:16, load average: 0.1, 0.2, 0.3", "up ", "up 5 min, ",
         "\nTasks: 3 total,", "\n%Cpu(s): 1.0 us", "\nMiB Mem : 12.5 total", "\nSwap: 0 0", "Mem:", "\nKiB ", "\nM",
         "3:04:35 AM", "7:08:09", "9:05:07.5pm", "12:00:00 PM", "1:", "4:5", "AM", " pm", "0:00:00.000 am",
         "Elapsed: ", "eta ", "ETA: ", "elapsed", "[", "<", "2026-11-25 ", "27.11.2026, ", "Nov 27 ",
         "took more than ", "' timed out after ", "sleep ", "timeout", "Timeout=", "INTERVAL", ": ", '="', '": "',
         " = ", '":"', "'", '"', "5 seconds", "1m2s", "0.5s", "(", ", ", "Monday", "Tuesday", "Wednesday", "Thursday",
         "Friday", "Saturday", "Sunday", "Fri", "2026-11-27T06:01", "Thurs", "retry after ", "Retry-After: ",
         "retry_after=", "RetryAfter", "\n[main ", "[main (root-commit) ", "\n[detached HEAD ", "] ", "4997019",
         "deadbee", "HEAD is now at ", "HEAD detached at ", "Previous HEAD position was ", "commit ", " (HEAD -> main)",
         " (tag: v1)", " (HEAD", "\n[é ", "\n[x", "\nindex ", "\nindex 814f4a4..ddc897f 100644\n",
         "\nindex 0000000..261e0be", "per ", "Per 60 s", "\n%Cpu(s):100.0 us,  0.0 sy"]
EDGES += [f"{day}, {month} {number} 01:02:03" for day, month, number in zip(
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] * 2, MONTHS, range(1, 13))]
EDGES += [f"{month}  {number} 09:00" for number, month in enumerate(MONTHS, 10)]
EDGES += [f"{number % 28 + 1} {month} 2026" for number, month in enumerate(MONTHS)]
# Job pids after escaped newlines, git blame -s lines.
EDGES += ["datetime.datetime(2026, 11, 28, 2, 25, 38, 558825)", "datetime.date(2026, 11, 28)", "datetime.",
          "time.struct_time(tm_year=2026, tm_mon=11, tm_mday=28, tm_hour=2, tm_min=25, tm_sec=38, tm_wday=5, "
          "tm_yday=332, tm_isdst=0)"]
EDGES += ["\\n[1] 106\\n", "\\\\n[1] 7\t", "n[1] 5\\n", "\\n", "\\", "\n86067227  1) x", "\n^1234567 12) ",
          "\n1234567 f.txt 3 4) y"]


def _edgy_text(rng):
    pieces = PIECES + EDGES + NON_ASCII
    return "".join(rng.choice(pieces) + rng.choice(SEPARATORS + NON_ASCII[:4]) for _ in range(rng.randint(0, 12)))


def _texts(seed, count):
    rng = random.Random(seed)
    return ([random_text(rng) for _ in range(count)] + [_edgy_text(rng) for _ in range(count)]
            + list(screens(rng, count // 10)))


_PATTERNS = [(re.compile(pattern, re.MULTILINE), _masking.FINDERS.index(finder)) for _, pattern, finder, _ in RULES]


def _rules_matched(texts: list[str]) -> list[int]:
    """The rule of every match at any position of texts (once a match), each checked to be a start its finder
    offered."""
    matched = []
    for text in texts:
        candidates = _masking.candidate_starts(text)
        for rule, (pattern, finder) in enumerate(_PATTERNS):
            starts = set(candidates[finder])
            for position in range(len(text)):
                if pattern.match(text, position):
                    assert position in starts, (RULES[rule][0], RULES[rule][2], repr(text), position)
                    matched.append(rule)
    return matched


def test_every_position_where_a_rule_matches_is_a_candidate_start():
    texts = _texts(41, 250)
    assert any(not text.isascii() for text in texts) and any(max(map(ord, text), default=0) > 0xFFFF for text in texts)
    assert all(starts == sorted(set(starts)) for text in texts for starts in _masking.candidate_starts(text))
    assert set(_rules_matched(texts)) == set(range(len(RULES)))  # every rule's finder was put to the test


def test_the_second_passes_finders_offer_every_row_and_key_they_read():
    # Not a rule's: ps_row marks the pid of each line _PS_ROW reads, weekday_key the opening quote of each key
    # _WEEKDAY_KEY reads (core._masked_group runs those passes only on texts with such a mark).
    rng = random.Random(53)
    users = ["root", "www-data", "_apt", "systemd+", "a.b", "1000", "u_1", "x" * 32, "postgres", "nobody"]
    rows = []
    for _ in range(400):
        user, pid = rng.choice(users), str(rng.randint(1, 4194304))
        gap, more = " " * rng.randint(1, 12), " " * rng.randint(1, 6)
        if rng.random() < 0.5:
            rows.append(f"{user}{gap}{pid}{more}{rng.randint(0, 99)}.{rng.randint(0, 9)}  0.{rng.randint(0, 9)} "
                        f"{rng.randint(1000, 99999)}  {rng.randint(100, 9999)} {rng.choice(['?', 'pts/0', 'tty1'])}"
                        f"    {rng.choice(['S', 'Ss', 'R+', 'S<sl', 'I<'])}   {rng.choice(['06:01', 'Nov27', '2025'])}"
                        f"   {rng.randint(0, 99)}:{rng.randint(0, 59):02d} "
                        f"{rng.choice(['sleep 1', 'grep foo', '-bash'])}")
        else:
            rows.append(f"{user}{gap}{pid}{more}{rng.randint(0, 99999)}  {rng.randint(0, 9)} "
                        f"{rng.choice(['01:30', 'Nov27'])} {rng.choice(['?', 'pts/0'])}        "
                        f"{rng.choice(['00:00:00', '1-02:03:04'])} {rng.choice(['sleep 1', 'python3 -m x'])}")
    texts = ["\n".join(rng.sample(rows, rng.randint(1, 5))) for _ in range(300)]
    texts += [rng.choice(["", "$ ps aux | grep x\n", "é", "x\r\n"]) + text + rng.choice(["", "\n", "\r\n$ "])
              for text in texts]
    keys = ["day_of_week", "dayOfWeek", "DayOfWeek", "weekday", "Weekday", "day_of_weeks", "week"]
    texts += ['{"datetime": "2026-11-27T06:01:02+00:00", "%s": "%s"}' % (rng.choice(keys), rng.choice(
        ["Friday", "Fri", "Funday"])) for _ in range(100)]
    texts += [text.replace('"', '\\"') for text in texts[-100:]]
    found = {"ps_row": 0, "weekday_key": 0}
    for text in texts:
        candidates = _masking.candidate_starts(text)
        for finder, pattern, group in (("ps_row", tables._PS_ROW, "pid"), ("weekday_key", weekdays._WEEKDAY_KEY, 0)):
            for match in pattern.finditer(text):
                assert match.start(group) in candidates[_masking.FINDERS.index(finder)], (finder, text)
                found[finder] += 1
    assert found["ps_row"] > 1000 and found["weekday_key"] > 50


def test_the_command_finder_offers_every_command_line_the_command_pass_reads():
    # Not a rule's: the command pass (commands._command_spans) reads a line only where the command finder marks it,
    # and reads only lines commands._COMMAND_CUE matches at a word's start.
    rng = random.Random(59)
    words = ["ps", "git", "-o", "-eo", "-axo", "--format", "--format=pid", "axo", "o", "aux", "-ef", "pid,comm",
             "log", "reflog", "rev-parse", "status", "logs", "--oneline", "-C", "x", "|", "grep", "&&", "\t", "é",
             "\u00a0", "\x1c", "-", "topo", "echo", "blog", "ps-o", "\r", "\0"]
    texts = [rng.choice(["", "$ ", "x", "#"]) + " ".join(rng.choice(words) for _ in range(rng.randint(1, 7)))
             for _ in range(3000)]
    finder, offered = _masking.FINDERS.index("command"), 0
    for text in texts:
        marks = set(_masking.candidate_starts(text)[finder])
        for position in range(len(text)):
            at_word_start = position == 0 or not re.match(r"\w", text[position - 1])
            if at_word_start and commands._COMMAND_CUE.match(text, position):
                assert position in marks, (repr(text), position)
                offered += 1
    assert offered > 100


def test_prose_without_digits_hex_words_or_literals_has_no_candidates():
    text = "the quick brown fox jumps over the lazy dog, and nothing here is volatile at all\n" * 20
    assert _masking.candidate_starts(text) == tuple([] for _ in _masking.FINDERS)
    assert mask(text) == ([], text)


# Finders that are no rule's: they tell core._masked_group which texts its second passes must read.
SECOND_PASS_FINDERS = ["ps_row", "weekday_key", "command"]


def test_every_rule_has_its_own_finder():
    assert sorted([finder for _, _, finder, _ in RULES] + SECOND_PASS_FINDERS) == sorted(_masking.FINDERS)


def test_texts_of_every_character_width_in_varied_groups_match_the_reference():
    rng = random.Random(43)
    texts = _texts(47, 600)
    rng.shuffle(texts)
    position = 0
    while position < len(texts):
        size = rng.choice([1, 2, 5, 30])
        batch = texts[position:position + size]
        assert mask_many(batch) == list(map(reference_mask, batch)), batch
        position += size


def test_an_elapsed_time_hides_what_the_digits_rule_would_start_inside_it():
    # The elapsed rule is a form of the oracle's digits rule: after its "0:05", the digits rule goes on after it
    # ("5KiB"), not from inside it ("05.5KiB", which overlaps the elapsed time and would be dropped).
    text = "x elapsed=0:05.5KiB y"
    assert mask(text) == reference_mask(text)
    assert mask(text)[1] == "x elapsed=<duration>.<byte_size> y"


def test_masked_text_is_a_plain_str_when_the_spans_held_the_wide_characters():
    spans, masked = mask("at /tmp/жж😀-12345 pid 42")
    assert masked == "at /tmp/<temp_path> pid <pid>" and masked.isascii()
    assert [span["kind"] for span in spans] == ["temp_path", "pid"]


def test_malformed_input_raises_instead_of_guessing():
    rule = rules._COMPILED[0]
    with pytest.raises(TypeError):
        _masking.mask_group(["pid 1"], [rule[:4]])
    with pytest.raises(ValueError):
        _masking.mask_group(["pid 1"], [(rule[0], len(_masking.FINDERS), *rule[2:])])
    with pytest.raises(TypeError):
        _masking.mask_group(["pid 1", 7], rules._COMPILED)
    with pytest.raises(TypeError):
        _masking.candidate_starts(b"pid 1")


def test_an_elapsed_time_starting_inside_a_digits_match_is_not_tried():
    # The elapsed rule and the digits rule share one reach (_masking.c, put_all_spans), as the forms of one pattern
    # would: "1:02:03elapsed" starts inside the duration "9:05:07.1", so the elapsed rule goes on from the end of
    # that duration and finds "02:03elapsed", as the oracle's digits rule does.
    text = "pm:9:05:07.1:02:03elapsed"
    assert mask(text) == reference_mask(text)
    assert mask(text)[1] == "pm:<duration>:<duration>elapsed"
    assert mask_many(["x", text]) == [mask("x"), mask(text)]


def test_every_position_where_a_rule_matches_in_the_later_pieces_is_a_candidate_start():
    # The pieces kept apart from PIECES (test_masking_reference.py): times running into each other, uptime's forms,
    # delays and times to live, next to characters the finders must not misread.
    rng = random.Random(73)
    pieces = OVERLAP_PIECES + UPTIME_PIECES + SETTING_PIECES + NON_ASCII[:4]
    texts = ["".join(rng.choice(pieces) + rng.choice(SEPARATORS) for _ in range(rng.randint(1, 8)))
             for _ in range(400)]
    assert {"elapsed", "digits", "up_time", "setting"} <= {RULES[rule][2] for rule in _rules_matched(texts)}
    assert mask_many(texts) == list(map(reference_mask, texts))


def test_every_position_where_a_rule_matches_in_git_s_pieces_is_a_candidate_start():
    # git's other commit ids (GIT_PIECES, test_masking_reference.py): the git_id rule's phrases start at a word's
    # hex id, at "WIP on"/"index on"/"untracked files on" and at describe's "-g" after a digit.
    rng = random.Random(83)
    pieces = GIT_PIECES + ["\n", "\n   ", "\n + ", "Updating ", "-3-g", "WIP on ", " HEAD@{1}: ", "pick ", "é", "_"]
    texts = ["".join(rng.choice(pieces + NON_ASCII[:4]) + rng.choice(SEPARATORS) for _ in range(rng.randint(1, 8)))
             for _ in range(600)]
    git_id = _masking.FINDERS.index("git_id")
    assert sum(_PATTERNS[rule][1] == git_id for rule in _rules_matched(texts)) > 500
    assert mask_many(texts) == list(map(reference_mask, texts))


def test_every_position_where_a_python_clock_repr_matches_is_a_candidate_start():
    # datetime.datetime(, datetime.time(, datetime.date( and time.struct_time(, after characters the finders must
    # not misread as a word's end (non-ASCII letters are \w for `re`: the pattern, not the finder, rejects them).
    rng = random.Random(97)
    pieces = PYTHON_PIECES + NON_ASCII[:4] + ["x", "_", "[", "(", "= "]
    texts = ["".join(rng.choice(pieces) + rng.choice(SEPARATORS) for _ in range(rng.randint(1, 8)))
             for _ in range(600)]
    finders = {_masking.FINDERS.index("py_clock"), _masking.FINDERS.index("py_date")}
    assert sum(_PATTERNS[rule][1] in finders for rule in _rules_matched(texts)) > 300
    assert mask_many(texts) == list(map(reference_mask, texts))
