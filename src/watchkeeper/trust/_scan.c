/* Compiled help for `watchkeeper verify`: re-derives the leaf hashes of a range of log indices from a store's rows
 * (SQLite: read here through SQLite's C API; PostgreSQL: parsed from the binary COPY stream the verifier's own
 * transaction receives), and pairs the hashes of one tree level.
 *
 * It does nothing the Python verifier does not do (trust/verify.py, trust/_sql.py, trust/merkle.py); it does it
 * without handing each of a row's 20 values to Python. The scanners accelerate the common case only: they answer
 * for a range when every row is there, every value has the type the leaf encoding needs and every payload is
 * present and hashes to its committed value (or both are absent); anything else answers None, and the Python
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
#define MAX_RANGE (1LL << 24)

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

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

/* ---------------------------------------------------------------------------------------------------------------
 * The leaf of one row, whatever it was read from */

enum { V_NULL, V_INT, V_BYTES, V_OTHER };

typedef struct {
    int type;
    int64_t i;
    const unsigned char *p;
    size_t n;
} Value;

typedef struct {
    int ncols;                    /* leaf columns; a row then holds the payload and the log index */
    int committed;                /* which leaf column holds the payload's SHA-256 */
    unsigned char tags[MAX_COLS];
    char kinds[MAX_COLS];         /* 'u' unsigned integer, 'b' bytes or text; uppercase: NULL encodes as nothing */
    unsigned char *buf;           /* 0x00 || head, then the leaf being encoded */
    size_t head_len, cap;
    unsigned char *out;           /* the hashes of the current range */
    size_t out_cap;
    long long present, none;
} Layout;

static int layout_init(Layout *L, Py_buffer *tags, const char *kinds, Py_buffer *head, int committed) {
    Py_ssize_t n = (Py_ssize_t)strlen(kinds);
    if (n < 1 || n > MAX_COLS || n != tags->len || committed < 0 || committed >= n) {
        PyErr_SetString(PyExc_ValueError, "tags and kinds must name the same 1-32 columns, committed one of them");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!strchr("ubUB", kinds[i])) {
            PyErr_Format(PyExc_ValueError, "unknown column kind %c", kinds[i]);
            return -1;
        }
        L->kinds[i] = kinds[i];
        L->tags[i] = ((unsigned char *)tags->buf)[i];
    }
    L->ncols = (int)n;
    L->committed = committed;
    L->head_len = (size_t)head->len + 1;
    L->cap = L->head_len + 4096;
    free(L->buf);
    L->buf = malloc(L->cap);
    if (!L->buf) {
        PyErr_NoMemory();
        return -1;
    }
    L->buf[0] = 0;
    memcpy(L->buf + 1, head->buf, (size_t)head->len);
    return 0;
}

static void layout_free(Layout *L) {
    free(L->buf);
    free(L->out);
    L->buf = L->out = NULL;
}

/* Room for the hashes of a range of n leaves (with the GIL held: it may raise). */
static int layout_range(Layout *L, long long n) {
    size_t need = (size_t)n * HASH;
    if (need > L->out_cap) {
        unsigned char *o = realloc(L->out, need ? need : 1);
        if (!o) {
            PyErr_NoMemory();
            return -1;
        }
        L->out = o;
        L->out_cap = need;
    }
    L->present = L->none = 0;
    return 0;
}

static int reserve(Layout *L, size_t need) {
    if (need <= L->cap) return 0;
    size_t cap = L->cap * 2 > need ? L->cap * 2 : need;
    unsigned char *b = realloc(L->buf, cap);
    if (!b) return -1;
    L->buf = b;
    L->cap = cap;
    return 0;
}

/* The leaf hash of a row (v: the leaf columns, then the payload) into `hash`, its payload checked against the
 * committed hash: 1 regular, 0 irregular (the range goes to the Python verifier), -2 out of memory. */
static int leaf_of(Layout *L, const Value *v, unsigned char *hash) {
    size_t len = L->head_len;
    for (int i = 0; i < L->ncols; i++) {
        char k = L->kinds[i];
        if (v[i].type == V_NULL) {
            if (k == 'U' || k == 'B') continue;
            return 0;
        }
        if (k == 'u' || k == 'U') {
            if (v[i].type != V_INT || v[i].i < 0) return 0;
            if (reserve(L, len + 9)) return -2;
            L->buf[len] = L->tags[i];
            put_u64(L->buf + len + 1, (uint64_t)v[i].i);
            len += 9;
        } else {
            if (v[i].type != V_BYTES || v[i].n > 0xffffffffu) return 0;
            if (reserve(L, len + 5 + v[i].n)) return -2;
            L->buf[len] = L->tags[i];
            put_u32(L->buf + len + 1, (uint32_t)v[i].n);
            if (v[i].n) memcpy(L->buf + len + 5, v[i].p, v[i].n);
            len += 5 + v[i].n;
        }
    }
    const Value *pay = &v[L->ncols], *com = &v[L->committed];
    if (pay->type == V_NULL && com->type == V_NULL) {
        L->none++;
    } else if (pay->type == V_BYTES && com->type == V_BYTES && com->n == HASH) {
        unsigned char md[HASH];
        sha256(pay->n ? (const void *)pay->p : (const void *)"", pay->n, md);
        if (memcmp(md, com->p, HASH) != 0) return 0;
        L->present++;
    } else {
        return 0;
    }
    sha256(L->buf, len, hash);
    return 1;
}

/* (hashes, present, none) of the range just read. */
static PyObject *range_result(Layout *L, long long n) {
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return NULL;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)n; i++) {
        PyObject *h = PyBytes_FromStringAndSize((const char *)L->out + (size_t)i * HASH, HASH);
        if (!h) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, h);
    }
    return Py_BuildValue("(NLL)", list, L->present, L->none);
}

static int check_range(long long a, long long b) {
    if (a < 0 || b < a || b - a > MAX_RANGE) {
        PyErr_SetString(PyExc_ValueError, "a range of 0 to 16,777,216 non-negative indices");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------------------------
 * SQLite: Scanner(path, sql, tags, kinds, head, committed, mmap_bytes) */

typedef struct {
    PyObject_HEAD
    Layout L;
    sqlite3 *db;
    sqlite3_stmt *stmt;
    int busy;
} Scanner;

static void Scanner_dealloc(Scanner *s) {
    if (s->stmt) sqlite3_finalize(s->stmt);
    if (s->db) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    layout_free(&s->L);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int fail_db(Scanner *s, const char *what) {
    PyErr_Format(PyExc_OSError, "%s: %s", what, s->db ? sqlite3_errmsg(s->db) : "cannot open the database");
    return -1;
}

/* Opens the database read-only, holds one read transaction for the scanner's life (its snapshot), prepares `sql`
 * (two parameters: the first index, the end). */
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
    if (layout_init(&s->L, &tags, kinds, &head, committed)) goto done;
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
    if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        fail_db(s, "cannot start a read transaction");
        goto done;
    }
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt, NULL) != SQLITE_OK) {
        fail_db(s, "cannot prepare the row query");
        goto done;
    }
    if (sqlite3_column_count(s->stmt) != s->L.ncols + 2) {
        PyErr_SetString(PyExc_ValueError, "the row query must give the leaf columns, the payload and the log index");
        goto done;
    }
    rc = 0;
done:
    PyBuffer_Release(&tags);
    PyBuffer_Release(&head);
    return rc;
}

static void column_value(sqlite3_stmt *st, int i, Value *v) {
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        v->type = V_NULL;
        break;
    case SQLITE_INTEGER:
        v->type = V_INT;
        v->i = sqlite3_column_int64(st, i);
        break;
    case SQLITE_BLOB:
        v->type = V_BYTES;
        v->p = sqlite3_column_blob(st, i);
        v->n = (size_t)sqlite3_column_bytes(st, i);
        break;
    case SQLITE_TEXT:
        v->type = V_BYTES;
        v->p = sqlite3_column_text(st, i);
        v->n = (size_t)sqlite3_column_bytes(st, i);
        break;
    default:
        v->type = V_OTHER;
    }
}

/* The scan of one range, without the GIL: 1 when every row is regular (hashes in L.out), 0 when the range needs
 * the Python verifier, -1 on a database error, -2 out of memory. */
static int scan_range(Scanner *s, long long a, long long b) {
    sqlite3_stmt *st = s->stmt;
    Layout *L = &s->L;
    Value v[MAX_COLS + 2];
    long long expect = a;
    int result = 1;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    const int nc = L->ncols;
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            result = -1;
            break;
        }
        if (expect >= b || sqlite3_column_type(st, nc + 1) != SQLITE_INTEGER
            || sqlite3_column_int64(st, nc + 1) != expect) {
            result = 0;  /* a row is missing (or out of place) */
            break;
        }
        for (int i = 0; i <= nc; i++) column_value(st, i, &v[i]);
        result = leaf_of(L, v, L->out + (size_t)(expect - a) * HASH);
        if (result != 1) break;
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
    if (check_range(a, b)) return NULL;
    if (s->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Scanner is in use by another thread");
        return NULL;
    }
    if (layout_range(&s->L, b - a)) return NULL;
    int r;
    s->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    r = scan_range(s, a, b);
    Py_END_ALLOW_THREADS
    s->busy = 0;
    if (r == -1) {
        fail_db(s, "cannot read the rows");
        return NULL;
    }
    if (r == -2) return PyErr_NoMemory();
    if (r == 0) Py_RETURN_NONE;
    return range_result(&s->L, b - a);
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

/* ---------------------------------------------------------------------------------------------------------------
 * PostgreSQL: CopyScanner(tags, kinds, head, committed) over the binary COPY stream of the row query, integer
 * columns cast to bigint: start(a, b), feed(chunk) as the chunks arrive, finish() -> the same answer as scan(). */

static const unsigned char COPY_SIGNATURE[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

typedef struct {
    PyObject_HEAD
    Layout L;
    unsigned char *pend;          /* received bytes not parsed yet */
    size_t pend_len, pend_cap;
    long long a, b, next;         /* the range, and the index the next row must have */
    int state;                    /* 0 before the header, 1 rows, 2 after the trailer, -1 irregular, -3 no range */
    int oom;
} CopyScanner;

static void CopyScanner_dealloc(CopyScanner *s) {
    layout_free(&s->L);
    free(s->pend);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int CopyScanner_init(CopyScanner *s, PyObject *args, PyObject *kwds) {
    const char *kinds;
    Py_buffer tags, head;
    int committed;
    static char *kw[] = {"tags", "kinds", "head", "committed", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*sy*i", kw, &tags, &kinds, &head, &committed)) return -1;
    int rc = layout_init(&s->L, &tags, kinds, &head, committed);
    PyBuffer_Release(&tags);
    PyBuffer_Release(&head);
    s->state = -3;
    return rc;
}

static PyObject *CopyScanner_start(CopyScanner *s, PyObject *args) {
    long long a, b;
    if (!PyArg_ParseTuple(args, "LL", &a, &b)) return NULL;
    if (!s->L.buf) {
        PyErr_SetString(PyExc_RuntimeError, "CopyScanner is not initialised");
        return NULL;
    }
    if (check_range(a, b) || layout_range(&s->L, b - a)) return NULL;
    s->a = a;
    s->b = b;
    s->next = a;
    s->pend_len = 0;
    s->state = 0;
    s->oom = 0;
    Py_RETURN_NONE;
}

/* Parses what it can of s->pend; keeps an incomplete tuple for the next chunk. */
static void parse_copy(CopyScanner *s) {
    Layout *L = &s->L;
    const unsigned char *p = s->pend, *end = s->pend + s->pend_len;
    const int nf = L->ncols + 2;
    Value v[MAX_COLS + 2];
    if (s->state == 0) {
        if ((size_t)(end - p) < 19) return;
        if (memcmp(p, COPY_SIGNATURE, 11) != 0) {
            s->state = -1;
            return;
        }
        uint32_t ext = get_u32(p + 15);
        if ((size_t)(end - p) < 19 + (size_t)ext) return;
        p += 19 + ext;
        s->state = 1;
    }
    while (s->state == 1 && end - p >= 2) {
        const unsigned char *t = p;
        int16_t count = (int16_t)((p[0] << 8) | p[1]);
        if (count == -1) {
            s->state = 2;
            p += 2;
            break;
        }
        if (count != nf) {
            s->state = -1;
            break;
        }
        t += 2;
        int complete = 1;
        for (int i = 0; i < nf; i++) {
            if (end - t < 4) {
                complete = 0;
                break;
            }
            int32_t n = (int32_t)get_u32(t);
            t += 4;
            if (n == -1) {
                v[i].type = V_NULL;
                continue;
            }
            if (n < 0) {
                s->state = -1;
                break;
            }
            if (end - t < n) {
                complete = 0;
                break;
            }
            /* the row query casts every integer column to bigint: 8 bytes */
            char k = i < L->ncols ? L->kinds[i] : (i == L->ncols ? 'b' : 'u');
            if (k == 'u' || k == 'U') {
                if (n != 8) {
                    v[i].type = V_OTHER;
                } else {
                    v[i].type = V_INT;
                    v[i].i = (int64_t)get_u64(t);
                }
            } else {
                v[i].type = V_BYTES;
                v[i].p = t;
                v[i].n = (size_t)n;
            }
            t += n;
        }
        if (s->state != 1) break;
        if (!complete) break;  /* wait for the rest of the tuple */
        p = t;
        if (v[nf - 1].type != V_INT || v[nf - 1].i != s->next || s->next >= s->b) {
            s->state = -1;  /* a row missing or out of place */
            break;
        }
        int r = leaf_of(L, v, L->out + (size_t)(s->next - s->a) * HASH);
        if (r == -2) {
            s->oom = 1;
            s->state = -1;
            break;
        }
        if (r == 0) {
            s->state = -1;
            break;
        }
        s->next++;
    }
    if (s->state < 0) {
        s->pend_len = 0;  /* the range goes to the Python verifier: nothing more to parse */
        return;
    }
    size_t rest = (size_t)(end - p);
    if (rest && p != s->pend) memmove(s->pend, p, rest);
    s->pend_len = rest;
}

static PyObject *CopyScanner_feed(CopyScanner *s, PyObject *arg) {
    if (s->state < 0 || s->state == 2) {
        if (s->state == -3) {
            PyErr_SetString(PyExc_RuntimeError, "CopyScanner.start(a, b) first");
            return NULL;
        }
        Py_RETURN_NONE;  /* irregular already, or past the trailer */
    }
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) return NULL;
    size_t need = s->pend_len + (size_t)data.len;
    if (need > s->pend_cap) {
        size_t cap = s->pend_cap * 2 > need ? s->pend_cap * 2 : need;
        unsigned char *b = realloc(s->pend, cap);
        if (!b) {
            PyBuffer_Release(&data);
            return PyErr_NoMemory();
        }
        s->pend = b;
        s->pend_cap = cap;
    }
    memcpy(s->pend + s->pend_len, data.buf, (size_t)data.len);
    s->pend_len = need;
    PyBuffer_Release(&data);
    Py_BEGIN_ALLOW_THREADS
    parse_copy(s);
    Py_END_ALLOW_THREADS
    if (s->oom) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* finish() -> (hashes, present, none) | None, as Scanner.scan for the range given to start(). */
static PyObject *CopyScanner_finish(CopyScanner *s, PyObject *Py_UNUSED(ignored)) {
    if (s->state == -3) {
        PyErr_SetString(PyExc_RuntimeError, "CopyScanner.start(a, b) first");
        return NULL;
    }
    int ok = s->state == 2 && s->pend_len == 0 && s->next == s->b;
    s->state = -3;
    if (!ok) Py_RETURN_NONE;
    return range_result(&s->L, s->b - s->a);
}

static PyMethodDef CopyScanner_methods[] = {
    {"start", (PyCFunction)CopyScanner_start, METH_VARARGS, "start(a, b): a new range"},
    {"feed", (PyCFunction)CopyScanner_feed, METH_O, "feed(chunk): the next bytes of the binary COPY stream"},
    {"finish", (PyCFunction)CopyScanner_finish, METH_NOARGS, "finish() -> (hashes, present, none) or None"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CopyScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "watchkeeper.trust._scan.CopyScanner",
    .tp_basicsize = sizeof(CopyScanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Re-derives leaf hashes of a log index range from PostgreSQL's binary COPY stream of its rows.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)CopyScanner_init,
    .tp_dealloc = (destructor)CopyScanner_dealloc,
    .tp_methods = CopyScanner_methods,
};

/* ---------------------------------------------------------------------------------------------------------------
 * pair_level(level) -> list: the next level of an RFC 6962 tree, SHA-256(0x01 || left || right) of each pair, an
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
    .m_doc = "Compiled help for verify: leaf hashes of a store's rows, and the pairing of a tree level.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&ScannerType) < 0 || PyType_Ready(&CopyScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&CopyScannerType);
    if (PyModule_AddObject(m, "CopyScanner", (PyObject *)&CopyScannerType) < 0) {
        Py_DECREF(&CopyScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
