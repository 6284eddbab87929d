/* Compiled help for `watchkeeper verify` on SQLite stores: re-derives the leaf hashes of a range of log indices
 * straight from the database, and pairs the hashes of one tree level.
 *
 * It does nothing the Python verifier does not do (trust/verify.py, trust/_sql.py, trust/merkle.py); it does it
 * without handing each of a row's 20 values to Python. The scanner is an accelerator of the common case only: it
 * answers for a range when every row is there, every value has the type the leaf encoding needs and every payload
 * is present and hashes to its committed value (or both are absent); anything else answers None, and the Python
 * verifier reads that range itself from its own snapshot, where problems are classified and reported. The leaf
 * layout (magic, column tags, kinds) is given by the Python side, so the encoding is defined once.
 *
 * Leaf encoding (RFC 6962 leaf hash = SHA-256(0x00 || leaf)): head, then per column in order, unless the value is
 * NULL in a nullable column: tag (1 byte), then for an unsigned integer 8 bytes big-endian, for text or bytes a
 * 4-byte big-endian length and the stored bytes.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#define MAX_COLS 32
#define HASH 32

typedef struct {
    PyObject_HEAD
    sqlite3 *db;
    sqlite3_stmt *stmt;
    int ncols;                    /* leaf columns; the row then holds the payload and the log index */
    int committed;                /* which leaf column holds the payload's SHA-256 */
    unsigned char tags[MAX_COLS];
    char kinds[MAX_COLS];         /* 'u' unsigned integer, 'b' bytes or text; uppercase: NULL encodes as nothing */
    unsigned char *head;          /* 0x00 || the leaf head */
    Py_ssize_t head_len;
    unsigned char *buf;           /* the leaf being encoded, 0x00 and head first */
    size_t cap;
    unsigned char *out;           /* the hashes of the last range */
    size_t out_cap;
    int busy;
} Scanner;

/* SHA-256 through OpenSSL's block functions: the one-shot SHA256() of OpenSSL 3 fetches a provider implementation on
 * every call (a lock and a reference count), which costs more than hashing a leaf. */
static void sha256(const void *data, size_t n, unsigned char *md) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, data, n);
    SHA256_Final(md, &c);
}

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) { p[i] = (unsigned char)v; v >>= 8; }
}

static int reserve(Scanner *s, size_t need) {
    if (need <= s->cap) return 0;
    size_t cap = s->cap * 2 > need ? s->cap * 2 : need;
    unsigned char *b = realloc(s->buf, cap);
    if (!b) return -1;
    s->buf = b;
    s->cap = cap;
    return 0;
}

static void Scanner_dealloc(Scanner *s) {
    if (s->stmt) sqlite3_finalize(s->stmt);
    if (s->db) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    free(s->head);
    free(s->buf);
    free(s->out);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int fail_db(Scanner *s, const char *what) {
    PyErr_Format(PyExc_OSError, "%s: %s", what, s->db ? sqlite3_errmsg(s->db) : "cannot open the database");
    return -1;
}

/* Scanner(path, sql, tags, kinds, head, committed, mmap_bytes): opens the database read-only, holds one read
 * transaction for the scanner's life (its snapshot), prepares `sql` (two parameters: the first index, the end). */
static int Scanner_init(Scanner *s, PyObject *args, PyObject *kwds) {
    const char *path, *sql, *kinds;
    Py_buffer tags, head;
    int committed;
    long long mmap_bytes;
    static char *kw[] = {"path", "sql", "tags", "kinds", "head", "committed", "mmap_bytes", NULL};
    if (s->db) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner is already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssy*sy*iL", kw, &path, &sql, &tags, &kinds, &head, &committed,
                                     &mmap_bytes))
        return -1;
    int rc = -1;
    Py_ssize_t n = (Py_ssize_t)strlen(kinds);
    if (n < 1 || n > MAX_COLS || n != tags.len || committed < 0 || committed >= n) {
        PyErr_SetString(PyExc_ValueError, "tags and kinds must name the same 1-32 columns, committed one of them");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!strchr("ubUB", kinds[i])) {
            PyErr_Format(PyExc_ValueError, "unknown column kind %c", kinds[i]);
            goto done;
        }
        s->kinds[i] = kinds[i];
        s->tags[i] = ((unsigned char *)tags.buf)[i];
    }
    s->ncols = (int)n;
    s->committed = committed;
    s->head_len = head.len + 1;
    s->head = malloc((size_t)s->head_len);
    s->cap = 4096;
    s->buf = malloc(s->cap);
    if (!s->head || !s->buf) {
        PyErr_NoMemory();
        goto done;
    }
    s->head[0] = 0;
    memcpy(s->head + 1, head.buf, (size_t)head.len);
    memcpy(s->buf, s->head, (size_t)s->head_len);
    int orc;
    Py_BEGIN_ALLOW_THREADS
    orc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (orc == SQLITE_OK) sqlite3_busy_timeout(s->db, 10000);
    Py_END_ALLOW_THREADS
    if (orc != SQLITE_OK) {
        fail_db(s, "cannot open the store");
        goto done;
    }
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA mmap_size = %lld", mmap_bytes);
    if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK || sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        fail_db(s, "cannot start a read transaction");
        goto done;
    }
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt, NULL) != SQLITE_OK) {
        fail_db(s, "cannot prepare the row query");
        goto done;
    }
    if (sqlite3_column_count(s->stmt) != s->ncols + 2) {
        PyErr_SetString(PyExc_ValueError, "the row query must give the leaf columns, the payload and the log index");
        goto done;
    }
    rc = 0;
done:
    PyBuffer_Release(&tags);
    PyBuffer_Release(&head);
    return rc;
}

/* The scan of one range, without the GIL: 1 when every row is regular (hashes in s->out), 0 when the range needs
 * the Python verifier, -1 on a database error, -2 out of memory. */
static int scan_range(Scanner *s, long long a, long long b, long long *present, long long *none) {
    sqlite3_stmt *st = s->stmt;
    long long expect = a;
    int result = 1;
    unsigned char payload_hash[HASH];
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    const int nc = s->ncols;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) { result = -1; break; }
        if (sqlite3_column_type(st, nc + 1) != SQLITE_INTEGER || sqlite3_column_int64(st, nc + 1) != expect) {
            result = 0;  /* a row is missing (or out of place) */
            break;
        }
        size_t len = (size_t)s->head_len;
        for (int i = 0; i < nc && result == 1; i++) {
            int t = sqlite3_column_type(st, i);
            char k = s->kinds[i];
            if (t == SQLITE_NULL) {
                if (k == 'U' || k == 'B') continue;
                result = 0;
            } else if (k == 'u' || k == 'U') {
                sqlite3_int64 v;
                if (t != SQLITE_INTEGER || (v = sqlite3_column_int64(st, i)) < 0) { result = 0; break; }
                if (reserve(s, len + 9)) { result = -2; break; }
                s->buf[len] = s->tags[i];
                put_u64(s->buf + len + 1, (uint64_t)v);
                len += 9;
            } else {
                if (t != SQLITE_BLOB && t != SQLITE_TEXT) { result = 0; break; }
                const void *p = t == SQLITE_BLOB ? sqlite3_column_blob(st, i) : (const void *)sqlite3_column_text(st, i);
                size_t n = (size_t)sqlite3_column_bytes(st, i);
                if (n > 0xffffffffu) { result = 0; break; }
                if (reserve(s, len + 5 + n)) { result = -2; break; }
                s->buf[len] = s->tags[i];
                put_u32(s->buf + len + 1, (uint32_t)n);
                if (n) memcpy(s->buf + len + 5, p, n);
                len += 5 + n;
            }
        }
        if (result != 1) break;
        /* the payload against its committed hash */
        int pt = sqlite3_column_type(st, nc), ct = sqlite3_column_type(st, s->committed);
        if (pt == SQLITE_NULL && ct == SQLITE_NULL) {
            (*none)++;
        } else if ((pt == SQLITE_BLOB || pt == SQLITE_TEXT) && (ct == SQLITE_BLOB || ct == SQLITE_TEXT)
                   && sqlite3_column_bytes(st, s->committed) == HASH) {
            const void *p = pt == SQLITE_BLOB ? sqlite3_column_blob(st, nc) : (const void *)sqlite3_column_text(st, nc);
            sha256(p ? p : (const void *)"", (size_t)sqlite3_column_bytes(st, nc), payload_hash);
            const void *c = ct == SQLITE_BLOB ? sqlite3_column_blob(st, s->committed)
                                              : (const void *)sqlite3_column_text(st, s->committed);
            if (memcmp(payload_hash, c, HASH) != 0) { result = 0; break; }
            (*present)++;
        } else {
            result = 0;
            break;
        }
        size_t at = (size_t)(expect - a) * HASH;
        sha256(s->buf, len, s->out + at);
        expect++;
    }
    sqlite3_reset(st);
    if (result == 1 && expect != b) result = 0;  /* rows missing at the end */
    return result;
}

/* scan(a, b) -> (hashes, present, none) | None: the leaf hashes of [a, b) re-derived from the rows, and how many
 * payloads were present (each hashing to its committed value) and absent with nothing committed; None when any
 * row is missing or irregular (the Python verifier then reads the range and says what is wrong). */
static PyObject *Scanner_scan(Scanner *s, PyObject *args) {
    long long a, b;
    if (!PyArg_ParseTuple(args, "LL", &a, &b)) return NULL;
    if (!s->db) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner is closed");
        return NULL;
    }
    if (a < 0 || b < a || b - a > (1LL << 24)) {
        PyErr_SetString(PyExc_ValueError, "a range of 0 to 16,777,216 non-negative indices");
        return NULL;
    }
    if (s->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner is in use by another thread");
        return NULL;
    }
    size_t need = (size_t)(b - a) * HASH;
    if (need > s->out_cap) {
        unsigned char *o = realloc(s->out, need ? need : 1);
        if (!o) return PyErr_NoMemory();
        s->out = o;
        s->out_cap = need;
    }
    long long present = 0, none = 0;
    int r;
    s->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    r = scan_range(s, a, b, &present, &none);
    Py_END_ALLOW_THREADS
    s->busy = 0;
    if (r == -1) {
        fail_db(s, "cannot read the rows");
        return NULL;
    }
    if (r == -2) return PyErr_NoMemory();
    if (r == 0) Py_RETURN_NONE;
    PyObject *list = PyList_New((Py_ssize_t)(b - a));
    if (!list) return NULL;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)(b - a); i++) {
        PyObject *h = PyBytes_FromStringAndSize((const char *)s->out + (size_t)i * HASH, HASH);
        if (!h) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, h);
    }
    return Py_BuildValue("(NLL)", list, present, none);
}

static PyObject *Scanner_close(Scanner *s, PyObject *Py_UNUSED(ignored)) {
    if (s->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner is in use by another thread");
        return NULL;
    }
    if (s->stmt) {
        sqlite3_finalize(s->stmt);
        s->stmt = NULL;
    }
    if (s->db) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
        s->db = NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan, METH_VARARGS, "scan(a, b) -> (hashes, present, none) or None"},
    {"close", (PyCFunction)Scanner_close, METH_NOARGS, "Ends the read transaction and closes the database."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "watchkeeper.trust._scan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Re-derives leaf hashes of log index ranges from a SQLite store, in one read transaction.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
};

/* pair_level(level) -> list: the next level of an RFC 6962 tree, SHA-256(0x01 || left || right) of each pair, an
 * unpaired last hash promoted unchanged. */
static PyObject *pair_level(PyObject *Py_UNUSED(mod), PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "pair_level needs a sequence of bytes");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "pair_level needs a sequence of bytes");
            return NULL;
        }
    }
    PyObject *up = PyList_New((n + 1) / 2);
    if (!up) {
        Py_DECREF(seq);
        return NULL;
    }
    static const unsigned char one = 1;
    unsigned char md[HASH];
    for (Py_ssize_t i = 0; i + 1 < n; i += 2) {
        SHA256_CTX c;
        SHA256_Init(&c);
        SHA256_Update(&c, &one, 1);
        SHA256_Update(&c, PyBytes_AS_STRING(items[i]), (size_t)PyBytes_GET_SIZE(items[i]));
        SHA256_Update(&c, PyBytes_AS_STRING(items[i + 1]), (size_t)PyBytes_GET_SIZE(items[i + 1]));
        SHA256_Final(md, &c);
        PyObject *h = PyBytes_FromStringAndSize((const char *)md, HASH);
        if (!h) {
            Py_DECREF(up);
            Py_DECREF(seq);
            return NULL;
        }
        PyList_SET_ITEM(up, i / 2, h);
    }
    if (n & 1) {
        Py_INCREF(items[n - 1]);
        PyList_SET_ITEM(up, n / 2, items[n - 1]);
    }
    Py_DECREF(seq);
    return up;
}

static PyMethodDef module_methods[] = {
    {"pair_level", pair_level, METH_O, "pair_level(level) -> the next level of an RFC 6962 tree"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "watchkeeper.trust._scan",
    .m_doc = "Compiled help for verify: leaf hashes of a SQLite store's rows, and the pairing of a tree level.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
