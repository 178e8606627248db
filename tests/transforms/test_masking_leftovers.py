"""What replays of real collections showed the masking rules left unmasked (transforms/masking/): the pids of ps
rows a format list names (`ps -eo pid,comm | grep sleep`, no header), all-digit short commit ids (`[main 4997019]`),
the padding of right-aligned figures (`%Cpu(s):  0.0 us` against `%Cpu(s): 14.3 us`), and the wait a server asks
for before a retry, which is a setting like a timeout. The screens are as tmux shows them in the terminal sandbox
(worldline/base:bookworm): the prompt and the command line above the output."""

import pytest

from transforms import _masking, masking
from transforms.masking import core
from transforms.masking import mask, mask_many, volatile_spans

PROMPT = "root@1caff30c61a4:/work# "


def kinds(text):
    return [(text[s["start"]:s["end"]], s["kind"]) for s in volatile_spans(text)]


# ---- 1. ps rows whose columns the command names ---------------------------------------------------------------

def test_ps_format_rows_piped_through_grep_are_read_under_their_command():
    text = (PROMPT + "nohup sleep 600 >/dev/null 2>&1 &\n[1] 4242\n"
            + PROMPT + "ps -eo pid,comm | grep sleep\n   4242 sleep\n     18 sleep\n"
            + PROMPT + "ps -eo pid,comm | wc -l\n     12\n"  # a count, not a row
            + PROMPT + "ps -eo pid,comm | grep -c sleep\n2\n"
            + PROMPT + "wc -l notes\n  17 notes\n"  # the same shape with no ps above it: content
            + PROMPT)
    assert mask(text)[1] == (
        "root@<hex_id>:/work# nohup sleep 600 >/dev/null 2>&1 &\n[1] <pid>\n"
        "root@<hex_id>:/work# ps -eo pid,comm | grep sleep\n<pid> sleep\n<pid> sleep\n"
        "root@<hex_id>:/work# ps -eo pid,comm | wc -l\n     12\n"
        "root@<hex_id>:/work# ps -eo pid,comm | grep -c sleep\n2\n"
        "root@<hex_id>:/work# wc -l notes\n  17 notes\n"
        "root@<hex_id>:/work# ")


@pytest.mark.parametrize("command, output, expected", [
    # procps 4 (bookworm): a header whose only column is PID.
    ("ps -o pid", "    PID\n      1\n     57\n", "    PID\n<pid>\n<pid>\n"),
    # No header (--no-headers), the usage column masked like the table pass masks %CPU.
    ("ps -eo pid,ppid,%cpu,comm --no-headers", "      1       0  0.4 sh\n   4242       1  0.0 sleep\n",
     "<pid> <pid> <usage> sh\n<pid> <pid> <usage> sleep\n"),
    # Headers renamed: no header the table pass knows, so the command's list says which column is the pid.
    ("ps -o pid=ID,args=CMD", "     ID CMD\n      1 /bin/sh -c sleep 100\n",
     "     ID CMD\n<pid> /bin/sh -c sleep 100\n"),
    ("ps axo pid,stat,etime,comm | grep sleep", "   4242 S          00:07 sleep\n",
     "<pid> S <usage> sleep\n"),
    ("ps -eo user,pid,args | grep [s]leep", "root        4242 sleep 600\n", "root <pid> sleep 600\n"),
    # A header whose PID column is the last: read by the table pass, as far as the rows have one word before it.
    ("ps -eo comm,pid", "COMMAND             PID\nsh                    1\nsleep              4242\n",
     "COMMAND             PID\nsh <pid>\nsleep <pid>\n"),
])
def test_ps_rows_of_a_format_list_are_masked(command, output, expected):
    text = PROMPT + command + "\n" + output + PROMPT
    assert mask(text)[1] == "root@<hex_id>:/work# " + command + "\n" + expected + "root@<hex_id>:/work# "


def test_rows_are_read_only_while_they_have_the_listed_columns():
    # After the rows, a number-led line of the next command's output is not one, nor are rows of a list with no pid.
    text = (PROMPT + "ps -eo pid,comm --no-headers; seq 2\n   4242 sleep\n1\n2\n"
            + PROMPT + "ps -eo comm,args | grep 12\n  12 x\n" + PROMPT + "echo ps -o pid\n   42 x\n")
    assert [(value, kind) for value, kind in kinds(text) if kind == "pid"] == [("   4242", "pid")]


def test_the_command_finder_marks_ps_and_git_commands_whose_rows_the_pass_reads():
    text = "# ps -o pid | git log --oneline; steps -o 1 ps\n(git status) legit; ps aux\nps axo pid"
    marks = _masking.candidate_starts(text)[_masking.FINDERS.index("command")]
    assert marks == [text.index("ps -o"), text.index("git log"), text.index("ps axo")]


# ---- 2. all-digit short commit ids ----------------------------------------------------------------------------

REPO = "root@1caff30c61a4:/work/repo# "


def test_all_digit_commit_ids_are_hex_ids_where_git_prints_them():
    text = (REPO + "git commit -m 'first commit'\n[main (root-commit) 4997019] first commit\n"
            " 1 file changed, 1 insertion(+)\n create mode 100644 f.txt\n"
            + REPO + "echo b >> f.txt && git commit -qam 'add b' && git log --oneline --graph\n"
            "* 4a99701 (HEAD -> main) add b\n* 4997019 first commit\n"
            + REPO + "git log --oneline | head -1\n4a99701 (HEAD -> main) add b\n"
            + REPO + "git reset --hard HEAD~1\nHEAD is now at 4997019 first commit\n"
            + REPO + "git log -1\ncommit 4997019\n"
            + REPO + "git rev-parse --short HEAD\n4997019\n"
            + REPO + "cat -n ids\n1234567 x\n"  # no git command above: a number
            + REPO)
    ids = [value for value, kind in kinds(text) if kind == "hex_id" and value != "1caff30c61a4"]
    assert ids == ["4997019", "4a99701", "4997019", "4a99701", "4997019", "4997019", "4997019"]


@pytest.mark.parametrize("text, commit", [
    ("[main 1234567] add b", "1234567"), ("[detached HEAD 7654321] fix", "7654321"),
    ("[feature/x-1.2 deadbee] all letters", "deadbee"), ("HEAD detached at 1234567", "1234567"),
    ("Previous HEAD position was 1234567 init", "1234567"), ("1234567 (tag: v1.0) release", "1234567"),
])
def test_a_commit_id_in_git_s_messages_is_a_hex_id(text, commit):
    assert (commit, "hex_id") in kinds(text)
    # A number in the same words but not where git puts an id stays content.
    assert kinds(text.replace(commit, commit[:5])) == []


# ---- 3. the padding of right-aligned figures ------------------------------------------------------------------

TOP = ("top - 21:58:00 up {up},  0 user,  load average: 0.75, 1.66, 1.72\n"
       "Tasks: {tasks} total,   1 running,   7 sleeping,   0 stopped,   0 zombie\n"
       "%Cpu(s):{cpu} us,  0.0 sy,  0.0 ni,100.0 id,  0.0 wa,  0.0 hi,  0.0 si,  0.0 st\n"
       "MiB Mem :  24105.6 total,{mem} free,   1624.8 used,   3160.7 buff/cache\n"
       "\n"
       "    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND\n"
       "{pid} root      20   0 {virt}   3584   3072 S {pcpu}   0.0   0:00.01 sleep\n")


def test_right_aligned_figures_mask_alike_whatever_their_width():
    # top pads each figure to its column's width: a run whose figures are wider has less padding before them.
    narrow = TOP.format(up=" 2:16", tasks="  8", cpu="  0.0", mem="  19320.1", pid="     18", virt="   2480",
                        pcpu="  0.0")
    wide = TOP.format(up="12:16", tasks=" 118", cpu=" 14.3", mem="   9320.1", pid="   4242", virt=" 812340",
                      pcpu=" 12.5")
    assert mask(narrow)[1] == mask(wide)[1]
    assert mask(narrow)[1].splitlines()[2] == ("%Cpu(s):<usage> us,<usage> sy,<usage> ni,<usage> id,<usage> wa,"
                                               "<usage> hi,<usage> si,<usage> st")
    assert mask(narrow)[1].splitlines()[-1] == ("<pid> root      20   0 <usage> <usage> <usage> S <usage> <usage> "
                                                "<usage> sleep")


def test_a_padded_span_keeps_the_space_that_separates_its_column():
    text = ("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
            "root          18  0.0  0.0   2920  1744 pts/0    S    01:30   0:00 sleep 1000\n")
    for span in volatile_spans(text):
        value = text[span["start"]:span["end"]]
        assert value.strip() and value == " " * (len(value) - len(value.lstrip(" "))) + value.strip()
        assert text[span["start"] - 1] == " " and text[span["start"] - 2] != " "  # one space kept before it
    assert [value.strip() for value, _ in kinds(text)] == ["18", "0.0", "0.0", "2920", "1744", "01:30", "0:00"]


# ---- 4. waits asked for before a retry are settings ------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "HTTP/1.1 429 Too Many Requests\nRetry-After: 30s\n",
    "Error: rate limited (429); retry after 60 s",
    '{"error": "quota", "retry_after": "5s"}',
    "RetryAfter=1m30s",
])
def test_a_retry_wait_is_content(text):
    assert not any(kind == "duration" for _, kind in kinds(text)), kinds(text)
    assert mask(text) == ([], text)


def test_a_backoff_measured_before_retrying_stays_a_duration():
    text = "Rate limited; retry after 60 s\nRetrying in 2.5s (attempt 2)"
    assert kinds(text) == [("2.5s", "duration")]


# ---- mask_many reads each text's commands alone ----------------------------------------------------------------

def test_mask_many_reads_each_text_s_commands_alone(monkeypatch):
    texts = [PROMPT + "ps -eo pid,comm | grep sleep\n   4242 sleep\n" + PROMPT, "   4243 sleep\n",
             REPO + "git log --oneline\n4a99701 (HEAD -> main) b\n4997019 a\n", "4997018 c\n",
             PROMPT + "ps -o pid\n      7"]
    alone = [core._spans_and_masked(text) for text in texts]
    assert [len(spans) for spans, _ in alone] == [3, 0, 3, 0, 2]
    for group_chars in (1, 40, 1 << 16):
        monkeypatch.setattr(core, "_GROUP_CHARS", group_chars)
        assert mask_many(texts) == alone
