/* Compiled help for the language signal: py3langid's naive Bayes scores of a text, computed in one pass.
 *
 * py3langid walks an automaton over the text's UTF-8 bytes, one byte at a time, collecting the n-gram feature each
 * state emits, counts the features, and scores each language as its prior plus the sum over the features seen of
 * log1p(count) times the feature's log-probability in that language. signals/language.py does the same in Python
 * (a walk remembered per word, then numpy); this does it without handing each byte and feature to Python. The model
 * (automaton, emissions, table, priors) is given by the Python side, read from py3langid's own model file, so it is
 * defined once; the answer is the same up to the order of floating-point additions (summed here in double
 * precision), which the tests check label for label on the language corpus.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    Py_buffer nextmove; /* uint32 [states * 256]: the next state */
    Py_buffer rowbase;  /* int64 [states]: a state's offset into nextmove */
    Py_buffer output;   /* int32 [states]: the feature a state emits, or -1 */
    Py_buffer table;    /* float32 [features * classes]: log P(feature | class), C order */
    Py_buffer prior;    /* float32 [classes] */
    Py_ssize_t states, features, classes;
    uint16_t *counts;   /* per feature, zero between calls */
    int32_t *seen;      /* the features of the current text, each once */
    Py_ssize_t seen_cap;
    int32_t *emitted;   /* per byte of the current text, the feature its state emits (or -1) */
    Py_ssize_t emitted_cap;
    Py_ssize_t depth;   /* the longest string a state stands for: the bytes that determine the state */
    double *acc;
    int ready;
} Model;

/* A contiguous buffer of items of `itemsize` bytes whose format is one of the characters of `formats`. */
static int take(PyObject *obj, Py_buffer *view, const char *formats, size_t itemsize, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    const char *f = view->format ? view->format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') f++;
    if ((size_t)view->itemsize != itemsize || strlen(f) != 1 || !strchr(formats, f[0])) {
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous array of %zu-byte items (%s), not %s", name, itemsize,
                     formats, f);
        PyBuffer_Release(view);
        view->obj = NULL;
        return -1;
    }
    return 0;
}

static void Model_release(Model *self) {
    Py_buffer *views[] = {&self->nextmove, &self->rowbase, &self->output, &self->table, &self->prior};
    for (size_t i = 0; i < sizeof views / sizeof *views; i++)
        if (views[i]->obj) PyBuffer_Release(views[i]);
    PyMem_Free(self->counts);
    PyMem_Free(self->seen);
    PyMem_Free(self->emitted);
    PyMem_Free(self->acc);
    self->counts = NULL;
    self->seen = NULL;
    self->emitted = NULL;
    self->emitted_cap = 0;
    self->acc = NULL;
    self->ready = 0;
}

static void Model_dealloc(Model *self) {
    Model_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Model_init(Model *self, PyObject *args, PyObject *kwds) {
    PyObject *nm, *rb, *out, *table, *prior;
    if (!PyArg_ParseTuple(args, "OOOOO", &nm, &rb, &out, &table, &prior)) return -1;
    Model_release(self);
    if (take(nm, &self->nextmove, "IL", 4, "nextmove") < 0 || take(rb, &self->rowbase, "ql", 8, "rowbase") < 0 ||
        take(out, &self->output, "il", 4, "output") < 0 || take(table, &self->table, "f", 4, "table") < 0 ||
        take(prior, &self->prior, "f", 4, "prior") < 0) {
        Model_release(self);
        return -1;
    }
    self->states = self->rowbase.len / 8;
    self->classes = self->prior.len / 4;
    if (self->classes < 1 || self->table.len % (4 * self->classes) != 0 || self->output.len / 4 != self->states) {
        PyErr_SetString(PyExc_ValueError, "table, prior, rowbase and output do not describe one model");
        Model_release(self);
        return -1;
    }
    self->features = self->table.len / (4 * self->classes);
    /* Every transition and emission is checked once here, so the walk needs no bounds checks. */
    const uint32_t *next = self->nextmove.buf;
    const int64_t *base = self->rowbase.buf;
    const int32_t *emit = self->output.buf;
    Py_ssize_t moves = self->nextmove.len / 4;
    for (Py_ssize_t s = 0; s < self->states; s++) {
        if (base[s] < 0 || base[s] + 256 > moves || emit[s] < -1 || emit[s] >= self->features) {
            PyErr_Format(PyExc_ValueError, "state %zd of the automaton points outside the model", s);
            Model_release(self);
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < moves; i++) {
        if ((Py_ssize_t)next[i] >= self->states) {
            PyErr_Format(PyExc_ValueError, "transition %zd of the automaton points outside the model", i);
            Model_release(self);
            return -1;
        }
    }
    /* The automaton is Aho-Corasick's: a state stands for the longest suffix of the bytes read that is a prefix of
     * a feature, so it depends only on the last `depth` bytes, `depth` being the longest such prefix — the largest
     * number of moves from the start to any state, found breadth-first. A walk can then start anywhere in a text
     * from the start state, `depth` bytes early, and be in the state the whole walk would be in. */
    int32_t *queue = PyMem_Malloc((size_t)self->states * sizeof(int32_t));
    int32_t *level = PyMem_Malloc((size_t)self->states * sizeof(int32_t));
    if (!queue || !level) {
        PyMem_Free(queue);
        PyMem_Free(level);
        Model_release(self);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->states; i++) level[i] = -1;
    Py_ssize_t head = 0, tail = 0;
    queue[tail++] = 0;
    level[0] = 0;
    self->depth = 0;
    while (head < tail) {
        int32_t s = queue[head++];
        for (int b = 0; b < 256; b++) {
            uint32_t t = next[base[s] + b];
            if (level[t] < 0) {
                level[t] = level[s] + 1;
                if (level[t] > self->depth) self->depth = level[t];
                queue[tail++] = (int32_t)t;
            }
        }
    }
    PyMem_Free(queue);
    PyMem_Free(level);
    self->counts = PyMem_Calloc((size_t)self->features, sizeof(uint16_t));
    self->acc = PyMem_Calloc((size_t)self->classes, sizeof(double));
    self->seen_cap = 1024;
    self->seen = PyMem_Malloc((size_t)self->seen_cap * sizeof(int32_t));
    if (!self->counts || !self->acc || !self->seen) {
        Model_release(self);
        PyErr_NoMemory();
        return -1;
    }
    self->ready = 1;
    return 0;
}

/* score(text: bytes, out: float32 buffer of `classes`, temper: float = 0) -> the number of distinct features seen.
 * `out` receives the scores, or with `temper` > 0 the probabilities py3langid derives from them (softmax of the
 * scores times `temper`, which py3langid sets to 1/sqrt(bytes)). When no feature was seen `out` is left as it was
 * (the caller asks py3langid for its answer to an empty text). The caller holds the GIL, which guards the scratch
 * arrays. */
static PyObject *Model_score(Model *self, PyObject *args) {
    Py_buffer text, out;
    double temper = 0.0;
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "the model was not initialised");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*w*|d", &text, &out, &temper)) return NULL;
    if (out.len != 4 * self->classes) {
        PyBuffer_Release(&text);
        PyBuffer_Release(&out);
        return PyErr_Format(PyExc_ValueError, "out must hold %zd float32 values", self->classes);
    }
    const unsigned char *p = text.buf;
    const uint32_t *next = self->nextmove.buf;
    const int64_t *base = self->rowbase.buf;
    const int32_t *emit = self->output.buf;
    uint16_t *counts = self->counts;
    Py_ssize_t len = text.len, n = 0;
    if (len > self->emitted_cap) {
        PyMem_Free(self->emitted);
        self->emitted = PyMem_Malloc((size_t)len * sizeof(int32_t));
        self->emitted_cap = self->emitted ? len : 0;
        if (!self->emitted) {
            PyBuffer_Release(&text);
            PyBuffer_Release(&out);
            return PyErr_NoMemory();
        }
    }
    int32_t *em = self->emitted;
    /* Each byte's move depends on the state the previous one left, a look-up in a table of tens of megabytes: one
     * walk waits on memory at every byte. Four walks over the four quarters of the text, interleaved, wait
     * together; each starts `depth` bytes before its quarter (nothing emitted there is counted) so that it enters
     * its quarter in the state the single walk would be in. */
    Py_ssize_t d = self->depth, quarter = len / 4;
    if (quarter > 4 * d) {
        Py_ssize_t at[4] = {0, quarter, 2 * quarter, 3 * quarter}; /* where each walk's quarter starts */
        uint32_t st[4] = {0, 0, 0, 0};
        for (Py_ssize_t i = d; i > 0; i--) /* the warm-up bytes of walks 1-3 (walk 0 starts at the start) */
            for (int w = 1; w < 4; w++) st[w] = next[base[st[w]] + p[at[w] - i]];
        for (Py_ssize_t i = 0; i < quarter; i++) {
            st[0] = next[base[st[0]] + p[at[0] + i]];
            st[1] = next[base[st[1]] + p[at[1] + i]];
            st[2] = next[base[st[2]] + p[at[2] + i]];
            st[3] = next[base[st[3]] + p[at[3] + i]];
            em[at[0] + i] = emit[st[0]];
            em[at[1] + i] = emit[st[1]];
            em[at[2] + i] = emit[st[2]];
            em[at[3] + i] = emit[st[3]];
        }
        uint32_t state = st[3];
        for (Py_ssize_t i = 4 * quarter; i < len; i++) { /* the remainder, after the last quarter */
            state = next[base[state] + p[i]];
            em[i] = emit[state];
        }
    } else {
        uint32_t state = 0;
        for (Py_ssize_t i = 0; i < len; i++) {
            state = next[base[state] + p[i]];
            em[i] = emit[state];
        }
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        int32_t f = em[i];
        if (f < 0) continue;
        if (counts[f] == 0) {
            if (n == self->seen_cap) {
                int32_t *grown = PyMem_Realloc(self->seen, (size_t)self->seen_cap * 2 * sizeof(int32_t));
                if (!grown) {
                    for (Py_ssize_t j = 0; j < n; j++) counts[self->seen[j]] = 0;
                    PyBuffer_Release(&text);
                    PyBuffer_Release(&out);
                    return PyErr_NoMemory();
                }
                self->seen = grown;
                self->seen_cap *= 2;
            }
            self->seen[n++] = f;
        }
        if (counts[f] < UINT16_MAX) counts[f]++;
        else {
            /* a count this high only comes from a text of 64 KiB or more of one n-gram: py3langid counts on, and so
             * must the score; such a text is scored by the Python path */
            for (Py_ssize_t j = 0; j < n; j++) counts[self->seen[j]] = 0;
            PyBuffer_Release(&text);
            PyBuffer_Release(&out);
            return PyLong_FromLong(-1);
        }
    }
    if (n > 0) {
        Py_ssize_t k = self->classes;
        const float *table = self->table.buf;
        double *acc = self->acc;
        for (Py_ssize_t j = 0; j < k; j++) acc[j] = 0.0;
        for (Py_ssize_t i = 0; i < n; i++) {
            int32_t f = self->seen[i];
            double w = (double)(float)log1p((double)counts[f]); /* numpy takes log1p of float32 counts */
            counts[f] = 0;
            const float *row = table + (size_t)f * (size_t)k;
            for (Py_ssize_t j = 0; j < k; j++) acc[j] += w * (double)row[j];
        }
        float *o = out.buf;
        const float *prior = self->prior.buf;
        for (Py_ssize_t j = 0; j < k; j++) o[j] = (float)acc[j] + prior[j];
        if (temper > 0.0) { /* py3langid's probabilities: a softmax of the scores times temper */
            float t = (float)temper, top = -INFINITY;
            for (Py_ssize_t j = 0; j < k; j++) {
                o[j] *= t;
                if (o[j] > top) top = o[j];
            }
            double sum = 0.0;
            for (Py_ssize_t j = 0; j < k; j++) {
                o[j] = expf(o[j] - top);
                sum += o[j];
            }
            float inv = (float)sum;
            for (Py_ssize_t j = 0; j < k; j++) o[j] /= inv;
        }
    }
    PyBuffer_Release(&text);
    PyBuffer_Release(&out);
    return PyLong_FromSsize_t(n);
}

static PyObject *Model_get_depth(Model *self, void *closure) { return PyLong_FromSsize_t(self->depth); }

static PyGetSetDef Model_getset[] = {
    {"depth", (getter)Model_get_depth, NULL, "the longest string a state of the automaton stands for", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Model_methods[] = {
    {"score", (PyCFunction)Model_score, METH_VARARGS,
     "score(text, out, temper=0) -> distinct features seen (0: none, out untouched; -1: too long for this path)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "watchkeeper.signals._langscan.Model",
    .tp_doc = "Model(nextmove, rowbase, output, table, prior): py3langid's model, scored in C",
    .tp_basicsize = sizeof(Model),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Model_init,
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "watchkeeper.signals._langscan",
    .m_doc = "Compiled help for the language signal: py3langid's naive Bayes scores of a text in one pass.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__langscan(void) {
    if (PyType_Ready(&ModelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(m, "Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(&ModelType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
