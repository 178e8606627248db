/* The stage texts of many transitions (transforms/stage_tables.py), written as one Arrow string column.
 *
 * A stage text is a sequence of pieces: literal parts of its format and the row values between them. Python puts
 * every distinct piece once in a list (the pool) and says which pieces, by index, make each text, one text after
 * another; the UTF-8 of those pieces, back to back, is the column's data. So a row value is copied once, into the
 * column, however many texts it is part of, and no intermediate str is made.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The UTF-8 of a str and its size in bytes: an ASCII str's own characters, else the UTF-8 copy CPython keeps on
 * the str once asked for it. NULL with an exception set when it is not a str or not encodable. */
static const char *
utf8_of(PyObject *text, Py_ssize_t *size)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "a stage text piece must be str, not %.80s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    if (PyUnicode_IS_ASCII(text)) {
        *size = PyUnicode_GET_LENGTH(text);
        return PyUnicode_DATA(text);
    }
    return PyUnicode_AsUTF8AndSize(text, size);
}

static PyObject *
utf8_sizes(PyObject *module, PyObject *pool)
{
    if (!PyList_Check(pool))
        return PyErr_Format(PyExc_TypeError, "utf8_sizes() argument must be a list, not %.80s",
                            Py_TYPE(pool)->tp_name);
    Py_ssize_t count = PyList_GET_SIZE(pool);
    PyObject *sizes = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (sizes == NULL)
        return NULL;
    int64_t *out = (int64_t *)PyBytes_AS_STRING(sizes);
    for (Py_ssize_t n = 0; n < count; n++) {
        Py_ssize_t size;
        if (utf8_of(PyList_GET_ITEM(pool, n), &size) == NULL) {
            Py_DECREF(sizes);
            return NULL;
        }
        out[n] = size;
    }
    return sizes;
}

/* Copies the pieces into out, which must hold exactly their bytes. 0, or -1 with an exception set. */
static int
join_pieces(PyObject *pool, const int64_t *pieces, Py_ssize_t count, char *out, Py_ssize_t capacity)
{
    Py_ssize_t pool_size = PyList_GET_SIZE(pool), written = 0;
    for (Py_ssize_t n = 0; n < count; n++) {
        if (pieces[n] < 0 || pieces[n] >= pool_size) {
            PyErr_Format(PyExc_IndexError, "piece %lld is not in the pool of %zd", (long long)pieces[n], pool_size);
            return -1;
        }
        Py_ssize_t size;
        const char *utf8 = utf8_of(PyList_GET_ITEM(pool, pieces[n]), &size);
        if (utf8 == NULL)
            return -1;
        if (size > capacity - written) {
            PyErr_SetString(PyExc_ValueError, "the pieces do not fit in the output buffer");
            return -1;
        }
        memcpy(out + written, utf8, size);
        written += size;
    }
    if (written != capacity) {
        PyErr_Format(PyExc_ValueError, "the pieces fill %zd of the output buffer's %zd bytes", written, capacity);
        return -1;
    }
    return 0;
}

static PyObject *
join_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0]))
        return PyErr_Format(PyExc_TypeError, "join_into() takes a list, a buffer of int64 and a writable buffer");
    Py_buffer pieces, out;
    if (PyObject_GetBuffer(args[1], &pieces, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (pieces.itemsize != sizeof(int64_t) || (strcmp(pieces.format, "l") != 0 && strcmp(pieces.format, "q") != 0)) {
        PyBuffer_Release(&pieces);
        return PyErr_Format(PyExc_TypeError, "join_into() pieces must be int64, not format %s", pieces.format);
    }
    if (PyObject_GetBuffer(args[2], &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&pieces);
        return NULL;
    }
    int status = join_pieces(args[0], pieces.buf, pieces.len / (Py_ssize_t)sizeof(int64_t), out.buf, out.len);
    PyBuffer_Release(&pieces);
    PyBuffer_Release(&out);
    if (status < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"utf8_sizes", utf8_sizes, METH_O,
     "utf8_sizes(pool) -> bytes\n\nThe UTF-8 size of each str of the list, as native int64."},
    {"join_into", (PyCFunction)(void (*)(void))join_into, METH_FASTCALL,
     "join_into(pool, pieces, out) -> None\n\n"
     "Writes the UTF-8 of pool[i] for every i of pieces (a C-contiguous int64 buffer), back to back, into out (a\n"
     "writable buffer that must be exactly their size)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_stages", "The stage texts of many transitions joined into an Arrow string column.", 0,
    methods,
};

PyMODINIT_FUNC
PyInit__stages(void)
{
    return PyModuleDef_Init(&module);
}
