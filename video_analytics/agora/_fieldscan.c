/*
 * Agora custom fields: the values of a few configured keys on every line of a block, in one pass.
 *
 * `values(block, keys)` -> (lines, [(validity, offsets, data) per key]): Arrow string buffers, one row
 * per line (lines end at "\n"; a last line without one counts), null where the line lacks the key or its
 * value is empty. Kept apart from `_linescan.c` (which reads a fixed set of keys): the engine joins these
 * rows to the scanner's events by line number, so only lines the scanner accepted use them.
 *
 * Text lines: the pairs after the first "] ", tokenised left to right: `name=value`, the value quoted
 * ("..." without quotes inside; one pair of quotes dropped) or bare up to the next space; the last
 * occurrence of a key wins. Fluentd JSON lines ("{..."): flat `"name":"value"` pairs without escapes
 * (the scanner's own shape); any other JSON line gives nulls (the polars parser reads those).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 64

typedef struct {
    uint8_t *validity;
    int32_t *offsets;
    char *data;
    size_t size, capacity;
    int failed;
} Column;

typedef struct {
    const char *at;
    size_t len;
} Span;

static int column_init(Column *c, size_t rows) {
    memset(c, 0, sizeof(*c));
    c->validity = calloc((rows + 7) / 8 + 1, 1);
    c->offsets = malloc(sizeof(int32_t) * (rows + 1));
    c->capacity = 4096;
    c->data = malloc(c->capacity);
    c->failed = !c->validity || !c->offsets || !c->data;
    if (!c->failed) c->offsets[0] = 0;
    return !c->failed;
}

static void column_free(Column *c) {
    free(c->validity);
    free(c->offsets);
    free(c->data);
}

static void column_push(Column *c, size_t row, Span value) {
    if (c->failed) return;
    if (value.at && value.len) {
        if (c->size + value.len > c->capacity) {
            size_t capacity = c->capacity * 2;
            while (capacity < c->size + value.len) capacity *= 2;
            char *grown = realloc(c->data, capacity);
            if (!grown || capacity > INT32_MAX) {
                c->failed = 1;
                return;
            }
            c->data = grown;
            c->capacity = capacity;
        }
        memcpy(c->data + c->size, value.at, value.len);
        c->size += value.len;
        c->validity[row / 8] |= (uint8_t)(1u << (row % 8));
    }
    c->offsets[row + 1] = (int32_t)c->size;
}

static uint8_t NAME_CHAR[256]; /* [A-Za-z0-9_-] */

static void init_name_chars(void) {
    for (int ch = 0; ch < 256; ch++)
        NAME_CHAR[ch] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '_' || ch == '-';
}

static const char *next_space(const char *p, const char *end) {
    const char *space = memchr(p, ' ', (size_t)(end - p));
    return space ? space : end;
}

static void match(const char *name, size_t len, Span value, Span *found, const Span *keys, int nkeys) {
    for (int k = 0; k < nkeys; k++)
        if (keys[k].len == len && memcmp(keys[k].at, name, len) == 0) found[k] = value;
}

static void text_line(const char *s, const char *end, Span *found, const Span *keys, int nkeys) {
    const char *p = s;
    for (;;) { /* the pairs start after the first "] " */
        p = memchr(p, ']', (size_t)(end - p));
        if (!p || p + 1 >= end) return;
        if (p[1] == ' ') break;
        p++;
    }
    p += 2;
    while (p < end) {
        while (p < end && *p == ' ') p++;
        const char *name = p;
        while (p < end && NAME_CHAR[(uint8_t)*p]) p++;
        if (p == name || p >= end || *p != '=') {  /* not a pair: skip the word */
            p = next_space(p, end);
            continue;
        }
        size_t name_len = (size_t)(p - name);
        p++;
        Span value;
        if (p < end && *p == '"') {
            const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (!close) close = end;
            value.at = p + 1;
            value.len = (size_t)(close - p - 1);
            p = close < end ? close + 1 : end;
        } else {
            value.at = p;
            p = next_space(p, end);
            value.len = (size_t)(p - value.at);
        }
        match(name, name_len, value, found, keys, nkeys);
    }
}

static void json_line(const char *s, const char *end, Span *found, const Span *keys, int nkeys) {
    Span local[MAX_KEYS];
    memset(local, 0, sizeof(Span) * (size_t)nkeys);
    const char *p = s + 1;
    while (p < end && *p != '}') {
        if (*p != '"') return;
        const char *name = ++p;
        while (p < end && *p != '"' && *p != '\\') p++;
        if (p + 2 >= end || *p != '"' || p[1] != ':' || p[2] != '"') return;
        size_t name_len = (size_t)(p - name);
        p += 3;
        Span value = {p, 0};
        while (p < end && *p != '"' && *p != '\\') p++;
        if (p >= end || *p != '"') return;
        value.len = (size_t)(p - value.at);
        match(name, name_len, value, local, keys, nkeys);
        p++;
        if (p < end && *p == ',') p++;
    }
    if (p >= end) return;  /* no closing brace: not the flat shape */
    memcpy(found, local, sizeof(Span) * (size_t)nkeys);
}

static size_t count_lines(const char *s, size_t n) {
    size_t lines = 0;
    for (const char *p = s, *end = s + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        lines++;
        if (!nl) break;
        p = nl + 1;
    }
    return lines;
}

static PyObject *column_tuple(Column *c, size_t rows) {
    return Py_BuildValue("(y#y#y#)", (const char *)c->validity, (Py_ssize_t)((rows + 7) / 8),
                         (const char *)c->offsets, (Py_ssize_t)(sizeof(int32_t) * (rows + 1)), c->data,
                         (Py_ssize_t)c->size);
}

static PyObject *values(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer block;
    PyObject *names;
    if (!PyArg_ParseTuple(args, "y*O!", &block, &PyTuple_Type, &names)) return NULL;
    Py_ssize_t nkeys = PyTuple_GET_SIZE(names);
    if (nkeys < 1 || nkeys > MAX_KEYS) {
        PyBuffer_Release(&block);
        return PyErr_Format(PyExc_ValueError, "between 1 and %d keys", MAX_KEYS);
    }
    Span keys[MAX_KEYS];
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        Py_ssize_t len;
        keys[k].at = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(names, k), &len);
        if (!keys[k].at) {
            PyBuffer_Release(&block);
            return NULL;
        }
        keys[k].len = (size_t)len;
    }
    const char *s = block.buf;
    size_t n = (size_t)block.len, rows = count_lines(s, n);
    Column columns[MAX_KEYS];
    int ok = 1;
    for (Py_ssize_t k = 0; k < nkeys; k++) ok &= column_init(&columns[k], rows);
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        Span found[MAX_KEYS];
        size_t row = 0;
        for (const char *p = s, *end = s + n; p < end; row++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *line_end = nl ? nl : end;
            memset(found, 0, sizeof(Span) * (size_t)nkeys);
            if (*p == '{')
                json_line(p, line_end, found, keys, (int)nkeys);
            else
                text_line(p, line_end, found, keys, (int)nkeys);
            for (Py_ssize_t k = 0; k < nkeys; k++) column_push(&columns[k], row, found[k]);
            p = line_end + 1;
        }
        Py_END_ALLOW_THREADS
        for (Py_ssize_t k = 0; k < nkeys; k++) ok &= !columns[k].failed;
    }
    PyObject *result = NULL;
    if (ok) {
        PyObject *list = PyList_New(nkeys);
        for (Py_ssize_t k = 0; list && k < nkeys; k++) {
            PyObject *item = column_tuple(&columns[k], rows);
            if (!item) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, k, item);
        }
        if (list) result = Py_BuildValue("(nN)", (Py_ssize_t)rows, list);
    } else {
        PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < nkeys; k++) column_free(&columns[k]);
    PyBuffer_Release(&block);
    return result;
}

static PyMethodDef METHODS[] = {
    {"values", values, METH_VARARGS, "values(block, keys) -> (lines, [(validity, offsets, data)] per key)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_fieldscan", NULL, -1, METHODS};

PyMODINIT_FUNC PyInit__fieldscan(void) {
    init_name_chars();
    return PyModule_Create(&MODULE);
}
