/* test_gen_gguf.c - trit-gen GGUF layouts checked with a GGUF parser and TQ1_0/TQ2_0
 * decoders written here, straight from formats.md 1.1-1.8 (independent of gen_gguf.c and
 * gen_values.c): header, KVs, tensor infos, offsets, padding, and every decoded weight. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen/gen.h"
#include "test.h"

/* ------------------------------------------------------------------------------------------ */
/* Minimal GGUF reader (all reads bounds-checked; `bad` latches on any overrun).               */

typedef struct gcur {
    const uint8_t *p;
    size_t n, off;
    int bad;
} gcur;

static uint64_t rd(gcur *c, unsigned w)
{
    if (c->bad || c->n - c->off < w) {
        c->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = w; i-- > 0;) v = v << 8 | c->p[c->off + i];
    c->off += w;
    return v;
}

/* A GGUF string: pointer into the buffer (not NUL-terminated) and its length. */
static const char *rd_str(gcur *c, uint64_t *len)
{
    *len = rd(c, 8);
    if (c->bad || *len > c->n - c->off) {
        c->bad = 1;
        *len = 0;
        return "";
    }
    const char *s = (const char *)c->p + c->off;
    c->off += (size_t)*len;
    return s;
}

static unsigned scalar_size(uint32_t t)
{
    static const unsigned sz[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < 13 ? sz[t] : 0;
}

typedef struct gkv {
    char key[96];
    uint32_t type;
    uint64_t u;            /* integer scalars */
    const char *s;         /* string value */
    uint64_t slen;
    uint32_t arr_type;     /* arrays */
    uint64_t arr_n;
    size_t arr_off;        /* offset of the first element */
} gkv;

typedef struct gti {
    char name[80];
    uint32_t n_dims, type;
    uint64_t ne[4], off;
} gti;

typedef struct gfile {
    uint8_t *buf;
    size_t len;
    uint32_t version;
    uint64_t n_tensors, n_kv, data_start;
    gkv *kv;
    gti *ti;
} gfile;

static int gguf_parse(const char *path, gfile *g)
{
    memset(g, 0, sizeof *g);
    g->buf = test_read_file(path, &g->len);
    if (!g->buf || g->len < 24 || memcmp(g->buf, "GGUF", 4) != 0) return -1;
    gcur c = {g->buf, g->len, 4, 0};
    g->version = (uint32_t)rd(&c, 4);
    g->n_tensors = rd(&c, 8);
    g->n_kv = rd(&c, 8);
    if (g->n_tensors > 10000 || g->n_kv > 10000) return -1;
    g->kv = calloc(g->n_kv + 1, sizeof *g->kv);
    g->ti = calloc(g->n_tensors + 1, sizeof *g->ti);
    uint64_t align = 32;
    for (uint64_t i = 0; i < g->n_kv && !c.bad; i++) {
        gkv *k = &g->kv[i];
        uint64_t kl;
        const char *ks = rd_str(&c, &kl);
        snprintf(k->key, sizeof k->key, "%.*s", (int)kl, ks);
        k->type = (uint32_t)rd(&c, 4);
        if (k->type == 8) {
            k->s = rd_str(&c, &k->slen);
        } else if (k->type == 9) {
            k->arr_type = (uint32_t)rd(&c, 4);
            k->arr_n = rd(&c, 8);
            k->arr_off = c.off;
            for (uint64_t j = 0; j < k->arr_n && !c.bad; j++) {
                uint64_t l;
                if (k->arr_type == 8) rd_str(&c, &l);
                else if (scalar_size(k->arr_type)) rd(&c, scalar_size(k->arr_type));
                else c.bad = 1;
            }
        } else if (scalar_size(k->type)) {
            k->u = rd(&c, scalar_size(k->type));
        } else {
            c.bad = 1;
        }
        if (!strcmp(k->key, "general.alignment") && k->type == 4) align = k->u;
    }
    for (uint64_t i = 0; i < g->n_tensors && !c.bad; i++) {
        gti *t = &g->ti[i];
        uint64_t nl;
        const char *ns = rd_str(&c, &nl);
        snprintf(t->name, sizeof t->name, "%.*s", (int)nl, ns);
        t->n_dims = (uint32_t)rd(&c, 4);
        if (t->n_dims > 4) c.bad = 1;
        for (uint32_t d = 0; d < t->n_dims && !c.bad; d++) t->ne[d] = rd(&c, 8);
        t->type = (uint32_t)rd(&c, 4);
        t->off = rd(&c, 8);
    }
    if (c.bad || align == 0) return -1;
    g->data_start = (c.off + align - 1) / align * align;
    /* Header padding is zero. */
    for (size_t i = c.off; i < g->data_start && i < g->len; i++)
        if (g->buf[i]) return -1;
    return 0;
}

static void gguf_free(gfile *g)
{
    free(g->buf);
    free(g->kv);
    free(g->ti);
}

static const gkv *find_kv(const gfile *g, const char *key)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

static uint64_t tensor_bytes(const gti *t)
{
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) n *= t->ne[d];
    switch (t->type) {
    case 0: return n * 4;
    case 1: return n * 2;
    case 34: return n / 256 * 54;
    case 35: return n / 256 * 66;
    default: return UINT64_MAX;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Independent TQ decoders (formats.md 1.8).                                                   */

static float f16_at(const uint8_t *p) { return trit_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* Trit (0..2) of element j (0..255) of a TQ1_0 block. */
static int tq1_trit(const uint8_t *blk, unsigned j)
{
    static const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
    uint8_t b;
    unsigned n;
    if (j < 160) {
        b = blk[j % 32];
        n = j / 32;
    } else if (j < 240) {
        b = blk[32 + (j - 160) % 16];
        n = (j - 160) / 16;
    } else {
        b = blk[48 + (j - 240) % 4];
        n = (j - 240) / 4;
    }
    uint8_t const v = (uint8_t)(b * pow3[n]);
    return (int)(((uint16_t)v * 3u) >> 8);
}

/* Code (0..3) of element j of a TQ2_0 block. */
static int tq2_code(const uint8_t *blk, unsigned j)
{
    unsigned const h = j / 128, r = j % 128;
    return (blk[32 * h + r % 32] >> (2 * (r / 32))) & 3;
}

/* Decode element i of a TQ tensor; *d receives its block scale. Returns the code - 1 (or
 * 99 for TQ2_0's invalid code 3). */
static int tq_decode(const uint8_t *data, uint32_t type, uint64_t i, float *d)
{
    unsigned const bs = type == 34 ? 54 : 66;
    const uint8_t *blk = data + i / 256 * bs;
    *d = f16_at(blk + bs - 2);
    if (type == 34) return tq1_trit(blk, (unsigned)(i % 256)) - 1;
    int const code = tq2_code(blk, (unsigned)(i % 256));
    return code == 3 ? 99 : code - 1;
}

static float ld_f32(const uint8_t *p)
{
    uint32_t const u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

/* ------------------------------------------------------------------------------------------ */

static gen_opts tiny_gguf(gen_layout l, uint64_t seed)
{
    gen_opts o;
    gen_opts_default(&o, l);
    o.seed = seed;
    o.n_vocab = 260;
    o.n_ff = 256;
    if (l == GEN_LAYOUT_GGUF_MOE) o.n_expert = 3;
    return o;
}

/* Parse the file and check it against the plan: counts, KVs, infos, offsets, padding, and
 * every element of every tensor. */
static void check_gguf(const gen_opts *o, const char *path)
{
    gfile g;
    gen_plan p;
    trit_err err;
    CHECK_OK_E(gen_plan_build(o, &p, &err), &err);
    int const ok = gguf_parse(path, &g);
    CHECK_EQ_INT(ok, 0);
    if (ok) {
        gguf_free(&g);
        gen_plan_release(&p);
        return;
    }
    CHECK_EQ_U64(g.version, 3);
    CHECK_EQ_U64(g.n_tensors, p.n);
    const gkv *k = find_kv(&g, "general.architecture");
    const char *arch = o->layout == GEN_LAYOUT_GGUF_MOE ? "qwen3moe" : "bitnet";
    CHECK(k && k->type == 8 && k->slen == strlen(arch) && !memcmp(k->s, arch, k->slen));
    k = find_kv(&g, "general.alignment");
    CHECK(k && k->type == 4 && k->u == o->gguf_align);
    CHECK(g.data_start % o->gguf_align == 0);
    char key[96];
    snprintf(key, sizeof key, "%s.block_count", arch);
    k = find_kv(&g, key);
    CHECK(k && k->u == o->n_layer);
    snprintf(key, sizeof key, "%s.embedding_length", arch);
    k = find_kv(&g, key);
    CHECK(k && k->u == o->n_embd);
    if (o->layout == GEN_LAYOUT_GGUF_MOE) {
        k = find_kv(&g, "qwen3moe.expert_count");
        CHECK(k && k->u == o->n_expert);
        k = find_kv(&g, "qwen3moe.expert_used_count");
        CHECK(k && k->u == o->n_expert_used);
    }
    k = find_kv(&g, "general.quantization_version");
    CHECK(k && k->u == 2);
    /* Tokenizer: n_vocab strings equal to gen_token's, types, merges, bos/eos. */
    k = find_kv(&g, "tokenizer.ggml.tokens");
    CHECK(k && k->arr_type == 8 && k->arr_n == o->n_vocab);
    if (k && k->arr_n == o->n_vocab) {
        gcur c = {g.buf, g.len, k->arr_off, 0};
        for (uint32_t id = 0; id < o->n_vocab; id++) {
            char want[64];
            uint64_t l;
            const char *s = rd_str(&c, &l);
            size_t const wl = gen_token(o->n_vocab, id, want, sizeof want);
            CHECK(l == wl && !memcmp(s, want, wl));
            if (l != wl) break;
        }
    }
    k = find_kv(&g, "tokenizer.ggml.merges");
    CHECK(k && k->arr_type == 8 && k->arr_n == o->n_vocab - 256 - gen_tok_n_special(o->n_vocab));
    k = find_kv(&g, "tokenizer.ggml.eos_token_id");
    CHECK(k && k->u == gen_tok_eos(o->n_vocab));

    /* Infos: order, names, reversed dims, types, offsets = running aligned sum. */
    uint64_t run = 0;
    for (uint32_t i = 0; i < p.n && i < g.n_tensors; i++) {
        const gen_tensor *t = &p.t[i];
        const gti *ti = &g.ti[i];
        CHECK_STR(ti->name, t->name);
        CHECK_EQ_U64(ti->n_dims, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) CHECK_EQ_U64(ti->ne[d], t->shape[t->n_dims - 1 - d]);
        static const uint32_t want_type[] = {0, 1, 99, 99, 34, 35};
        CHECK_EQ_U64(ti->type, want_type[t->dtype]);
        CHECK_EQ_U64(ti->off, run);
        CHECK(ti->off % o->gguf_align == 0);
        uint64_t const nb = tensor_bytes(ti);
        CHECK_EQ_U64(nb, t->nbytes);
        CHECK(g.data_start + ti->off + nb <= g.len);
        if (g.data_start + ti->off + nb > g.len) break;
        const uint8_t *data = g.buf + g.data_start + ti->off;
        uint64_t const end = (ti->off + nb + o->gguf_align - 1) / o->gguf_align * o->gguf_align;
        for (uint64_t z = ti->off + nb; z < end && g.data_start + z < g.len; z++) CHECK(g.buf[g.data_start + z] == 0);
        run = end;

        /* Every element. */
        uint64_t n = 1, bad = 0, nz = 0;
        for (uint32_t d = 0; d < ti->n_dims; d++) n *= ti->ne[d];
        for (uint64_t e = 0; e < n; e++) {
            float v;
            if (ti->type == 0) v = ld_f32(data + 4 * e);
            else if (ti->type == 1) v = f16_at(data + 2 * e);
            else {
                float d;
                int const tv = tq_decode(data, ti->type, e, &d);
                if (tv == 99 || d <= 0.0f) {
                    bad++;
                    continue;
                }
                v = (float)tv * d;  /* exactly -d, 0 or +d */
                if (o->latent) continue;  /* lossy by design: only the codes are checked */
                nz += tv != 0;
                /* One scale per tensor (per expert slice in 3-D tensors). */
                if (d != gen_scale(t, e)) bad++;
            }
            if (v != gen_value(t, e)) bad++;
        }
        if (bad) fprintf(stderr, "  tensor %s: %llu bad elements\n", t->name, (unsigned long long)bad);
        CHECK_EQ_U64(bad, 0);
        if ((ti->type == 34 || ti->type == 35) && !o->latent) CHECK(nz > n / 2);
    }
    CHECK_EQ_U64(g.data_start + run, g.len);
    gguf_free(&g);
    gen_plan_release(&p);
}

static const char *gpath(const char *name) { return test_path(test_tmpdir(), name); }

TEST(gen_gguf_structure_and_values)
{
    trit_err err;
    gen_opts o = tiny_gguf(GEN_LAYOUT_GGUF, 3);
    CHECK_OK_E(gen_write(&o, gpath("g-mixed.gguf"), &err), &err);
    check_gguf(&o, gpath("g-mixed.gguf"));

    o.gguf_tq = GEN_TQ_1;
    o.gguf_align = 64;
    CHECK_OK_E(gen_write(&o, gpath("g-tq1.gguf"), &err), &err);
    check_gguf(&o, gpath("g-tq1.gguf"));

    o.gguf_tq = GEN_TQ_2;
    o.gguf_align = 32;
    o.n_layer = 1;
    CHECK_OK_E(gen_write(&o, gpath("g-tq2.gguf"), &err), &err);
    check_gguf(&o, gpath("g-tq2.gguf"));

    o = tiny_gguf(GEN_LAYOUT_GGUF_MOE, 4);
    CHECK_OK_E(gen_write(&o, gpath("g-moe.gguf"), &err), &err);
    check_gguf(&o, gpath("g-moe.gguf"));

    o.latent = 1;
    o.n_layer = 1;
    CHECK_OK_E(gen_write(&o, gpath("g-moe-latent.gguf"), &err), &err);
    check_gguf(&o, gpath("g-moe-latent.gguf"));
}

/* The 3-D expert tensors: ne = {H, F, E} for gate/up and {F, H, E} for down; each expert
 * slice has its own scale, constant over all of the slice's blocks. */
TEST(gen_gguf_moe_expert_shapes)
{
    trit_err err;
    gen_opts o = tiny_gguf(GEN_LAYOUT_GGUF_MOE, 5);
    o.n_ff = 512;
    o.n_layer = 1;
    CHECK_OK_E(gen_write(&o, gpath("g-moe-shapes.gguf"), &err), &err);
    gfile g;
    CHECK_EQ_INT(gguf_parse(gpath("g-moe-shapes.gguf"), &g), 0);
    int found = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const gti *t = &g.ti[i];
        if (!strstr(t->name, "_exps.weight")) continue;
        found++;
        int const down = strstr(t->name, "ffn_down_exps") != NULL;
        CHECK_EQ_U64(t->n_dims, 3);
        CHECK_EQ_U64(t->ne[0], down ? o.n_ff : o.n_embd);
        CHECK_EQ_U64(t->ne[1], down ? o.n_embd : o.n_ff);
        CHECK_EQ_U64(t->ne[2], o.n_expert);
        CHECK_EQ_U64(t->type, 34);  /* mixed: experts TQ1_0 */
        const uint8_t *data = g.buf + g.data_start + t->off;
        uint64_t const per_expert = t->ne[0] * t->ne[1] / 256;
        float first[8] = {0};
        for (uint64_t e = 0; e < t->ne[2]; e++)
            for (uint64_t b = 0; b < per_expert; b++) {
                float const d = f16_at(data + (e * per_expert + b) * 54 + 52);
                if (b == 0) first[e] = d;
                CHECK(d == first[e]);
                if (d != first[e]) b = per_expert;
            }
        CHECK(first[0] != first[1] || first[1] != first[2]);
    }
    CHECK_EQ_INT(found, 3);
    gguf_free(&g);
}

TEST(gen_gguf_determinism)
{
    trit_err err;
    gen_opts o = tiny_gguf(GEN_LAYOUT_GGUF_MOE, 77);
    o.n_layer = 1;
    CHECK_OK_E(gen_write(&o, gpath("det-a.gguf"), &err), &err);
    CHECK_OK_E(gen_write(&o, gpath("det-b.gguf"), &err), &err);
    struct stat st;
    CHECK(stat(gpath("det-a.gguf"), &st) == 0 && (st.st_mode & 0777) == 0644);  /* not mkstemp's 0600 */
    o.seed = 78;
    CHECK_OK_E(gen_write(&o, gpath("det-c.gguf"), &err), &err);
    size_t na, nb, nc;
    uint8_t *a = test_read_file(gpath("det-a.gguf"), &na);
    uint8_t *b = test_read_file(gpath("det-b.gguf"), &nb);
    uint8_t *c = test_read_file(gpath("det-c.gguf"), &nc);
    CHECK(a && b && c);
    CHECK(na == nb && a && b && memcmp(a, b, na) == 0);
    CHECK(na == nc && a && c && memcmp(a, c, na) != 0);  /* same layout, other weights */
    free(a);
    free(b);
    free(c);
    /* Existing file: refused, then replaced with overwrite. */
    CHECK_EQ_INT(gen_write(&o, gpath("det-a.gguf"), &err), TRIT_E_EXISTS);
    o.overwrite = 1;
    CHECK_OK_E(gen_write(&o, gpath("det-a.gguf"), &err), &err);
    a = test_read_file(gpath("det-a.gguf"), &na);
    c = test_read_file(gpath("det-c.gguf"), &nc);
    CHECK(na == nc && a && c && memcmp(a, c, na) == 0);
    free(a);
    free(c);
}

/* Quantizer known answers, decoded with the decoders above (formats.md 1.8 examples). */
TEST(gen_tq_quantizer_vectors)
{
    float x[256];
    uint8_t q1[54], q2[66];
    /* All zero: every code 1; TQ1_0 five 1-trits = 121 -> ceil(121*256/243) = 128, the qh
     * byte 40*3 = 120 -> 127; TQ2_0 0x55; d = 0. */
    memset(x, 0, sizeof x);
    gen_quantize_tq1_0(x, q1);
    gen_quantize_tq2_0(x, q2);
    for (int i = 0; i < 48; i++) CHECK_EQ_U64(q1[i], 128);
    for (int i = 48; i < 52; i++) CHECK_EQ_U64(q1[i], 127);
    for (int i = 0; i < 64; i++) CHECK_EQ_U64(q2[i], 0x55);
    CHECK(q1[52] == 0 && q1[53] == 0 && q2[64] == 0 && q2[65] == 0);
    /* All +1: TQ1_0 242 -> 255, qh 240 -> 253; TQ2_0 0xaa; d = 1.0 = 0x3c00. */
    for (int i = 0; i < 256; i++) x[i] = 1.0f;
    gen_quantize_tq1_0(x, q1);
    gen_quantize_tq2_0(x, q2);
    for (int i = 0; i < 48; i++) CHECK_EQ_U64(q1[i], 255);
    for (int i = 48; i < 52; i++) CHECK_EQ_U64(q1[i], 253);
    for (int i = 0; i < 64; i++) CHECK_EQ_U64(q2[i], 0xaa);
    CHECK(q1[52] == 0x00 && q1[53] == 0x3c && q2[64] == 0x00 && q2[65] == 0x3c);
    /* A pattern round-trips element by element, in both types; d = absmax = 0.75. */
    for (int i = 0; i < 256; i++) x[i] = (float)((i * 7 + i / 5) % 3 - 1) * 0.75f;
    gen_quantize_tq1_0(x, q1);
    gen_quantize_tq2_0(x, q2);
    for (unsigned i = 0; i < 256; i++) {
        float d1, d2;
        int const t1 = tq_decode(q1, 34, i, &d1), t2 = tq_decode(q2, 35, i, &d2);
        CHECK((float)t1 * d1 == x[i]);
        CHECK((float)t2 * d2 == x[i]);
        if ((float)t1 * d1 != x[i] || (float)t2 * d2 != x[i]) break;
    }
    /* Rounding is lroundf (half away from zero) of x/absmax: 0.5 -> +1, -0.5 -> -1, 0.49 -> 0. */
    memset(x, 0, sizeof x);
    x[0] = 1.0f;
    x[1] = 0.5f;
    x[2] = -0.5f;
    x[3] = 0.49f;
    x[255] = -1.0f;
    gen_quantize_tq1_0(x, q1);
    float d;
    CHECK_EQ_INT(tq_decode(q1, 34, 1, &d), 1);
    CHECK_EQ_INT(tq_decode(q1, 34, 2, &d), -1);
    CHECK_EQ_INT(tq_decode(q1, 34, 3, &d), 0);
    CHECK_EQ_INT(tq_decode(q1, 34, 255, &d), -1);
    CHECK(d == 1.0f);
}
