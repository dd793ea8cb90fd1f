/* moegen.c - a large generated ternary MoE for `make bench-moe`, written straight through
 * libtrit (no checkpoint, no converter: at 30 B parameters converting is the slow part).
 *
 *   moegen OUT.trit [--layers N] [--embd N] [--ff N] [--experts N] [--used N] [--heads N]
 *          [--kv-heads N] [--vocab N] [--units zstd|raw|b3] [--alpha A] [--beta B] [--seed S]
 *
 * Defaults are Qwen3-30B-A3B's shape (HF Qwen/Qwen3-30B-A3B config.json: 48 layers, hidden
 * 2048, 32 heads, 4 kv heads, head_dim 128, 128 experts, 8 per token, moe_intermediate_size
 * 768, norm_topk_prob true; the vocabulary cut to 32000): 30.0 B parameters, 29.0 B of them in
 * experts. Architecture qwen3moe without q/k norms, metadata as trit-gen's `trit` layout.
 *
 * Routing is planted, not uniform noise (why: an expert cache is only as good as the skew and
 * the locality it meets, so a benchmark with uniform routing measures nothing a phone sees):
 *   - popularity: every token embedding carries the same "anchor" (dims 0..63 = 1), and router
 *     row e of layer l reads it with weight -alpha * ln(1 + rank_l(e)) / 64, rank_l a random
 *     permutation per layer: a Zipf-like prior, a different order in every layer;
 *   - token-to-token locality: the vocabulary is split in 64 topics; a token's embedding is its
 *     topic's vector plus a smaller token vector (dims 64..). Router rows read those dims with
 *     random weights of size beta / sqrt(dims): tokens of one topic route alike. The output
 *     projection is the embedding itself and model.logit_scale makes a token of the current
 *     topic the likely next one (about 3% of steps switch topic at temperature 1, top-k 0), so
 *     a sampled decode stays on a topic for tens of tokens, as text does;
 *   - attention and expert outputs are scaled small (their matmuls run at full size) so the
 *     residual keeps the token's topic through all layers.
 * The resulting popularity and locality are measured from the runner's trace (moereplay), not
 * assumed. Prints one JSON line: parameters, bytes, units.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trit.h"

#define ANCHOR 64u
#define TOPICS 64u
#define BATCH 8u          /* units per worker per round */
#define WORKERS 2u

typedef struct cfg {
    uint32_t n_layer, n_embd, n_ff, n_expert, n_used, n_head, n_kv, head_dim, n_vocab;
    uint32_t storage;
    int b3;                    /* expert members as b3 (raw units), else t2 */
    double alpha, beta;
    uint64_t seed;
} cfg;

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct rng { uint64_t s; } rng;
static uint64_t next(rng *r) { return mix(r->s++); }
static double unif(rng *r) { return (double)(next(r) >> 11) / 9007199254740992.0; }
static double gauss(rng *r)
{
    double const u = unif(r) + 1e-300, v = unif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* The 81 t2 bytes with no code 3: four random trits each. */
static uint8_t valid[81];
static void init_valid(void)
{
    unsigned n = 0;
    for (unsigned b = 0; b < 256; b++)
        if ((b & 3) != 3 && ((b >> 2) & 3) != 3 && ((b >> 4) & 3) != 3 && ((b >> 6) & 3) != 3) valid[n++] = (uint8_t)b;
}

/* A t2 tensor of rows x cols uniform random trits and one scale, into dst (its layout). */
static void fill_t2(uint8_t *dst, const trit_tensor_info *t, float scale, rng *r)
{
    uint64_t const rows = t->dims[0], cols = t->dims[1], rb = (cols + 127) / 128 * 32;
    for (uint64_t i = 0; i < rows * rb; i += 4) {
        uint64_t x = next(r);
        for (int k = 0; k < 4 && i + k < rows * rb; k++, x >>= 16) dst[i + k] = valid[((x & 0xffff) * 81) >> 16];
    }
    if (cols % 128) /* padding slots are code 1 (spec 6.1) */
        for (uint64_t row = 0; row < rows; row++)
            for (uint64_t c = cols; c < rb * 4; c++) {
                uint8_t *b = dst + row * rb + (c / 128) * 32 + c % 32;
                unsigned const sh = 2 * (unsigned)((c % 128) / 32);
                *b = (uint8_t)((*b & ~(3u << sh)) | (1u << sh));
            }
    memset(dst + rows * rb, 0, t->scales_off - rows * rb);
    memcpy(dst + t->scales_off, &scale, 4);
}

static void t2_info(trit_tensor_info *t, const char *name, uint64_t rows, uint64_t cols, uint32_t layer, uint32_t unit)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->type = TRIT_TYPE_T2;
    t->n_dims = 2;
    t->dims[0] = rows;
    t->dims[1] = cols;
    t->scale_layout = TRIT_SCALE_TENSOR;
    t->scale_type = TRIT_SCALE_TYPE_F32;
    t->layer = layer;
    t->unit = unit;
    trit_type_geometry(t->type, &t->block_elems, &t->block_bytes);
    trit_tensor_layout(t, NULL);
}

static void flt_info(trit_tensor_info *t, const char *name, uint32_t type, uint64_t rows, uint64_t cols, uint32_t layer)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->type = type;
    t->n_dims = rows ? 2 : 1;
    if (rows) {
        t->dims[0] = rows;
        t->dims[1] = cols;
    } else {
        t->dims[0] = cols;
    }
    t->layer = layer;
    t->unit = TRIT_NONE32;
    trit_type_geometry(t->type, &t->block_elems, &t->block_bytes);
    trit_tensor_layout(t, NULL);
}

/* ---- experts on worker threads ---- */

typedef struct job {
    const cfg *c;
    trit_writer *w;
    uint32_t unit0, n;               /* units [unit0, unit0 + n) of this job */
    const uint32_t *member;          /* [unit][3] tensor ids */
    uint8_t *img;                    /* decoded image scratch */
    uint8_t *t2buf;                  /* b3: a member as t2 before re-packing */
    trit_unit_packer *pk;
    uint8_t *out[BATCH];             /* stored bytes per unit (owned) */
    uint64_t out_n[BATCH], out_xxh[BATCH], mem_xxh[BATCH][3];
    int rc;
    trit_err err;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    cfg const *c = j->c;
    for (uint32_t k = 0; k < j->n && j->rc == TRIT_OK; k++) {
        uint32_t const u = j->unit0 + k;
        rng r = {mix(c->seed ^ 0xe0e0ull) + (uint64_t)u * 0x100000001ull};
        uint64_t end = 0;
        for (int m = 0; m < 3; m++) {
            trit_tensor_info const *t = trit_writer_tensor(j->w, j->member[u * 3 + m]);
            /* gate/up: x ~ unit rms in, ~unit rms out; down: output small (header comment) */
            float const s = m < 2 ? (float)(1.0 / sqrt((double)t->dims[1] * 2.0 / 3.0)) : (float)(0.03 / (0.5 * sqrt((double)t->dims[1] * 2.0 / 3.0)));
            if (t->offset > end) memset(j->img + end, 0, t->offset - end);
            if (c->b3) {
                trit_tensor_info t2 = *t, b3;
                t2.type = TRIT_TYPE_T2;
                trit_type_geometry(t2.type, &t2.block_elems, &t2.block_bytes);
                trit_tensor_layout(&t2, NULL);
                fill_t2(j->t2buf, &t2, s, &r);
                if ((j->rc = trit_t2_to_b3(&t2, j->t2buf, &b3, j->img + t->offset, &j->err))) break;
            } else {
                fill_t2(j->img + t->offset, t, s, &r);
            }
            j->mem_xxh[k][m] = trit_xxh3(j->img + t->offset, t->size);
            end = t->offset + t->size;
        }
        if (j->rc) break;
        const void *st;
        j->rc = trit_unit_pack(j->pk, c->storage, j->img, end, &st, &j->out_n[k], &j->out_xxh[k], &j->err);
        if (j->rc) break;
        free(j->out[k]);
        j->out[k] = malloc(j->out_n[k]);
        if (!j->out[k]) {
            j->rc = trit_err_set(&j->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
            break;
        }
        memcpy(j->out[k], st, j->out_n[k]);
    }
    return NULL;
}

static int parse(int argc, char **argv, cfg *c, const char **out)
{
    *c = (cfg){48, 2048, 768, 128, 8, 32, 4, 128, 32000, TRIT_STORAGE_ZSTD, 0, 1.0, 1.5, 1};
    *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t *u = !strcmp(a, "--layers") ? &c->n_layer : !strcmp(a, "--embd") ? &c->n_embd : !strcmp(a, "--ff") ? &c->n_ff
                    : !strcmp(a, "--experts") ? &c->n_expert : !strcmp(a, "--used") ? &c->n_used
                    : !strcmp(a, "--heads") ? &c->n_head : !strcmp(a, "--kv-heads") ? &c->n_kv
                    : !strcmp(a, "--vocab") ? &c->n_vocab : NULL;
        if (u && v) {
            *u = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--units") && v) {
            if (!strcmp(v, "zstd")) c->storage = TRIT_STORAGE_ZSTD;
            else if (!strcmp(v, "raw")) c->storage = TRIT_STORAGE_RAW;
            else if (!strcmp(v, "b3")) c->storage = TRIT_STORAGE_RAW, c->b3 = 1;
            else return -1;
            i++;
        } else if (!strcmp(a, "--alpha") && v) {
            c->alpha = atof(v);
            i++;
        } else if (!strcmp(a, "--beta") && v) {
            c->beta = atof(v);
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            c->seed = strtoull(v, NULL, 10);
            i++;
        } else if (a[0] != '-' && !*out) {
            *out = a;
        } else {
            return -1;
        }
    }
    if (!*out || c->n_embd <= ANCHOR + 64 || c->n_embd % c->n_head || c->n_head % c->n_kv || !c->n_used ||
        c->n_used > c->n_expert || c->n_vocab < TOPICS)
        return -1;
    c->head_dim = 128;
    return 0;
}

static int fail(const char *what, const trit_err *e)
{
    char buf[768];
    fprintf(stderr, "moegen: %s: %s\n", what, trit_err_format(e, buf, sizeof buf));
    return 1;
}

/* Write n f16 values from gen(i) as one tensor. */
static int put_f16_rows(trit_writer *w, uint32_t id, uint64_t rows, uint64_t cols, const float *rowsrc, trit_err *err)
{
    uint16_t *h = malloc(sizeof *h * cols);
    if (!h) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    int rc = trit_writer_tensor_begin(w, id, err);
    for (uint64_t r = 0; rc == TRIT_OK && r < rows; r++) {
        for (uint64_t i = 0; i < cols; i++) h[i] = trit_f32_to_f16(rowsrc[r * cols + i]);
        rc = trit_writer_append(w, h, sizeof *h * cols, err);
    }
    if (rc == TRIT_OK) rc = trit_writer_end(w, err);
    free(h);
    return rc;
}

int main(int argc, char **argv)
{
    cfg c;
    const char *out;
    if (parse(argc, argv, &c, &out)) {
        fprintf(stderr, "usage: moegen OUT.trit [--layers N] [--embd N] [--ff N] [--experts N] [--used N] [--heads N]\n"
                        "       [--kv-heads N] [--vocab N] [--units zstd|raw|b3] [--alpha A] [--beta B] [--seed S]\n");
        return 2;
    }
    init_valid();
    uint32_t const L = c.n_layer, E = c.n_embd, NE = c.n_expert, V = c.n_vocab;
    uint64_t const qd = (uint64_t)c.n_head * c.head_dim, kvd = (uint64_t)c.n_kv * c.head_dim;
    trit_err err;
    trit_err_clear(&err);
    trit_write_opts wo = {0};
    wo.zstd_level = 1;
    wo.overwrite = 1;
    trit_writer *w = NULL;
    if (trit_writer_open(out, &wo, &w, &err)) return fail("open", &err);
    int rc = TRIT_OK;
#define T(x) do { if (rc == TRIT_OK) rc = (x); } while (0)
#define S(k, v) T(trit_writer_kv_str(w, k, v, strlen(v), &err))
    S("general.architecture", "qwen3moe");
    S("general.name", "moegen (make bench-moe)");
    T(trit_writer_kv_u32(w, "model.n_layer", L, &err));
    T(trit_writer_kv_u32(w, "model.n_embd", E, &err));
    T(trit_writer_kv_u32(w, "model.n_ff", 0, &err));
    T(trit_writer_kv_u32(w, "model.n_head", c.n_head, &err));
    T(trit_writer_kv_u32(w, "model.n_head_kv", c.n_kv, &err));
    T(trit_writer_kv_u32(w, "model.head_dim", c.head_dim, &err));
    T(trit_writer_kv_u32(w, "model.n_vocab", V, &err));
    T(trit_writer_kv_u32(w, "model.n_ctx", 4096, &err));
    T(trit_writer_kv_f32(w, "model.norm_eps", 1e-6f, &err));
    T(trit_writer_kv_f32(w, "model.rope_theta", 1000000.0f, &err));
    T(trit_writer_kv_u32(w, "model.rope_dim", c.head_dim, &err));
    S("model.rope_layout", "neox");
    S("model.hidden_act", "silu");
    T(trit_writer_kv_bool(w, "model.tied_embeddings", 0, &err));
    /* next-token logits: a same-topic token wins, ~3% of steps switch topic (header comment) */
    T(trit_writer_kv_f32(w, "model.logit_scale", 0.0045f, &err));
    S("model.act_quant", "none");
    T(trit_writer_kv_u32(w, "moe.n_expert", NE, &err));
    T(trit_writer_kv_u32(w, "moe.n_expert_used", c.n_used, &err));
    T(trit_writer_kv_u32(w, "moe.n_ff_expert", c.n_ff, &err));
    S("moe.gating", "softmax");
    T(trit_writer_kv_bool(w, "moe.norm_topk", 1, &err));
    T(trit_writer_kv_f32(w, "moe.routed_scale", 1.0f, &err));
    T(trit_writer_kv_u32(w, "moe.n_shared_expert", 0, &err));
    S("moe.shared_gate", "none");
    T(trit_writer_kv_u32(w, "moe.first_dense_layers", 0, &err));
    S("provenance.converter", "moegen " TRIT_VERSION_STRING);
#undef S
    /* declarations: names live until finish */
    uint32_t const n_dense = 3 + L * 8, n_units = L * NE;
    char (*names)[64] = calloc((size_t)n_dense + (size_t)n_units * 3, sizeof *names);
    uint32_t *dense_id = calloc(n_dense, sizeof *dense_id), *member = calloc((size_t)n_units * 3, sizeof *member);
    trit_tensor_info *dti = calloc(n_dense, sizeof *dti);
    if (!names || !dense_id || !member || !dti) {
        fprintf(stderr, "moegen: out of memory\n");
        return 1;
    }
    uint32_t nd = 0;
#define DENSE(fmt, ...) (snprintf(names[nd], sizeof names[nd], fmt, __VA_ARGS__), &dti[nd])
    flt_info(DENSE("%s", "token_embd.weight"), names[nd], TRIT_TYPE_F16, V, E, TRIT_NONE32), nd++;
    flt_info(DENSE("%s", "output_norm.weight"), names[nd], TRIT_TYPE_F32, 0, E, TRIT_NONE32), nd++;
    flt_info(DENSE("%s", "output.weight"), names[nd], TRIT_TYPE_F16, V, E, TRIT_NONE32), nd++;
    for (uint32_t l = 0; l < L; l++) {
        flt_info(DENSE("blk.%u.attn_norm.weight", l), names[nd], TRIT_TYPE_F32, 0, E, l), nd++;
        t2_info(DENSE("blk.%u.attn_q.weight", l), names[nd], qd, E, l, TRIT_NONE32), nd++;
        t2_info(DENSE("blk.%u.attn_k.weight", l), names[nd], kvd, E, l, TRIT_NONE32), nd++;
        t2_info(DENSE("blk.%u.attn_v.weight", l), names[nd], kvd, E, l, TRIT_NONE32), nd++;
        t2_info(DENSE("blk.%u.attn_output.weight", l), names[nd], E, qd, l, TRIT_NONE32), nd++;
        flt_info(DENSE("blk.%u.ffn_norm.weight", l), names[nd], TRIT_TYPE_F32, 0, E, l), nd++;
        flt_info(DENSE("blk.%u.ffn_gate_inp.weight", l), names[nd], TRIT_TYPE_F16, NE, E, l), nd++;
        nd++; /* spare slot keeps 8 per layer */
    }
#undef DENSE
    for (uint32_t i = 0; i < nd && rc == TRIT_OK; i++)
        if (dti[i].name) T(trit_writer_add_tensor(w, &dti[i], &dense_id[i], &err));
    for (uint32_t l = 0; l < L && rc == TRIT_OK; l++)
        for (uint32_t e = 0; e < NE && rc == TRIT_OK; e++) {
            uint32_t u;
            T(trit_writer_add_unit(w, l, e, c.storage, &u, &err));
            static const char *const proj[3] = {"gate", "up", "down"};
            for (int m = 0; m < 3 && rc == TRIT_OK; m++) {
                char *nm = names[n_dense + (size_t)u * 3 + m];
                snprintf(nm, 64, "blk.%u.ffn_%s.%u.weight", l, proj[m], e);
                trit_tensor_info t;
                t2_info(&t, nm, m < 2 ? c.n_ff : E, m < 2 ? E : c.n_ff, l, u);
                if (c.b3) {
                    t.type = TRIT_TYPE_B3;
                    trit_type_geometry(t.type, &t.block_elems, &t.block_bytes);
                    trit_tensor_layout(&t, NULL);
                }
                T(trit_writer_add_tensor(w, &t, &member[(size_t)u * 3 + m], &err));
            }
        }
    if (rc) return fail("declare", &err);
    /* dense data */
    rng r = {mix(c.seed)};
    float *topic = malloc(sizeof *topic * TOPICS * E), *row = malloc(sizeof *row * (size_t)NE * E);
    float *embd = malloc(sizeof *embd * (size_t)V * E);
    uint8_t *buf = NULL;
    uint64_t maxsz = 0;
    for (uint32_t i = 0; i < nd; i++)
        if (dti[i].name && trit_writer_tensor(w, dense_id[i])->size > maxsz) maxsz = trit_writer_tensor(w, dense_id[i])->size;
    buf = malloc(maxsz);
    if (!topic || !row || !embd || !buf) {
        fprintf(stderr, "moegen: out of memory\n");
        return 1;
    }
    for (uint64_t i = 0; i < (uint64_t)TOPICS * E; i++) topic[i] = (float)gauss(&r);
    uint32_t const per_topic = V / TOPICS;
    for (uint64_t v = 0; v < V; v++) {
        uint32_t const k = (uint32_t)(v / per_topic < TOPICS ? v / per_topic : TOPICS - 1);
        for (uint32_t i = 0; i < E; i++)
            embd[v * E + i] = i < ANCHOR ? 1.0f : topic[(uint64_t)k * E + i] + 0.6f * (float)gauss(&r);
    }
    uint32_t *perm = malloc(sizeof *perm * NE);
    for (uint32_t i = 0; i < nd && rc == TRIT_OK; i++) {
        trit_tensor_info const *t = trit_writer_tensor(w, dense_id[i]);
        if (!dti[i].name) continue;
        const char *nm = dti[i].name;
        if (!strcmp(nm, "token_embd.weight") || !strcmp(nm, "output.weight")) {
            T(put_f16_rows(w, dense_id[i], V, E, embd, &err));
        } else if (strstr(nm, "ffn_gate_inp")) {
            for (uint32_t e = 0; e < NE; e++) perm[e] = e;
            for (uint32_t e = NE - 1; e > 0; e--) {
                uint32_t const j = (uint32_t)(unif(&r) * (e + 1)), x = perm[e];
                perm[e] = perm[j];
                perm[j] = x;
            }
            double const tb = c.beta / sqrt((double)(E - ANCHOR));
            for (uint32_t e = 0; e < NE; e++)
                for (uint32_t k = 0; k < E; k++)
                    row[(uint64_t)e * E + k] =
                        k < ANCHOR ? (float)(-c.alpha * log(1.0 + perm[e]) / ANCHOR) : (float)(tb * gauss(&r));
            T(put_f16_rows(w, dense_id[i], NE, E, row, &err));
        } else if (t->type == TRIT_TYPE_F32) {
            float const one = 1.0f;
            T(trit_writer_tensor_begin(w, dense_id[i], &err));
            for (uint32_t k = 0; k < E && rc == TRIT_OK; k++) T(trit_writer_append(w, &one, 4, &err));
            T(trit_writer_end(w, &err));
        } else {
            /* q, k, v: unit rms; attn_output: small (header comment) */
            double const fan = (double)t->dims[1] * 2.0 / 3.0;
            float const s = strstr(nm, "attn_output") ? (float)(0.03 / sqrt(fan)) : (float)(1.0 / sqrt(fan));
            fill_t2(buf, t, s, &r);
            T(trit_writer_write_tensor(w, dense_id[i], buf, t->size, &err));
        }
    }
    free(embd);
    free(topic);
    free(row);
    free(perm);
    free(buf);
    if (rc) return fail("dense", &err);
    /* experts: WORKERS threads generate and pack BATCH units each per round; written in order */
    uint64_t img_max = 0;
    {
        trit_tensor_info const *d = trit_writer_tensor(w, member[2]);
        img_max = d->offset + d->size;
    }
    job jobs[WORKERS];
    memset(jobs, 0, sizeof jobs);
    for (uint32_t k = 0; k < WORKERS; k++) {
        jobs[k].c = &c;
        jobs[k].w = w;
        jobs[k].member = member;
        jobs[k].img = malloc(img_max);
        jobs[k].t2buf = malloc((size_t)E * c.n_ff / 4 + 4096);   /* a member as t2: codes + scale */
        if (!jobs[k].img || !jobs[k].t2buf || trit_unit_packer_new(1, &jobs[k].pk, &err)) return fail("packer", &err);
    }
    uint64_t stored = 0;
    for (uint32_t u0 = 0; u0 < n_units && rc == TRIT_OK; u0 += WORKERS * BATCH) {
        pthread_t th[WORKERS];
        int started[WORKERS] = {0};
        for (uint32_t k = 0; k < WORKERS; k++) {
            uint32_t const a = u0 + k * BATCH;
            jobs[k].unit0 = a;
            jobs[k].n = a >= n_units ? 0 : n_units - a < BATCH ? n_units - a : BATCH;
            jobs[k].rc = TRIT_OK;
            started[k] = k > 0 && pthread_create(&th[k], NULL, run_job, &jobs[k]) == 0;
            if (!started[k] && k > 0) run_job(&jobs[k]);
        }
        run_job(&jobs[0]);
        for (uint32_t k = 1; k < WORKERS; k++)
            if (started[k]) pthread_join(th[k], NULL);
        for (uint32_t k = 0; k < WORKERS && rc == TRIT_OK; k++) {
            if (jobs[k].rc) {
                err = jobs[k].err;
                rc = jobs[k].rc;
                break;
            }
            for (uint32_t i = 0; i < jobs[k].n && rc == TRIT_OK; i++) {
                T(trit_writer_unit_put(w, jobs[k].unit0 + i, jobs[k].out[i], jobs[k].out_n[i], jobs[k].out_xxh[i],
                                       jobs[k].mem_xxh[i], 3, &err));
                stored += jobs[k].out_n[i];
            }
        }
    }
    for (uint32_t k = 0; k < WORKERS; k++) {
        for (uint32_t i = 0; i < BATCH; i++) free(jobs[k].out[i]);
        free(jobs[k].img);
        free(jobs[k].t2buf);
        trit_unit_packer_free(jobs[k].pk);
    }
    if (rc) {
        trit_writer_abort(w);
        return fail("experts", &err);
    }
#undef T
    if ((rc = trit_writer_finish(w, &err))) return fail("finish", &err);
    uint64_t const p_exp = (uint64_t)L * NE * 3 * c.n_ff * E;
    uint64_t const p_dense = (uint64_t)L * (qd * E * 2 + kvd * E * 2 + (uint64_t)NE * E + 2ull * E) + 2ull * V * E + E;
    printf("{\"params\":%llu,\"expert_params\":%llu,\"dense_params\":%llu,\"units\":%u,\"unit_decoded_bytes\":%llu,"
           "\"expert_stored_bytes\":%llu}\n",
           (unsigned long long)(p_exp + p_dense), (unsigned long long)p_exp, (unsigned long long)p_dense, n_units,
           (unsigned long long)img_max, (unsigned long long)stored);
    free(names);
    free(dense_id);
    free(member);
    free(dti);
    return 0;
}
