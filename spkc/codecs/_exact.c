/* Kernel of the `exact` lossless spike-stream codec, bitstream version 1 (spec/exact.md).
 *
 * One block of B frames of H x W binary spikes is coded pixel by pixel in raster order (row 0
 * first, left to right). Each pixel's spike train inside the block is a sequence of intervals;
 * every interval is binarised relative to a prediction (the pixel's own previous interval, or a
 * neighbour's) and each binary decision is coded with an adaptive probability in an LZMA-style
 * range coder. Everything is integer arithmetic, so every platform decodes the same spikes.
 *
 * The pure-Python reference of the same bitstream is spkc/codecs/exact_ref.py; tests compare the
 * two. Keep them in step (and spec/exact.md), change the bitstream version when either changes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- model constants (spec/exact.md section 3) ---- */
#define NB 24          /* buckets of a predicted interval */
#define NC 6           /* delta classes: -2..2 -> 0..4, 5 = no value */
#define KU 6           /* unary magnitude steps before the escape */
#define NG 24          /* Elias-gamma prefix contexts */
#define LIMIT 30       /* adaptation: the rate settles at 1/(LIMIT+2) */
#define PMIN 32
#define PMAX (65536 - 32)

/* context groups for the first two decisions */
#define G_FULL (NB * NC * NC * NC)        /* own previous interval known */
#define G_NOP (2 * 3 * NB * NC)           /* no own interval yet (first spike / second spike) */
#define NGROUP (G_FULL + G_NOP)
#define NMAG (3 * NB * 2 * KU)
#define NESC (2 * NG)
#define NEND (3 * 16 * NB)
#define NCTX (NGROUP * 2 + NMAG + NESC + NEND)

typedef struct {
    uint16_t p; /* P(bit = 0) * 65536 */
    uint8_t n;
} Prob;

static uint16_t RECIP[LIMIT + 1];

static void init_recip(void) {
    for (int n = 0; n <= LIMIT; n++) RECIP[n] = (uint16_t)(65536 / (n + 2));
}

static void init_probs(Prob *pr, size_t n) {
    for (size_t i = 0; i < n; i++) { pr[i].p = 32768; pr[i].n = 0; }
}

static inline void update(Prob *c, int bit) {
    uint32_t r = RECIP[c->n];
    uint32_t p = c->p;
    if (bit) p -= (p * r) >> 16;
    else p += ((65536 - p) * r) >> 16;
    if (p < PMIN) p = PMIN;
    if (p > PMAX) p = PMAX;
    c->p = (uint16_t)p;
    if (c->n < LIMIT) c->n++;
}

/* ---- range coder (LZMA's, with 16-bit probabilities) ---- */
typedef struct {
    uint64_t low;
    uint32_t range;
    uint8_t cache;
    uint64_t cache_size;
    uint8_t *buf;
    size_t len, cap;
    int oom;
} Enc;

static void put_byte(Enc *e, uint8_t b) {
    if (e->len == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 1 << 16;
        uint8_t *nb = (uint8_t *)realloc(e->buf, nc);
        if (!nb) { e->oom = 1; return; }
        e->buf = nb; e->cap = nc;
    }
    e->buf[e->len++] = b;
}

static void shift_low(Enc *e) {
    if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(e->low >> 32);
        uint8_t temp = e->cache;
        do {
            put_byte(e, (uint8_t)(temp + carry));
            temp = 0xFF;
        } while (--e->cache_size != 0);
        e->cache = (uint8_t)((e->low >> 24) & 0xFF);
    }
    e->cache_size++;
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

static inline void enc_bit(Enc *e, Prob *c, int bit) {
    uint32_t bound = (e->range >> 16) * c->p;
    if (!bit) e->range = bound;
    else { e->low += bound; e->range -= bound; }
    while (e->range < (1u << 24)) { e->range <<= 8; shift_low(e); }
    update(c, bit);
}

static inline void enc_direct(Enc *e, int bit) { /* probability 1/2, no adaptation */
    uint32_t bound = (e->range >> 16) * 32768u;
    if (!bit) e->range = bound;
    else { e->low += bound; e->range -= bound; }
    while (e->range < (1u << 24)) { e->range <<= 8; shift_low(e); }
}

typedef struct {
    uint32_t range, code;
    const uint8_t *buf;
    size_t len, pos;
} Dec;

static inline uint8_t next_byte(Dec *d) { return d->pos < d->len ? d->buf[d->pos++] : 0; }

static void dec_init(Dec *d, const uint8_t *buf, size_t len) {
    d->buf = buf; d->len = len; d->pos = 0; d->range = 0xFFFFFFFFu; d->code = 0;
    for (int i = 0; i < 5; i++) d->code = (d->code << 8) | next_byte(d);
}

static inline int dec_bit(Dec *d, Prob *c) {
    uint32_t bound = (d->range >> 16) * c->p;
    int bit;
    if (d->code < bound) { d->range = bound; bit = 0; }
    else { d->code -= bound; d->range -= bound; bit = 1; }
    while (d->range < (1u << 24)) { d->range <<= 8; d->code = (d->code << 8) | next_byte(d); }
    update(c, bit);
    return bit;
}

static inline int dec_direct(Dec *d) {
    uint32_t bound = (d->range >> 16) * 32768u;
    int bit;
    if (d->code < bound) { d->range = bound; bit = 0; }
    else { d->code -= bound; d->range -= bound; bit = 1; }
    while (d->range < (1u << 24)) { d->range <<= 8; d->code = (d->code << 8) | next_byte(d); }
    return bit;
}

/* ---- context selection (spec/exact.md section 3.2) ---- */
static inline int bucket(int v) {
    if (v < 16) return v < 0 ? 0 : v;
    int lg = 31 - __builtin_clz((unsigned)v); /* floor(log2 v) >= 4 */
    int b = 12 + lg;                           /* 16..31 -> 16, 32..63 -> 17, ... */
    return b > NB - 1 ? NB - 1 : b;
}

static inline int dclass(int v, int has) {
    if (!has) return 5;
    if (v < -2) v = -2;
    if (v > 2) v = 2;
    return v + 2;
}

/* Interval of a neighbour's spike list around time t: the interval that starts at the last
 * spike <= t (or the first interval when t precedes every spike); when that spike is the last
 * one, the interval before it. Returns 0 when the neighbour has fewer than two spikes. *j is a
 * cursor that only moves forward as t grows. */
static inline int neigh(const uint16_t *a, int na, int *j, int t) {
    if (na < 2) return 0;
    while (*j + 1 < na && (int)a[*j + 1] <= t) (*j)++;
    if (*j + 1 < na) return a[*j + 1] - a[*j];
    return a[*j] - a[*j - 1];
}

typedef struct {
    Prob *first;   /* NGROUP: d == 0 ? */
    Prob *sign;    /* NGROUP: d > 0 ? */
    Prob *mag;     /* NMAG */
    Prob *esc;     /* NESC */
    Prob *end;     /* NEND: no further spike in the block ? */
} Model;

/* For one interval: the prediction p and the context indices. t: last spike (-1 at start),
 * P1/P2: own previous intervals (0 = none), Na/Nl: neighbour intervals (0 = none), k: spikes
 * seen so far in this block by this pixel, B: block length. */
static inline int contexts(int B, int t, int k, int P1, int P2, int Na, int Nl,
                           int *g, int *mg) {
    int p, b;
    if (P1) {
        p = P1;
        b = bucket(p);
        *g = ((b * NC + dclass(P2 - P1, P2 != 0)) * NC + dclass(Na - P1, Na != 0)) * NC +
             dclass(Nl - P1, Nl != 0);
        *mg = b; /* case 0 */
    } else {
        int src, q;
        if (Na) { p = Na; src = 0; q = dclass(Nl - Na, Nl != 0); }
        else if (Nl) { p = Nl; src = 1; q = 5; }
        else { p = B - t; src = 2; q = 5; }
        b = bucket(p);
        int mode = k == 0 ? 0 : 1;
        *g = G_FULL + ((mode * 3 + src) * NB + b) * NC + q;
        *mg = (1 + mode) * NB + b; /* cases 1, 2 */
    }
    return p;
}

/* The end-of-block decision is coded only when the remaining frames rem = B - t are within
 * about 1.5 predicted intervals; its context: whose prediction, rem / p in eighths, bucket(p). */
static inline int end_ctx(int rem, int p, int P1, int k) {
    if (2 * rem > 3 * p + 4) return -1;
    int r8 = 8 * rem / p;
    if (r8 > 15) r8 = 15;
    int cs = P1 ? 0 : (k == 0 ? 1 : 2);
    return (cs * 16 + r8) * NB + bucket(p);
}

static void encode_value(Enc *e, Model *m, int g, int mg, int d) {
    enc_bit(e, &m->first[g], d != 0);
    if (d == 0) return;
    int s = d > 0;
    enc_bit(e, &m->sign[g], s);
    int a = (s ? d : -d) - 1;
    Prob *mc = &m->mag[(mg * 2 + s) * KU];
    for (int i = 0; i < KU; i++) {
        int more = a > i;
        enc_bit(e, &mc[i], more);
        if (!more) return;
    }
    /* escape: a - KU >= 0 in Elias gamma of (a - KU + 1) */
    uint32_t v = (uint32_t)(a - KU + 1);
    int nbits = 32 - __builtin_clz(v);
    Prob *ec = &m->esc[s * NG];
    for (int i = 0; i < nbits - 1; i++) enc_bit(e, &ec[i < NG - 1 ? i : NG - 1], 1);
    enc_bit(e, &ec[nbits - 1 < NG - 1 ? nbits - 1 : NG - 1], 0);
    for (int i = nbits - 2; i >= 0; i--) enc_direct(e, (v >> i) & 1);
}

static int decode_value(Dec *dc, Model *m, int g, int mg, int *d) {
    if (!dec_bit(dc, &m->first[g])) { *d = 0; return 0; }
    int s = dec_bit(dc, &m->sign[g]);
    Prob *mc = &m->mag[(mg * 2 + s) * KU];
    int a = 0;
    for (; a < KU; a++)
        if (!dec_bit(dc, &mc[a])) break;
    if (a == KU) {
        Prob *ec = &m->esc[s * NG];
        int nbits = 1;
        while (dec_bit(dc, &ec[nbits - 1 < NG - 1 ? nbits - 1 : NG - 1])) {
            if (++nbits > 17) return -1; /* no interval in a block needs more */
        }
        uint32_t v = 1;
        for (int i = 0; i < nbits - 1; i++) v = (v << 1) | (uint32_t)dec_direct(dc);
        a = KU + (int)v - 1;
    }
    *d = s ? a + 1 : -(a + 1);
    return 0;
}

static int alloc_model(Model *m, Prob **store) {
    Prob *pr = (Prob *)malloc(sizeof(Prob) * NCTX);
    if (!pr) return -1;
    init_probs(pr, NCTX);
    m->first = pr;
    m->sign = pr + NGROUP;
    m->mag = pr + 2 * NGROUP;
    m->esc = pr + 2 * NGROUP + NMAG;
    m->end = pr + 2 * NGROUP + NMAG + NESC;
    *store = pr;
    return 0;
}

/* ---- block coding ---- */
static PyObject *py_encode_block(PyObject *self, PyObject *args) {
    Py_buffer view;
    int B, H, W;
    if (!PyArg_ParseTuple(args, "y*iii", &view, &B, &H, &W)) return NULL;
    if (B < 1 || B > 65534 || H < 1 || W < 1 ||
        (Py_ssize_t)B * H * W != view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "buffer size does not match B*H*W (B <= 65534)");
        return NULL;
    }
    const uint8_t *s = (const uint8_t *)view.buf;
    size_t HW = (size_t)H * W;
    uint16_t *rows = (uint16_t *)malloc(sizeof(uint16_t) * 2 * (size_t)W * B);
    int *cnt = (int *)malloc(sizeof(int) * 2 * (size_t)W);
    Prob *store = NULL;
    Model m;
    Enc e = {0, 0xFFFFFFFFu, 0, 1, NULL, 0, 0, 0};
    if (!rows || !cnt || alloc_model(&m, &store)) {
        free(rows); free(cnt); free(store); PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    uint16_t *above = rows, *cur = rows + (size_t)W * B;
    int *ca = cnt, *cc = cnt + W;
    for (int x = 0; x < W; x++) ca[x] = 0;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) cc[x] = 0;
        for (int t = 0; t < B; t++) {
            const uint8_t *r = s + (size_t)t * HW + (size_t)y * W;
            for (int x = 0; x < W; x++)
                if (r[x]) cur[(size_t)x * B + cc[x]++] = (uint16_t)t;
        }
        for (int x = 0; x < W; x++) {
            const uint16_t *own = cur + (size_t)x * B;
            const uint16_t *ab = above + (size_t)x * B;
            const uint16_t *lf = x > 0 ? cur + (size_t)(x - 1) * B : cur;
            int na = y > 0 ? ca[x] : 0, nl = x > 0 ? cc[x - 1] : 0;
            int ja = 0, jl = 0, t = -1, P1 = 0, P2 = 0, n = cc[x];
            for (int k = 0; k <= n; k++) {
                int Na = neigh(ab, na, &ja, t), Nl = neigh(lf, nl, &jl, t);
                int g, mg;
                int p = contexts(B, t, k, P1, P2, Na, Nl, &g, &mg);
                int tn = k < n ? own[k] : B;
                int I = tn - t;
                int ec = end_ctx(B - t, p, P1, k);
                if (ec >= 0) {
                    enc_bit(&e, &m.end[ec], tn == B);
                    if (tn == B) break;
                }
                encode_value(&e, &m, g, mg, I - p);
                if (k > 0) { P2 = P1; P1 = I; }
                t = tn;
            }
        }
        uint16_t *tmp = above; above = cur; cur = tmp;
        int *tc = ca; ca = cc; cc = tc;
    }
    for (int i = 0; i < 5; i++) shift_low(&e);
    Py_END_ALLOW_THREADS
    free(rows); free(cnt); free(store); PyBuffer_Release(&view);
    if (e.oom) { free(e.buf); return PyErr_NoMemory(); }
    PyObject *out = PyBytes_FromStringAndSize((const char *)e.buf, (Py_ssize_t)e.len);
    free(e.buf);
    return out;
}

static PyObject *py_decode_block(PyObject *self, PyObject *args) {
    Py_buffer data, outv;
    int B, H, W;
    if (!PyArg_ParseTuple(args, "y*iiiw*", &data, &B, &H, &W, &outv)) return NULL;
    if (B < 1 || B > 65534 || H < 1 || W < 1 || (Py_ssize_t)B * H * W != outv.len) {
        PyBuffer_Release(&data); PyBuffer_Release(&outv);
        PyErr_SetString(PyExc_ValueError, "output size does not match B*H*W (B <= 65534)");
        return NULL;
    }
    uint8_t *o = (uint8_t *)outv.buf;
    size_t HW = (size_t)H * W;
    uint16_t *rows = (uint16_t *)malloc(sizeof(uint16_t) * 2 * (size_t)W * B);
    int *cnt = (int *)malloc(sizeof(int) * 2 * (size_t)W);
    Prob *store = NULL;
    Model m;
    if (!rows || !cnt || alloc_model(&m, &store)) {
        free(rows); free(cnt); free(store);
        PyBuffer_Release(&data); PyBuffer_Release(&outv);
        return PyErr_NoMemory();
    }
    int bad = 0, bad_y = 0, bad_x = 0;
    Py_BEGIN_ALLOW_THREADS
    memset(o, 0, (size_t)B * HW);
    Dec dc;
    dec_init(&dc, (const uint8_t *)data.buf, (size_t)data.len);
    uint16_t *above = rows, *cur = rows + (size_t)W * B;
    int *ca = cnt, *cc = cnt + W;
    for (int x = 0; x < W; x++) ca[x] = 0;
    for (int y = 0; y < H && !bad; y++) {
        for (int x = 0; x < W; x++) {
            uint16_t *own = cur + (size_t)x * B;
            const uint16_t *ab = above + (size_t)x * B;
            const uint16_t *lf = x > 0 ? cur + (size_t)(x - 1) * B : cur;
            int na = y > 0 ? ca[x] : 0, nl = x > 0 ? cc[x - 1] : 0;
            int ja = 0, jl = 0, t = -1, P1 = 0, P2 = 0, k = 0;
            uint8_t *col = o + (size_t)y * W + x;
            for (;;) {
                int Na = neigh(ab, na, &ja, t), Nl = neigh(lf, nl, &jl, t);
                int g, mg, d;
                int p = contexts(B, t, k, P1, P2, Na, Nl, &g, &mg);
                int ec = end_ctx(B - t, p, P1, k);
                if (ec >= 0 && dec_bit(&dc, &m.end[ec])) break;
                if (decode_value(&dc, &m, g, mg, &d)) { bad = 1; break; }
                int I = p + d;
                if (I < 1 || I > B - t - (ec >= 0)) { bad = 1; break; }
                int tn = t + I;
                if (tn == B) break;
                own[k] = (uint16_t)tn;
                col[(size_t)tn * HW] = 1;
                if (k > 0) { P2 = P1; P1 = I; }
                k++;
                t = tn;
            }
            cc[x] = k;
            if (bad) { bad_y = y; bad_x = x; break; }
        }
        uint16_t *tmp = above; above = cur; cur = tmp;
        int *tc = ca; ca = cc; cc = tc;
    }
    Py_END_ALLOW_THREADS
    free(rows); free(cnt); free(store);
    PyBuffer_Release(&data); PyBuffer_Release(&outv);
    if (bad) {
        PyErr_Format(PyExc_ValueError, "invalid interval at pixel (row %d, column %d)",
                     bad_y, bad_x);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"encode_block", py_encode_block, METH_VARARGS,
     "encode_block(spikes: bytes-like uint8 0/1 (B*H*W), B, H, W) -> bytes"},
    {"decode_block", py_decode_block, METH_VARARGS,
     "decode_block(data, B, H, W, out: writable uint8 (B*H*W)) -> None; ValueError on damage"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_exact", NULL, -1, methods};

PyMODINIT_FUNC PyInit__exact(void) {
    init_recip();
    PyObject *mod = PyModule_Create(&module);
    if (mod) PyModule_AddIntConstant(mod, "BITSTREAM_VERSION", 1);
    return mod;
}
