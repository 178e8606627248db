/* The word n-gram shingle hashes of transforms/minhash.py, one pass over each text's characters.
 *
 * A text's words are text.split() with every NUL made U+FFFD; a shingle is " ".join of `ngram` consecutive words
 * (a text of at most `ngram` words is one shingle of all of them, a text without words the EMPTY_TEXT constant).
 * A shingle's hash is sum(byte_i * BASE^i) mod 2^64 over the UTF-8 bytes of its string, then splitmix64-mixed.
 * The words are never copied: the scan keeps the text's running prefix sum of byte * BASE^position, and a
 * shingle's hash is (prefix at its last word's end - prefix at its first word's start) * BASE^-start.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define BASE 0x100000001B3ULL          /* FNV-1a 64-bit prime: odd, so invertible mod 2^64 */
#define BASE_INVERSE 0xCE965057AFF6957BULL  /* BASE * BASE_INVERSE == 1 mod 2^64 */
#define EMPTY_TEXT 0x9E3779B97F4A7C15ULL    /* the one shingle of a text with no words */

/* What str.split() splits ASCII on: \t \n \v \f \r (9-13), \x1c-\x1f (28-31) and the space. */
static const unsigned char ASCII_SEPARATOR[128] = {
    [9] = 1, [10] = 1, [11] = 1, [12] = 1, [13] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1, [32] = 1,
};

/* ASCII bytes hashed as themselves in a word: neither a separator nor NUL (which counts as U+FFFD). */
static unsigned char PLAIN_ASCII[128];

typedef struct {
    uint64_t start_prefix, end_prefix, start_inverse;  /* start_inverse: BASE^-(the word's start position) */
} Word;

/* A text's words so far, and the inverse power of the last word's start: the next one's is a few factors on. */
typedef struct {
    Word *words;
    Py_ssize_t count, capacity;
    uint64_t inverse;
    Py_ssize_t inverse_position;
} Words;

/* The running hash of the text's shingle string " ".join(words): sum of byte * BASE^position, and BASE^position.
 * A local of each scan, so that the compiler keeps it in registers through a word's bytes. */
typedef struct {
    uint64_t prefix, power;
    Py_ssize_t position;
} Running;

typedef struct {
    uint64_t *values;
    Py_ssize_t count, capacity;
} Hashes;

/* BASE^-i for the gaps between word starts of most texts; a longer one is raised to its power. */
#define TABLED_INVERSES 64
static uint64_t inverse_powers[TABLED_INVERSES];

static uint64_t
inverse_power(Py_ssize_t exponent)
{
    if (exponent < TABLED_INVERSES)
        return inverse_powers[exponent];
    uint64_t result = 1, factor = BASE_INVERSE;
    for (; exponent; exponent >>= 1, factor *= factor)
        if (exponent & 1)
            result *= factor;
    return result;
}

static inline uint64_t
mixed(uint64_t value)
{
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
    return value ^ (value >> 31);
}

static inline void
put_byte(Running *run, unsigned char byte)
{
    run->prefix += byte * run->power;
    run->power *= BASE;
    run->position++;
}

/* Two bytes of a word at once: the running power, a chain of multiplications that every byte waits on, then
 * takes one step per two bytes. */
static inline void
put_two_bytes(Running *run, unsigned char first, unsigned char second)
{
    run->prefix += first * run->power + second * (run->power * BASE);
    run->power *= BASE * BASE;
    run->position += 2;
}

static int
grow_words(Words *words)
{
    Py_ssize_t capacity = words->capacity ? 2 * words->capacity : 256;
    Word *grown = PyMem_Realloc(words->words, capacity * sizeof(Word));
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    words->words = grown;
    words->capacity = capacity;
    return 0;
}

/* Inline, as it runs for every word: only the rare growth is a call. */
static inline int
begin_word(Words *words, Running *run)
{
    if (words->count == words->capacity && grow_words(words) < 0)
        return -1;
    if (words->count > 0)
        put_byte(run, ' ');  /* the one space " ".join puts between words */
    words->inverse *= inverse_power(run->position - words->inverse_position);
    words->inverse_position = run->position;
    words->words[words->count].start_prefix = run->prefix;
    words->words[words->count].start_inverse = words->inverse;
    return 0;
}

static inline void
end_word(Words *words, const Running *run)
{
    words->words[words->count++].end_prefix = run->prefix;
}

static inline int
put_utf8(Running *run, Py_UCS4 ch)
{
    if (ch < 0x80) {
        put_byte(run, (unsigned char)ch);
    } else if (ch < 0x800) {
        put_byte(run, 0xC0 | (ch >> 6));
        put_byte(run, 0x80 | (ch & 0x3F));
    } else if (ch < 0x10000) {
        if (ch >= 0xD800 && ch <= 0xDFFF)
            return -1;  /* a lone surrogate: no UTF-8 */
        put_byte(run, 0xE0 | (ch >> 12));
        put_byte(run, 0x80 | ((ch >> 6) & 0x3F));
        put_byte(run, 0x80 | (ch & 0x3F));
    } else {
        put_byte(run, 0xF0 | (ch >> 18));
        put_byte(run, 0x80 | ((ch >> 12) & 0x3F));
        put_byte(run, 0x80 | ((ch >> 6) & 0x3F));
        put_byte(run, 0x80 | (ch & 0x3F));
    }
    return 0;
}

static int
scan_ascii(Words *words, const unsigned char *chars, Py_ssize_t length)
{
    Running run = {0, 1, 0};
    for (Py_ssize_t i = 0;;) {
        while (i < length && ASCII_SEPARATOR[chars[i]])
            i++;
        if (i == length)
            return 0;
        if (begin_word(words, &run) < 0)
            return -1;
        for (;;) {
            while (i + 1 < length && (PLAIN_ASCII[chars[i]] & PLAIN_ASCII[chars[i + 1]])) {
                put_two_bytes(&run, chars[i], chars[i + 1]);
                i += 2;
            }
            if (i == length || ASCII_SEPARATOR[chars[i]])
                break;
            if (chars[i] != 0)
                put_byte(&run, chars[i]);
            else
                put_utf8(&run, 0xFFFD);
            i++;
        }
        end_word(words, &run);
    }
}

static int
scan_unicode(Words *words, PyObject *text)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Running run = {0, 1, 0};
    for (Py_ssize_t i = 0;;) {
        while (i < length && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)))
            i++;
        if (i == length)
            return 0;
        if (begin_word(words, &run) < 0)
            return -1;
        for (; i < length; i++) {
            Py_UCS4 ch = PyUnicode_READ(kind, data, i);
            if (Py_UNICODE_ISSPACE(ch))
                break;
            if (put_utf8(&run, ch == 0 ? 0xFFFD : ch) < 0) {
                /* Let the codec raise the UnicodeEncodeError str.encode() would. */
                Py_XDECREF(PyUnicode_AsUTF8String(text));
                return -1;
            }
        }
        end_word(words, &run);
    }
}

/* The words of text into words, emptied first. */
static int
scan_text(Words *words, PyObject *text)
{
    words->count = 0;
    words->inverse = 1;
    words->inverse_position = 0;
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "shingled texts must be str, not %.80s", Py_TYPE(text)->tp_name);
        return -1;
    }
    return PyUnicode_IS_ASCII(text) ? scan_ascii(words, PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text))
                                    : scan_unicode(words, text);
}

static int
reserve(Hashes *hashes, Py_ssize_t more)
{
    if (hashes->count + more <= hashes->capacity)
        return 0;
    Py_ssize_t capacity = hashes->capacity ? hashes->capacity : 1024;
    while (capacity < hashes->count + more)
        capacity *= 2;
    uint64_t *values = PyMem_Realloc(hashes->values, capacity * sizeof(uint64_t));
    if (values == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    hashes->values = values;
    hashes->capacity = capacity;
    return 0;
}

/* The shingle hashes of the scanned words appended to hashes; none for a text without words. */
static int
put_shingles(Hashes *hashes, const Words *words, Py_ssize_t ngram)
{
    Py_ssize_t windows = words->count > ngram ? words->count - ngram + 1 : (words->count > 0);
    Py_ssize_t span = words->count > ngram ? ngram : words->count;
    if (reserve(hashes, windows) < 0)
        return -1;
    uint64_t *out = hashes->values + hashes->count;
    for (Py_ssize_t first = 0; first < windows; first++) {
        const Word *start = &words->words[first], *last = &words->words[first + span - 1];
        out[first] = mixed((last->end_prefix - start->start_prefix) * start->start_inverse);
    }
    hashes->count += windows;
    return 0;
}

static int
put_empty_text(Hashes *hashes)
{
    if (reserve(hashes, 1) < 0)
        return -1;
    hashes->values[hashes->count++] = EMPTY_TEXT;
    return 0;
}

static PyObject *
as_bytearray(const uint64_t *values, Py_ssize_t count)
{
    return PyByteArray_FromStringAndSize((const char *)values, count * (Py_ssize_t)sizeof(uint64_t));
}

/* (hashes, offsets) as two bytearrays of native uint64, the caller wraps them with numpy. */
static PyObject *
hashes_and_offsets(const Hashes *hashes, const Hashes *offsets)
{
    PyObject *flat = as_bytearray(hashes->values, hashes->count);
    PyObject *bounds = flat ? as_bytearray(offsets->values, offsets->count) : NULL;
    PyObject *result = bounds ? PyTuple_Pack(2, flat, bounds) : NULL;
    Py_XDECREF(flat);
    Py_XDECREF(bounds);
    return result;
}

static int
ngram_of(PyObject *value, Py_ssize_t *ngram)
{
    *ngram = PyLong_AsSsize_t(value);
    if (*ngram == -1 && PyErr_Occurred())
        return -1;
    if (*ngram < 1) {
        PyErr_Format(PyExc_ValueError, "ngram must be >= 1, got %zd", *ngram);
        return -1;
    }
    return 0;
}

static int
put_offset(Hashes *offsets, Py_ssize_t value)
{
    if (reserve(offsets, 1) < 0)
        return -1;
    offsets->values[offsets->count++] = (uint64_t)value;
    return 0;
}

static PyObject *
shingle_hashes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t ngram;
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "shingle_hashes() takes 2 arguments (%zd given)", nargs);
    if (ngram_of(args[1], &ngram) < 0)
        return NULL;
    PyObject *texts = PySequence_Fast(args[0], "shingle_hashes() needs a sequence of texts");
    if (texts == NULL)
        return NULL;
    Words words = {0};
    Hashes hashes = {0}, offsets = {0};
    PyObject *result = NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(texts);
    if (put_offset(&offsets, 0) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (scan_text(&words, PySequence_Fast_GET_ITEM(texts, i)) < 0)
            goto done;
        if ((words.count ? put_shingles(&hashes, &words, ngram) : put_empty_text(&hashes)) < 0)
            goto done;
        if (put_offset(&offsets, hashes.count) < 0)
            goto done;
    }
    result = hashes_and_offsets(&hashes, &offsets);
done:
    Py_DECREF(texts);
    PyMem_Free(words.words);
    PyMem_Free(hashes.values);
    PyMem_Free(offsets.values);
    return result;
}

/* Where a distinct part's shingle hashes are in the store of union_tokens. */
typedef struct {
    Py_ssize_t start, count;
} Run;

typedef struct {
    PyObject *part;  /* a strong reference, so that no other object can take its address during the call */
    Run run;
} SeenPart;

/* The distinct parts of one union_tokens call, by object identity (open addressing on the address): a
 * transition's state is the very str object of the previous one's next observation (transforms.prepare masks each
 * distinct text once), so identity finds the repeats without hashing every text's characters, as a dict would. An
 * equal text in another object is merely shingled again, to the same tokens. */
typedef struct {
    SeenPart *slots;
    Py_ssize_t capacity, count;  /* capacity: a power of two, at least twice count */
} SeenParts;

static SeenPart *
seen_slot(const SeenParts *seen, PyObject *part)
{
    uint64_t mask = (uint64_t)seen->capacity - 1;
    for (uint64_t i = mixed((uintptr_t)part) & mask;; i = (i + 1) & mask) {
        if (seen->slots[i].part == part || seen->slots[i].part == NULL)
            return &seen->slots[i];
    }
}

static int
grow_seen(SeenParts *seen)
{
    SeenParts grown = {NULL, seen->capacity ? 2 * seen->capacity : 256, seen->count};
    grown.slots = PyMem_Calloc(grown.capacity, sizeof(SeenPart));
    if (grown.slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < seen->capacity; i++) {
        if (seen->slots[i].part != NULL)
            *seen_slot(&grown, seen->slots[i].part) = seen->slots[i];
    }
    PyMem_Free(seen->slots);
    *seen = grown;
    return 0;
}

static void
forget_seen(SeenParts *seen)
{
    for (Py_ssize_t i = 0; i < seen->capacity; i++)
        Py_XDECREF(seen->slots[i].part);
    PyMem_Free(seen->slots);
}

/* The last token put in each slot (token & (RECENT_SLOTS - 1)) in the current row: a token equal to its slot's is
 * a repeat within the row and is left out. A state shares most of its lines with the next observation, and each
 * repeat would cost rensa num_perm hash-and-min steps for nothing (a MinHash is the same over a multiset and over
 * its set). A repeat whose slot another token took in between is merely kept. A free slot s holds s ^ 1, which no
 * token of that slot equals. 2048 slots (16 KB) keep most of a row's ~300 distinct tokens apart. */
#define RECENT_SLOTS 2048

/* What union_tokens keeps across the rows of one call. */
typedef struct {
    SeenParts seen;
    Hashes store;  /* each distinct part's shingle hashes, where the runs in seen point */
    Words words;
    uint64_t *recent;
    Py_ssize_t ngram;
} Union;

static void
free_recent_slots(uint64_t *recent, const uint64_t *tokens, Py_ssize_t count)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t slot = tokens[i] & (RECENT_SLOTS - 1);
        recent[slot] = slot ^ 1;
    }
}

/* The run of one part's shingle hashes in the store: shingled on its first sight, found again after. */
static int
part_run(Union *state, PyObject *part, Run *run)
{
    SeenParts *seen = &state->seen;
    if (2 * (seen->count + 1) > seen->capacity && grow_seen(seen) < 0)
        return -1;
    SeenPart *slot = seen_slot(seen, part);
    if (slot->part != NULL) {
        *run = slot->run;
        return 0;
    }
    run->start = state->store.count;
    if (scan_text(&state->words, part) < 0 || put_shingles(&state->store, &state->words, state->ngram) < 0)
        return -1;
    run->count = state->store.count - run->start;
    Py_INCREF(part);
    *slot = (SeenPart){part, *run};
    seen->count++;
    return 0;
}

/* One part's tokens appended to its row, but for the repeats `recent` catches. */
static int
put_part(Hashes *tokens, PyObject *part, Union *state)
{
    Run run;
    if (part == Py_None)
        return 0;  /* a missing part, as an empty one, adds nothing */
    if (part_run(state, part, &run) < 0 || reserve(tokens, run.count) < 0)
        return -1;
    const uint64_t *values = state->store.values + run.start;
    uint64_t *out = tokens->values + tokens->count;
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < run.count; i++) {
        uint64_t token = values[i], slot = token & (RECENT_SLOTS - 1);
        out[kept] = token;
        kept += state->recent[slot] != token;
        state->recent[slot] = token;
    }
    tokens->count += kept;
    return 0;
}

static int
put_row(Hashes *tokens, PyObject *row, Union *state)
{
    PyObject *parts = PySequence_Fast(row, "union_tokens() needs rows that are sequences of texts");
    if (parts == NULL)
        return -1;
    Py_ssize_t start = tokens->count, count = PySequence_Fast_GET_SIZE(parts);
    int failed = 0;
    for (Py_ssize_t i = 0; i < count && !failed; i++)
        failed = put_part(tokens, PySequence_Fast_GET_ITEM(parts, i), state);
    Py_DECREF(parts);
    if (failed)
        return -1;
    free_recent_slots(state->recent, tokens->values + start, tokens->count - start);
    return tokens->count == start ? put_empty_text(tokens) : 0;  /* no words: the one shingle of an empty text */
}

static PyObject *
union_tokens(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Union state = {0};
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "union_tokens() takes 2 arguments (%zd given)", nargs);
    if (ngram_of(args[1], &state.ngram) < 0)
        return NULL;
    PyObject *rows = PySequence_Fast(args[0], "union_tokens() needs a sequence of rows");
    if (rows == NULL)
        return NULL;
    Hashes tokens = {0}, offsets = {0};
    PyObject *result = NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rows);
    state.recent = PyMem_Malloc(RECENT_SLOTS * sizeof(uint64_t));
    if (state.recent == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (uint64_t slot = 0; slot < RECENT_SLOTS; slot++)
        state.recent[slot] = slot ^ 1;
    if (put_offset(&offsets, 0) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (put_row(&tokens, PySequence_Fast_GET_ITEM(rows, i), &state) < 0)
            goto done;
        if (put_offset(&offsets, tokens.count) < 0)
            goto done;
    }
    result = hashes_and_offsets(&tokens, &offsets);
done:
    Py_DECREF(rows);
    forget_seen(&state.seen);
    PyMem_Free(state.store.values);
    PyMem_Free(state.words.words);
    PyMem_Free(state.recent);
    PyMem_Free(tokens.values);
    PyMem_Free(offsets.values);
    return result;
}

/* One digest row (a list of ints) into a uint32 row of the output matrix. */
static int
put_digest_row(uint32_t *out, PyObject *row, Py_ssize_t width)
{
    if (!PyList_Check(row) || PyList_GET_SIZE(row) != width) {
        PyErr_Format(PyExc_ValueError, "digest rows must be lists of %zd ints", width);
        return -1;
    }
    for (Py_ssize_t i = 0; i < width; i++) {
        unsigned long value = PyLong_AsUnsignedLong(PyList_GET_ITEM(row, i));
        if (value == (unsigned long)-1 && PyErr_Occurred())
            return -1;
        if (value > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "a digest value does not fit in uint32");
            return -1;
        }
        out[i] = (uint32_t)value;
    }
    return 0;
}

static PyObject *
digest_rows_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3)
        return PyErr_Format(PyExc_TypeError, "digest_rows_into() takes 3 arguments (%zd given)", nargs);
    Py_ssize_t first = PyLong_AsSsize_t(args[2]);
    if (first == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_Check(args[0]))
        return PyErr_Format(PyExc_TypeError, "digest_rows_into() needs a list of rows");
    Py_buffer out;
    if (PyObject_GetBuffer(args[1], &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    PyObject *rows = args[0];
    Py_ssize_t count = PyList_GET_SIZE(rows);
    int failed = 0;
    if (out.ndim != 2 || out.itemsize != sizeof(uint32_t) || strcmp(out.format, "I") != 0) {
        PyErr_SetString(PyExc_TypeError, "digest_rows_into() writes into a 2-d uint32 matrix");
        failed = 1;
    } else if (first < 0 || first + count > out.shape[0]) {
        PyErr_Format(PyExc_IndexError, "rows %zd to %zd do not fit a matrix of %zd rows", first, first + count,
                     out.shape[0]);
        failed = 1;
    }
    Py_ssize_t width = failed ? 0 : out.shape[1];
    uint32_t *values = (uint32_t *)out.buf + first * width;
    for (Py_ssize_t i = 0; i < count && !failed; i++)
        failed = put_digest_row(values + i * width, PyList_GET_ITEM(rows, i), width) < 0;
    PyBuffer_Release(&out);
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"shingle_hashes", (PyCFunction)(void (*)(void))shingle_hashes, METH_FASTCALL,
     "shingle_hashes(texts, ngram) -> (hashes, offsets)\n\n"
     "Two bytearrays of native uint64: the shingle hashes of all texts one text after another, and the len(texts)\n"
     "+ 1 offsets of each text's run."},
    {"union_tokens", (PyCFunction)(void (*)(void))union_tokens, METH_FASTCALL,
     "union_tokens(rows, ngram) -> (tokens, offsets)\n\n"
     "As shingle_hashes, for rows made of parts: a row's tokens are its parts' shingle hashes one part after\n"
     "another, most repeats within the row left out (a part without words adds none; a row without words has the\n"
     "one EMPTY_TEXT). A part that recurs (the same object) is shingled once per call."},
    {"digest_rows_into", (PyCFunction)(void (*)(void))digest_rows_into, METH_FASTCALL,
     "digest_rows_into(rows, matrix, first)\n\n"
     "rensa's digest rows (to_rows(): lists of ints) into rows first, first + 1, ... of matrix, a writable\n"
     "C-contiguous uint32 [n, num_perm] buffer: no array of Python ints is built on the way."},
    {NULL, NULL, 0, NULL},
};

static int
module_exec(PyObject *module)
{
    for (int byte = 1; byte < 128; byte++)
        PLAIN_ASCII[byte] = !ASCII_SEPARATOR[byte];
    inverse_powers[0] = 1;
    for (int i = 1; i < TABLED_INVERSES; i++)
        inverse_powers[i] = inverse_powers[i - 1] * BASE_INVERSE;
    PyObject *base = PyLong_FromUnsignedLongLong(BASE);
    PyObject *empty = PyLong_FromUnsignedLongLong(EMPTY_TEXT);
    int failed = base == NULL || empty == NULL || PyModule_AddObjectRef(module, "BASE", base) < 0
                 || PyModule_AddObjectRef(module, "EMPTY_TEXT", empty) < 0;
    Py_XDECREF(base);
    Py_XDECREF(empty);
    return failed ? -1 : 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_shingles",
    "Word n-gram shingle hashes, and rensa's digests into numpy, for transforms.minhash.", 0, methods, slots,
};

PyMODINIT_FUNC
PyInit__shingles(void)
{
    return PyModuleDef_Init(&module);
}
