/* Compiled help for the signals' linear text model (signals/_linear.py): the sum of the weights of a text's
 * distinct words and adjacent word pairs, and how many distinct words and pairs it has, in one pass.
 *
 * _linear.py defines the features: the runs of [a-z] of the lowercased text (its head and tail when long) and each
 * two adjacent runs joined by a space. This reads only text that is ASCII once lowercased (the Python side checks,
 * and scores other text itself), so a word is exactly a run of the bytes a-z, as the Python pattern finds it. The
 * weights are the model's, given by the Python side. The sum is taken in the order features first occur, in double
 * precision; the Python side sums in set order, so the two agree to the last few bits, which the tests check.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv(uint64_t h, const unsigned char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t mix(uint64_t h) { /* spread FNV's low bits before masking them into a table index */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

typedef struct {
    uint64_t hash;
    Py_ssize_t at, len; /* the key's bytes in the arena ("word" or "word word") */
    double weight;
    int used;
} Entry;

/* A feature of the text being scored: one word, or two adjacent words (b >= 0). */
typedef struct {
    uint64_t hash;
    Py_ssize_t a, alen, b, blen;
    uint32_t gen; /* the call that stored it: slots of earlier calls count as empty, so nothing is cleared */
} Feature;

typedef struct {
    PyObject_HEAD
    Entry *table;
    size_t mask;
    char *arena;
    Feature *seen; /* scratch for one call, guarded by the GIL */
    size_t seen_cap;
    uint32_t gen;
    int ready;
} WordModel;

static void WordModel_release(WordModel *self) {
    PyMem_Free(self->table);
    PyMem_Free(self->arena);
    PyMem_Free(self->seen);
    self->table = NULL;
    self->arena = NULL;
    self->seen = NULL;
    self->seen_cap = 0;
    self->ready = 0;
}

static void WordModel_dealloc(WordModel *self) {
    WordModel_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int WordModel_init(WordModel *self, PyObject *args, PyObject *kwds) {
    PyObject *weights;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &weights)) return -1;
    WordModel_release(self);
    Py_ssize_t n = PyDict_Size(weights), total = 0, pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(weights, &pos, &k, &v)) {
        Py_ssize_t len;
        if (!PyUnicode_Check(k) || !PyFloat_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "weights must map str to float");
            return -1;
        }
        if (!PyUnicode_AsUTF8AndSize(k, &len)) return -1;
        total += len;
    }
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap <<= 1;
    self->table = PyMem_Calloc(cap, sizeof(Entry));
    self->arena = PyMem_Malloc((size_t)total + 1);
    if (!self->table || !self->arena) {
        WordModel_release(self);
        PyErr_NoMemory();
        return -1;
    }
    self->mask = cap - 1;
    Py_ssize_t at = 0;
    pos = 0;
    while (PyDict_Next(weights, &pos, &k, &v)) {
        Py_ssize_t len;
        const char *key = PyUnicode_AsUTF8AndSize(k, &len);
        uint64_t h = fnv(FNV_OFFSET, (const unsigned char *)key, len);
        size_t i = mix(h) & self->mask;
        while (self->table[i].used) i = (i + 1) & self->mask; /* dict keys are distinct: no duplicate to find */
        memcpy(self->arena + at, key, (size_t)len);
        self->table[i] = (Entry){h, at, len, PyFloat_AS_DOUBLE(v), 1};
        at += len;
    }
    self->ready = 1;
    return 0;
}

static int same(const char *t, const Feature *x, const Feature *y) {
    if (x->hash != y->hash || x->alen != y->alen || x->blen != y->blen || (x->b < 0) != (y->b < 0)) return 0;
    if (memcmp(t + x->a, t + y->a, (size_t)x->alen) != 0) return 0;
    return x->b < 0 || memcmp(t + x->b, t + y->b, (size_t)x->blen) == 0;
}

static double weight_of(const WordModel *self, const char *t, const Feature *f) {
    Py_ssize_t len = f->b < 0 ? f->alen : f->alen + 1 + f->blen;
    for (size_t i = mix(f->hash) & self->mask; self->table[i].used; i = (i + 1) & self->mask) {
        const Entry *e = &self->table[i];
        if (e->hash != f->hash || e->len != len) continue;
        const char *key = self->arena + e->at;
        if (memcmp(key, t + f->a, (size_t)f->alen) != 0) continue;
        if (f->b >= 0 && (key[f->alen] != ' ' || memcmp(key + f->alen + 1, t + f->b, (size_t)f->blen) != 0)) continue;
        return e->weight;
    }
    return 0.0;
}

/* score(text: str) -> (sum of the weights of the distinct features, number of distinct features), or None when
 * the text is not ASCII (the Python side scores it). */
static PyObject *WordModel_score(WordModel *self, PyObject *arg) {
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "the model was not initialised");
        return NULL;
    }
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "text must be a str");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(arg) < 0) return NULL; /* a legacy string's canonical form (always there from 3.12) */
#endif
    if (!PyUnicode_IS_ASCII(arg)) Py_RETURN_NONE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    const char *t = (const char *)PyUnicode_DATA(arg);
    /* at most one word per two bytes, and as many pairs: a set of twice as many slots stays at most half full */
    size_t need = 16;
    while (need < (size_t)n * 2 + 4) need <<= 1;
    if (need > self->seen_cap) {
        PyMem_Free(self->seen);
        self->seen = PyMem_Calloc(need, sizeof(Feature));
        if (!self->seen) {
            self->seen_cap = 0;
            return PyErr_NoMemory();
        }
        self->seen_cap = need;
        self->gen = 0;
    }
    if (++self->gen == 0) { /* wrapped: clear the stamps once */
        memset(self->seen, 0, self->seen_cap * sizeof(Feature));
        self->gen = 1;
    }
    const uint32_t gen = self->gen;
    Feature *seen = self->seen;
    size_t mask = need - 1; /* only the first `need` slots are used by this call */
    double sum = 0.0;
    Py_ssize_t distinct = 0, prev = -1, prev_len = 0;
    uint64_t prev_hash = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        if (t[i] < 'a' || t[i] > 'z') {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < n && t[i] >= 'a' && t[i] <= 'z') i++;
        Py_ssize_t len = i - start;
        uint64_t h = fnv(FNV_OFFSET, (const unsigned char *)t + start, len);
        Feature word = {h, start, len, -1, 0, gen};
        Feature pair = {0, prev, prev_len, start, len, gen};
        if (prev >= 0) pair.hash = fnv(fnv(prev_hash, (const unsigned char *)" ", 1), (const unsigned char *)t + start, len);
        Feature *todo[2] = {&word, prev >= 0 ? &pair : NULL};
        for (int j = 0; j < 2; j++) {
            Feature *f = todo[j];
            if (!f) continue;
            size_t s = mix(f->hash) & mask;
            while (seen[s].gen == gen && !same(t, &seen[s], f)) s = (s + 1) & mask;
            if (seen[s].gen == gen) continue; /* seen before in this text */
            seen[s] = *f;
            distinct++;
            sum += weight_of(self, t, f);
        }
        prev = start;
        prev_len = len;
        prev_hash = h;
    }
    return Py_BuildValue("(dn)", sum, distinct);
}

static PyMethodDef WordModel_methods[] = {
    {"score", (PyCFunction)WordModel_score, METH_O,
     "score(text) -> (sum of the weights of the distinct words and pairs, their number), or None if not ASCII"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject WordModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "watchkeeper.signals._wordscan.WordModel",
    .tp_doc = "WordModel(weights): a linear text model's weights (words and 'word word' pairs), scored in C",
    .tp_basicsize = sizeof(WordModel),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)WordModel_init,
    .tp_dealloc = (destructor)WordModel_dealloc,
    .tp_methods = WordModel_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "watchkeeper.signals._wordscan",
    .m_doc = "Compiled help for the signals' linear text model: weights of a text's words and word pairs.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__wordscan(void) {
    if (PyType_Ready(&WordModelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&WordModelType);
    if (PyModule_AddObject(m, "WordModel", (PyObject *)&WordModelType) < 0) {
        Py_DECREF(&WordModelType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
