/* The masking rules of transforms/masking/ run over a group of texts: where each rule can start a match, found
 * in one pass over the texts for all the rules; the rules' matches there; and each text's spans and masked copy.
 *
 * The rules' regexes (Python's `re`) still decide every match: a rule's pattern is tried only at the candidate
 * starts found here, as finditer would (from each candidate not inside the rule's previous match).
 * So a candidate test must be a NECESSARY condition of a match starting there -- one too loose costs a pattern
 * call, one too strict loses a match. Each test below reads only ASCII characters a rule's pattern demands at
 * and after its start (a literal, a few characters, a run of digits or hex), or right before it where the pattern's
 * lookbehind demands them (the setting and elapsed rules' words). A character before the start counts
 * as a possible non-word character (for the rules' leading \b) unless it is ASCII [A-Za-z0-9_]: a non-ASCII
 * letter is a \w for `re` on str, but testing that is left to the pattern.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The finders, one per rule, in the order of the lists candidate_starts() returns (FINDERS names them). PS_ROW,
 * WEEKDAY_KEY and COMMAND are no rule's: they say where the masking package's second passes look (a ps row's pid, a
 * day-of-week JSON key's opening quote, a ps or git command), and mask_group hands their candidates back as
 * marks. The candidates of one position are handed to the rules in this order: ELAPSED comes before DIGITS
 * because the two rules share one reach (see put_all_spans). */
enum {
    UUID, ELAPSED, DIGITS, DAY_DATE, MONTH_TIME, UNIX_SECONDS, TEMP_DIR, TMP_NAME, PID_WORD, PID_UPPER,
    PROCESS_WORD, SHELL_JOB, LOCAL_PORT, PORT_WORD, HEX_LITERAL, HEX_WORD, UP_TIME, USAGE_LINE, WEEKDAY, SETTING,
    GIT_SUMMARY, GIT_ID, GIT_INDEX, MEMORY_TOTAL, PY_CLOCK, PY_DATE, PS_ROW, WEEKDAY_KEY, COMMAND, FINDER_COUNT
};
static const char *const finder_names[FINDER_COUNT] = {
    "uuid", "elapsed", "digits", "day_date", "month_time", "unix_seconds", "temp_dir", "tmp_name", "pid_word",
    "pid_upper", "process_word", "shell_job", "local_port", "port_word", "hex_literal", "hex_word", "up_time",
    "usage_line", "weekday", "setting", "git_summary", "git_id", "git_index", "memory_total", "py_clock", "py_date",
    "ps_row", "weekday_key", "command",
};

/* Character classes as bit flags, of the text's characters as bytes (see Bytes). */
enum { DIGIT = 1, LOWER_HEX = 2, HEX = 4, WORD = 8, DIGIT_FOLLOWER = 16, NAME_INITIAL = 32, SPACE_FOLLOWER = 64 };
static unsigned char byte_class[256];

/* What the two characters at a position say of it, as pair_flags[second << 8 | first] (the two bytes loaded as one
 * little-endian 16-bit number): a filter, in one branch-free pass, for the positions starts_at tests.
 * TEST_AFTER_WORD: a rule can start there even after an ASCII [A-Za-z0-9_] character, i.e. a literal with no word
 * boundary before it ("0x", "pid", "localhost", "/tmp", "[1] ", "Nov"...); TEST_AFTER_NON_WORD: a rule can start
 * there after any other character (those literals, and digits, hex words, "tmp"); FIRST_IS_WORD: the first
 * character is ASCII [A-Za-z0-9_], so the next position is not a word's start. */
enum { TEST_AFTER_WORD = 1, TEST_AFTER_NON_WORD = 2, FIRST_IS_WORD = 4 };
static unsigned char pair_flags[1 << 16];

static void
add_pair(unsigned flags, unsigned char first, unsigned char second)
{
    pair_flags[second << 8 | first] |= flags;
}

static void
add_pairs(unsigned flags, const char *firsts, const char *seconds)
{
    for (; *firsts; firsts++)
        for (const char *second = seconds; *second; second++)
            add_pair(flags, (unsigned char)*firsts, (unsigned char)*second);
}

/* The text one byte per character: an ASCII character as itself, any other as NON_ASCII, then PADDING zero bytes,
 * so that a test reads its fixed few characters past any offset without a bounds check. The end of the text so
 * reads as NUL, which no test accepts where a rule needs a character and which counts as a non-word character,
 * as the end of the text does for the patterns. */
#define NON_ASCII 0x80
#define PADDING 64  /* what positions_to_test reads past a text's last block (64 pairs), more than any test reads */
typedef const unsigned char *Bytes;

static inline int
has(Bytes s, Py_ssize_t i, unsigned flags)
{
    return (byte_class[s[i]] & flags) != 0;
}

/* Each of count characters from i on has one of flags. */
static inline int
run_of(Bytes s, Py_ssize_t i, Py_ssize_t count, unsigned flags)
{
    for (Py_ssize_t k = 0; k < count; k++)
        if (!has(s, i + k, flags))
            return 0;
    return 1;
}

static inline int
literal_at(Bytes s, Py_ssize_t i, const char *literal)
{
    return memcmp(s + i, literal, strlen(literal)) == 0;
}

/* A rule's `\b` before a word character at i: the character before is not ASCII [A-Za-z0-9_]. */
static inline int
may_start_word(Bytes s, Py_ssize_t i)
{
    return i == 0 || !has(s, i - 1, WORD);
}

/* 8-4-4-4-12 hex digits with dashes, from i on. */
static int
uuid_layout(Bytes s, Py_ssize_t i)
{
    static const int group_lengths[] = {8, 4, 4, 4, 12};
    for (int group = 0; group < 5; group++) {
        if (group && s[i++] != '-')
            return 0;
        if (!run_of(s, i, group_lengths[group], HEX))
            return 0;
        i += group_lengths[group];
    }
    return 1;
}

/* The digits rule's forms all start with a run of digits followed by one of "-: ." or a unit's first letter
 * (or any non-ASCII character: "µs"); where a space follows, a unit's or a month's first letter follows it ("5 ms",
 * "3 Jan 2026"), so the many "<number> <word>" of a screen ("42717 took") need no pattern call. */
static int
digits_form_start(Bytes s, Py_ssize_t i)
{
    while (has(s, i, DIGIT))
        i++;
    return s[i] == ' ' ? has(s, i + 1, SPACE_FOLLOWER) : has(s, i, DIGIT_FOLLOWER);
}

/* A git sha or container id: 7 or more lowercase hex characters, ending before a character that is not ASCII
 * [A-Za-z0-9_]. (The rule's check then wants both a digit and a letter, but a match it rejects still hides the
 * candidates inside it from the pattern, as finditer's would: so it is the pattern's match that is tested for.) */
static int
hex_word_start(Bytes s, Py_ssize_t i)
{
    Py_ssize_t end = i;
    while (has(s, end, LOWER_HEX))
        end++;
    return end - i >= 7 && !has(s, end, WORD);
}

/* The five digits of an ephemeral port start with 1-6 (the pattern checks the rest). */
static inline int
port_after(Bytes s, Py_ssize_t i)
{
    return s[i] >= '1' && s[i] <= '6';
}

static inline int
pid_separator_at(Bytes s, Py_ssize_t i)
{
    return s[i] == '=' || s[i] == ':' || s[i] == ' ';
}

static int
local_host_port(Bytes s, Py_ssize_t i)
{
    static const char *const hosts[] = {"localhost:", "127.0.0.1:", "0.0.0.0:", "[::]:"};
    for (size_t h = 0; h < sizeof hosts / sizeof *hosts; h++)
        if (s[i] == (unsigned char)hosts[h][0] && literal_at(s, i, hosts[h]))
            return port_after(s, i + (Py_ssize_t)strlen(hosts[h]));
    return 0;
}

static int
temp_dir_at(Bytes s, Py_ssize_t i)
{
    static const char *const dirs[] = {"/tmp/", "/var/tmp/", "/dev/shm/", "/private/var/folders/"};
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++)
        if (literal_at(s, i, dirs[d]))
            return 1;
    return 0;
}

#define DAY_NAMES "MonTueWedThuFriSatSun"
#define MONTH_NAMES "JanFebMarAprMayJunJulAugSepOctNovDec"

/* One of names (three letters each, run together) at i. */
static int
name_at(Bytes s, Py_ssize_t i, const char *names)
{
    for (; *names; names += 3)
        if (memcmp(s + i, names, 3) == 0)
            return 1;
    return 0;
}

/* A line's start at i as the text writes it escaped: after a backslash and an "n", the backslash not doubled (an
 * AT-SPI cell's or a JSON string's newline, not a backslash of the text before an "n"). */
static inline int
after_escaped_newline(Bytes s, Py_ssize_t i)
{
    return i >= 2 && s[i - 1] == 'n' && s[i - 2] == '\\' && (i == 2 || s[i - 3] != '\\');
}

/* `[1] 12345` at the start of a line, real or escaped (not a numbered list's `[1] item`). */
static int
shell_job_at(Bytes s, Py_ssize_t i)
{
    if (i > 0 && s[i - 1] != '\n' && !after_escaped_newline(s, i))
        return 0;
    Py_ssize_t end = i + 1;
    while (end - i <= 3 && has(s, end, DIGIT))
        end++;
    return end > i + 1 && s[end] == ']' && s[end + 1] == ' ' && has(s, end + 2, DIGIT);
}

/* uptime's "up 3 days,  2:01," or "up 5 min,": "up", spaces, a digit. */
static int
up_time_at(Bytes s, Py_ssize_t i)
{
    if (!literal_at(s, i, "up ") || !may_start_word(s, i))
        return 0;
    i += 3;
    while (s[i] == ' ')
        i++;
    return has(s, i, DIGIT);
}

/* A line of top's or free's summary: "Tasks:", "Threads:", "%Cpu", "Mem", "Swap" or a unit and "Mem"/"Swap" at the
 * start of a line. */
static int
summary_line_at(Bytes s, Py_ssize_t i, const char *const *labels, size_t count)
{
    if (i > 0 && s[i - 1] != '\n')
        return 0;
    if (s[i] && strchr("KMGTPE", s[i]) != NULL && s[i + 1] == 'i' && s[i + 2] == 'B' && s[i + 3] == ' ')
        i += 4;
    for (size_t l = 0; l < count; l++)
        if (s[i] == (unsigned char)labels[l][0] && literal_at(s, i, labels[l]))
            return 1;
    return 0;
}

static int
usage_line_at(Bytes s, Py_ssize_t i)
{
    static const char *const labels[] = {"Tasks:", "Threads:", "%Cpu", "Mem", "Swap"};
    return summary_line_at(s, i, labels, sizeof labels / sizeof *labels);
}

/* A memory or swap line of top's or free's summary, whose total is a setting: "Mem" or "Swap", after a unit or
 * not, at the start of a line. */
static int
memory_total_at(Bytes s, Py_ssize_t i)
{
    static const char *const labels[] = {"Mem", "Swap"};
    return summary_line_at(s, i, labels, sizeof labels / sizeof *labels);
}

/* A diff's "index 814f4a4..": "index " at the start of a line, then a lowercase hex digit. */
static int
git_index_at(Bytes s, Py_ssize_t i)
{
    return (i == 0 || s[i - 1] == '\n') && literal_at(s, i, "index ") && has(s, i + 6, LOWER_HEX);
}

/* The end of a day's name ("Fri", "Friday") at i as a whole word, the day name there known: a word's start, the
 * lowercase letters of at most "Wednesday" after the first three, then a character that is not ASCII
 * [A-Za-z0-9_]. */
static int
weekday_end(Bytes s, Py_ssize_t i)
{
    if (!may_start_word(s, i))
        return 0;
    Py_ssize_t end = i + 3;
    while (end - i < 9 && s[end] >= 'a' && s[end] <= 'z')
        end++;
    return !has(s, end, WORD);
}

/* A JSON key naming a day of the week, after its opening quote at i - 1: "day_of_week", "dayOfWeek", "DayOfWeek",
 * "weekday" or "Weekday", then its closing quote (escaped or not). */
static int
weekday_key_at(Bytes s, Py_ssize_t i)
{
    static const char *const keys[] = {"day_of_week", "dayOfWeek", "DayOfWeek", "weekday", "Weekday"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        if (s[i] == (unsigned char)keys[k][0] && literal_at(s, i, keys[k])) {
            Py_ssize_t end = i + (Py_ssize_t)strlen(keys[k]);
            return s[end] == '"' || (s[end] == '\\' && s[end + 1] == '"');
        }
    return 0;
}

/* The suffix (ASCII letters compared without case when fold) ends text right before i. */
static inline int
ends_with(Bytes s, Py_ssize_t i, const char *suffix, int fold)
{
    Py_ssize_t length = (Py_ssize_t)strlen(suffix);
    if (i < length)
        return 0;
    for (Py_ssize_t k = 0; k < length; k++) {
        unsigned char c = s[i - length + k];
        if (fold && c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)suffix[k])
            return 0;
    }
    return 1;
}

/* What a duration that is a setting follows, at a number's start i: a timeout notice's words, "sleep ", a rate
 * limit's "per " (any case), or one of the keys "timeout", "interval", "retry after", "retry-after", "retry_after",
 * "retryafter", "delay", "ttl" (any case) and up to 4 of the characters of its separators ( =:"'). */
static int
setting_before(Bytes s, Py_ssize_t i)
{
    if (i == 0 || !s[i - 1] || strchr(" =:\"'", s[i - 1]) == NULL)  /* what each of them ends with */
        return 0;
    if (ends_with(s, i, "took more than ", 0) || ends_with(s, i, "' timed out after ", 0)
        || ends_with(s, i, "sleep ", 0) || ends_with(s, i, "per ", 1))
        return 1;
    Py_ssize_t key_end = i;
    while (i - key_end < 4 && key_end > 0 && s[key_end - 1] && strchr(" =:\"'", s[key_end - 1]) != NULL)
        key_end--;
    static const char *const keys[] = {"timeout", "interval", "retry after", "retry-after", "retry_after",
                                        "retryafter", "delay", "ttl"};
    for (size_t k = 0; key_end < i && k < sizeof keys / sizeof *keys; k++)
        if (ends_with(s, key_end, keys[k], 1))
            return 1;
    return 0;
}

/* What an elapsed or remaining time with colons is next to, at a number's start i: a word saying so before it
 * ("elapsed ", "Elapsed: ", "eta ", "ETA: "...); tqdm's "[" before it and "<" after its digits and colons, or a
 * digit and "<" before it and "," or "]" after; or "elapsed" right after its digits, colons and dots (GNU time's
 * "0:03.45elapsed"). */
static int
elapsed_context(Bytes s, Py_ssize_t i)
{
    static const char *const words[] = {"lapsed ", "lapsed: ", "lapsed=", "ETA ", "ETA: ", "eta ", "eta: "};
    if (s[i + 1] != ':' && (!has(s, i + 1, DIGIT) || s[i + 2] != ':'))  /* each form's colon */
        return 0;
    Py_ssize_t end = i;
    while (end - i < 32 && (has(s, end, DIGIT) || s[end] == ':'))
        end++;
    if (i > 0 && s[i - 1] == '[' && s[end] == '<')
        return 1;
    if (i > 1 && s[i - 1] == '<' && has(s, i - 2, DIGIT) && (s[end] == ',' || s[end] == ']'))
        return 1;
    for (size_t w = 0; i > 0 && (s[i - 1] == ' ' || s[i - 1] == '=') && w < sizeof words / sizeof *words; w++)
        if (ends_with(s, i, words[w], 0))
            return 1;
    while (end - i < 32 && (has(s, end, DIGIT) || s[end] == ':' || s[end] == '.'))
        end++;
    return literal_at(s, end, "elapsed");
}

/* The pid of a process table's row at i, as ps aux and ps -ef print one: at a line's start a user name or uid
 * (letters, digits, "_", "-", ".", and ps's "+" for a name it cut), spaces, then at i a pid of 1 to 7 digits,
 * spaces and a digit (the next numeric column). Tested where a number starts a word, as the digits rule's are:
 * forwards first, then back to the line's start. */
static int
ps_row_pid_at(Bytes s, Py_ssize_t i)
{
    if (i == 0 || s[i - 1] != ' ')
        return 0;
    Py_ssize_t end = i;
    while (end - i < 8 && has(s, end, DIGIT))
        end++;
    if (end - i > 7 || s[end] != ' ')
        return 0;
    while (s[end] == ' ')
        end++;
    if (!has(s, end, DIGIT))
        return 0;
    Py_ssize_t name_end = i - 1;
    while (name_end > 0 && s[name_end - 1] == ' ')
        name_end--;
    if (name_end > 0 && (s[name_end - 1] == '+' || s[name_end - 1] == '$'))
        name_end--;
    Py_ssize_t start = name_end;
    while (start > 0 && name_end - start <= 32
           && (has(s, start - 1, WORD) || s[start - 1] == '-' || s[start - 1] == '.'))
        start--;
    return start < name_end && (start == 0 || s[start - 1] == '\n') && s[start] != '-' && s[start] != '.';
}

/* The end of a run of 7 to 40 lowercase hex characters from i that ends a word, or -1. */
static Py_ssize_t
commit_id_end(Bytes s, Py_ssize_t i)
{
    Py_ssize_t end = i;
    while (end - i <= 40 && has(s, end, LOWER_HEX))
        end++;
    return end - i >= 7 && end - i <= 40 && !has(s, end, WORD) ? end : -1;
}

/* git commit's summary at a line's start i: "[", then on the same line the first "]" after a space and a commit
 * id, and a space after it ("[main 4997019] msg", "[main (root-commit) 4997019] msg"). */
static int
git_summary_at(Bytes s, Py_ssize_t i)
{
    if (i > 0 && s[i - 1] != '\n')
        return 0;
    Py_ssize_t close = i + 1;
    while (s[close] && s[close] != ']' && s[close] != '\n')
        close++;
    if (s[close] != ']' || s[close + 1] != ' ')
        return 0;
    Py_ssize_t start = close;
    while (start > i + 1 && has(s, start - 1, LOWER_HEX))
        start--;
    return s[start - 1] == ' ' && commit_id_end(s, start) == close;
}

/* A reflog selector and its colon after i: a ref's name, "@{", anything but "}" on the line, "}: " ("HEAD@{1}: ",
 * "main@{2026-11-27 10:00:00 +0000}: "). */
static int
reflog_selector_at(Bytes s, Py_ssize_t i)
{
    Py_ssize_t k = i;
    while (s[k] && s[k] != ' ' && s[k] != '\n' && s[k] != '@' && s[k] != '{' && s[k] != '}')
        k++;
    if (k == i || s[k] != '@' || s[k + 1] != '{')
        return 0;
    for (k += 2; s[k] && s[k] != '}' && s[k] != '\n'; k++)
        ;
    return s[k] == '}' && s[k + 1] == ':' && s[k + 2] == ' ';
}

/* A line's start at i, or three spaces from it (git status's "Last command done:" lines). */
static int
at_line_start(Bytes s, Py_ssize_t i)
{
    return i == 0 || s[i - 1] == '\n' || (i >= 3 && literal_at(s, i - 3, "   ") && (i == 3 || s[i - 4] == '\n'));
}

/* After a commit id leading a line of git blame, from end (masking/rules.py's _BLAME_AFTER and _BLAME_BARE_AFTER,
 * loosely): a space or a tab, then on the line a "(" before any ")" and the first ")" after it, or with no "(" (blame
 * -s) a first ")", right after a digit (the line's number). */
static int
blame_line_after(Bytes s, Py_ssize_t end)
{
    if (s[end] != ' ' && s[end] != '\t')
        return 0;
    Py_ssize_t k = end;
    while (s[k] && s[k] != '\n' && s[k] != '(' && s[k] != ')')
        k++;
    if (s[k] == '(')
        for (k++; s[k] && s[k] != '\n' && s[k] != '(' && s[k] != ')'; k++)
            ;
    return s[k] == ')' && has(s, k - 1, DIGIT);
}

/* A commit id at i (a word's start) where git prints one (masking/rules.py's git_id rule): after "HEAD is now at ",
 * "HEAD detached at "/"from ", "HEAD position was ", the word "commit ", "rebase in progress; onto ", "ould not
 * apply ", "Stopped at ", "' on '", a rebase todo line's command, "Updating " or " [ +] " starting a line (a range's
 * first id), before " (HEAD", " (tag: " or a reflog selector (" HEAD@{1}: "), or leading a line of git blame (after a
 * boundary commit's "^"). */
static int
git_id_at(Bytes s, Py_ssize_t i)
{
    static const char *const before[] = {"HEAD is now at ", "HEAD detached at ", "HEAD detached from ",
                                         "HEAD position was ", "rebase in progress; onto ", "ould not apply ",
                                         "Stopped at "};
    static const char *const todo[] = {"pick ", "reword ", "edit ", "squash ", "fixup ", "drop "};
    Py_ssize_t end = commit_id_end(s, i);
    if (end < 0)
        return 0;
    if (s[end] == ' ' && ((s[end + 1] == '(' && (literal_at(s, end + 2, "HEAD") || literal_at(s, end + 2, "tag: ")))
                          || reflog_selector_at(s, end + 1)))
        return 1;
    if ((i == 0 || s[i - 1] == '\n' || (s[i - 1] == '^' && (i == 1 || s[i - 2] == '\n'))) && blame_line_after(s, end))
        return 1;
    if (i == 0 || (s[i - 1] != ' ' && s[i - 1] != '\''))
        return 0;
    if (s[i - 1] == '\'')
        return ends_with(s, i, "' on '", 0);
    for (size_t b = 0; b < sizeof before / sizeof *before; b++)
        if (ends_with(s, i, before[b], 0))
            return 1;
    for (size_t t = 0; t < sizeof todo / sizeof *todo; t++) {
        Py_ssize_t length = (Py_ssize_t)strlen(todo[t]);
        if (ends_with(s, i, todo[t], 0) && at_line_start(s, i - length))
            return 1;
    }
    if (i >= 3 && (s[i - 2] == ' ' || s[i - 2] == '+') && s[i - 3] == ' ' && (i == 3 || s[i - 4] == '\n'))
        return 1;
    if (ends_with(s, i, "Updating ", 0) && (i == 9 || s[i - 10] == '\n'))
        return 1;
    return ends_with(s, i, "commit ", 0) && (i == 7 || !has(s, i - 8, WORD));
}

/* Where the git_id rule's phrases that lead to an id start at i: "WIP on ", "index on " or "untracked files on "
 * at a word's start (a stash's commits), or git describe's "-g" after a digit, before a lowercase hex digit. */
static int
git_id_phrase_at(Bytes s, Py_ssize_t i)
{
    if (s[i] == '-')
        return i > 0 && has(s, i - 1, DIGIT) && s[i + 1] == 'g' && has(s, i + 2, LOWER_HEX);
    return may_start_word(s, i)
           && (literal_at(s, i, "WIP on ") || literal_at(s, i, "index on ") || literal_at(s, i, "untracked files on "));
}

/* What may come before a word of a command line: what `re` counts as whitespace (\s), any non-ASCII character
 * being possibly one. */
static inline int
after_space(Bytes s, Py_ssize_t j)
{
    unsigned char c = s[j - 1];
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == NON_ASCII;
}

/* A ps format option at j, a word's start (masking/commands.py's _COMMAND_CUE): "-" and letters with an "o" among them
 * ("-o", "-eo"), "--format", or letters ending in "o" before a space ("axo ", "o "). */
static int
ps_format_option_at(Bytes s, Py_ssize_t j)
{
    if (s[j] == '-' && literal_at(s, j, "--format"))
        return 1;
    Py_ssize_t k = s[j] == '-' ? j + 1 : j;
    int has_o = 0;
    for (; (s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z'; k++)
        has_o |= s[k] == 'o';
    return s[j] == '-' ? has_o : k > j && s[k - 1] == 'o' && s[k] == ' ';
}

/* A git subcommand printing commit ids at j, a word's start: "log", "reflog", "rev-parse", "branch" or "worktree"
 * ending a word. */
static int
git_id_subcommand_at(Bytes s, Py_ssize_t j)
{
    static const char *const subcommands[] = {"log", "reflog", "rev-parse", "branch", "worktree"};
    for (size_t c = 0; c < sizeof subcommands / sizeof *subcommands; c++)
        if (literal_at(s, j, subcommands[c]) && !has(s, j + (Py_ssize_t)strlen(subcommands[c]), WORD))
            return 1;
    return 0;
}

/* "ps " or "git " at i, a word's start, with on the rest of its line a word that makes it a command whose rows the
 * command pass reads (a ps format option, a git subcommand printing commit ids): "git status" is turned away here.
 */
static int
command_at(Bytes s, Py_ssize_t i)
{
    int ps = literal_at(s, i, "ps "), git = !ps && literal_at(s, i, "git ");
    if (!(ps || git) || !may_start_word(s, i))
        return 0;
    for (Py_ssize_t j = i + (ps ? 3 : 4); s[j] && s[j] != '\n'; j++)
        if (after_space(s, j) && (ps ? ps_format_option_at(s, j) : git_id_subcommand_at(s, j)))
            return 1;
    return 0;
}

static inline unsigned
bit_if(int finder, int holds)
{
    return (unsigned)(holds != 0) << finder;
}

/* The finders whose rules can start a match at i: bit 1 << finder for each. */
static unsigned
starts_at(Bytes s, Py_ssize_t i)
{
    unsigned char c = s[i];
    unsigned found = 0;
    if (has(s, i, HEX) && may_start_word(s, i)) {
        found |= bit_if(UUID, uuid_layout(s, i));
        found |= bit_if(HEX_WORD, has(s, i, LOWER_HEX) && hex_word_start(s, i));
        found |= bit_if(GIT_ID, has(s, i, LOWER_HEX) && git_id_at(s, i));
        if (has(s, i, DIGIT)) {
            int digits = digits_form_start(s, i);
            found |= bit_if(DIGITS, digits);
            found |= bit_if(SETTING, digits && setting_before(s, i));
            found |= bit_if(ELAPSED, digits && elapsed_context(s, i));
            found |= bit_if(PS_ROW, ps_row_pid_at(s, i));
            found |= bit_if(UNIX_SECONDS, c == '1' && s[i + 1] >= '5' && s[i + 1] <= '9' && run_of(s, i + 2, 8, DIGIT));
        }
    }
    switch (c) {
    case '0':
        found |= bit_if(HEX_LITERAL, s[i + 1] == 'x' && run_of(s, i + 2, 4, HEX));
        found |= bit_if(LOCAL_PORT, local_host_port(s, i));
        break;
    case '1': case 'l':
        found |= bit_if(LOCAL_PORT, local_host_port(s, i));
        break;
    case '[':
        found |= bit_if(LOCAL_PORT, local_host_port(s, i));
        found |= bit_if(SHELL_JOB, shell_job_at(s, i));
        found |= bit_if(GIT_SUMMARY, git_summary_at(s, i));
        break;
    case '/':
        found |= bit_if(TEMP_DIR, temp_dir_at(s, i));
        break;
    case 't':
        found |= bit_if(TMP_NAME, literal_at(s, i, "tmp") && may_start_word(s, i) && run_of(s, i + 3, 6, WORD));
        found |= bit_if(PY_CLOCK, literal_at(s, i, "time.struct_time(") && may_start_word(s, i));
        break;
    case 'p':
        found |= bit_if(PID_WORD, literal_at(s, i, "pid") && pid_separator_at(s, i + 3));
        found |= bit_if(PROCESS_WORD, literal_at(s, i, "process") && pid_separator_at(s, i + 7));
        found |= bit_if(PORT_WORD, literal_at(s, i, "port ") && port_after(s, i + 5));
        found |= bit_if(COMMAND, command_at(s, i));
        break;
    case 'g':
        found |= bit_if(COMMAND, command_at(s, i));
        break;
    case 'd':
        /* Python's reprs: datetime.datetime(, datetime.time( (a clock reading), datetime.date( (a date). */
        if (may_start_word(s, i) && literal_at(s, i, "datetime.")) {
            found |= bit_if(PY_CLOCK, literal_at(s, i + 9, "datetime(") || literal_at(s, i + 9, "time("));
            found |= bit_if(PY_DATE, literal_at(s, i + 9, "date("));
        }
        break;
    case 'P':
        /* At a line's end too: a header whose only or last column is PID ("    PID", ps -o pid). */
        found |= bit_if(PID_UPPER, literal_at(s, i, "PID") && (pid_separator_at(s, i + 3) || s[i + 3] == '\n'
                                                              || s[i + 3] == '\r' || s[i + 3] == 0));
        break;
    case 'u':
        found |= bit_if(UP_TIME, up_time_at(s, i));
        found |= bit_if(GIT_ID, git_id_phrase_at(s, i));
        break;
    case 'i':
        found |= bit_if(GIT_INDEX, git_index_at(s, i));
        found |= bit_if(GIT_ID, git_id_phrase_at(s, i));
        break;
    case 'W': case '-':
        found |= bit_if(GIT_ID, git_id_phrase_at(s, i));
        break;
    case '"':
        found |= bit_if(WEEKDAY_KEY, weekday_key_at(s, i + 1));
        break;
    }
    if (c == 'T' || c == '%' || c == 'M' || c == 'S' || c == 'K' || c == 'G' || c == 'P' || c == 'E')
        found |= bit_if(USAGE_LINE, usage_line_at(s, i));
    if (c == 'M' || c == 'S' || c == 'K' || c == 'G' || c == 'T' || c == 'P' || c == 'E')
        found |= bit_if(MEMORY_TOTAL, memory_total_at(s, i));
    if (has(s, i, NAME_INITIAL)) {
        int day = name_at(s, i, DAY_NAMES);
        found |= bit_if(DAY_DATE, day && (s[i + 3] == ',' || s[i + 3] == ' '));
        found |= bit_if(MONTH_TIME, name_at(s, i, MONTH_NAMES) && s[i + 3] == ' ');
        found |= bit_if(WEEKDAY, day && weekday_end(s, i));
    }
    return found;
}

/* text as Bytes, in a buffer to PyMem_Free. */
static unsigned char *
bytes_of(PyObject *text)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    unsigned char *s = PyMem_Malloc(length + PADDING);
    if (s == NULL)
        return (unsigned char *)PyErr_NoMemory();
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *chars = data;
        for (Py_ssize_t i = 0; i < length; i++)
            s[i] = chars[i] < 128 ? chars[i] : NON_ASCII;
    } else {
        for (Py_ssize_t i = 0; i < length; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            s[i] = c < 128 ? (unsigned char)c : NON_ASCII;
        }
    }
    memset(s + length, 0, PADDING);
    return s;
}

/* A candidate start: where the rule of finder may start a match. */
typedef struct {
    Py_ssize_t start;
    int finder;
} Candidate;

/* A rule's match: [start, end) in the joined texts (the span of its group `v` if it has one), the rule's place in
 * priority order, and its kind (a str borrowed from the rules). */
typedef struct {
    Py_ssize_t start, end, priority;
    PyObject *kind;
} Span;

/* A growing array of Candidate or Span. */
typedef struct {
    void *items;
    Py_ssize_t count, capacity;
} Array;

/* A new item at the end of array, items of item_size bytes; NULL (an exception set) when out of memory. */
static void *
put_item(Array *array, size_t item_size)
{
    if (array->count == array->capacity) {
        Py_ssize_t capacity = array->capacity ? 2 * array->capacity : 64;
        void *items = PyMem_Realloc(array->items, capacity * item_size);
        if (items == NULL)
            return PyErr_NoMemory();
        array->items = items;
        array->capacity = capacity;
    }
    return (char *)array->items + item_size * array->count++;
}

static inline unsigned
pair_at(Bytes s, Py_ssize_t i)
{
    uint16_t pair;
    memcpy(&pair, s + i, sizeof pair);
    return PY_LITTLE_ENDIAN ? pair : (unsigned)(s[i + 1] << 8 | s[i]);
}

/* Bit k set where starts_at should test block + k (k < count): most of a screen (spaces, letters and digits inside
 * words) is ruled out here without a branch per character, and eight positions at a time: their pair flags as the
 * bytes of one 64-bit number, then each byte's verdict in a few operations on the whole number. */
static inline uint64_t
positions_to_test(Bytes s, Py_ssize_t block, Py_ssize_t count)
{
    const uint64_t ones = 0x0101010101010101ULL;  /* bit 0 of each byte */
    uint64_t looks = 0;
    uint64_t previous = block ? pair_flags[pair_at(s, block - 1)] : 0;  /* of the pair one back */
    for (int word = 0; word < 8; word++) {
        uint64_t here = 0;
        for (int k = 0; k < 8; k++)
            here |= (uint64_t)pair_flags[pair_at(s, block + 8 * word + k)] << 8 * k;
        uint64_t before = here << 8 | previous;
        previous = here >> 56;
        uint64_t after_word = before >> 2 & ones;  /* before's FIRST_IS_WORD */
        uint64_t tested = (here & after_word) | (here >> 1 & ~after_word & ones);
        /* Byte k's bit 0 to bit k of the top byte: the products' bits land apart, so nothing carries. */
        looks |= (tested * 0x0102040810204080ULL >> 56) << 8 * word;
    }
    return count < 64 ? looks & (((uint64_t)1 << count) - 1) : looks;
}

/* Every candidate start in text, in order of position (of one position, in finder order). */
static int
find_candidates(PyObject *text, Array *candidates)
{
    unsigned char *s = bytes_of(text);
    if (s == NULL)
        return -1;
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int failed = 0;
    for (Py_ssize_t block = 0; block < length && !failed; block += 64) {
        uint64_t looks = positions_to_test(s, block, length - block);
        for (; looks && !failed; looks &= looks - 1) {
            Py_ssize_t i = block + __builtin_ctzll(looks);
            unsigned found = starts_at(s, i);
            for (int f = 0; found && !failed; f++, found >>= 1) {
                if (!(found & 1))
                    continue;
                Candidate *candidate = put_item(candidates, sizeof(Candidate));
                if (candidate == NULL)
                    failed = 1;
                else
                    *candidate = (Candidate){i, f};
            }
        }
    }
    PyMem_Free(s);
    return failed ? -1 : 0;
}

static PyObject *
candidate_starts(PyObject *module, PyObject *arg)
{
    if (!PyUnicode_Check(arg))
        return PyErr_Format(PyExc_TypeError, "candidate_starts() needs a str, not %.100s", Py_TYPE(arg)->tp_name);
    Array candidates = {0};
    PyObject *lists = find_candidates(arg, &candidates) < 0 ? NULL : PyTuple_New(FINDER_COUNT);
    for (int f = 0; lists != NULL && f < FINDER_COUNT; f++) {
        PyObject *list = PyList_New(0);
        if (list == NULL)
            Py_CLEAR(lists);
        else
            PyTuple_SET_ITEM(lists, f, list);
    }
    const Candidate *items = candidates.items;
    for (Py_ssize_t c = 0; lists != NULL && c < candidates.count; c++) {
        PyObject *start = PyLong_FromSsize_t(items[c].start);
        if (start == NULL || PyList_Append(PyTuple_GET_ITEM(lists, items[c].finder), start) < 0)
            Py_CLEAR(lists);
        Py_XDECREF(start);
    }
    PyMem_Free(candidates.items);
    return lists;
}

/* Made once, by module_exec: the span dicts' keys, "" and "\n" to join with, the names of Match methods. */
static PyObject *START, *END, *KIND, *EMPTY, *NEWLINE, *GROUP, *SPAN, *LASTGROUP;

/* A rule as transforms.masking passes it: (pattern.match, finder, group number of `v` or a tuple of group numbers
 * or None, kind, check or None); kind is a str, a dict from the name of the pattern's last matched group to the kind, or None for a rule
 * that finds content (see kept_spans). */
typedef struct {
    PyObject *match_at, *value_group, *kind, *check;
    long finder;
} Rule;

static int
rule_of(PyObject *item, Rule *rule)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 5) {
        PyErr_SetString(PyExc_TypeError, "a rule is (match, finder, value group, kind, check)");
        return -1;
    }
    rule->match_at = PyTuple_GET_ITEM(item, 0);
    rule->finder = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
    rule->value_group = PyTuple_GET_ITEM(item, 2);
    rule->kind = PyTuple_GET_ITEM(item, 3);
    rule->check = PyTuple_GET_ITEM(item, 4);
    if (rule->finder == -1 && PyErr_Occurred())
        return -1;
    if (rule->finder < 0 || rule->finder >= FINDER_COUNT) {
        PyErr_SetString(PyExc_ValueError, "no such finder");
        return -1;
    }
    return 0;
}

/* 1 if the rule's check accepts the matched text (or it has none), 0 if not, -1 on error. */
static int
accepted(const Rule *rule, PyObject *match)
{
    if (rule->check == Py_None)
        return 1;
    PyObject *matched = PyObject_CallMethodNoArgs(match, GROUP);
    PyObject *verdict = matched == NULL ? NULL : PyObject_CallOneArg(rule->check, matched);
    int truth = verdict == NULL ? -1 : PyObject_IsTrue(verdict);
    Py_XDECREF(matched);
    Py_XDECREF(verdict);
    return truth;
}

/* The kind of match (a reference borrowed from the rule), NULL on error. */
static PyObject *
kind_of(const Rule *rule, PyObject *match)
{
    if (!PyDict_Check(rule->kind))
        return rule->kind;
    PyObject *last_group = PyObject_GetAttr(match, LASTGROUP);
    PyObject *kind = last_group == NULL ? NULL : PyDict_GetItemWithError(rule->kind, last_group);
    if (kind == NULL && !PyErr_Occurred())
        PyErr_SetObject(PyExc_KeyError, last_group);
    Py_XDECREF(last_group);
    return kind;
}

/* [*start, *end) set to the span of match's group (-1, -1 if it did not take part); -1 on error. */
static int
group_span(PyObject *match, PyObject *group, Py_ssize_t *start, Py_ssize_t *end)
{
    PyObject *value = PyObject_CallMethodOneArg(match, SPAN, group);
    int parsed = value != NULL && PyArg_ParseTuple(value, "nn", start, end);
    Py_XDECREF(value);
    return parsed ? 0 : -1;
}

static int
put_one_span(Array *spans, Py_ssize_t start, Py_ssize_t end, Py_ssize_t priority, PyObject *kind)
{
    Span *span = put_item(spans, sizeof(Span));
    if (span == NULL)
        return -1;
    *span = (Span){start, end, priority, kind};
    return 0;
}

/* The spans of the rule's match from start to end: the whole match, its group `v`, or each of its groups v0, v1...
 * that took part (a tuple of group numbers: the figures of a summary line, each a span of its own). */
static int
put_span(Array *spans, const Rule *rule, PyObject *match, Py_ssize_t start, Py_ssize_t end, Py_ssize_t priority)
{
    PyObject *kind = kind_of(rule, match);
    if (kind == NULL)
        return -1;
    if (!PyTuple_Check(rule->value_group)) {
        if (rule->value_group != Py_None && group_span(match, rule->value_group, &start, &end) < 0)
            return -1;
        return put_one_span(spans, start, end, priority, kind);
    }
    for (Py_ssize_t g = 0; g < PyTuple_GET_SIZE(rule->value_group); g++) {
        if (group_span(match, PyTuple_GET_ITEM(rule->value_group, g), &start, &end) < 0)
            return -1;
        if (start >= 0 && put_one_span(spans, start, end, priority, kind) < 0)
            return -1;
    }
    return 0;
}

/* The end of match, -1 on error. */
static Py_ssize_t
end_of(PyObject *match)
{
    PyObject *end = PyObject_CallMethodNoArgs(match, END);
    Py_ssize_t offset = end == NULL ? -1 : PyLong_AsSsize_t(end);
    Py_XDECREF(end);
    return offset;
}

/* The rule's pattern tried at a candidate start of its finder not inside its previous match (*reach: its end): what
 * finditer(text) yields for the pattern, when called at each candidate start in order, as finditer looks for a
 * match from each position on that is not inside the previous match. A match the rule's check accepts goes into
 * spans. */
static int
put_rule_span(PyObject *text, const Rule *rule, Py_ssize_t priority, Py_ssize_t at, Py_ssize_t *reach, Array *spans)
{
    if (at < *reach)
        return 0;
    PyObject *start = PyLong_FromSsize_t(at);
    if (start == NULL)
        return -1;
    PyObject *arguments[] = {text, start};
    PyObject *match = PyObject_Vectorcall(rule->match_at, arguments, 2, NULL);
    Py_DECREF(start);
    if (match == NULL)
        return -1;
    int failed = 0;
    if (match != Py_None) {
        Py_ssize_t end = end_of(match);
        int accepts = end < 0 ? -1 : accepted(rule, match);
        failed = accepts < 0 || (accepts && put_span(spans, rule, match, at, end, priority) < 0);
        *reach = end;
    }
    Py_DECREF(match);
    return failed ? -1 : 0;
}

/* Each candidate start of the finder of each (finder, list) of marks appended to its list, in order. */
static int
put_marks(PyObject *marks, const Array *candidates)
{
    const Candidate *items = candidates->items;
    for (Py_ssize_t m = 0; m < PySequence_Fast_GET_SIZE(marks); m++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(marks, m);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyList_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "a mark is (finder, list)");
            return -1;
        }
        long finder = PyLong_AsLong(PyTuple_GET_ITEM(pair, 0));
        if (finder == -1 && PyErr_Occurred())
            return -1;
        if (finder < 0 || finder >= FINDER_COUNT) {
            PyErr_SetString(PyExc_ValueError, "no such finder");
            return -1;
        }
        for (Py_ssize_t c = 0; c < candidates->count; c++) {
            if (items[c].finder != finder)
                continue;
            PyObject *start = PyLong_FromSsize_t(items[c].start);
            int failed = start == NULL || PyList_Append(PyTuple_GET_ITEM(pair, 1), start) < 0;
            Py_XDECREF(start);
            if (failed)
                return -1;
        }
    }
    return 0;
}

/* Every rule's matches in text, overlapping; and the marks (NULL for none). One pass over the candidates hands each
 * to the rules of its finder (most texts have few candidates and most rules none: a pass per rule cost more). */
static int
put_all_spans(PyObject *text, PyObject *rules, PyObject *marks, Array *spans)
{
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rules);
    Array candidates = {0};
    /* Per rule: itself, the end of its last match, the next rule of the same finder (-1: none). */
    Rule *parsed = PyMem_Calloc(count ? count : 1, sizeof(Rule));
    Py_ssize_t *reach = PyMem_Calloc(count ? count : 1, sizeof(Py_ssize_t));
    Py_ssize_t *next = PyMem_Calloc(count ? count : 1, sizeof(Py_ssize_t));
    Py_ssize_t first[FINDER_COUNT], last[FINDER_COUNT];
    int failed = parsed == NULL || reach == NULL || next == NULL;
    if (failed)
        PyErr_NoMemory();
    for (int f = 0; f < FINDER_COUNT; f++)
        first[f] = last[f] = -1;
    for (Py_ssize_t r = 0; !failed && r < count; r++) {
        failed = rule_of(PySequence_Fast_GET_ITEM(rules, r), &parsed[r]) < 0;
        if (!failed) {
            long f = parsed[r].finder;
            next[r] = -1;
            if (last[f] < 0)
                first[f] = r;
            else
                next[last[f]] = r;
            last[f] = r;
        }
    }
    failed = failed || find_candidates(text, &candidates) < 0;
    const Candidate *items = candidates.items;
    /* The elapsed rule is a form of the digits rule split off (masking/rules.py), so the two share one reach, as the
     * forms of one pattern would: an elapsed match moves the digits rule's ("0:05.5KiB" after "elapsed=" yields
     * "0:05" and then "5KiB", not "05.5KiB" from inside it), and a digits match the elapsed rule's ("9:05:07.1"
     * of "9:05:07.1:02:03elapsed" hides "1:02:03elapsed", so "02:03elapsed" after it is tried). At one position
     * the elapsed rule goes first (the finders' order), as its form comes first in the pattern. */
    Py_ssize_t digits = first[DIGITS];
    for (Py_ssize_t c = 0; !failed && c < candidates.count; c++)
        for (Py_ssize_t r = first[items[c].finder]; !failed && r >= 0; r = next[r]) {
            int elapsed = parsed[r].finder == ELAPSED && digits >= 0;
            if (elapsed && reach[r] < reach[digits])
                reach[r] = reach[digits];
            failed = put_rule_span(text, &parsed[r], r, items[c].start, &reach[r], spans) < 0;
            if (elapsed && reach[digits] < reach[r])
                reach[digits] = reach[r];
        }
    if (!failed && marks != NULL)
        failed = put_marks(marks, &candidates) < 0;
    PyMem_Free(candidates.items);
    PyMem_Free(parsed);
    PyMem_Free(reach);
    PyMem_Free(next);
    return failed ? -1 : 0;
}

static int
by_start_then_priority(const void *left, const void *right)
{
    const Span *a = left, *b = right;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return (a->priority > b->priority) - (a->priority < b->priority);
}

/* Sorted by start, then by rule order: the first rule's match at a position wins, and a match starting inside an
 * earlier kept one is dropped. A winning match of a rule whose kind is None is content: it masks nothing, but
 * still keeps the other rules' matches at and inside it out. Returns how many are kept, at the front. */
static Py_ssize_t
kept_spans(Span *spans, Py_ssize_t count)
{
    if (count == 0)
        return 0;
    qsort(spans, count, sizeof(Span), by_start_then_priority);
    Py_ssize_t kept = 0, reach = 0;
    for (Py_ssize_t i = 0; i < count; i++)
        if (spans[i].start >= reach) {
            reach = spans[i].end;
            if (spans[i].kind != Py_None)
                spans[kept++] = spans[i];
        }
    return kept;
}

static PyObject *
span_dict(const Span *span, Py_ssize_t offset)
{
    PyObject *dict = PyDict_New(), *start = PyLong_FromSsize_t(span->start - offset);
    PyObject *end = PyLong_FromSsize_t(span->end - offset);
    if (dict == NULL || start == NULL || end == NULL || PyDict_SetItem(dict, START, start) < 0
        || PyDict_SetItem(dict, END, end) < 0 || PyDict_SetItem(dict, KIND, span->kind) < 0)
        Py_CLEAR(dict);
    Py_XDECREF(start);
    Py_XDECREF(end);
    return dict;
}

/* "<kind>", made once per kind per call (markers: kind -> its marker). */
static PyObject *
marker_of(PyObject *markers, PyObject *kind)
{
    PyObject *marker = PyDict_GetItemWithError(markers, kind);
    if (marker != NULL || PyErr_Occurred())
        return Py_XNewRef(marker);
    marker = PyUnicode_FromFormat("<%S>", kind);
    if (marker != NULL && PyDict_SetItem(markers, kind, marker) < 0)
        Py_CLEAR(marker);
    return marker;
}

static int
put_new(PyObject *list, PyObject *item)
{
    int failed = item == NULL || PyList_Append(list, item) < 0;
    Py_XDECREF(item);
    return failed ? -1 : 0;
}

/* text with each of spans[0:count] replaced by its kind's marker, when text and the markers are ASCII: written
 * straight into the new str (most screens are ASCII). NULL without an exception set otherwise. */
static PyObject *
ascii_masked(PyObject *text, const Span *spans, Py_ssize_t count, Py_ssize_t offset, PyObject *markers)
{
    if (!PyUnicode_IS_ASCII(text))
        return NULL;
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *marker = marker_of(markers, spans[i].kind);  /* the dict keeps it */
        if (marker == NULL)
            return NULL;
        int ascii = PyUnicode_IS_ASCII(marker);
        length += PyUnicode_GET_LENGTH(marker) - (spans[i].end - spans[i].start);
        Py_DECREF(marker);
        if (!ascii)
            return NULL;
    }
    PyObject *masked = PyUnicode_New(length, 127);
    if (masked == NULL)
        return NULL;
    const Py_UCS1 *from = PyUnicode_1BYTE_DATA(text);
    Py_UCS1 *to = PyUnicode_1BYTE_DATA(masked);
    Py_ssize_t position = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *marker = PyDict_GetItemWithError(markers, spans[i].kind);  /* borrowed: put there above */
        Py_ssize_t start = spans[i].start - offset, marker_length = PyUnicode_GET_LENGTH(marker);
        memcpy(to, from + position, start - position);
        to += start - position;
        memcpy(to, PyUnicode_1BYTE_DATA(marker), marker_length);
        to += marker_length;
        position = spans[i].end - offset;
    }
    memcpy(to, from + position, PyUnicode_GET_LENGTH(text) - position);
    return masked;
}

/* text with each of spans[0:count] replaced by its kind's marker, joined from pieces: for any text. */
static PyObject *
joined_masked(PyObject *text, const Span *spans, Py_ssize_t count, Py_ssize_t offset, PyObject *markers)
{
    PyObject *parts = PyList_New(0), *masked = NULL;
    Py_ssize_t position = 0;
    for (Py_ssize_t i = 0; parts != NULL && i < count; i++) {
        if (put_new(parts, PyUnicode_Substring(text, position, spans[i].start - offset)) < 0
            || put_new(parts, marker_of(markers, spans[i].kind)) < 0)
            Py_CLEAR(parts);
        position = spans[i].end - offset;
    }
    if (parts != NULL && put_new(parts, PyUnicode_Substring(text, position, PyUnicode_GET_LENGTH(text))) == 0)
        masked = PyUnicode_Join(EMPTY, parts);
    Py_XDECREF(parts);
    return masked;
}

/* (span dicts, masked text) of text, whose spans (offsets in the joined texts) are spans[0:count]. */
static PyObject *
text_result(PyObject *text, const Span *spans, Py_ssize_t count, Py_ssize_t offset, PyObject *markers)
{
    PyObject *dicts = PyList_New(count), *result = NULL;
    for (Py_ssize_t i = 0; dicts != NULL && i < count; i++) {
        PyObject *dict = span_dict(&spans[i], offset);
        if (dict == NULL)
            Py_CLEAR(dicts);
        else
            PyList_SET_ITEM(dicts, i, dict);
    }
    if (dicts == NULL)
        return NULL;
    PyObject *masked = ascii_masked(text, spans, count, offset, markers);
    if (masked == NULL && !PyErr_Occurred())
        masked = joined_masked(text, spans, count, offset, markers);
    if (masked != NULL)
        result = PyTuple_Pack(2, dicts, masked);
    Py_DECREF(dicts);
    Py_XDECREF(masked);
    return result;
}

/* Each text's results, its spans being those that start within it (none starts on a joining newline). */
static PyObject *
results_of(PyObject *texts, const Span *spans, Py_ssize_t count)
{
    Py_ssize_t text_count = PySequence_Fast_GET_SIZE(texts), offset = 0, next = 0;
    PyObject *results = PyList_New(text_count), *markers = PyDict_New();
    if (markers == NULL)
        Py_CLEAR(results);
    for (Py_ssize_t t = 0; results != NULL && t < text_count; t++) {
        PyObject *text = PySequence_Fast_GET_ITEM(texts, t), *result = NULL;
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be str");
            Py_CLEAR(results);
            break;
        }
        Py_ssize_t end = offset + PyUnicode_GET_LENGTH(text), first = next;
        while (next < count && spans[next].start < end)
            next++;
        if (next > first && (spans[first].start < offset || spans[next - 1].end > end)) {
            PyErr_SetString(PyExc_ValueError, "a span crosses from one text into another");
            Py_CLEAR(results);
            break;
        }
        if (next == first) {
            PyObject *no_spans = PyList_New(0);
            result = no_spans == NULL ? NULL : PyTuple_Pack(2, no_spans, text);
            Py_XDECREF(no_spans);
        } else
            result = text_result(text, spans + first, next - first, offset, markers);
        if (result == NULL) {
            Py_CLEAR(results);
            break;
        }
        PyList_SET_ITEM(results, t, result);
        offset = end + 1;
    }
    Py_XDECREF(markers);
    return results;
}

static PyObject *
mask_group(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 && nargs != 3)
        return PyErr_Format(PyExc_TypeError, "mask_group() takes 2 or 3 arguments (%zd given)", nargs);
    PyObject *texts = PySequence_Fast(args[0], "mask_group() needs a sequence of texts");
    PyObject *rules = texts == NULL ? NULL : PySequence_Fast(args[1], "mask_group() needs a sequence of rules");
    PyObject *marks = NULL;
    if (rules != NULL && nargs == 3 && args[2] != Py_None)
        marks = PySequence_Fast(args[2], "mask_group() needs a sequence of marks");
    int ready = rules != NULL && (nargs == 2 || args[2] == Py_None || marks != NULL);
    PyObject *joined = ready ? PyUnicode_Join(NEWLINE, texts) : NULL;
    PyObject *results = NULL;
    Array spans = {0};
    if (joined != NULL && put_all_spans(joined, rules, marks, &spans) == 0)
        results = results_of(texts, spans.items, kept_spans(spans.items, spans.count));
    PyMem_Free(spans.items);
    Py_XDECREF(texts);
    Py_XDECREF(rules);
    Py_XDECREF(marks);
    Py_XDECREF(joined);
    return results;
}

static PyMethodDef methods[] = {
    {"candidate_starts", candidate_starts, METH_O,
     "candidate_starts(text) -> tuple of lists\n\n"
     "For each finder named in FINDERS, in that order, the ascending offsets in text where its masking rule may\n"
     "start a match: every offset where it does, and some where it does not (for ps_row, where a ps row's pid may\n"
     "be; for weekday_key, where a day-of-week JSON key's opening quote may be)."},
    {"mask_group", (PyCFunction)(void (*)(void))mask_group, METH_FASTCALL,
     "mask_group(texts, rules, marks=None) -> list of (spans, masked text)\n\n"
     "Each rule (pattern.match, finder, value groups, kind, check or None) is tried at its finder's candidate\n"
     "starts in \"\\n\".join(texts), as its pattern's finditer would find matches there. The value groups are the\n"
     "group number of `v`, a tuple of group numbers or None. Of the matches (the span of group `v` where there is\n"
     "one, a span per group of the tuple that took part, the whole match otherwise; kept if check(matched text) is\n"
     "true) starting at one place the\n"
     "first rule's wins, and one starting inside a kept one is dropped; a kept one of kind None is then left out\n"
     "(content). Each text gets the kept spans that start\n"
     "in it, as {\"start\", \"end\", \"kind\"} dicts with offsets in the text, and the text with each span replaced\n"
     "by \"<kind>\". A kind is a str, or a dict from the name of the pattern's last matched group to the kind.\n"
     "marks, if given, is a sequence of (finder, list): each list gets the ascending candidate starts (offsets in\n"
     "the joined texts) of its finder, which need be no rule's (what a pass after this one must read)."},
    {NULL, NULL, 0, NULL},
};


static void
set_class(const char *characters, unsigned flag)
{
    for (; *characters; characters++)
        byte_class[(unsigned char)*characters] |= flag;
}

static int
module_exec(PyObject *module)
{
    set_class("0123456789", DIGIT | LOWER_HEX | HEX | WORD);
    set_class("abcdef", LOWER_HEX | HEX);
    set_class("ABCDEF", HEX);
    set_class("MTWFSJAOND", NAME_INITIAL);  /* of the day and month names */
    set_class("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", WORD);
    set_class("-: .munsKMGTPb", DIGIT_FOLLOWER);
    byte_class[NON_ASCII] |= DIGIT_FOLLOWER;
    set_class("munsKMGTPb", SPACE_FOLLOWER);  /* the units' first letters, as DIGIT_FOLLOWER's */
    byte_class[NON_ASCII] |= SPACE_FOLLOWER;
    for (const char *name = MONTH_NAMES; *name; name += 3)
        byte_class[(unsigned char)*name] |= SPACE_FOLLOWER;
    /* What starts_at can find, by its first two characters. */
    const unsigned anywhere = TEST_AFTER_WORD | TEST_AFTER_NON_WORD;
    add_pairs(anywhere, "0", "x.");  /* 0x..., 0.0.0.0: */
    add_pairs(anywhere, "1", "2");  /* 127.0.0.1: */
    add_pairs(anywhere, "l", "o");  /* localhost: */
    add_pairs(anywhere, "[", "0123456789:");  /* [1] 12345, [::]: */
    for (unsigned second = 1; second < 256; second++)  /* [main 4997019]: a branch's name may be any \w */
        if (second != ']' && second != ' ' && second != '\n')
            add_pair(TEST_AFTER_NON_WORD, '[', (unsigned char)second);
    add_pairs(TEST_AFTER_NON_WORD, "p", "s");  /* ps */
    add_pairs(TEST_AFTER_NON_WORD, "g", "i");  /* git */
    add_pairs(anywhere, "/", "tvdp");  /* /tmp/, /var/tmp/, /dev/shm/, /private/var/folders/ */
    add_pairs(anywhere, "p", "iro");  /* pid, process, port */
    add_pairs(anywhere, "P", "I");
    add_pairs(TEST_AFTER_NON_WORD, "u", "p");  /* up 2:16, */
    add_pairs(TEST_AFTER_NON_WORD, "i", "n");  /* index 814f4a4..ddc897f, index on main: 4997019 */
    add_pairs(TEST_AFTER_NON_WORD, "W", "I");  /* WIP on main: 4997019 */
    add_pairs(TEST_AFTER_NON_WORD, "u", "n");  /* untracked files on main: 4997019 */
    add_pairs(TEST_AFTER_WORD, "-", "g");  /* v1.0-3-g4997019 */
    add_pairs(TEST_AFTER_NON_WORD, "T", "ah");  /* Tasks:, Threads: */
    add_pairs(TEST_AFTER_NON_WORD, "%", "C");  /* %Cpu(s): */
    add_pairs(TEST_AFTER_NON_WORD, "M", "e");  /* Mem: */
    add_pairs(TEST_AFTER_NON_WORD, "S", "w");  /* Swap: */
    add_pairs(TEST_AFTER_NON_WORD, "KMGTPE", "i");  /* MiB Mem : */
    for (const char *name = DAY_NAMES MONTH_NAMES; *name; name += 3)
        add_pair(anywhere, (unsigned char)name[0], (unsigned char)name[1]);
    add_pairs(TEST_AFTER_NON_WORD, "abcdefABCDEF", "0123456789abcdefABCDEF");  /* UUID, hex word */
    add_pairs(TEST_AFTER_NON_WORD, "t", "m");  /* tmp... */
    add_pairs(TEST_AFTER_NON_WORD, "d", "a");  /* datetime.datetime(... */
    add_pairs(TEST_AFTER_NON_WORD, "t", "i");  /* time.struct_time(... */
    add_pairs(anywhere, "\"", "dDwW");  /* "day_of_week", "weekday"... */
    for (unsigned second = 0; second < 256; second++) {
        for (const char *digit = "0123456789"; *digit; digit++)  /* a digits form has a character after its first */
            if (second)
                add_pair(TEST_AFTER_NON_WORD, (unsigned char)*digit, (unsigned char)second);
        for (unsigned first = 0; first < 256; first++)
            if (byte_class[first] & WORD)
                add_pair(FIRST_IS_WORD, (unsigned char)first, (unsigned char)second);
    }
    if ((START = PyUnicode_InternFromString("start")) == NULL || (END = PyUnicode_InternFromString("end")) == NULL
        || (KIND = PyUnicode_InternFromString("kind")) == NULL || (EMPTY = PyUnicode_FromString("")) == NULL
        || (NEWLINE = PyUnicode_FromString("\n")) == NULL || (GROUP = PyUnicode_InternFromString("group")) == NULL
        || (SPAN = PyUnicode_InternFromString("span")) == NULL
        || (LASTGROUP = PyUnicode_InternFromString("lastgroup")) == NULL)
        return -1;
    PyObject *names = PyTuple_New(FINDER_COUNT);
    if (names == NULL)
        return -1;
    for (int f = 0; f < FINDER_COUNT; f++) {
        PyObject *name = PyUnicode_FromString(finder_names[f]);
        if (name == NULL) {
            Py_DECREF(names);
            return -1;
        }
        PyTuple_SET_ITEM(names, f, name);
    }
    int failed = PyModule_AddObjectRef(module, "FINDERS", names) < 0;
    Py_DECREF(names);
    return failed ? -1 : 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_masking", "The masking rules run over texts, for transforms.masking.", 0, methods, slots,
};

PyMODINIT_FUNC
PyInit__masking(void)
{
    return PyModuleDef_Init(&module);
}
