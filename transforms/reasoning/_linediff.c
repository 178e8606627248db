/* The line diff of the grounded reasoning trace (transforms/reasoning/screens.py, grounded.py): what appeared,
 * disappeared and changed between a state and its next observation, as sentences, and the new lines for the
 * file-name scan; which lines of a screen are elements shown again under another id (renumbered); which volatile
 * values of the next observation the state does not already show; and web quotes without the tree's indentation.
 *
 * Lines are str.splitlines() of each text, kept as spans of the text: no str object is made for a line unless a
 * sentence quotes it. The changed regions are the gaps between the matching blocks of
 * difflib.SequenceMatcher(a=before, b=after, autojunk=False), found with difflib's own algorithm (longest match
 * of a region, then the regions left and right of it), so ties go where difflib sends them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_LISTED 3
#define MAX_CHARS 72

typedef struct {
    Py_ssize_t start, end;  /* the line is text[start:end], its line break excluded */
    Py_uhash_t hash;        /* equal lines, equal hashes (see split_lines) */
} Line;

/* Lines of most observations fit in the Text itself: no allocation. */
#define INLINE_LINES 128

typedef struct {
    PyObject *text;
    int kind;
    const void *data;
    Line *lines;            /* inline_lines, or a heap array past INLINE_LINES */
    Py_ssize_t count, capacity;
    Line inline_lines[INLINE_LINES];
} Text;

typedef struct {
    Py_ssize_t a, b, size;
} Block;

typedef struct {
    Py_ssize_t i1, i2, j1, j2;
} Region;

/* A changed line as it is compared: where it starts after its whitespace, where its head (head_end) ends (-1: it has
 * none), where it stops before its trailing whitespace; where the part of its head two lines must share to be one
 * line starts (key: past an element's "[id]", as ids move when elements before them appear, so "[31] text" and
 * "[35] text" are one element; else the head's start); and what tells most pairs of lines apart without reading
 * them, as a replace compares each line with many: the hash of that part, or its first and last characters. */
typedef struct {
    Py_ssize_t start, end, stop, key;
    Py_uhash_t head_hash;
    Py_UCS4 first, last;
    int indented;           /* whitespace before its start: a web tree's line below the root */
    /* An android view line whose head is its class and resource id (view_row): where its name (its text, hint and
     * description fields) ends and its bounds' "[x,y]" start (place, -1 for any other line), and whether another line
     * of its screen has its class and resource id (shared: a list's rows, android:id/title; also set by mark_lone on
     * an element without a name at another place on another page, which pairs as a row does); whether a changed line
     * of the other screen is it at its place with its name (twinned: only a flag changed), or has its name at another
     * place (elsewhere: it moved), so no other row of that key is told as it with another name (mark_twins). */
    Py_ssize_t name_end, place;
    signed char row, shared, twinned, elsewhere;  /* row: 0 until mark_keys asks; chars keep a Head 9 words */
} Head;

/* The separators of str.splitlines() below 256; above, only U+2028 and U+2029. */
static const unsigned char LATIN1_BREAK[256] = {
    [0x0A] = 1, [0x0B] = 1, [0x0C] = 1, [0x0D] = 1, [0x1C] = 1, [0x1D] = 1, [0x1E] = 1, [0x85] = 1,
};

static inline int
is_line_break(Py_UCS4 ch)
{
    return ch < 256 ? LATIN1_BREAK[ch] : (ch == 0x2028 || ch == 0x2029);
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether one of 8 Latin-1 characters may be a line break: a byte below 0x1F, or 0x85. Tabs pass too. */
static inline int
may_hold_break(uint64_t word)
{
    uint64_t below = (word - ONES * 0x1F) & ~word & HIGHS;
    uint64_t nel = word ^ (ONES * 0x85);
    return (below | ((nel - ONES) & ~nel & HIGHS)) != 0;
}

static inline uint64_t
load_word(const unsigned char *bytes)
{
    uint64_t word;
    memcpy(&word, bytes, 8);
    return word;
}

#define HASH_SEED 0x9E3779B97F4A7C15ULL

static inline uint64_t
mix_word(uint64_t hash, uint64_t word)
{
    hash = (hash ^ word) * 0xFF51AFD7ED558CCDULL;
    return hash ^ (hash >> 32);
}

static inline Py_uhash_t
finish_hash(uint64_t hash, const unsigned char *tail, size_t tail_size, size_t size)
{
    uint64_t last = 0;
    memcpy(&last, tail, tail_size);
    hash = (hash ^ last ^ (size * 0xC2B2AE3D27D4EB4FULL)) * 0xC4CEB9FE1A85EC53ULL;
    return hash ^ (hash >> 29);
}

/* The hash of a line of two texts of one width, where equal lines have equal bytes: its whole 8-byte words from
 * its start, then the rest and the size. */
static Py_uhash_t
hash_bytes(const unsigned char *bytes, size_t size)
{
    uint64_t hash = HASH_SEED;
    size_t left = size;
    for (; left >= 8; bytes += 8, left -= 8)
        hash = mix_word(hash, load_word(bytes));
    return finish_hash(hash, bytes, left, size);
}

/* The hash of a line of two texts of different widths (an emoji in one of them): its code points. */
static Py_uhash_t
hash_code_points(const Text *t, Py_ssize_t start, Py_ssize_t end)
{
    uint64_t hash = 14695981039346656037ULL;
    for (Py_ssize_t i = start; i < end; i++)
        hash = (hash ^ PyUnicode_READ(t->kind, t->data, i)) * 1099511628211ULL;
    return hash ^ (hash >> 29);
}

/* The end of the line of a 1-byte text that starts at start, and its hash_bytes(), in one pass over most lines: they
 * hold no control character, so they are read 8 characters at a time, each word hashed as it is checked. */
static Py_ssize_t
scan_latin1_line(const unsigned char *data, Py_ssize_t start, Py_ssize_t length, Py_uhash_t *hash)
{
    uint64_t partial = HASH_SEED;
    Py_ssize_t i = start;
    for (; i + 8 <= length; i += 8) {
        uint64_t word = load_word(data + i);
        if (may_hold_break(word))
            break;
        partial = mix_word(partial, word);
    }
    Py_ssize_t end = i;
    while (end < length && !LATIN1_BREAK[data[end]])
        end++;
    for (; i + 8 <= end; i += 8)  /* the words after a false alarm (a tab) */
        partial = mix_word(partial, load_word(data + i));
    *hash = finish_hash(partial, data + i, end - i, end - start);
    return end;
}

/* The end of the line that starts at start, any width. */
static Py_ssize_t
scan_line(const Text *t, Py_ssize_t start, Py_ssize_t length)
{
    Py_ssize_t end = start;
    while (end < length && !is_line_break(PyUnicode_READ(t->kind, t->data, end)))
        end++;
    return end;
}

static int
add_line(Text *t, Py_ssize_t start, Py_ssize_t end, Py_uhash_t hash)
{
    if (t->count == t->capacity) {
        Line *grown = PyMem_Malloc(2 * t->capacity * sizeof(Line));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(grown, t->lines, t->count * sizeof(Line));
        if (t->lines != t->inline_lines)
            PyMem_Free(t->lines);
        t->lines = grown;
        t->capacity *= 2;
    }
    t->lines[t->count++] = (Line){start, end, hash};
    return 0;
}

static void
free_text(Text *t)
{
    if (t->lines != t->inline_lines)
        PyMem_Free(t->lines);
}

/* Splits text as str.splitlines() does ("\r\n" is one break; a trailing break ends the last line, it starts no new
 * one) and hashes each line: by its bytes when the other text has the same width (same_width), else by its code
 * points. 0 on success, -1 with an exception set; free_text() after either. */
static int
split_lines(PyObject *text, Text *out, int same_width)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    out->text = text;
    out->kind = PyUnicode_KIND(text);
    out->data = PyUnicode_DATA(text);
    out->count = 0;
    out->capacity = INLINE_LINES;
    out->lines = out->inline_lines;
    Py_ssize_t i = 0;
    while (i < length) {
        Py_uhash_t hash;
        Py_ssize_t end;
        if (out->kind == PyUnicode_1BYTE_KIND && same_width) {
            end = scan_latin1_line(out->data, i, length, &hash);
        } else {
            end = scan_line(out, i, length);
            hash = same_width ? hash_bytes((const unsigned char *)out->data + i * out->kind, (end - i) * out->kind)
                              : hash_code_points(out, i, end);
        }
        if (add_line(out, i, end, hash) < 0)
            return -1;
        i = end;
        if (i < length)
            i += (PyUnicode_READ(out->kind, out->data, i) == '\r' && i + 1 < length &&
                  PyUnicode_READ(out->kind, out->data, i + 1) == '\n') ? 2 : 1;
    }
    return 0;
}

/* Both texts of a call split and hashed alike. */
static int
split_both(PyObject *before, PyObject *after, Text *a, Text *b)
{
    int same_width = PyUnicode_KIND(before) == PyUnicode_KIND(after);
    a->lines = a->inline_lines;
    b->lines = b->inline_lines;
    return split_lines(before, a, same_width) < 0 || split_lines(after, b, same_width) < 0 ? -1 : 0;
}

static int
lines_equal(const Text *x, const Line *p, const Text *y, const Line *q)
{
    Py_ssize_t length = p->end - p->start;
    if (length != q->end - q->start)
        return 0;
    if (x->kind == y->kind)
        return memcmp((const char *)x->data + p->start * x->kind, (const char *)y->data + q->start * y->kind,
                      length * x->kind) == 0;
    for (Py_ssize_t k = 0; k < length; k++)
        if (PyUnicode_READ(x->kind, x->data, p->start + k) != PyUnicode_READ(y->kind, y->data, q->start + k))
            return 0;
    return 1;
}

static int
same_lines(const Text *x, const Text *y)
{
    if (x->count != y->count)
        return 0;
    for (Py_ssize_t i = 0; i < x->count; i++)
        if (!lines_equal(x, &x->lines[i], y, &y->lines[i]))
            return 0;
    return 1;
}

/* Whether text[start:end] is all whitespace as str.isspace() and str.strip() see it (an empty span is). */
static int
is_blank(const Text *t, Py_ssize_t start, Py_ssize_t end)
{
    for (Py_ssize_t i = start; i < end; i++)
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(t->kind, t->data, i)))
            return 0;
    return 1;
}

/* ---- matching blocks ------------------------------------------------------------------------------------------ */

/* Lengths of the runs ending at (i, j) for the previous and the current line of a, indexed by j, with the positions
 * set so they can be zeroed again: difflib's j2len and newj2len dicts. */
typedef struct {
    Py_ssize_t *previous, *current;
    Py_ssize_t *previous_set, *current_set;
    Py_ssize_t previous_count, current_count;
} RunLengths;

/* The arrays of a diff of screens of up to ~100 lines fit in the Workspace itself: no allocation. */
#define INLINE_WORDS 6144

/* Everything a diff of a (la lines) against b (lb lines) works in: one block of memory, carved. */
typedef struct {
    Py_ssize_t *memory;     /* inline_memory, or a heap array past INLINE_WORDS */
    /* What difflib's b2j holds, by line number instead of line text: the line ids of a and b (equal lines, equal
     * ids; a line of a found nowhere in b gets -1), and for each id the positions in b where it stands, ascending:
     * b_positions[id_starts[id]:id_starts[id + 1]]. */
    Py_ssize_t *id_a, *id_b, *b_positions, *id_starts;
    Py_ssize_t *table, *table_ids;  /* open addressing: a line number of b per slot (-1: free), and its id */
    size_t table_mask;
    RunLengths runs;
    /* Blocks never overlap, so there are at most min(la, lb) of them and the sentinel; a region to search is
     * pushed at most twice per block found; a changed region lies before each block. */
    Block *blocks;
    Region *pending, *regions;
    Py_ssize_t *old_lines, *new_lines;  /* the numbers of a's and of b's lines in changed regions, in order */
    Head *old_heads, *new_heads;        /* theirs, by the same index */
    /* pair_region()'s, for a region's lines: how many lines of the other side each is ALIKE (or surer) to,
     * RENUMBERED (or SAME) to, and SAME to, within the band; its partner; the candidate pairs, and for each the pair
     * before it in the longest increasing run ending there; the ends of those runs. */
    Py_ssize_t *old_alike, *old_same, *new_alike, *new_same, *old_renumbered, *new_renumbered, *partner, *candidate_i,
        *candidate_j, *before, *tails;
    Py_ssize_t inline_memory[INLINE_WORDS];
} Workspace;

static void
workspace_free(Workspace *w)
{
    if (w->memory != w->inline_memory)
        PyMem_Free(w->memory);
}

/* 0, or -1 with an exception set; workspace_free() after either. */
static int
workspace_init(Workspace *w, Py_ssize_t la, Py_ssize_t lb)
{
    size_t slots = 8;
    while (slots < 2 * (size_t)lb)
        slots <<= 1;
    size_t most = (size_t)(la < lb ? la : lb) + 1;
    size_t sizes[] = {
        la + 1, lb + 1, lb + 1, lb + 2, slots, slots, lb + 1, lb + 1, lb + 1, lb + 1,
        most * sizeof(Block) / sizeof(Py_ssize_t), 2 * most * sizeof(Region) / sizeof(Py_ssize_t),
        most * sizeof(Region) / sizeof(Py_ssize_t), la + 1, lb + 1,
        (la + 1) * sizeof(Head) / sizeof(Py_ssize_t), (lb + 1) * sizeof(Head) / sizeof(Py_ssize_t),
        la + 1, la + 1, lb + 1, lb + 1, la + 1, lb + 1, la + 1, la + 1, la + 1, la + 1, la + 1,
    };
    Py_ssize_t **parts[] = {
        &w->id_a, &w->id_b, &w->b_positions, &w->id_starts, &w->table, &w->table_ids, &w->runs.previous,
        &w->runs.current, &w->runs.previous_set, &w->runs.current_set, (Py_ssize_t **)&w->blocks,
        (Py_ssize_t **)&w->pending, (Py_ssize_t **)&w->regions, &w->old_lines, &w->new_lines,
        (Py_ssize_t **)&w->old_heads, (Py_ssize_t **)&w->new_heads, &w->old_alike, &w->old_same, &w->new_alike,
        &w->new_same, &w->old_renumbered, &w->new_renumbered, &w->partner, &w->candidate_i, &w->candidate_j,
        &w->before, &w->tails,
    };
    size_t total = 0;
    for (size_t n = 0; n < sizeof sizes / sizeof sizes[0]; n++)
        total += sizes[n];
    w->memory = total <= INLINE_WORDS ? w->inline_memory : PyMem_Malloc(total * sizeof(Py_ssize_t));
    if (w->memory == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t *next = w->memory;
    for (size_t n = 0; n < sizeof sizes / sizeof sizes[0]; n++) {
        *parts[n] = next;
        next += sizes[n];
    }
    /* id_starts counts from 0, run lengths start at 0, every slot starts free. */
    memset(w->id_starts, 0, (lb + 2) * sizeof(Py_ssize_t));
    memset(w->runs.previous, 0, (lb + 1) * sizeof(Py_ssize_t));
    memset(w->runs.current, 0, (lb + 1) * sizeof(Py_ssize_t));
    memset(w->table, -1, slots * sizeof(Py_ssize_t));
    w->table_mask = slots - 1;
    w->runs.previous_count = w->runs.current_count = 0;
    return 0;
}

/* Looks the line up in the table of b's lines; returns its slot (free if the line is not there). */
static Py_ssize_t
find_slot(const Workspace *w, const Text *b, const Text *t, const Line *line)
{
    size_t slot = (size_t)line->hash & w->table_mask;
    while (w->table[slot] >= 0 &&
           (b->lines[w->table[slot]].hash != line->hash || !lines_equal(b, &b->lines[w->table[slot]], t, line)))
        slot = (slot + 1) & w->table_mask;
    return (Py_ssize_t)slot;
}

static void
number_lines(const Text *a, const Text *b, Workspace *w)
{
    Py_ssize_t distinct = 0;
    for (Py_ssize_t j = 0; j < b->count; j++) {
        Py_ssize_t slot = find_slot(w, b, b, &b->lines[j]);
        if (w->table[slot] < 0) {
            w->table[slot] = j;
            w->table_ids[slot] = distinct++;
        }
        w->id_b[j] = w->table_ids[slot];
        w->id_starts[w->id_b[j] + 1]++;
    }
    for (Py_ssize_t i = 0; i < a->count; i++) {
        Py_ssize_t slot = find_slot(w, b, a, &a->lines[i]);
        w->id_a[i] = w->table[slot] < 0 ? -1 : w->table_ids[slot];
    }
    for (Py_ssize_t id = 0; id < distinct; id++)
        w->id_starts[id + 1] += w->id_starts[id];
    /* Filled in b order with id_starts[id] as id's cursor: it ends at id + 1's start, so one shift restores them. */
    for (Py_ssize_t j = 0; j < b->count; j++)
        w->b_positions[w->id_starts[w->id_b[j]]++] = j;
    for (Py_ssize_t id = distinct; id > 0; id--)
        w->id_starts[id] = w->id_starts[id - 1];
    w->id_starts[0] = 0;
}

static void
forget_previous(RunLengths *runs)
{
    for (Py_ssize_t n = 0; n < runs->previous_count; n++)
        runs->previous[runs->previous_set[n]] = 0;
    runs->previous_count = 0;
}

/* difflib's find_longest_match(alo, ahi, blo, bhi) without junk: the first longest block met scanning a then b. */
static Block
longest_match(Workspace *w, Region region)
{
    RunLengths *runs = &w->runs;
    Block best = {region.i1, region.j1, 0};
    for (Py_ssize_t i = region.i1; i < region.i2; i++) {
        Py_ssize_t id = w->id_a[i];
        if (id >= 0) {
            for (Py_ssize_t n = w->id_starts[id]; n < w->id_starts[id + 1]; n++) {
                Py_ssize_t j = w->b_positions[n];
                if (j < region.j1)
                    continue;
                if (j >= region.j2)
                    break;
                Py_ssize_t k = (j > region.j1 ? runs->previous[j - 1] : 0) + 1;
                runs->current[j] = k;
                runs->current_set[runs->current_count++] = j;
                if (k > best.size)
                    best = (Block){i - k + 1, j - k + 1, k};
            }
        }
        forget_previous(runs);
        Py_ssize_t *swap = runs->previous;
        runs->previous = runs->current;
        runs->current = swap;
        swap = runs->previous_set;
        runs->previous_set = runs->current_set;
        runs->current_set = swap;
        runs->previous_count = runs->current_count;
        runs->current_count = 0;
    }
    forget_previous(runs);
    return best;
}

static int
compare_blocks(const void *x, const void *y)
{
    Py_ssize_t left = ((const Block *)x)->a, right = ((const Block *)y)->a;
    return (left > right) - (left < right);
}

/* difflib's get_matching_blocks() before it merges adjacent blocks, sorted, with the sentinel (la, lb, 0) last, in
 * w->blocks; returns how many (sentinel included). */
static Py_ssize_t
matching_blocks(const Text *a, const Text *b, Workspace *w)
{
    number_lines(a, b, w);
    Py_ssize_t found = 0, waiting = 0;
    w->pending[waiting++] = (Region){0, a->count, 0, b->count};
    while (waiting) {
        Region region = w->pending[--waiting];
        Block block = longest_match(w, region);
        if (!block.size)
            continue;
        w->blocks[found++] = block;
        if (region.i1 < block.a && region.j1 < block.b)
            w->pending[waiting++] = (Region){region.i1, block.a, region.j1, block.b};
        if (block.a + block.size < region.i2 && block.b + block.size < region.j2)
            w->pending[waiting++] = (Region){block.a + block.size, region.i2, block.b + block.size, region.j2};
    }
    qsort(w->blocks, found, sizeof(Block), compare_blocks);
    w->blocks[found++] = (Block){a->count, b->count, 0};
    return found;
}

/* The gaps between consecutive matching blocks: difflib's opcodes that are not 'equal', in order, in w->regions;
 * returns how many. */
static Py_ssize_t
changed_regions(const Text *a, const Text *b, Workspace *w)
{
    Py_ssize_t count = matching_blocks(a, b, w), found = 0, i = 0, j = 0;
    for (Py_ssize_t n = 0; n < count; n++) {
        if (i < w->blocks[n].a || j < w->blocks[n].b)
            w->regions[found++] = (Region){i, w->blocks[n].a, j, w->blocks[n].b};
        i = w->blocks[n].a + w->blocks[n].size;
        j = w->blocks[n].b + w->blocks[n].size;
    }
    return found;
}

/* ---- which lines are one line changed ------------------------------------------------------------------------ */

#define CH(t, i) PyUnicode_READ((t)->kind, (t)->data, (i))

static inline int
is_space_at(const Text *t, Py_ssize_t i)
{
    return Py_UNICODE_ISSPACE(CH(t, i));
}

static inline int
is_ascii_letter(Py_UCS4 ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* Where a field of android's view list ends (schemas/render/android.py: `res="…"`, `text="…"` JSON-quoted, a " | "
 * inside one its own), from its start, at the " | " after it or the line's end. */
static inline __attribute__((always_inline)) Py_ssize_t
view_field_end(int kind, const void *data, Py_ssize_t k, Py_ssize_t end)
{
    Py_ssize_t key = k;
    while (key < end && (is_ascii_letter(PyUnicode_READ(kind, data, key)) || PyUnicode_READ(kind, data, key) == '-'))
        key++;
    if (key > k && key + 1 < end && PyUnicode_READ(kind, data, key) == '=' &&
        PyUnicode_READ(kind, data, key + 1) == '"') {
        Py_ssize_t q = key + 2;
        while (q < end && PyUnicode_READ(kind, data, q) != '"')
            q += PyUnicode_READ(kind, data, q) == '\\' ? 2 : 1;
        return q < end ? q + 1 : end;
    }
    while (k + 2 < end && !(PyUnicode_READ(kind, data, k) == ' ' && PyUnicode_READ(kind, data, k + 1) == '|' &&
                            PyUnicode_READ(kind, data, k + 2) == ' '))
        k++;
    return k + 2 < end ? k : end;
}

/* The head of a line of android's view list, `[ 7] | android.widget.TextView | res="android:id/summary" | …`, from
 * past the id's " | ": the class and the field after it, which is what identifies the element: its resource id,
 * else its text, description or hint, else its bounds. A line whose head is kept and whose other fields changed (its
 * text, its bounds, a flag: checked, disabled) is one element changed; lines of two classes or ids are two. */
static inline __attribute__((always_inline)) Py_ssize_t
view_head_end_of(int kind, const void *data, Py_ssize_t k, Py_ssize_t end)
{
    Py_ssize_t class_end = view_field_end(kind, data, k, end);
    return class_end < end ? view_field_end(kind, data, class_end + 3, end) : class_end;
}

/* head_end() for one width of text: kind is a constant where it is called, so each width gets its own loops. */
static inline __attribute__((always_inline)) Py_ssize_t
head_end_of(int kind, const void *data, Py_ssize_t s, Py_ssize_t end)
{
#define AT(i) PyUnicode_READ(kind, data, (i))
#define SPACE_AT(i) Py_UNICODE_ISSPACE(AT(i))
    Py_UCS4 first = AT(s);
    if (first == '[') {
        Py_ssize_t close = -1, limit = end < s + 18 ? end : s + 18, padding = s + 1;
        /* android pads its ids to two places ("[ 7] | …"): the spaces before the digits are the id's. */
        while (padding < limit && AT(padding) == ' ')
            padding++;
        for (Py_ssize_t k = padding; k < limit; k++) {
            Py_UCS4 ch = AT(k);
            if (ch == ']') {
                close = k;
                break;
            }
            if (Py_UNICODE_ISSPACE(ch))
                return -1;
        }
        if (close <= padding || (close + 1 < end && !SPACE_AT(close + 1)))
            return -1;
        if (close + 3 < end && AT(close + 1) == ' ' && AT(close + 2) == '|' && AT(close + 3) == ' ')
            return view_head_end_of(kind, data, close + 4, end);
        if (padding > s + 1)
            return -1;
        Py_ssize_t k = close + 1;
        while (k < end && SPACE_AT(k))
            k++;
        while (k < end && !SPACE_AT(k))  /* the role */
            k++;
        if (k < end) {
            k++;  /* its separator, then the name */
            Py_UCS4 quote_mark = k < end ? AT(k) : 0;
            if (quote_mark == '\'' || quote_mark == '"') {
                Py_ssize_t q = k + 1;
                while (q < end && AT(q) != quote_mark)
                    q++;
                k = q < end ? q + 1 : end;
            } else {
                while (k < end && AT(k) != '\t' && !(AT(k) == ',' && k + 1 < end && AT(k + 1) == ' '))
                    k++;
            }
        }
        return k;
    }
    if (!is_ascii_letter(first))
        return -1;
    Py_ssize_t k = s + 1;
    while (k < end && k - s <= 24) {
        Py_UCS4 ch = AT(k);
        if (!(is_ascii_letter(ch) || ch == ' ' || ch == '-' || ch == '_'))
            break;
        k++;
    }
    if (k - s > 24 || k == end || AT(k) != ':' || (k + 1 < end && !SPACE_AT(k + 1)))
        return -1;
    return k + 1;
#undef SPACE_AT
#undef AT
}

/* The end of the line's head, from *start (its first character that is not whitespace, set here), or -1 if it has
 * none. A head names what the line shows: "[id] role name" of an accessibility tree (web, os, android: the id of at
 * most 16 characters without whitespace, the role, then after one separator the name, quoted up to its closing
 * quote mark, or else up to ", ", a tab or the end; android's "[ 7] | class | field", view_head_end_of), or a
 * "Label:" of up to 24 letters, spaces, '-' and '_' that starts with a letter and is followed by whitespace or the
 * end (URL:, Title:, Tabs:, Focused:, focused element:). */
static inline __attribute__((always_inline)) Py_ssize_t
head_end(const Text *t, const Line *line, Py_ssize_t *start)
{
    Py_ssize_t s = line->start, end = line->end;
    while (s < end && is_space_at(t, s))
        s++;
    *start = s;
    if (s == end)
        return -1;
    switch (t->kind) {
    case PyUnicode_1BYTE_KIND:
        return head_end_of(PyUnicode_1BYTE_KIND, t->data, s, end);
    case PyUnicode_2BYTE_KIND:
        return head_end_of(PyUnicode_2BYTE_KIND, t->data, s, end);
    default:
        return head_end_of(PyUnicode_4BYTE_KIND, t->data, s, end);
    }
}

/* How surely two lines are one line changed (same_heads): they are two lines (APART); one, as they look alike (ALIKE);
 * one element, as their heads are equal but for the id, which moves when elements before it appear (RENUMBERED);
 * one, as the one names the other (equal heads, the id included) or holds it (is its start) (SAME). An element whose
 * id stayed is its own surest partner, before another of its role and name whose id moved. */
enum { APART, ALIKE, RENUMBERED, SAME };

/* Whether two lines without a head, stripped (not empty), are one line changed: SAME when the shorter is a start of
 * the longer (a prompt that got its command, "> ^C"), ALIKE when what they share at the start and the end is at
 * least 3/5 of the longer, a first word both start with left out of both ("Count: 3" and "Count: 4", "RootWebArea
 * 'Home - Shop', focused" and "RootWebArea 'Cart - Shop', focused", not "StaticText 'Status'" and "StaticText
 * 'Title'"). */
static int
similar_lines(const Text *x, Py_ssize_t xs, Py_ssize_t xe, const Text *y, Py_ssize_t ys, Py_ssize_t ye)
{
    Py_ssize_t lx = xe - xs, ly = ye - ys;
    Py_ssize_t shorter = lx < ly ? lx : ly, longer = lx < ly ? ly : lx, p = 0, q = 0;
    while (p < shorter && CH(x, xs + p) == CH(y, ys + p))
        p++;
    if (p == shorter)
        return SAME;
    while (q < shorter - p && CH(x, xe - 1 - q) == CH(y, ye - 1 - q))
        q++;
    /* A word and a space both start with (a role: "StaticText 'Status'", "StaticText 'Title'") is not counted. */
    Py_ssize_t word = 0;
    while (word < p && is_ascii_letter(CH(x, xs + word)))
        word++;
    Py_ssize_t skip = word && word < p && CH(x, xs + word) == ' ' ? word + 1 : 0;
    return 5 * (p - skip + q) >= 3 * (longer - skip) ? ALIKE : APART;
}

/* head_of() for two texts of one width (same_width) or not: their heads are hashed alike (see split_lines). */
static Head
head_of(const Text *t, const Line *line, int same_width)
{
    Head head;
    head.end = head_end(t, line, &head.start);
    head.stop = line->end;
    while (head.stop > head.start && is_space_at(t, head.stop - 1))
        head.stop--;
    head.head_hash = 0;
    head.first = head.last = 0;
    head.key = head.start;
    head.indented = head.start > line->start;
    head.name_end = head.place = -1;
    head.row = head.shared = head.twinned = head.elsewhere = 0;
    if (head.end >= 0) {
        if (CH(t, head.start) == '[')  /* head_end() found its ']' */
            while (CH(t, head.key) != ']')
                head.key++;
        head.head_hash = same_width ? hash_bytes((const unsigned char *)t->data + head.key * t->kind,
                                                 (head.end - head.key) * t->kind)
                                    : hash_code_points(t, head.key, head.end);
    } else if (head.stop > head.start) {
        head.first = CH(t, head.start);
        head.last = CH(t, head.stop - 1);
    }
    return head;
}

/* The role a web tree's root has (schemas/render/web.py writes it unindented, without an id, named by the page's
 * title), and its length with the space after it. */
#define ROOT_ROLE "RootWebArea "
#define ROOT_ROLE_CHARS 12

/* Whether both lines are a web tree's root: a tree has one, so the old page's root is the new page's, whatever the
 * titles. By similarity alone the root of "Home - City Permits" and of "Application status - City Permits" were
 * two lines (the shared end is under 3/5 of the longer) while 102 of 152 make-run page loads paired theirs. */
static int
both_roots(const Text *x, const Head *xh, const Text *y, const Head *yh)
{
    if (xh->indented || yh->indented || xh->stop - xh->start <= ROOT_ROLE_CHARS ||
        yh->stop - yh->start <= ROOT_ROLE_CHARS)
        return 0;
    for (Py_ssize_t k = 0; k < ROOT_ROLE_CHARS; k++)
        if (CH(x, xh->start + k) != (Py_UCS4)ROOT_ROLE[k] || CH(y, yh->start + k) != (Py_UCS4)ROOT_ROLE[k])
            return 0;
    return 1;
}

/* Where a desktop row's role cell ends (the row's "[id]\trole\t…", schemas/render/os.py), from its key (the id's
 * ']'). */
static Py_ssize_t
role_end(const Text *t, const Head *h)
{
    Py_ssize_t k = h->key + 1;
    while (k < h->end && is_space_at(t, k))
        k++;
    while (k < h->end && !is_space_at(t, k))
        k++;
    return k;
}

/* Where the cell after the one starting at `from` starts in a row ending at stop (past its tab), or -1. */
static Py_ssize_t
next_cell(const Text *t, Py_ssize_t from, Py_ssize_t stop)
{
    for (Py_ssize_t k = from; k < stop; k++)
        if (CH(t, k) == '\t')
            return k + 1;
    return -1;
}

static int
equal_spans(const Text *x, Py_ssize_t xs, Py_ssize_t xe, const Text *y, Py_ssize_t ys, Py_ssize_t ye)
{
    if (xe - xs != ye - ys)
        return 0;
    for (Py_ssize_t k = 0; k < xe - xs; k++)
        if (CH(x, xs + k) != CH(y, ys + k))
            return 0;
    return 1;
}

/* Where a row's place on the screen starts (its position and size cells, after the name, the text, the class and the
 * description: schemas/render/os.py), from where its text cell starts; -1 if the row is shorter. */
static Py_ssize_t
place_of(const Text *t, Py_ssize_t text, Py_ssize_t stop)
{
    Py_ssize_t at = text;
    for (int cell = 0; cell < 3 && at >= 0; cell++)
        at = next_cell(t, at, stop);
    return at;
}

/* Whether two rows of the desktop's table are one element whose shown text changed: the same role, in each the name
 * equal to the text cell after it (a label whose accessible name is its text: "Sum = 0", then "Sum = 42"), and the
 * same id or, where elements before it appeared and its id moved with them, the same place on the screen (a file
 * manager's status label "0 items (3 hidden)" [177], then "3 items" [180] at the same position and size). Buttons
 * that took each other's place ("[46] toggle-button '1'", then '%': names without a text) stay two elements. */
static int
same_row_new_text(const Text *x, const Head *xh, const Text *y, const Head *yh)
{
    if (CH(x, xh->start) != '[' || xh->end >= xh->stop || CH(x, xh->end) != '\t' || yh->end >= yh->stop ||
        CH(y, yh->end) != '\t')
        return 0;
    /* The role first: rows of other elements mostly differ there. */
    Py_ssize_t x_role = role_end(x, xh), y_role = role_end(y, yh);
    if (!equal_spans(x, xh->key, x_role, y, yh->key, y_role))
        return 0;
    const Text *texts[2] = {x, y};
    const Head *heads[2] = {xh, yh};
    Py_ssize_t roles[2] = {x_role, y_role}, texts_at[2];
    for (int n = 0; n < 2; n++) {
        const Text *t = texts[n];
        const Head *h = heads[n];
        /* The name: past the role's tab up to the head's end; the text: the next cell. */
        Py_ssize_t name = roles[n] + 1, size = h->end - name, text = h->end + 1;
        if (size <= 0 || text + size > h->stop || (text + size < h->stop && CH(t, text + size) != '\t'))
            return 0;
        for (Py_ssize_t k = 0; k < size; k++)
            if (CH(t, name + k) != CH(t, text + k))
                return 0;
        texts_at[n] = text;
    }
    if (equal_spans(x, xh->start, xh->key, y, yh->start, yh->key))
        return 1;
    Py_ssize_t x_place = place_of(x, texts_at[0], xh->stop), y_place = place_of(y, texts_at[1], yh->stop);
    if (x_place < 0 || y_place < 0)
        return 0;
    /* The position and the size: up to the tab before the state cell. */
    Py_ssize_t x_state = next_cell(x, x_place, xh->stop), y_state = next_cell(y, y_place, yh->stop);
    x_state = x_state < 0 ? -1 : next_cell(x, x_state, xh->stop);
    y_state = y_state < 0 ? -1 : next_cell(y, y_state, yh->stop);
    /* A row whose state cell is empty ends before its last tab (stop trims it): its size runs to the stop. */
    Py_ssize_t x_end = x_state < 0 ? xh->stop : x_state - 1, y_end = y_state < 0 ? yh->stop : y_state - 1;
    return x_end > x_place && equal_spans(x, x_place, x_end, y, y_place, y_end);
}

/* Whether the line of this head is an android view line whose head is its class and resource id
 * (`[ 7] | android.widget.TextView | res="android:id/title" | text="SIMs" | bounds=[198,1032][322,1106] | …`). */
static int
view_row(const Text *t, const Head *h)
{
    if (h->end < 0 || CH(t, h->start) != '[' || h->key + 4 >= h->end || CH(t, h->key + 1) != ' ' ||
        CH(t, h->key + 2) != '|')
        return 0;
    Py_ssize_t class_end = view_field_end(t->kind, t->data, h->key + 4, h->end);
    static const char RES[] = " | res=\"";
    if (class_end + 8 > h->end)
        return 0;
    for (int k = 0; k < 8; k++)
        if (CH(t, class_end + k) != (Py_UCS4)RES[k])
            return 0;
    return 1;
}

/* Sets where a view row's name ends (before its bounds' " | ") and where its bounds' "[x,y]" starts; leaves place -1
 * on a line without bounds. */
static void
view_place(const Text *t, Head *h)
{
    static const char BOUNDS[] = " | bounds=[";
    for (Py_ssize_t at = h->end; at + 11 <= h->stop;) {
        int k = 0;
        while (k < 11 && CH(t, at + k) == (Py_UCS4)BOUNDS[k])
            k++;
        if (k == 11) {
            h->name_end = at;
            h->place = at + 10;
            return;
        }
        if (k < 3)  /* not at a field's " | " */
            return;
        at = view_field_end(t->kind, t->data, at + 3, h->stop);
    }
}

/* Whether two view rows (view_row) start at one point of the screen: their bounds' "[x,y]" are equal. */
static int
same_place(const Text *x, const Head *xh, const Text *y, const Head *yh)
{
    for (Py_ssize_t k = 0; xh->place + k < xh->stop && yh->place + k < yh->stop; k++) {
        Py_UCS4 ch = CH(x, xh->place + k);
        if (ch != CH(y, yh->place + k))
            return 0;
        if (ch == ']')
            return 1;
    }
    return 0;
}

/* Sets `shared` on the view rows among the count heads of t's changed lines that a changed line of the other screen
 * has the key of (`shared` set to -1 by mark_keys: the others never pair by same_row), where another line of t has
 * their class and resource id too. Every line of t is read (a Settings list's other rows are mostly unchanged
 * lines), each compared by memcmp with the few keys asked about: hashing every line's head made a trace ~15 us slower. */
static void
mark_shared(const Text *t, Head *heads, Py_ssize_t count)
{
    for (Py_ssize_t n = 0; n < count; n++) {
        Head *h = &heads[n];
        if (h->shared >= 0)
            continue;
        /* A key asked about already: its answer. */
        Py_ssize_t earlier = 0;
        while (earlier < n && !(heads[earlier].shared >= 0 && heads[earlier].place >= 0 &&
                                heads[earlier].head_hash == h->head_hash &&
                                equal_spans(t, heads[earlier].key, heads[earlier].end, t, h->key, h->end)))
            earlier++;
        if (earlier < n) {
            h->shared = heads[earlier].shared;
            continue;
        }
        Py_ssize_t size = h->end - h->key, alike = 0;
        const char *key = (const char *)t->data + h->key * t->kind;
        for (Py_ssize_t line = 0; line < t->count && alike < 2; line++) {
            Py_ssize_t at = t->lines[line].start, stop = t->lines[line].end;
            Py_ssize_t limit = stop < at + 18 ? stop : at + 18;
            while (at < limit && PyUnicode_READ(t->kind, t->data, at) != ']')
                at++;
            alike += at < limit && stop - at >= size &&
                     memcmp((const char *)t->data + at * t->kind, key, size * t->kind) == 0 &&
                     (stop - at == size || PyUnicode_READ(t->kind, t->data, at + size) == ' ');
        }
        h->shared = alike >= 2;  /* the line itself and another */
    }
}

/* Sets `shared` to -1 (to be found by mark_shared) on the changed view rows of a and of t whose class and resource id
 * a changed view row of the other screen has, and their name and place (view_place): only they are compared by
 * same_row. The new lines' element heads are put in w's table of b's lines (number_lines is done with it) by their
 * hash, so each old line meets only those of its hash. Returns whether there are any. */
static int
mark_keys(const Text *a, Head *old_heads, Py_ssize_t old_count, const Text *t, Head *new_heads, Py_ssize_t new_count,
          Workspace *w)
{
    int any = 0;
    memset(w->table, -1, (w->table_mask + 1) * sizeof(Py_ssize_t));
    for (Py_ssize_t j = 0; j < new_count; j++) {
        if (new_heads[j].end < 0 || CH(t, new_heads[j].start) != '[')
            continue;
        size_t slot = (size_t)new_heads[j].head_hash & w->table_mask;
        while (w->table[slot] >= 0)
            slot = (slot + 1) & w->table_mask;
        w->table[slot] = j;
    }
    for (Py_ssize_t i = 0; i < old_count; i++) {
        Head *x = &old_heads[i];
        if (x->end < 0 || CH(a, x->start) != '[')
            continue;
        for (size_t slot = (size_t)x->head_hash & w->table_mask; w->table[slot] >= 0 && x->row >= 0;
             slot = (slot + 1) & w->table_mask) {
            Head *y = &new_heads[w->table[slot]];
            if (y->row < 0 || x->head_hash != y->head_hash || !equal_spans(a, x->key, x->end, t, y->key, y->end))
                continue;
            /* `row` is found once a line shares the head of one of the other screen (1: a view row, -1: not). */
            if (!x->row)
                x->row = view_row(a, x) ? 1 : -1;
            if (!y->row)
                y->row = view_row(t, y) ? 1 : -1;
            if (x->row > 0 && y->row > 0)
                x->shared = y->shared = any = -1;
        }
    }
    for (Py_ssize_t i = 0; i < old_count; i++)
        if (old_heads[i].shared)
            view_place(a, &old_heads[i]);
    for (Py_ssize_t j = 0; j < new_count; j++)
        if (new_heads[j].shared)
            view_place(t, &new_heads[j]);
    return any;
}

/* Whether two view rows (view_row) have one class and resource id and, where `named`, one name that is not empty. */
static int
same_key(const Text *x, const Head *xh, const Text *y, const Head *yh, int named)
{
    return xh->head_hash == yh->head_hash && equal_spans(x, xh->key, xh->end, y, yh->key, yh->end) &&
           (!named || (xh->name_end > xh->end && equal_spans(x, xh->end, xh->name_end, y, yh->end, yh->name_end)));
}

/* Sets `twinned` on the changed view rows of a and t of a shared key (mark_shared) that the other screen's changed
 * lines show with their name at their place, then `elsewhere` on the others whose name such a line shows at another
 * place: the row that moved there. The rows that were on both screens are found before the pairing, which tells each
 * line only its surest partners: "T-Mobile" at y=891 became "T-Mobile (Temporarily unavailable)" while the row below,
 * also "T-Mobile", was only disabled, and is not the first row moved. */
static void
mark_twins(const Text *a, Head *old_heads, Py_ssize_t old_count, const Text *t, Head *new_heads, Py_ssize_t new_count)
{
    for (int pass = 0; pass < 2; pass++)
        for (Py_ssize_t i = 0; i < old_count; i++) {
            Head *x = &old_heads[i];
            if (x->place < 0 || x->twinned)
                continue;
            for (Py_ssize_t j = 0; j < new_count; j++) {
                Head *y = &new_heads[j];
                if (y->place < 0 || y->twinned || !(x->shared || y->shared) || !same_key(a, x, t, y, 1))
                    continue;
                if (pass == 0 && same_place(a, x, t, y)) {
                    x->twinned = y->twinned = 1;
                    break;
                }
                if (pass == 1)
                    x->elsewhere = y->elsewhere = 1;
            }
        }
}

/* Where the part of a line of android's view list that names its element whatever its id and place runs: from its
 * id's "]" up to the " | " before its bounds (its class, resource id, text, hint and description). Returns 1 where it
 * has a field besides the resource id (a name), 0 where not, -1 where the line is no view line with bounds. */
static int
view_name_span(const Text *t, const Line *line, Py_ssize_t *from, Py_ssize_t *to)
{
    static const char BOUNDS[] = "bounds=[";
    Py_ssize_t at = line->start, end = line->end, limit = end < at + 18 ? end : at + 18;
    if (at >= end || CH(t, at) != '[')
        return -1;
    while (at < limit && CH(t, at) != ']')
        at++;
    if (at + 4 >= end || CH(t, at) != ']' || CH(t, at + 1) != ' ' || CH(t, at + 2) != '|' || CH(t, at + 3) != ' ')
        return -1;
    *from = at;
    int named = 0;
    for (Py_ssize_t k = view_field_end(t->kind, t->data, at + 4, end); k + 11 <= end;
         k = view_field_end(t->kind, t->data, k + 3, end)) {
        if (CH(t, k) != ' ' || CH(t, k + 1) != '|' || CH(t, k + 2) != ' ')
            return -1;
        int field = 0;
        while (field < 8 && CH(t, k + 3 + field) == (Py_UCS4)BOUNDS[field])
            field++;
        if (field == 8) {
            *to = k;
            return named;
        }
        named |= !(CH(t, k + 3) == 'r' && CH(t, k + 4) == 'e' && CH(t, k + 5) == 's' && CH(t, k + 6) == '=');
    }
    return -1;
}

/* Whether two screens show one page: of the named view lines (view_name_span) of the one with more, at least half
 * are on the other with their class, resource id and name, wherever they stand (a list scrolled, a header
 * collapsed), each line counted once. On 88 pairs of real dumps the share fell in two groups: up to 0.32 for
 * another page (Network & internet, then Internet: 1 of 16) or another folder of a list, from 0.56 for one page
 * scrolled, a switch flipped, a dialog over the page. Uses w's table of b's lines (mark_keys is done with it). */
static int
same_page(const Text *a, const Text *t, Workspace *w)
{
    Py_ssize_t named_a = 0, named_t = 0, kept = 0, from, to, other_from, other_to;
    memset(w->table, -1, (w->table_mask + 1) * sizeof(Py_ssize_t));
    for (Py_ssize_t j = 0; j < t->count; j++) {
        if (view_name_span(t, &t->lines[j], &from, &to) != 1)
            continue;
        named_t++;
        Py_uhash_t hash = hash_code_points(t, from, to);
        size_t slot = (size_t)hash & w->table_mask;
        while (w->table[slot] != -1)
            slot = (slot + 1) & w->table_mask;
        w->table[slot] = j;
        w->table_ids[slot] = (Py_ssize_t)hash;
    }
    for (Py_ssize_t i = 0; i < a->count; i++) {
        if (view_name_span(a, &a->lines[i], &from, &to) != 1)
            continue;
        named_a++;
        Py_uhash_t hash = hash_code_points(a, from, to);
        /* A line of t counted already is kept in the table as -2 - its number, so its slot still chains. */
        for (size_t slot = (size_t)hash & w->table_mask; w->table[slot] != -1; slot = (slot + 1) & w->table_mask) {
            Py_ssize_t j = w->table[slot];
            if (j < 0 || (Py_uhash_t)w->table_ids[slot] != hash)
                continue;
            view_name_span(t, &t->lines[j], &other_from, &other_to);
            if (equal_spans(a, from, to, t, other_from, other_to)) {
                w->table[slot] = -2 - j;
                kept++;
                break;
            }
        }
    }
    return kept > 0 && 2 * kept >= (named_a > named_t ? named_a : named_t);
}

/* Sets `shared` on changed view rows of a and t of one class and resource id that no other row of their screens has
 * where they stand at two places and one has no name (no text, hint or description: a switch, an icon, a list
 * view), unless the screens show one page (same_page): then they pair as list rows do (same_row), by their place
 * only. Such an element's id names a kind of element an app puts on many pages, not one element: after Network &
 * internet -> Internet the one 'switch_widget' was Airplane mode's, then Wi-Fi's, and is not one switch moved. */
static void
mark_lone(const Text *a, Head *old_heads, Py_ssize_t old_count, const Text *t, Head *new_heads, Py_ssize_t new_count,
          Workspace *w)
{
    int page = -1;  /* not asked yet */
    for (Py_ssize_t i = 0; i < old_count; i++) {
        Head *x = &old_heads[i];
        if (x->place < 0 || x->shared)
            continue;
        for (Py_ssize_t j = 0; j < new_count; j++) {
            Head *y = &new_heads[j];
            if (y->place < 0 || y->shared || (x->name_end > x->end && y->name_end > y->end) ||
                !same_key(a, x, t, y, 0) || same_place(a, x, t, y))
                continue;
            if (page < 0)
                page = same_page(a, t, w);
            if (page)
                return;
            x->shared = y->shared = 1;
        }
    }
}

/* How surely two view rows of one class and resource id that another row of a screen has too (android:id/title of a
 * Settings list) are one row: by their name (text, hint, description) where it is the same and not empty, else by
 * their place (their bounds start at one point: a row whose summary changed, "T-Mobile" then "Airplane mode is on"),
 * else two rows: after a re-layout the row that showed "SIMs" is not the one now showing "Network preferences". A
 * row paired by its place only is ALIKE, so a row that kept its text elsewhere is its surer partner. `how`: what
 * their heads say. */
static int
same_row(const Text *x, const Head *xh, const Text *y, const Head *yh, int how)
{
    int named = equal_spans(x, xh->end, xh->name_end, y, yh->end, yh->name_end), placed = same_place(x, xh, y, yh);
    if (named && xh->name_end > xh->end)
        return placed || !(xh->twinned || yh->twinned) ? how : APART;
    if (!placed)
        return APART;
    return named ? how : xh->elsewhere || yh->elsewhere ? APART : ALIKE;
}

/* Whether an old line and a new one are one line changed, as a trace may say "'a' becomes 'b'": their heads are equal
 * (SAME) or equal but for an element's id (RENUMBERED), or neither has a head and they are similar (similar_lines).
 * Else they are two lines, one gone and one new (APART): after a page load the n-th line of the old page is not the
 * n-th line of the new one. Two exceptions tell one line by its place in the tree rather than by its text: a web
 * tree's root (both_roots: SAME, as sure as a line can be) and a desktop row whose text changed under the same id
 * and role (same_row_new_text: ALIKE, so an element shown again under another id is its surer partner). And android
 * view rows whose class and resource id other rows of a screen share (a list's rows) are one row only by their name or
 * their place (same_row). */
static inline int
same_heads(const Text *x, const Head *xh, const Text *y, const Head *yh)
{
    if (xh->end < 0 && yh->end < 0) {
        if (xh->start == xh->stop || yh->start == yh->stop)
            return APART;
        /* Similar lines share their first or their last character: most pairs of unlike lines are told here. */
        if (xh->first != yh->first && xh->last != yh->last)
            return APART;
        int how = similar_lines(x, xh->start, xh->stop, y, yh->start, yh->stop);
        return how < SAME && both_roots(x, xh, y, yh) ? SAME : how;
    }
    if (xh->end < 0 || yh->end < 0 || (CH(x, xh->start) == '[') != (CH(y, yh->start) == '['))
        return APART;
    if (xh->head_hash != yh->head_hash || xh->end - xh->key != yh->end - yh->key)
        return same_row_new_text(x, xh, y, yh) ? ALIKE : APART;
    for (Py_ssize_t k = 0; k < xh->end - xh->key; k++)
        if (CH(x, xh->key + k) != CH(y, yh->key + k))
            return APART;
    int how = SAME;
    if (xh->key - xh->start != yh->key - yh->start)
        how = RENUMBERED;
    for (Py_ssize_t k = 0; how == SAME && k < xh->key - xh->start; k++)
        if (CH(x, xh->start + k) != CH(y, yh->start + k))
            how = RENUMBERED;
    return (xh->shared || yh->shared) && xh->place >= 0 && yh->place >= 0 ? same_row(x, xh, y, yh, how) : how;
}

/* How many changed lines on each side of a pair, in each text, rival_near() compares it with. */
#define NEAREST 4
/* How far a pair of a replace may stand from the region's lines aligned at its top or at its bottom (pair_region).
 * 8 finds a menu item of a desktop's tree 7 rows up, where the items of a submenu that closed were. The whole region
 * would pair text that only looks alike many rows apart (a product page's "Price: $1,200.07" with the cart's
 * "Subtotal: $1,200.07" 18 rows down), and a pager's screen of 40 alike lines, each compared with the whole other
 * side, would cost 30 us instead of 14 (4.5 when lines paired by their place). */
#define WINDOW 8

/* Whether one of the NEAREST changed lines of a before or after the p-th (across regions) is as surely the q-th new
 * line's old self, or one of those of t around the q-th the p-th old line's new self. Lines that look alike (the lines
 * of one file a pager scrolled past, "line 2 of the report" and "line 251 of the report"; a man page's synopsis,
 * whose one-line replaces the blank lines between its lines cut apart; log lines under one "INFO:") share a format,
 * not an identity: they are lines gone and lines new, not one line changed. A prompt that got its command (SAME) stays
 * so beside the next prompt, which only looks like it (ALIKE). */
static int
rival_near(const Text *a, const Text *t, const Workspace *w, Py_ssize_t p, Py_ssize_t q, int how,
           Py_ssize_t old_count, Py_ssize_t new_count)
{
    for (Py_ssize_t k = 1; k <= NEAREST; k++)
        for (Py_ssize_t side = -k; side <= k; side += 2 * k) {
            if (0 <= p + side && p + side < old_count &&
                same_heads(a, &w->old_heads[p + side], t, &w->new_heads[q]) >= how)
                return 1;
            if (0 <= q + side && q + side < new_count &&
                same_heads(a, &w->old_heads[p], t, &w->new_heads[q + side]) >= how)
                return 1;
        }
    return 0;
}

/* A replace of m old and n new lines pairs the i-th old line only with the j-th new lines where low <= j - i <= high:
 * WINDOW lines either side of the region aligned at its top or at its bottom. */
typedef struct {
    Py_ssize_t m, n, low, high;
} Band;

static Band
band_of(Region region)
{
    Py_ssize_t m = region.i2 - region.i1, n = region.j2 - region.j1, d = n - m;
    return (Band){m, n, (d < 0 ? d : 0) - WINDOW, (d > 0 ? d : 0) + WINDOW};
}

/* For each line of the region, how many lines of the other side in the band it is ALIKE (or surer) to, RENUMBERED
 * (or SAME) to, and SAME to. p and q: where the region's lines start among the changed lines. */
static void
count_partners(const Text *a, const Text *t, Workspace *w, Band band, Py_ssize_t p, Py_ssize_t q)
{
    memset(w->new_alike, 0, band.n * sizeof(Py_ssize_t));
    memset(w->new_renumbered, 0, band.n * sizeof(Py_ssize_t));
    memset(w->new_same, 0, band.n * sizeof(Py_ssize_t));
    for (Py_ssize_t i = 0; i < band.m; i++) {
        Py_ssize_t alike = 0, renumbered = 0, same = 0;
        Py_ssize_t last = i + band.high < band.n - 1 ? i + band.high : band.n - 1;
        const Head *old_head = &w->old_heads[p + i];
        for (Py_ssize_t j = i + band.low > 0 ? i + band.low : 0; j <= last; j++) {
            int how = same_heads(a, old_head, t, &w->new_heads[q + j]);
            if (how == APART)
                continue;
            alike++;
            w->new_alike[j]++;
            renumbered += how >= RENUMBERED;
            w->new_renumbered[j] += how >= RENUMBERED;
            same += how == SAME;
            w->new_same[j] += how == SAME;
        }
        w->old_alike[i] = alike;
        w->old_renumbered[i] = renumbered;
        w->old_same[i] = same;
    }
}

/* How many partners as sure as `how` (or surer) a line has, of those count_partners() counted. */
static inline Py_ssize_t
partners_at(int how, Py_ssize_t alike, Py_ssize_t renumbered, Py_ssize_t same)
{
    return how == SAME ? same : how == RENUMBERED ? renumbered : alike;
}

/* The pairs of the region whose lines are each the other's only partner as sure in the band and, unless an [id] names
 * them (one element of its tree, where a "Label:" names many lines: "INFO:"), have no rival near (rival_near), in
 * w->candidate_i and w->candidate_j by their old line; returns how many. Each old and each new line is in one at
 * most. */
static Py_ssize_t
candidate_pairs(const Text *a, const Text *t, Workspace *w, Band band, Py_ssize_t p, Py_ssize_t q,
                Py_ssize_t old_count, Py_ssize_t new_count)
{
    Py_ssize_t candidates = 0;
    for (Py_ssize_t i = 0; i < band.m; i++) {
        int how = w->old_same[i] ? SAME : w->old_renumbered[i] ? RENUMBERED : w->old_alike[i] ? ALIKE : APART;
        if (how == APART || partners_at(how, w->old_alike[i], w->old_renumbered[i], w->old_same[i]) != 1)
            continue;
        const Head *head = &w->old_heads[p + i];
        Py_ssize_t j = i + band.low > 0 ? i + band.low : 0;
        while (same_heads(a, head, t, &w->new_heads[q + j]) < how)
            j++;
        if (partners_at(how, w->new_alike[j], w->new_renumbered[j], w->new_same[j]) != 1)
            continue;
        if (!(head->end >= 0 && CH(a, head->start) == '[') &&
            rival_near(a, t, w, p + i, q + j, how, old_count, new_count))
            continue;
        w->candidate_i[candidates] = i;
        w->candidate_j[candidates++] = j;
    }
    return candidates;
}

/* w->partner[i] for each candidate of the longest run whose new lines increase as its old lines do (patience
 * sorting: tails[k] ends the run of k + 1 candidates met so far whose last new line is least); -1 for the others. */
static void
keep_longest_run(Workspace *w, Py_ssize_t m, Py_ssize_t candidates)
{
    Py_ssize_t runs = 0;
    for (Py_ssize_t c = 0; c < candidates; c++) {
        Py_ssize_t lo = 0, hi = runs;
        while (lo < hi) {
            Py_ssize_t mid = (lo + hi) / 2;
            if (w->candidate_j[w->tails[mid]] < w->candidate_j[c])
                lo = mid + 1;
            else
                hi = mid;
        }
        w->before[c] = lo ? w->tails[lo - 1] : -1;
        w->tails[lo] = c;
        runs += lo == runs;
    }
    for (Py_ssize_t i = 0; i < m; i++)
        w->partner[i] = -1;
    for (Py_ssize_t c = runs ? w->tails[runs - 1] : -1; c >= 0; c = w->before[c])
        w->partner[w->candidate_i[c]] = w->candidate_j[c];
}

/* The pairs of a replace's lines that are one line changed, in w->partner: for its i-th old line the index in the
 * region of its new self, or -1 (gone). The lines are not paired by their place (the n-th old with the n-th new:
 * `man` scrolled by a line has one line more and its status line changed at the bottom) but by what they say
 * (candidate_pairs), within the band (band_of), and of those pairs the most that keep the order of the lines. The band
 * bounds the work: m old lines by |n - m| + 2 * WINDOW + 1 new ones, not a page load's m by n. p and q: where the
 * region's lines start among the changed lines. */
static void
pair_region(const Text *a, const Text *t, Workspace *w, Region region, Py_ssize_t p, Py_ssize_t q,
            Py_ssize_t old_count, Py_ssize_t new_count)
{
    Band band = band_of(region);
    count_partners(a, t, w, band, p, q);
    keep_longest_run(w, band.m, candidate_pairs(a, t, w, band, p, q, old_count, new_count));
}

/* ---- sentences ------------------------------------------------------------------------------------------------ */

/* Sentences fit in the Builder itself: no allocation. */
#define INLINE_CHARS 1024

/* A sentence being written, as code points; made a str (the narrowest that holds them) by finish(). */
typedef struct {
    Py_UCS4 *chars;         /* inline_chars, or a heap array past INLINE_CHARS */
    Py_ssize_t length, capacity;
    Py_UCS4 inline_chars[INLINE_CHARS];
} Builder;

static void
builder_init(Builder *b)
{
    b->chars = b->inline_chars;
    b->length = 0;
    b->capacity = INLINE_CHARS;
}

static void
builder_free(Builder *b)
{
    if (b->chars != b->inline_chars)
        PyMem_Free(b->chars);
}

static int
reserve(Builder *b, Py_ssize_t more)
{
    if (b->length + more <= b->capacity)
        return 0;
    Py_ssize_t capacity = b->capacity;
    while (capacity < b->length + more)
        capacity *= 2;
    Py_UCS4 *grown = PyMem_Malloc(capacity * sizeof(Py_UCS4));
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(grown, b->chars, b->length * sizeof(Py_UCS4));
    builder_free(b);
    b->chars = grown;
    b->capacity = capacity;
    return 0;
}

static int
put_ascii(Builder *b, const char *text)
{
    Py_ssize_t length = (Py_ssize_t)strlen(text);
    if (reserve(b, length) < 0)
        return -1;
    for (Py_ssize_t n = 0; n < length; n++)
        b->chars[b->length++] = (unsigned char)text[n];
    return 0;
}

/* The decimal digits of a count (never negative), written by hand: snprintf costs ~1,000 instructions a call. */
static int
put_count(Builder *b, Py_ssize_t count)
{
    char digits[24];
    char *first = digits + sizeof digits - 1;
    size_t value = (size_t)count;
    *first = '\0';
    do {
        *--first = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    return put_ascii(b, first);
}

static int
put_str(Builder *b, PyObject *text)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (reserve(b, length) < 0)
        return -1;
    for (Py_ssize_t n = 0; n < length; n++)
        b->chars[b->length++] = PyUnicode_READ(kind, data, n);
    return 0;
}

static PyObject *
finish(Builder *b)
{
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b->chars, b->length);
    b->length = 0;
    return text;
}

/* Writes one character of a repr() whose quote mark is given, as CPython's unicode_repr writes it: backslash escapes
 * for the quote mark, the backslash, \t \n \r, other ASCII controls (\xhh) and non-printable characters (\xhh,
 * \uhhhh, \Uhhhhhhhh). Returns the end of what it wrote: at most 10 characters. */
static inline Py_UCS4 *
put_repr_char(Py_UCS4 *out, Py_UCS4 ch, Py_UCS4 quote_mark)
{
    static const char hex[] = "0123456789abcdef";
    if (ch >= ' ' && ch < 0x7F && ch != quote_mark && ch != '\\') {
        *out++ = ch;
    } else if (ch == quote_mark || ch == '\\') {
        *out++ = '\\';
        *out++ = ch;
    } else if (ch == '\t' || ch == '\n' || ch == '\r') {
        *out++ = '\\';
        *out++ = ch == '\t' ? 't' : ch == '\n' ? 'n' : 'r';
    } else if (ch < ' ' || ch == 0x7F || !Py_UNICODE_ISPRINTABLE(ch)) {
        int digits = ch <= 0xFF ? 2 : ch <= 0xFFFF ? 4 : 8;
        *out++ = '\\';
        *out++ = digits == 2 ? 'x' : digits == 4 ? 'u' : 'U';
        for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
            *out++ = hex[(ch >> shift) & 0xF];
    } else {
        *out++ = ch;
    }
    return out;
}

/* What the MCP proxy ends a text it cut with (sandboxes/mcp_proxy.py _truncate). */
static const Py_UCS4 CUT_MARKER[] = {0x2026, '[', 't', 'r', 'u', 'n', 'c', 'a', 't', 'e', 'd', ']'};
#define CUT_MARKER_LEN ((Py_ssize_t)(sizeof CUT_MARKER / sizeof CUT_MARKER[0]))

/* Where a quote of text[start:line_end] cut at `end` stops instead when the cut falls inside a CUT_MARKER the
 * observation holds already: before the marker (and the spaces before it), so the quote does not read "…[trunc…" or
 * "……"; its own ellipsis then stands for the rest, the marker included. */
static inline Py_ssize_t
end_outside_marker(const Text *t, Py_ssize_t start, Py_ssize_t end, Py_ssize_t line_end)
{
    if (t->kind == PyUnicode_1BYTE_KIND)  /* Latin-1 has no ellipsis */
        return end;
    for (Py_ssize_t m = end - CUT_MARKER_LEN + 1 > start ? end - CUT_MARKER_LEN + 1 : start;
         m < end && m + CUT_MARKER_LEN <= line_end; m++) {
        Py_ssize_t k = 0;
        while (k < CUT_MARKER_LEN && PyUnicode_READ(t->kind, t->data, m + k) == CUT_MARKER[k])
            k++;
        if (k == CUT_MARKER_LEN) {
            while (m > start && Py_UNICODE_ISSPACE(PyUnicode_READ(t->kind, t->data, m - 1)))
                m--;
            return m;
        }
    }
    return end;
}

/* Whether text[start:end] holds the quote mark ch. */
static inline int
holds(const Text *t, Py_ssize_t start, Py_ssize_t end, Py_UCS4 ch)
{
    if (t->kind == PyUnicode_1BYTE_KIND)  /* most lines: found at memchr speed */
        return memchr((const Py_UCS1 *)t->data + start, (int)ch, end - start) != NULL;
    for (Py_ssize_t i = start; i < end; i++)
        if (PyUnicode_READ(t->kind, t->data, i) == ch)
            return 1;
    return 0;
}

/* The quote mark of a repr() of text[start:end] + text[from:to]: single unless it holds a single quote and no double
 * one (unicode_repr's choice). */
static inline Py_UCS4
quote_mark_of(const Text *t, Py_ssize_t start, Py_ssize_t end, Py_ssize_t from, Py_ssize_t to)
{
    if (!holds(t, start, end, '\'') && (from == to || !holds(t, from, to, '\'')))
        return '\'';
    return holds(t, start, end, '"') || (from < to && holds(t, from, to, '"')) ? '\'' : '"';
}

/* text[start:end] as the inside of a repr() with the given quote mark, written at out; returns its end. */
static inline Py_UCS4 *
put_repr_span(Py_UCS4 *out, const Text *t, Py_ssize_t start, Py_ssize_t end, Py_UCS4 quote_mark)
{
    if (t->kind == PyUnicode_1BYTE_KIND) {  /* read without a switch on the width per character */
        const Py_UCS1 *chars = t->data;
        for (Py_ssize_t i = start; i < end; i++)
            out = put_repr_char(out, chars[i], quote_mark);
    } else {
        for (Py_ssize_t i = start; i < end; i++)
            out = put_repr_char(out, PyUnicode_READ(t->kind, t->data, i), quote_mark);
    }
    return out;
}

/* A quote of up to two spans of one line, as repr() of their text joined (quote_mark_of): an ellipsis between them
 * where text lies between them, and one after them when `cut` (the line goes on). A second span that is empty is
 * left out. */
static inline int
put_quoted_spans(Builder *b, const Text *t, Py_ssize_t start, Py_ssize_t end, Py_ssize_t from, Py_ssize_t to,
                 int cut)
{
    /* At most 10 characters per character (\Uhhhhhhhh), two ellipses and the quotes. */
    if (reserve(b, 10 * (end - start + to - from) + 4) < 0)
        return -1;
    Py_UCS4 quote_mark = quote_mark_of(t, start, end, from, to);
    Py_UCS4 *out = b->chars + b->length;
    *out++ = quote_mark;
    out = put_repr_span(out, t, start, end, quote_mark);
    if (to > from) {
        if (from > end)  /* text left out between them */
            *out++ = 0x2026;
        out = put_repr_span(out, t, from, to, quote_mark);
    }
    if (cut)
        *out++ = 0x2026;  /* an ellipsis */
    *out++ = quote_mark;
    b->length = out - b->chars;
    return 0;
}

/* What a quote of the line shows: the line as it is, its leading and trailing whitespace kept (stage 3 scores
 * whitespace exactly, so a quote that dropped a padding or an indentation would teach text the observation does
 * not hold), cut to MAX_CHARS (not inside a CUT_MARKER), in *start and *end; returns whether it was cut (the quote
 * ends with an ellipsis). */
static inline int
quoted_span(const Text *t, const Line *line, Py_ssize_t *start, Py_ssize_t *end)
{
    *start = line->start;
    *end = line->end;
    int cut = *end - *start > MAX_CHARS;
    if (cut)
        *end = end_outside_marker(t, *start, *start + MAX_CHARS - 1, *end);
    return cut;
}

/* repr() of the line cut to MAX_CHARS with an ellipsis (quoted_span). */
static int
put_quoted(Builder *b, const Text *t, const Line *line)
{
    Py_ssize_t start, end;
    int cut = quoted_span(t, line, &start, &end);
    return put_quoted_spans(b, t, start, end, end, end, cut);
}

/* Whether two lines are quoted alike (put_quoted): a trace would say "'X' becomes 'X'" of them. A line cut after n
 * characters reads as one of n + 1 that ends with an ellipsis of its own. */
static int
quoted_alike(const Text *a, const Line *old, const Text *t, const Line *new)
{
    Py_ssize_t old_start, old_end, new_start, new_end;
    int old_cut = quoted_span(a, old, &old_start, &old_end), new_cut = quoted_span(t, new, &new_start, &new_end);
    if (old_end - old_start + old_cut != new_end - new_start + new_cut)
        return 0;
    /* Where one is cut and the other is not, the other's last character stands against the ellipsis. */
    if (old_cut != new_cut && CH(old_cut ? t : a, old_cut ? --new_end : --old_end) != 0x2026)
        return 0;
    Line old_shown = {old_start, old_end, 0}, new_shown = {new_start, new_end, 0};
    return lines_equal(a, &old_shown, t, &new_shown);
}

/* The start a window quote keeps (put_window): the line's head ("[39] terminal Terminal") when it has one this short,
 * else this many characters; and how much of the text before the first difference it shows. */
#define KEPT_START 32
#define CONTEXT 16

/* A quote of a line that shows where it differs from another line (other), for lines whose quotes, cut at
 * MAX_CHARS, are equal: only text past the cut changed (a desktop element whose state cell went from "focused" to
 * "", a URL's query). Its start (the head, or KEPT_START characters), `…`, then from a word start up to CONTEXT
 * characters before the first character where the two differ, as much as fits in MAX_CHARS, with `…` when the line
 * goes on: both pieces are the line's own text, so the quote can be checked against it. */
static int
put_window(Builder *b, const Text *t, const Line *line, const Text *other, const Line *other_line)
{
    Py_ssize_t start = line->start, end = line->end, other_start = other_line->start, other_end = other_line->end;
    Py_ssize_t same = 0, shorter = end - start < other_end - other_start ? end - start : other_end - other_start;
    while (same < shorter && CH(t, start + same) == CH(other, other_start + same))
        same++;
    Py_ssize_t head_start, kept = head_end(t, line, &head_start) - start;
    if (kept <= 0 || kept > KEPT_START)
        kept = KEPT_START;
    if (kept > same)
        kept = same;
    Py_ssize_t from = start + (same - CONTEXT > kept ? same - CONTEXT : kept);
    for (Py_ssize_t k = from; k < start + same; k++)  /* the window starts at a word */
        if (is_space_at(t, k)) {
            from = k + 1;
            break;
        }
    Py_ssize_t to = end, room = MAX_CHARS - kept - 1;  /* the ellipsis between the pieces */
    int cut = to - from > room;
    if (cut)
        to = end_outside_marker(t, from, from + room - 1, end);
    return put_quoted_spans(b, t, start, start + kept, from, to, cut);
}

/* The quote of a header field's new value: whole (put_quoted), or a window that shows how it differs from the old
 * value (put_window) where the two read alike. */
static int
put_quoted_value(Builder *b, const Text *a, const Line *old, const Text *t, const Line *new)
{
    return old->start >= 0 && quoted_alike(a, old, t, new) ? put_window(b, t, new, a, old) : put_quoted(b, t, new);
}

/* "1 line appears", "2 lines appear": the head of a sentence. */
static int
put_counted(Builder *b, Py_ssize_t count, PyObject *unit, const char *verb)
{
    if (put_count(b, count) < 0 || put_ascii(b, " ") < 0 || put_str(b, unit) < 0 ||
        put_ascii(b, count == 1 ? " " : "s ") < 0 || put_ascii(b, verb) < 0)
        return -1;
    return count == 1 ? put_ascii(b, "s") : 0;
}

/* " and 2 more" past MAX_LISTED. */
static int
put_more(Builder *b, Py_ssize_t count)
{
    if (count <= MAX_LISTED)
        return 0;
    if (put_ascii(b, " and ") < 0 || put_count(b, count - MAX_LISTED) < 0)
        return -1;
    return put_ascii(b, " more");
}

static int
append_finished(PyObject *sentences, Builder *b)
{
    PyObject *sentence = finish(b);
    if (sentence == NULL)
        return -1;
    int status = PyList_Append(sentences, sentence);
    Py_DECREF(sentence);
    return status;
}

/* The lines that appeared or disappeared: how many, how many of them are blank, and the first MAX_LISTED that are
 * not. Blank lines are counted, so the count is the observation's ("5 lines appear" where a blank one separates two
 * paragraphs, not 4), but not quoted: '' says nothing a count does not. */
typedef struct {
    const Text *text;
    Py_ssize_t count, blank;
    const Line *shown[MAX_LISTED];
} Listed;

static void
add_line_to(Listed *listed, const Line *line)
{
    listed->count++;
    if (is_blank(listed->text, line->start, line->end)) {
        listed->blank++;
        return;
    }
    Py_ssize_t shown = listed->count - listed->blank - 1;
    if (shown < MAX_LISTED)
        listed->shown[shown] = line;
}

/* "<count> <unit>s <verb>: 'a', 'b', 'c' and 2 more.", "<count> <unit>s <verb> (1 blank): 'a'.", "... (1 blank): 'a',
 * 'b', 'c' and 2 more non-blank.", or, when all are blank, "2 blank <unit>s <verb>." */
static int
put_listed(Builder *b, const Listed *listed, PyObject *unit, const char *verb)
{
    Py_ssize_t filled = listed->count - listed->blank;
    if (!filled) {
        Py_ssize_t count = listed->count;
        return put_count(b, count) < 0 || put_ascii(b, " blank ") < 0 || put_str(b, unit) < 0 ||
               put_ascii(b, count == 1 ? " " : "s ") < 0 || put_ascii(b, verb) < 0 ||
               put_ascii(b, count == 1 ? "s." : ".") < 0 ? -1 : 0;
    }
    if (put_counted(b, listed->count, unit, verb) < 0)
        return -1;
    if (listed->blank && (put_ascii(b, " (") < 0 || put_count(b, listed->blank) < 0 || put_ascii(b, " blank)") < 0))
        return -1;
    if (put_ascii(b, ": ") < 0)
        return -1;
    for (Py_ssize_t n = 0; n < filled && n < MAX_LISTED; n++)
        if ((n && put_ascii(b, ", ") < 0) || put_quoted(b, listed->text, listed->shown[n]) < 0)
            return -1;
    if (put_more(b, filled) < 0)
        return -1;
    /* Where blank lines are counted, the rest are said to be non-blank, so the sum is visible: "17 lines appear
     * (2 blank): 'a', 'b', 'c' and 12 more non-blank", not 3 and 12 making 17. */
    if (listed->blank && filled > MAX_LISTED && put_ascii(b, " non-blank") < 0)
        return -1;
    return put_ascii(b, ".");
}

/* How many whitespace characters a line starts with; *tabs_only says whether all are tabs (a tree's depth). */
static Py_ssize_t
indent_of(const Text *t, const Line *line, int *tabs_only)
{
    Py_ssize_t i = line->start;
    *tabs_only = 1;
    for (; i < line->end && is_space_at(t, i); i++)
        *tabs_only &= CH(t, i) == '\t';
    return i - line->start;
}

/* Whether two lines say the same once stripped: only their indentation changed. */
static int
same_stripped(const Text *a, const Line *old, const Text *t, const Line *new)
{
    Py_ssize_t xs = old->start, xe = old->end, ys = new->start, ye = new->end;
    while (xs < xe && is_space_at(a, xs))
        xs++;
    while (xe > xs && is_space_at(a, xe - 1))
        xe--;
    while (ys < ye && is_space_at(t, ys))
        ys++;
    while (ye > ys && is_space_at(t, ye - 1))
        ye--;
    if (xe - xs != ye - ys)
        return 0;
    for (Py_ssize_t k = 0; k < xe - xs; k++)
        if (CH(a, xs + k) != CH(t, ys + k))
            return 0;
    return 1;
}

/* A line whose quote, stripped, is the same before and after, told by what did change rather than as "'a' becomes
 * 'a'": its indentation ("'a' moves from depth 4 to depth 3": an element that left a container the tree nests it in;
 * tabs are the depth of a tree, other whitespace is counted in characters), else only its whitespace. */
static int
put_same_text(Builder *b, const Text *a, const Line *old, const Text *t, const Line *new)
{
    int old_tabs, new_tabs;
    Py_ssize_t from = indent_of(a, old, &old_tabs), to = indent_of(t, new, &new_tabs);
    if (put_quoted(b, t, new) < 0)
        return -1;
    if (from == to)
        return put_ascii(b, " changes only in its whitespace");
    const char *measure = old_tabs && new_tabs ? " depth " : " indent ";
    return put_ascii(b, " moves from") < 0 || put_ascii(b, measure) < 0 || put_count(b, from) < 0 ||
           put_ascii(b, " to") < 0 || put_ascii(b, measure) < 0 || put_count(b, to) < 0 ? -1 : 0;
}

/* "'a' becomes 'b'", each line quoted whole (put_quoted) or, where the two read alike (only text past the cut
 * changed), as a window that shows where they differ (put_window). */
static int
put_becomes(Builder *b, const Text *a, const Line *old, const Text *t, const Line *new)
{
    if (quoted_alike(a, old, t, new))
        return put_window(b, a, old, t, new) < 0 || put_ascii(b, " becomes ") < 0 ||
               put_window(b, t, new, a, old) < 0 ? -1 : 0;
    return put_quoted(b, a, old) < 0 || put_ascii(b, " becomes ") < 0 || put_quoted(b, t, new) < 0 ? -1 : 0;
}

/* "<count> <unit>s change: 'a' becomes 'b'; 'c' moves from depth 4 to depth 3; ... and 2 more." */
static int
put_changes(Builder *b, const Text *a, const Text *t, const Line **old_lines, const Line **new_lines,
            Py_ssize_t changes, PyObject *unit)
{
    if (put_counted(b, changes, unit, "change") < 0 || put_ascii(b, ": ") < 0)
        return -1;
    for (Py_ssize_t n = 0; n < changes && n < MAX_LISTED; n++) {
        if (n && put_ascii(b, "; ") < 0)
            return -1;
        if (same_stripped(a, old_lines[n], t, new_lines[n]) ? put_same_text(b, a, old_lines[n], t, new_lines[n]) < 0
                : put_becomes(b, a, old_lines[n], t, new_lines[n]) < 0)
            return -1;
    }
    if (put_more(b, changes) < 0)
        return -1;
    return put_ascii(b, ".");
}

/* "\n".join of the first count lines of t or, when numbers is given, of those it lists. */
static PyObject *
joined_lines(const Text *t, const Py_ssize_t *numbers, Py_ssize_t count)
{
    Py_ssize_t length = count ? count - 1 : 0;
    for (Py_ssize_t n = 0; n < count; n++) {
        const Line *line = &t->lines[numbers ? numbers[n] : n];
        length += line->end - line->start;
    }
    if (PyUnicode_IS_ASCII(t->text)) {  /* most observations: the bytes are copied as they are */
        PyObject *joined = PyUnicode_New(length, 127);
        if (joined == NULL)
            return NULL;
        char *out = PyUnicode_DATA(joined);
        for (Py_ssize_t n = 0; n < count; n++) {
            const Line *line = &t->lines[numbers ? numbers[n] : n];
            if (n)
                *out++ = '\n';
            memcpy(out, (const char *)t->data + line->start, line->end - line->start);
            out += line->end - line->start;
        }
        return joined;
    }
    Builder b;
    builder_init(&b);
    PyObject *joined = NULL;
    if (reserve(&b, length) == 0) {
        for (Py_ssize_t n = 0; n < count; n++) {
            const Line *line = &t->lines[numbers ? numbers[n] : n];
            if (n)
                b.chars[b.length++] = '\n';
            for (Py_ssize_t i = line->start; i < line->end; i++)
                b.chars[b.length++] = PyUnicode_READ(t->kind, t->data, i);
        }
        joined = finish(&b);
    }
    builder_free(&b);
    return joined;
}

/* The lines a describer is handed (line_diff's describe): the appeared, the disappeared, and the changed as (old,
 * new) pairs, each a list of str, in the order the sentences would list them. */
typedef struct {
    PyObject *added, *removed, *changed;
} Handed;

static int
hand_line(PyObject *list, const Text *t, const Line *line)
{
    PyObject *text = PyUnicode_Substring(t->text, line->start, line->end);
    if (text == NULL)
        return -1;
    int status = PyList_Append(list, text);
    Py_DECREF(text);
    return status;
}

static int
hand_pair(PyObject *list, const Text *a, const Line *old, const Text *t, const Line *new)
{
    PyObject *pair = Py_BuildValue("(NN)", PyUnicode_Substring(a->text, old->start, old->end),
                                   PyUnicode_Substring(t->text, new->start, new->end));
    if (pair == NULL)
        return -1;
    int status = PyList_Append(list, pair);
    Py_DECREF(pair);
    return status;
}

/* Sentences about what appeared, disappeared and changed, appended; *new_text gets the lines of t that are new. The
 * lines of a replace that pair_region() pairs are changes; its other old lines disappear and its other new lines
 * appear. With describe (a callable), the lines are handed to it (Handed) and the sentences it returns are appended
 * instead: a desktop's rows are told by their fields (transforms/reasoning/elements.py), paired as here. */
static int
diff_sentences(const Text *a, const Text *t, PyObject *unit, Builder *b, PyObject *sentences, PyObject **new_text,
               PyObject *describe)
{
    Workspace w;
    if (workspace_init(&w, a->count, t->count) < 0) {
        workspace_free(&w);
        return -1;
    }
    Py_ssize_t region_count = changed_regions(a, t, &w);
    int status = -1;
    Handed handed = {NULL, NULL, NULL};
    if (describe && ((handed.added = PyList_New(0)) == NULL || (handed.removed = PyList_New(0)) == NULL ||
                     (handed.changed = PyList_New(0)) == NULL))
        goto done;
    Listed added = {t, 0, 0, {NULL}}, removed = {a, 0, 0, {NULL}};
    const Line *changed_old[MAX_LISTED], *changed_new[MAX_LISTED];
    Py_ssize_t changes = 0, old_count = 0, new_count = 0;
    int same_width = a->kind == t->kind;
    for (Py_ssize_t r = 0; r < region_count; r++) {
        for (Py_ssize_t i = w.regions[r].i1; i < w.regions[r].i2; i++) {
            w.old_heads[old_count] = head_of(a, &a->lines[i], same_width);
            w.old_lines[old_count++] = i;
        }
        for (Py_ssize_t j = w.regions[r].j1; j < w.regions[r].j2; j++) {
            w.new_heads[new_count] = head_of(t, &t->lines[j], same_width);
            w.new_lines[new_count++] = j;
        }
    }
    if (mark_keys(a, w.old_heads, old_count, t, w.new_heads, new_count, &w)) {
        mark_shared(a, w.old_heads, old_count);
        mark_shared(t, w.new_heads, new_count);
        mark_twins(a, w.old_heads, old_count, t, w.new_heads, new_count);
        mark_lone(a, w.old_heads, old_count, t, w.new_heads, new_count, &w);
    }
    /* p and q: where the region's lines start among the changed lines of a and of t. */
    for (Py_ssize_t r = 0, p = 0, q = 0; r < region_count; r++) {
        Region region = w.regions[r];
        Py_ssize_t next_new = region.j1;  /* the first new line not yet told */
        if (region.i1 < region.i2 && region.j1 < region.j2)
            pair_region(a, t, &w, region, p, q, old_count, new_count);
        for (Py_ssize_t i = region.i1; i < region.i2; i++) {
            Py_ssize_t partner = region.j1 < region.j2 ? w.partner[i - region.i1] : -1;
            if (partner < 0) {
                add_line_to(&removed, &a->lines[i]);
                if (describe && hand_line(handed.removed, a, &a->lines[i]) < 0)
                    goto done;
                continue;
            }
            for (; next_new < region.j1 + partner; next_new++) {
                add_line_to(&added, &t->lines[next_new]);
                if (describe && hand_line(handed.added, t, &t->lines[next_new]) < 0)
                    goto done;
            }
            next_new++;
            if (describe && hand_pair(handed.changed, a, &a->lines[i], t, &t->lines[region.j1 + partner]) < 0)
                goto done;
            if (changes < MAX_LISTED) {
                changed_old[changes] = &a->lines[i];
                changed_new[changes] = &t->lines[region.j1 + partner];
            }
            changes++;
        }
        for (; next_new < region.j2; next_new++) {
            add_line_to(&added, &t->lines[next_new]);
            if (describe && hand_line(handed.added, t, &t->lines[next_new]) < 0)
                goto done;
        }
        p += region.i2 - region.i1;
        q += region.j2 - region.j1;
    }
    if (describe) {
        PyObject *told = PyObject_CallFunctionObjArgs(describe, handed.added, handed.removed, handed.changed, NULL);
        if (told == NULL)
            goto done;
        if (!PyList_Check(told)) {
            PyErr_Format(PyExc_TypeError, "line_diff() describe must return a list, not %.80s",
                         Py_TYPE(told)->tp_name);
            Py_DECREF(told);
            goto done;
        }
        Py_ssize_t size = PyList_GET_SIZE(sentences);
        int extended = PyList_SetSlice(sentences, size, size, told);
        Py_DECREF(told);
        if (extended < 0)
            goto done;
    } else if ((added.count && (put_listed(b, &added, unit, "appear") < 0 || append_finished(sentences, b) < 0)) ||
               (removed.count && (put_listed(b, &removed, unit, "disappear") < 0 ||
                                  append_finished(sentences, b) < 0)) ||
               (changes && (put_changes(b, a, t, changed_old, changed_new, changes, unit) < 0 ||
                            append_finished(sentences, b) < 0))) {
        goto done;
    }
    *new_text = joined_lines(t, w.new_lines, new_count);
    status = *new_text ? 0 : -1;
done:
    Py_XDECREF(handed.added);
    Py_XDECREF(handed.removed);
    Py_XDECREF(handed.changed);
    workspace_free(&w);
    return status;
}

/* "There is no earlier observation; the environment shows 3 lines.", appended; returns all lines of t as new. */
static PyObject *
first_observation(const Text *t, PyObject *unit, Builder *b, PyObject *sentences)
{
    if (put_ascii(b, "There is no earlier observation; the environment shows ") < 0 || put_count(b, t->count) < 0 ||
        put_ascii(b, " ") < 0 || put_str(b, unit) < 0 || put_ascii(b, t->count == 1 ? "." : "s.") < 0 ||
        append_finished(sentences, b) < 0)
        return NULL;
    return joined_lines(t, NULL, t->count);
}

/* ---- a screen's header --------------------------------------------------------------------------------------- */

/* A web page's URL, title, tabs, focus and action error, a desktop's focused window and element: lines a screen
 * starts with that are not elements of its tree. Each field of a header is (prefix, changed, appeared, gone): the
 * prefix its line starts with ("URL:", a space after it skipped), and how the trace tells it changed or appeared
 * (the new value quoted after it) or went; optionally then (placeholder, told): the value a renderer writes for
 * nothing ("none": no element has focus), told as `told` instead of quoted as if it named something. Fields come in
 * their order, each optional; a line starting with a space goes on with the field above it (Playwright's multi-line
 * action error), as no tree line starts with one. */
#define MAX_FIELDS 8

/* The field specs, or -1 with TypeError set when header is not a tuple of at most MAX_FIELDS tuples of 4 or 6
 * str. */
static Py_ssize_t
check_header(PyObject *header)
{
    if (!PyTuple_Check(header) || PyTuple_GET_SIZE(header) > MAX_FIELDS) {
        PyErr_Format(PyExc_TypeError, "line_diff() header must be a tuple of at most %d fields", MAX_FIELDS);
        return -1;
    }
    for (Py_ssize_t f = 0; f < PyTuple_GET_SIZE(header); f++) {
        PyObject *field = PyTuple_GET_ITEM(header, f);
        int ok = PyTuple_Check(field) && (PyTuple_GET_SIZE(field) == 4 || PyTuple_GET_SIZE(field) == 6);
        for (Py_ssize_t n = 0; ok && n < PyTuple_GET_SIZE(field); n++)
            ok = PyUnicode_Check(PyTuple_GET_ITEM(field, n));
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "line_diff() header field %zd must be (prefix, changed, appeared, gone"
                         "[, placeholder, told]), 4 or 6 str", f);
            return -1;
        }
    }
    return PyTuple_GET_SIZE(header);
}

/* Reads the header of t into values (a field it lacks: start -1) and drops its lines from t, so the diff, the counts
 * and the new lines are of the tree alone. */
static void
take_header(Text *t, PyObject *header, Py_ssize_t fields, Line *values)
{
    Py_ssize_t i = 0;
    for (Py_ssize_t f = 0; f < fields; f++) {
        PyObject *prefix = PyTuple_GET_ITEM(PyTuple_GET_ITEM(header, f), 0);
        values[f] = (Line){-1, -1, 0};
        if (i == t->count || PyUnicode_Tailmatch(t->text, prefix, t->lines[i].start, t->lines[i].end, -1) != 1)
            continue;
        Py_ssize_t start = t->lines[i].start + PyUnicode_GET_LENGTH(prefix), end = t->lines[i].end;
        if (start < end && PyUnicode_READ(t->kind, t->data, start) == ' ')
            start++;
        for (i++; i < t->count && t->lines[i].start < t->lines[i].end &&
                  PyUnicode_READ(t->kind, t->data, t->lines[i].start) == ' '; i++)
            end = t->lines[i].end;
        values[f] = (Line){start, end, 0};
    }
    memmove(t->lines, t->lines + i, (t->count - i) * sizeof(Line));
    t->count -= i;
}

/* Whether a field's new value is its placeholder for nothing (a field of 6 str whose 5th is the value whole). */
static int
is_placeholder(PyObject *field, const Text *t, const Line *value)
{
    if (PyTuple_GET_SIZE(field) != 6)
        return 0;
    PyObject *placeholder = PyTuple_GET_ITEM(field, 4);
    return value->end - value->start == PyUnicode_GET_LENGTH(placeholder) &&
           PyUnicode_Tailmatch(t->text, placeholder, value->start, value->end, -1) == 1;
}

/* "The URL becomes 'http://…/status'; the title becomes 'Status'.", appended when a field changed, appeared or
 * went; *changed says whether one did. */
static int
header_sentence(const Text *a, const Line *old, const Text *t, const Line *new, PyObject *header, Py_ssize_t fields,
                Builder *b, PyObject *sentences, int *changed)
{
    *changed = 0;
    for (Py_ssize_t f = 0; f < fields; f++) {
        int had = old[f].start >= 0, has = new[f].start >= 0;
        if (had == has && (!had || lines_equal(a, &old[f], t, &new[f])))
            continue;
        PyObject *field = PyTuple_GET_ITEM(header, f);
        Py_ssize_t clause = b->length;
        if (*changed && put_ascii(b, "; ") < 0)
            return -1;
        if (has && is_placeholder(field, t, &new[f]) ? put_str(b, PyTuple_GET_ITEM(field, 5)) < 0
                : put_str(b, PyTuple_GET_ITEM(field, has ? (had ? 1 : 2) : 3)) < 0 ||
                  (has && put_quoted_value(b, a, &old[f], t, &new[f]) < 0))
            return -1;
        if (!*changed && b->length > clause)
            b->chars[clause] = Py_UNICODE_TOUPPER(b->chars[clause]);
        *changed = 1;
    }
    return *changed ? (put_ascii(b, ".") < 0 || append_finished(sentences, b) < 0 ? -1 : 0) : 0;
}

/* ---- renumbered elements -------------------------------------------------------------------------------------- */

/* An element line's id (_ELEMENT_ID of the Python pass, tests/transforms/test_grounded_renumbered_native.py:
 * ^([ \t]*)\[ *(\d+)\](?=[ \t]|$)): its indentation ends at indent_end, its digits are [digits, digits_end), the
 * rest of the line starts at rest. \d is re's: any Unicode decimal digit, which int() reads too. */
typedef struct {
    Py_ssize_t indent_end, digits, digits_end, rest;
} ElementId;

static int
element_id(const Text *t, const Line *line, ElementId *id)
{
    Py_ssize_t i = line->start, end = line->end;
    while (i < end && (CH(t, i) == ' ' || CH(t, i) == '\t'))
        i++;
    id->indent_end = i;
    if (i == end || CH(t, i) != '[')
        return 0;
    for (i++; i < end && CH(t, i) == ' '; i++)
        ;
    id->digits = i;
    while (i < end && Py_UNICODE_ISDECIMAL(CH(t, i)))
        i++;
    if (i == id->digits || i == end || CH(t, i) != ']')
        return 0;
    id->digits_end = i++;
    id->rest = i;
    return i == end || CH(t, i) == ' ' || CH(t, i) == '\t';
}

/* Where "[" is next in line from i on (line->end if nowhere): memchr on 1-byte text, most pages. */
static Py_ssize_t
next_bracket(const Text *t, const Line *line, Py_ssize_t i)
{
    if (t->kind == PyUnicode_1BYTE_KIND) {
        const char *data = t->data, *found = memchr(data + i, '[', line->end - i);
        return found ? found - data : line->end;
    }
    while (i < line->end && CH(t, i) != '[')
        i++;
    return i;
}

/* The line without its ids (the Python pass's _ELEMENT_IDS: each "\[ *\d+\]", left to right, made "[]") added to bare,
 * whose text is of t's width, at its length so far; *found set when it had one. 0, or -1 with an exception set. */
static int
add_bare_line(const Text *t, const Line *line, Text *bare, Py_ssize_t *length, int same_width, int *found)
{
    char *out = (char *)bare->data;
    Py_ssize_t start = *length, at = *length, i = line->start;
    while (i < line->end) {
        Py_ssize_t bracket = next_bracket(t, line, i), k = bracket + 1;
        memcpy(out + at * t->kind, (const char *)t->data + i * t->kind, (bracket - i) * t->kind);
        at += bracket - i;
        if (bracket == line->end)
            break;
        while (k < line->end && CH(t, k) == ' ')
            k++;
        Py_ssize_t digits = k;
        while (k < line->end && Py_UNICODE_ISDECIMAL(CH(t, k)))
            k++;
        PyUnicode_WRITE(t->kind, out, at++, '[');
        if (k > digits && k < line->end && CH(t, k) == ']') {
            PyUnicode_WRITE(t->kind, out, at++, ']');
            *found = 1;
            i = k + 1;
        } else {
            i = bracket + 1;  /* not an id: the "[" stays, and the next one may start one */
        }
    }
    *length = at;
    Py_uhash_t hash = same_width ? hash_bytes((const unsigned char *)out + start * t->kind, (at - start) * t->kind)
                                 : hash_code_points(bare, start, at);
    return add_line(bare, start, at, hash);
}

/* The lines [first, last) of t without their ids, in bare (its data a buffer as wide as t, as long as t's text).
 * 1 if one had an id, 0 if none, -1 with an exception set. */
static int
bare_lines(const Text *t, Py_ssize_t first, Py_ssize_t last, Text *bare, int same_width)
{
    Py_ssize_t length = 0;
    int found = 0;
    bare->count = 0;
    for (Py_ssize_t n = first; n < last; n++)
        if (add_bare_line(t, &t->lines[n], bare, &length, same_width, &found) < 0)
            return -1;
    return found;
}

/* An id's value, as int() reads it. */
static PyObject *
id_value(const Text *t, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *digits = PyUnicode_Substring(t->text, start, end);
    if (digits == NULL)
        return NULL;
    PyObject *value = PyLong_FromUnicodeObject(digits, 10);
    Py_DECREF(digits);
    return value;
}

/* new's id less old's; ids of up to 18 digits (all but made-up ones) without an int object each. */
static PyObject *
id_shift(const Text *a, const ElementId *old, const Text *b, const ElementId *new)
{
    if (old->digits_end - old->digits <= 18 && new->digits_end - new->digits <= 18) {
        long long was = 0, now = 0;
        for (Py_ssize_t i = old->digits; i < old->digits_end; i++)
            was = was * 10 + Py_UNICODE_TODECIMAL(CH(a, i));
        for (Py_ssize_t i = new->digits; i < new->digits_end; i++)
            now = now * 10 + Py_UNICODE_TODECIMAL(CH(b, i));
        return PyLong_FromLongLong(now - was);
    }
    /* int(now) first, then int(was), as the Python pass evaluated them: a too long id fails with int()'s own error. */
    PyObject *now = id_value(b, new->digits, new->digits_end), *was = now ? id_value(a, old->digits, old->digits_end)
                                                                          : NULL;
    PyObject *shift = was ? PyNumber_Subtract(now, was) : NULL;
    Py_XDECREF(now);
    Py_XDECREF(was);
    return shift;
}

/* Whether x[xs:xs + size] is y[ys:ys + size]. */
static int
same_span(const Text *x, Py_ssize_t xs, const Text *y, Py_ssize_t ys, Py_ssize_t size)
{
    Line p = {xs, xs + size, 0}, q = {ys, ys + size, 0};
    return lines_equal(x, &p, y, &q);
}

/* Line i of a and line j of b, paired by the diff of the bare lines: if they differ only in their id (same
 * indentation, same rest), line i is j renumbered: partner[i] = j and the shift appended. 0, or -1 with an exception
 * set. */
static int
pair_if_renumbered(const Text *a, Py_ssize_t i, const Text *b, Py_ssize_t j, Py_ssize_t *partner, PyObject *shifts)
{
    const Line *was = &a->lines[i], *now = &b->lines[j];
    ElementId old, new;
    if (lines_equal(a, was, b, now) || !element_id(a, was, &old) || !element_id(b, now, &new))
        return 0;
    Py_ssize_t indent = old.indent_end - was->start, rest = was->end - old.rest;
    if (indent != new.indent_end - now->start || rest != now->end - new.rest ||
        !same_span(a, was->start, b, now->start, indent) || !same_span(a, old.rest, b, new.rest, rest))
        return 0;
    PyObject *shift = id_shift(a, &old, b, &new);
    if (shift == NULL || PyList_Append(shifts, shift) < 0) {
        Py_XDECREF(shift);
        return -1;
    }
    Py_DECREF(shift);
    partner[i] = j;
    return 0;
}

/* Pairs the lines of one changed region (both sides not empty) that are equal once bare of their ids: the equal runs
 * of the bare lines' diff. w is free before and after. 0, or -1 with an exception set. */
static int
pair_region_ids(const Text *a, const Text *b, Region region, Text *bare_a, Text *bare_b, Workspace *w,
                Py_ssize_t *partner, PyObject *shifts)
{
    int same_width = a->kind == b->kind;
    int old_ids = bare_lines(a, region.i1, region.i2, bare_a, same_width);
    int new_ids = old_ids < 0 ? -1 : bare_lines(b, region.j1, region.j2, bare_b, same_width);
    if (old_ids <= 0 || new_ids <= 0)
        return old_ids < 0 || new_ids < 0 ? -1 : 0;  /* no ids on one side */
    if (workspace_init(w, bare_a->count, bare_b->count) < 0)
        return -1;
    Py_ssize_t count = changed_regions(bare_a, bare_b, w), i = 0, j = 0;
    int status = 0;
    for (Py_ssize_t n = 0; n <= count && status == 0; n++) {
        Region gap = n < count ? w->regions[n] : (Region){bare_a->count, bare_a->count, bare_b->count, bare_b->count};
        for (Py_ssize_t k = 0; k < gap.i1 - i && status == 0; k++)
            status = pair_if_renumbered(a, region.i1 + i + k, b, region.j1 + j + k, partner, shifts);
        i = gap.i2;
        j = gap.j2;
    }
    workspace_free(w);
    w->memory = w->inline_memory;
    return status;
}

/* The lines of a, each line i with a partner as line partner[i] of b instead, joined with "\n", as
 * "\n".join(lines) joins them: the text's own line breaks and a break after the last line are not kept. */
static PyObject *
joined_renumbered(const Text *a, const Text *b, const Py_ssize_t *partner)
{
    int ascii = PyUnicode_IS_ASCII(a->text) && PyUnicode_IS_ASCII(b->text);
    Py_ssize_t length = a->count ? a->count - 1 : 0;
    Py_UCS4 most = 0;  /* the widest character, so the str has the width its characters need and no more */
    for (Py_ssize_t i = 0; i < a->count; i++) {
        const Text *t = partner[i] < 0 ? a : b;
        const Line *line = &t->lines[partner[i] < 0 ? i : partner[i]];
        length += line->end - line->start;
        for (Py_ssize_t k = line->start; !ascii && k < line->end; k++)
            if (CH(t, k) > most)
                most = CH(t, k);
    }
    PyObject *joined = PyUnicode_New(length, most);
    if (joined == NULL)
        return NULL;
    int kind = PyUnicode_KIND(joined);
    char *data = PyUnicode_DATA(joined);
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < a->count; i++) {
        const Text *t = partner[i] < 0 ? a : b;
        const Line *line = &t->lines[partner[i] < 0 ? i : partner[i]];
        if (i)
            PyUnicode_WRITE(kind, data, at++, '\n');
        if (t->kind == kind) {
            memcpy(data + at * kind, (const char *)t->data + line->start * kind, (line->end - line->start) * kind);
            at += line->end - line->start;
        } else {
            for (Py_ssize_t k = line->start; k < line->end; k++)
                PyUnicode_WRITE(kind, data, at++, CH(t, k));
        }
    }
    return joined;
}

/* A bare text: its lines in a buffer of t's width as long as t's text (bare lines are never longer). */
static int
bare_text_init(Text *bare, const Text *t)
{
    bare->text = NULL;
    bare->kind = t->kind;
    bare->count = 0;
    bare->capacity = INLINE_LINES;
    bare->lines = bare->inline_lines;
    bare->data = PyMem_Malloc((PyUnicode_GET_LENGTH(t->text) + 1) * t->kind);
    if (bare->data == NULL)
        PyErr_NoMemory();
    return bare->data ? 0 : -1;
}

static PyObject *
renumbered(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1]))
        return PyErr_Format(PyExc_TypeError, "renumbered() takes 2 str arguments");
    Text a, b, bare_a, bare_b;
    a.lines = a.inline_lines;
    b.lines = b.inline_lines;
    bare_a.lines = bare_a.inline_lines;
    bare_b.lines = bare_b.inline_lines;
    bare_a.data = bare_b.data = NULL;
    Workspace w;
    w.memory = w.inline_memory;
    Region *regions = NULL;
    Py_ssize_t *partner = NULL, kept = 0;
    PyObject *shifts = PyList_New(0), *result = NULL;
    if (shifts == NULL || split_both(args[0], args[1], &a, &b) < 0 || workspace_init(&w, a.count, b.count) < 0)
        goto done;
    Py_ssize_t count = changed_regions(&a, &b, &w);
    /* One span from the first changed region to the last, not each region alone: a row removed above its successor
     * gives the successor's lines its ids, and the diff, matching the lines that kept their text and id ("[30] cell
     * ''"), splits what went and what was renumbered into regions of their own (R3). Lines can pair only if some
     * went and some came; otherwise no second workspace is taken. */
    regions = PyMem_Malloc(sizeof(Region));
    if (regions == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int went = 0, came = 0;
    for (Py_ssize_t n = 0; n < count; n++) {
        went |= w.regions[n].i1 < w.regions[n].i2;
        came |= w.regions[n].j1 < w.regions[n].j2;
    }
    if (went && came) {
        regions[0] = (Region){w.regions[0].i1, w.regions[count - 1].i2, w.regions[0].j1, w.regions[count - 1].j2};
        kept = 1;
    }
    workspace_free(&w);
    w.memory = w.inline_memory;
    if (kept) {
        if ((partner = PyMem_Malloc(a.count * sizeof(Py_ssize_t))) == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < a.count; i++)
            partner[i] = -1;
        if (bare_text_init(&bare_a, &a) < 0 || bare_text_init(&bare_b, &b) < 0)
            goto done;
        for (Py_ssize_t n = 0; n < kept; n++)
            if (pair_region_ids(&a, &b, regions[n], &bare_a, &bare_b, &w, partner, shifts) < 0)
                goto done;
    }
    if (PyList_GET_SIZE(shifts)) {
        PyObject *joined = joined_renumbered(&a, &b, partner);
        if (joined != NULL) {
            result = PyTuple_Pack(2, joined, shifts);
            Py_DECREF(joined);
        }
    } else {
        result = PyTuple_Pack(2, args[0], shifts);
    }
done:
    free_text(&a);
    free_text(&b);
    free_text(&bare_a);
    free_text(&bare_b);
    PyMem_Free((void *)bare_a.data);
    PyMem_Free((void *)bare_b.data);
    workspace_free(&w);
    PyMem_Free(regions);
    PyMem_Free(partner);
    Py_XDECREF(shifts);
    return result;
}

/* ---- module --------------------------------------------------------------------------------------------------- */

static PyObject *
line_diff(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 3 || nargs > 5)
        return PyErr_Format(PyExc_TypeError, "line_diff() takes 3 arguments, 4 with a header, 5 with a describer "
                            "(%zd given)", nargs);
    for (int n = 0; n < 3; n++)
        if (!PyUnicode_Check(args[n]))
            return PyErr_Format(PyExc_TypeError, "line_diff() argument %d must be str, not %.80s", n + 1,
                                Py_TYPE(args[n])->tp_name);
    PyObject *state = args[0], *unit = args[2], *header = nargs >= 4 && args[3] != Py_None ? args[3] : NULL;
    PyObject *describe = nargs == 5 && args[4] != Py_None ? args[4] : NULL;
    if (describe && !PyCallable_Check(describe))
        return PyErr_Format(PyExc_TypeError, "line_diff() describe must be callable, not %.80s",
                            Py_TYPE(describe)->tp_name);
    Py_ssize_t fields = header ? check_header(header) : 0;
    if (fields < 0)
        return NULL;
    Text a, t;
    Builder b;
    builder_init(&b);
    PyObject *sentences = NULL, *new_text = NULL, *result = NULL;
    Line old_values[MAX_FIELDS], new_values[MAX_FIELDS];
    int header_changed = 0;
    if (split_both(state, args[1], &a, &t) < 0 || (sentences = PyList_New(0)) == NULL)
        goto done;
    if (header) {
        take_header(&a, header, fields, old_values);
        take_header(&t, header, fields, new_values);
    }
    if (is_blank(&a, 0, PyUnicode_GET_LENGTH(state))) {
        new_text = first_observation(&t, unit, &b, sentences);
    } else if (header && header_sentence(&a, old_values, &t, new_values, header, fields, &b, sentences,
                                         &header_changed) < 0) {
        new_text = NULL;
    } else if (same_lines(&a, &t)) {
        if (header_changed || (put_ascii(&b, "The observation does not change.") == 0 &&
                               append_finished(sentences, &b) == 0))
            new_text = PyUnicode_New(0, 0);
    } else if (diff_sentences(&a, &t, unit, &b, sentences, &new_text, describe) < 0) {
        new_text = NULL;
    }
    if (new_text != NULL)
        result = PyTuple_Pack(2, sentences, new_text);
done:
    free_text(&a);
    free_text(&t);
    builder_free(&b);
    Py_XDECREF(sentences);
    Py_XDECREF(new_text);
    return result;
}

static PyObject *
regions_of(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1]))
        return PyErr_Format(PyExc_TypeError, "changed_regions() takes 2 str arguments");
    Text a, b;
    Workspace w;
    w.memory = w.inline_memory;
    PyObject *result = NULL;
    if (split_both(args[0], args[1], &a, &b) < 0 || workspace_init(&w, a.count, b.count) < 0)
        goto done;
    Py_ssize_t count = changed_regions(&a, &b, &w);
    result = PyList_New(count);
    for (Py_ssize_t n = 0; result && n < count; n++) {
        Region region = w.regions[n];
        PyObject *item = Py_BuildValue("(nnnn)", region.i1, region.i2, region.j1, region.j2);
        if (item == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, n, item);
    }
done:
    free_text(&a);
    free_text(&b);
    workspace_free(&w);
    return result;
}

static PyObject *
quote_text(PyObject *module, PyObject *text)
{
    if (!PyUnicode_Check(text))
        return PyErr_Format(PyExc_TypeError, "quote() argument must be str, not %.80s", Py_TYPE(text)->tp_name);
    Text whole = {.text = text, .kind = PyUnicode_KIND(text), .data = PyUnicode_DATA(text)};
    Line line = {0, PyUnicode_GET_LENGTH(text), 0};
    Builder b;
    builder_init(&b);
    PyObject *quoted = put_quoted(&b, &whole, &line) == 0 ? finish(&b) : NULL;
    builder_free(&b);
    return quoted;
}

/* ---- volatile values ------------------------------------------------------------------------------------------ */

/* The keys of a volatile span (a dict of start, end and kind), interned at import. */
static PyObject *START_KEY, *END_KEY;

/* Whether state[at:at + size] stands whole: no letter or digit right before or after it, so a pid '42' is not the
 * '42' of '1420', nor a duration '0.03s' the end of '10.03s'. */
static int
whole_at(const Text *state, Py_ssize_t at, Py_ssize_t size)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(state->text);
    return (at == 0 || !Py_UNICODE_ISALNUM(CH(state, at - 1))) &&
           (at + size == length || !Py_UNICODE_ISALNUM(CH(state, at + size)));
}

/* Whether state[at:at + size] is text[start:start + size], standing whole there. */
static int
shown_at(const Text *state, Py_ssize_t at, const Text *text, Py_ssize_t start, Py_ssize_t size)
{
    if (at < 0 || at + size > PyUnicode_GET_LENGTH(state->text) || !whole_at(state, at, size))
        return 0;
    if (state->kind == text->kind)
        return memcmp((const char *)state->data + at * state->kind, (const char *)text->data + start * text->kind,
                      size * text->kind) == 0;
    for (Py_ssize_t k = 0; k < size; k++)
        if (CH(state, at + k) != CH(text, start + k))
            return 0;
    return 1;
}

/* Where state shows text[start:end] (not empty) whole: -1 if nowhere, -2 with an exception set. */
static Py_ssize_t
find_shown(const Text *state, const Text *text, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *value = PyUnicode_Substring(text->text, start, end);
    if (value == NULL)
        return -2;
    Py_ssize_t at = 0, length = PyUnicode_GET_LENGTH(state->text);
    while ((at = PyUnicode_Find(state->text, value, at, length, 1)) >= 0 && !whole_at(state, at, end - start))
        at++;
    Py_DECREF(value);
    return at;
}

/* Whether state[at:at + size] is text[start:start + size] and a whole line of state once stripped: nothing but
 * spaces between it and the newlines (or the edges) around it. */
static int
line_at(const Text *state, Py_ssize_t at, const Text *text, Py_ssize_t start, Py_ssize_t size)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(state->text);
    if (at < 0 || at + size > length)
        return 0;
    for (Py_ssize_t k = at - 1; k >= 0 && CH(state, k) != '\n'; k--)
        if (!Py_UNICODE_ISSPACE(CH(state, k)))
            return 0;
    for (Py_ssize_t k = at + size; k < length && CH(state, k) != '\n'; k++)
        if (!Py_UNICODE_ISSPACE(CH(state, k)))
            return 0;
    for (Py_ssize_t k = 0; k < size; k++)
        if (CH(state, at + k) != CH(text, start + k))
            return 0;
    return 1;
}

/* Whether the line of text that holds the value text[start:end] (stripped of spaces) is, stripped, a line of state,
 * and more than the value: 1, 0, or -1 with an exception set. Looked for first where the last value found was
 * (*shift), as new_spans looks; where it is found becomes *shift. */
static int
line_shown(const Text *state, const Text *text, Py_ssize_t start, Py_ssize_t end, Py_ssize_t *shift)
{
    Py_ssize_t first = start, last = end, length = PyUnicode_GET_LENGTH(text->text);
    while (first > 0 && CH(text, first - 1) != '\n')
        first--;
    while (last < length && CH(text, last) != '\n')
        last++;
    while (Py_UNICODE_ISSPACE(CH(text, first)))  /* stops at the value, which is not a space */
        first++;
    while (Py_UNICODE_ISSPACE(CH(text, last - 1)))
        last--;
    if (last - first == end - start)
        return 0;  /* the value alone: no more evidence than the value */
    if (line_at(state, first + *shift, text, first, last - first))
        return 1;
    PyObject *line = PyUnicode_Substring(text->text, first, last);
    if (line == NULL)
        return -1;
    Py_ssize_t at = 0, state_length = PyUnicode_GET_LENGTH(state->text);
    while ((at = PyUnicode_Find(state->text, line, at, state_length, 1)) >= 0 &&
           !line_at(state, at, text, first, last - first))
        at++;
    Py_DECREF(line);
    if (at == -2)
        return -1;
    if (at >= 0)
        *shift = at - first;
    return at >= 0;
}

/* A span's start or end as text[start:end] reads it: None for the text's edge, a negative index from its end, one
 * past the text cut to it. -1 with an exception set (not an integer), else 0. */
static int
slice_index(PyObject *span, PyObject *key, Py_ssize_t *index)
{
    PyObject *value = PyObject_GetItem(span, key);
    if (value == NULL)
        return -1;
    int edge = value == Py_None;
    if (!edge)
        *index = PyNumber_AsSsize_t(value, NULL);
    Py_DECREF(value);
    return !edge && *index == -1 && PyErr_Occurred() ? -1 : 0;
}

/* The spans of text whose value, text[span["start"]:span["end"]], state does not show whole (whole_at). An empty
 * value shows nothing new. Each value is first looked for at its place in the text moved as far as the last value
 * found in the state was: the values of a process table still on screen (scrolled or not) are found so, without a
 * search. With min_chars, a shorter value is shown only on a line state shows whole (line_shown). */
static PyObject *
new_spans(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 3 || nargs > 4 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1]))
        return PyErr_Format(PyExc_TypeError, "new_spans() takes a state str, a text str, its spans and min_chars");
    Py_ssize_t min_chars = nargs == 4 ? PyLong_AsSsize_t(args[3]) : 0;
    if (min_chars == -1 && PyErr_Occurred())
        return NULL;
    PyObject *spans = PySequence_Fast(args[2], "new_spans() argument 3 must be a sequence of spans");
    if (spans == NULL)
        return NULL;
    Text state = {.text = args[0], .kind = PyUnicode_KIND(args[0]), .data = PyUnicode_DATA(args[0])};
    Text text = {.text = args[1], .kind = PyUnicode_KIND(args[1]), .data = PyUnicode_DATA(args[1])};
    PyObject *found = PyList_New(0);
    Py_ssize_t shift = 0;  /* where the state showed the last value it shows, less where the text does */
    for (Py_ssize_t n = 0; found && n < PySequence_Fast_GET_SIZE(spans); n++) {
        PyObject *span = PySequence_Fast_GET_ITEM(spans, n);
        Py_ssize_t start = 0, end = PY_SSIZE_T_MAX;
        if (slice_index(span, START_KEY, &start) < 0 || slice_index(span, END_KEY, &end) < 0) {
            Py_CLEAR(found);
            break;
        }
        PySlice_AdjustIndices(PyUnicode_GET_LENGTH(text.text), &start, &end, 1);
        if (end <= start)
            continue;
        if (min_chars > 0) {
            Py_ssize_t first = start, last = end;  /* the value, without the padding a span may hold */
            while (first < last && Py_UNICODE_ISSPACE(CH(&text, first)))
                first++;
            while (last > first && Py_UNICODE_ISSPACE(CH(&text, last - 1)))
                last--;
            if (last > first && last - first < min_chars) {
                int shown = line_shown(&state, &text, first, last, &shift);
                if (shown < 0 || (!shown && PyList_Append(found, span) < 0))
                    Py_CLEAR(found);
                continue;
            }
        }
        if (shown_at(&state, start + shift, &text, start, end - start))
            continue;
        Py_ssize_t at = find_shown(&state, &text, start, end);
        if (at >= 0)
            shift = at - start;
        else if (at == -2 || PyList_Append(found, span) < 0)
            Py_CLEAR(found);
    }
    Py_DECREF(spans);
    return found;
}

/* ---- a web quote without the tree's indentation (R2) --------------------------------------------------------- */

/* A web tree's indentation is its depth, not the element's text: a quote of an element line starts without the
 * escaped tabs ("\t\t[30] link ...") it would otherwise open with. This is the regex
 * (['"])(?:\\t)+(?=\[\d|[A-Z][A-Za-z]+\b|[a-z]+ ["']) over a sentence, each match replaced by its quote mark unless
 * the character before it is a letter, digit, '_' or backslash (a quote mark inside the element's own text), matches
 * taken left to right as re.sub takes them; tests/transforms/test_grounded_unindent_native.py holds that Python and
 * compares the two. Here it is one pass over the sentence with no match objects: it was ~4.6 us a web row. */

static inline int
is_word(Py_UCS4 c)
{
    return Py_UNICODE_ISALNUM(c) || c == '_';  /* the regex's \w and \b, and str.isalnum() */
}

/* Where the escaped tabs after the quote mark at `at` end, if they are followed by an element's id or role, else -1.
 * The regex's (?:\\t)+ is greedy and gives back tabs only to a lookahead that then starts at a backslash, which none
 * of its branches accepts: only the longest run of tabs can match. */
static Py_ssize_t
indent_end(int kind, const void *data, Py_ssize_t length, Py_ssize_t at)
{
    Py_ssize_t j = at + 1;
    while (j + 1 < length && PyUnicode_READ(kind, data, j) == '\\' && PyUnicode_READ(kind, data, j + 1) == 't')
        j += 2;
    if (j == at + 1 || j >= length)
        return -1;
    Py_UCS4 c = PyUnicode_READ(kind, data, j);
    Py_ssize_t m = j + 1;
    if (c == '[')  /* \[\d: a Unicode decimal digit, as re's \d */
        return m < length && Py_UNICODE_ISDECIMAL(PyUnicode_READ(kind, data, m)) ? j : -1;
    if (c >= 'A' && c <= 'Z') {  /* [A-Z][A-Za-z]+\b: a shorter run would end between two letters, not at a \b */
        while (m < length && is_ascii_letter(PyUnicode_READ(kind, data, m)))
            m++;
        return m > j + 1 && (m == length || !is_word(PyUnicode_READ(kind, data, m))) ? j : -1;
    }
    if (c >= 'a' && c <= 'z') {  /* [a-z]+ ["']: a shorter run is followed by a letter, not the space */
        Py_UCS4 d;
        while (m < length && (d = PyUnicode_READ(kind, data, m)) >= 'a' && d <= 'z')
            m++;
        if (m + 1 >= length || PyUnicode_READ(kind, data, m) != ' ')
            return -1;
        d = PyUnicode_READ(kind, data, m + 1);
        return d == '"' || d == '\'' ? j : -1;
    }
    return -1;
}

/* The sentence without the indentation its quotes open with: a new reference, the sentence itself if it has none. */
static PyObject *
unindented_one(PyObject *sentence)
{
    int kind = PyUnicode_KIND(sentence);
    const void *data = PyUnicode_DATA(sentence);
    Py_ssize_t length = PyUnicode_GET_LENGTH(sentence), copied = 0, size = 0;
    Py_UCS4 *out = NULL;
    for (Py_ssize_t i = 0; i + 2 < length;) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        Py_ssize_t end = c == '\'' || c == '"' ? indent_end(kind, data, length, i) : -1;
        if (end < 0) {
            i++;
            continue;
        }
        Py_UCS4 before = i ? PyUnicode_READ(kind, data, i - 1) : ' ';
        if (!(is_word(before) || before == '\\')) {
            if (out == NULL && (out = PyMem_Malloc(length * sizeof(Py_UCS4))) == NULL)
                return PyErr_NoMemory();
            for (Py_ssize_t k = copied; k <= i; k++)  /* up to and with the quote mark */
                out[size++] = PyUnicode_READ(kind, data, k);
            copied = end;
        }
        i = end;  /* a match refused still ends where it ends, as re.sub goes on after it */
    }
    if (out == NULL)
        return Py_NewRef(sentence);
    for (Py_ssize_t k = copied; k < length; k++)
        out[size++] = PyUnicode_READ(kind, data, k);
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, size);
    PyMem_Free(out);
    return result;
}

static PyObject *
unindented(PyObject *module, PyObject *sentences)
{
    if (!PyList_Check(sentences))
        return PyErr_Format(PyExc_TypeError, "unindented() takes a list of str, not %.100s",
                            Py_TYPE(sentences)->tp_name);
    Py_ssize_t count = PyList_GET_SIZE(sentences);
    PyObject *result = PyList_New(count);
    for (Py_ssize_t n = 0; result && n < count; n++) {
        PyObject *sentence = PyList_GET_ITEM(sentences, n);
        PyObject *told = PyUnicode_Check(sentence) ? unindented_one(sentence) :
            PyErr_Format(PyExc_TypeError, "unindented() takes a list of str, not of %.100s",
                         Py_TYPE(sentence)->tp_name);
        if (told == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, n, told);
    }
    return result;
}

static PyMethodDef methods[] = {
    {"line_diff", (PyCFunction)(void (*)(void))line_diff, METH_FASTCALL,
     "line_diff(state, next_text, unit, header=None, describe=None) -> (sentences, new_text)\n\n"
     "Sentences about the lines of next_text that appeared, disappeared or changed since state (or that there is\n"
     "no earlier observation, or no change), and the new lines of next_text joined with newlines. header: the\n"
     "fields (prefix, changed, appeared, gone) of the lines a screen starts with, told by name, not as lines.\n"
     "describe: called as describe(appeared, disappeared, changed) (lists of str, changed of (old, new) pairs)\n"
     "where lines appeared, disappeared or changed; the sentences it returns (a list) are told instead."},
    {"quote", quote_text, METH_O,
     "quote(text) -> str\n\nrepr() of text as it is (whitespace kept), cut to 72 characters with an ellipsis: how a\n"
     "trace quotes a line."},
    {"changed_regions", (PyCFunction)(void (*)(void))regions_of, METH_FASTCALL,
     "changed_regions(before, after) -> [(i1, i2, j1, j2), ...]\n\n"
     "The non-'equal' opcodes of difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(),\n"
     "autojunk=False), the regions line_diff describes."},
    {"renumbered", (PyCFunction)(void (*)(void))renumbered, METH_FASTCALL,
     "renumbered(state, next_text) -> (state_renumbered, shifts)\n\n"
     "Within each changed region of the line diff where lines both went and came, the lines of state that next_text\n"
     "shows again under another id (equal apart from a leading [id], same indentation) given that id, and each such\n"
     "line's id shift (new less old), in order. The diff pairing them is of the region's lines with every [id] made\n"
     "[]. state_renumbered is state's lines joined with newlines, or state itself when no line is renumbered."},
    {"new_spans", (PyCFunction)(void (*)(void))new_spans, METH_FASTCALL,
     "new_spans(state, text, spans, min_chars=0) -> [span, ...]\n\n"
     "The spans of text (dicts of start and end, offsets as text[start:end] takes them) whose value state does not\n"
     "show whole: nowhere without a letter or digit right before or after it. A value shorter than min_chars once\n"
     "stripped of spaces (a 1-2 digit pid) coincides with any small number: it is shown only where its line, stripped\n"
     "and more than the value, is a line of state, stripped."},
    {"unindented", unindented, METH_O,
     "unindented(sentences) -> [str, ...]\n\n"
     "The sentences with the escaped tabs a web tree's indentation puts at the start of a quote removed where an\n"
     "element's id or role follows them (R2), as re.sub of\n"
     "(['\"])(?:\\\\t)+(?=\\[\\d|[A-Z][A-Za-z]+\\b|[a-z]+ [\"']) by the quote mark does where the mark is not after a\n"
     "letter, digit, '_' or backslash."},
    {NULL, NULL, 0, NULL},
};

/* MAX_LISTED for the other lists of a trace (the files its new output names), so they are cut where lines are. */
static int
add_constants(PyObject *module)
{
    return PyModule_AddIntConstant(module, "MAX_LISTED", MAX_LISTED);
}

static int
intern_keys(PyObject *module)
{
    if (START_KEY == NULL && (START_KEY = PyUnicode_InternFromString("start")) == NULL)
        return -1;
    if (END_KEY == NULL && (END_KEY = PyUnicode_InternFromString("end")) == NULL)
        return -1;
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, add_constants},
    {Py_mod_exec, intern_keys},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_linediff", "The line diff of the grounded reasoning trace.", 0, methods, slots,
};

PyMODINIT_FUNC
PyInit__linediff(void)
{
    return PyModuleDef_Init(&module);
}
