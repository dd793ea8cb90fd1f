/* test_gen.c - trit-gen safetensors layouts: determinism, structure of every shard and of the
 * index, and the value properties of each layout (packed codes, group scales, exact ternary
 * experts, latent floats), checked with a parser written here (cJSON for the JSON). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "gen/gen.h"
#include "test.h"

/* Tiny options per layout: a few tens of KB each. */
static gen_opts tiny(gen_layout l, uint64_t seed)
{
    gen_opts o;
    gen_opts_default(&o, l);
    o.seed = seed;
    o.n_vocab = 300;
    if (l == GEN_LAYOUT_BITCPM || l == GEN_LAYOUT_MINICPM4) {
        o.n_embd = 64;
        o.n_ff = 128;
        o.group_size = 48;  /* not a divisor of 64 or 128: partial last group per row */
    }
    return o;
}

static const char *out_path(const char *name)
{
    static char buf[4][4096];
    static unsigned k;
    char *b = buf[k++ % 4];
    snprintf(b, 4096, "%s/%s", test_tmpdir(), name);
    return b;
}

/* ------------------------------------------------------------------------------------------ */
/* A minimal safetensors reader for the checks (whole file in memory: test files are tiny).    */

typedef struct st_file {
    uint8_t *buf;
    size_t len;
    uint64_t hlen;
    cJSON *hdr;
} st_file;

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t st_dtype_size(const char *dt)
{
    if (!strcmp(dt, "F32")) return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16")) return 2;
    if (!strcmp(dt, "U8")) return 1;
    return 0;
}

typedef struct span { uint64_t b, e; } span;
static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

/* Open and fully validate one shard (formats.md 2.3 rules). Returns the number of tensors,
 * or -1 after recording failures. */
static int st_open(const char *path, st_file *f)
{
    memset(f, 0, sizeof *f);
    f->buf = test_read_file(path, &f->len);
    CHECK(f->buf != NULL);
    if (!f->buf || f->len < 8) return -1;
    f->hlen = le64(f->buf);
    CHECK(f->hlen % 8 == 0);
    CHECK(f->hlen + 8 <= f->len);
    if (f->hlen + 8 > f->len) return -1;
    CHECK(f->buf[8] == '{');
    /* Space padding after the closing brace only. */
    size_t end = 8 + (size_t)f->hlen;
    while (end > 8 && f->buf[end - 1] == ' ') end--;
    CHECK(f->buf[end - 1] == '}');
    f->hdr = cJSON_ParseWithLength((const char *)f->buf + 8, (size_t)f->hlen);
    CHECK(f->hdr != NULL);
    if (!f->hdr) return -1;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(f->hdr, "__metadata__");
    CHECK(meta && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(meta, "format")));
    int n = 0;
    cJSON *t;
    cJSON_ArrayForEach(t, f->hdr) n++;
    span *sp = calloc((size_t)n + 1, sizeof *sp);
    int k = 0;
    cJSON_ArrayForEach(t, f->hdr) {
        if (!strcmp(t->string, "__metadata__")) continue;
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        CHECK(cJSON_IsString(dt) && cJSON_IsArray(shape) && cJSON_GetArraySize(offs) == 2);
        if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || cJSON_GetArraySize(offs) != 2) continue;
        uint64_t nel = 1;
        cJSON *d;
        cJSON_ArrayForEach(d, shape) nel *= (uint64_t)d->valuedouble;
        sp[k].b = (uint64_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
        sp[k].e = (uint64_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        CHECK(st_dtype_size(dt->valuestring) != 0);
        CHECK_EQ_U64(sp[k].e - sp[k].b, nel * st_dtype_size(dt->valuestring));
        k++;
    }
    /* Contiguous, non-overlapping, covering the buffer to EOF. */
    qsort(sp, (size_t)k, sizeof *sp, cmp_span);
    uint64_t at = 0;
    for (int i = 0; i < k; i++) {
        CHECK_EQ_U64(sp[i].b, at);
        at = sp[i].e;
    }
    CHECK_EQ_U64(8 + f->hlen + at, f->len);
    free(sp);
    return k;
}

static void st_close(st_file *f)
{
    cJSON_Delete(f->hdr);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

/* Data of tensor name (NULL if absent); *nbytes, dtype string and dims filled. */
static const uint8_t *st_tensor(const st_file *f, const char *name, const char **dtype, uint64_t *shape,
                                int *n_dims, uint64_t *nbytes)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(f->hdr, name);
    if (!t) return NULL;
    cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets"), *d;
    *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype")->valuestring;
    *n_dims = 0;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(t, "shape")) shape[(*n_dims)++] = (uint64_t)d->valuedouble;
    uint64_t const b = (uint64_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
    *nbytes = (uint64_t)cJSON_GetArrayItem(offs, 1)->valuedouble - b;
    return f->buf + 8 + f->hlen + b;
}

static float ld_elem(const char *dtype, const uint8_t *p, uint64_t i)
{
    if (!strcmp(dtype, "F32")) {
        uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                     (uint32_t)p[4 * i + 3] << 24;
        float v;
        memcpy(&v, &u, 4);
        return v;
    }
    uint16_t const h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    return !strcmp(dtype, "BF16") ? trit_bf16_to_f32(h) : trit_f16_to_f32(h);
}

/* Open every shard of a generated directory and check each plan tensor is where the plan
 * says, with the planned dtype, shape and exactly the planned values. */
static void check_dir_against_plan(const gen_opts *o, const char *dir)
{
    gen_plan p;
    trit_err err;
    CHECK_OK_E(gen_plan_build(o, &p, &err), &err);
    int total = 0;
    for (uint32_t fi = 0; fi < p.n_files; fi++) {
        char name[64];
        st_file f;
        gen_shard_name(fi, p.n_files, name, sizeof name);
        int const n = st_open(test_path(dir, name), &f);
        CHECK(n > 0);
        total += n > 0 ? n : 0;
        for (uint32_t i = 0; i < p.n && f.hdr; i++) {
            const gen_tensor *t = &p.t[i];
            const char *dt;
            uint64_t shape[8], nb;
            int nd;
            const uint8_t *data = st_tensor(&f, t->name, &dt, shape, &nd, &nb);
            if (t->file != fi) {
                CHECK(data == NULL);
                continue;
            }
            CHECK(data != NULL);
            if (!data) continue;
            CHECK_EQ_INT(nd, t->n_dims);
            for (int d = 0; d < nd && d < 3; d++) CHECK_EQ_U64(shape[d], t->shape[d]);
            CHECK_EQ_U64(nb, t->nbytes);
            if (t->kind == GEN_K_PACKED) continue;  /* checked bit by bit in its own test */
            uint64_t const n_el = gen_logical_nelems(t);
            uint64_t bad = 0;
            for (uint64_t e = 0; e < n_el; e++) bad += ld_elem(dt, data, e) != gen_value(t, e);
            if (bad) fprintf(stderr, "  tensor %s: %llu values differ\n", t->name, (unsigned long long)bad);
            CHECK_EQ_U64(bad, 0);
        }
        st_close(&f);
    }
    CHECK_EQ_INT(total, (int)p.n);
    gen_plan_release(&p);
}

static void write_ok(const gen_opts *o, const char *path)
{
    trit_err err;
    CHECK_OK_E(gen_write(o, path, &err), &err);
}

/* ------------------------------------------------------------------------------------------ */

TEST(gen_layout_names)
{
    size_t n;
    const gen_layout_desc *t = gen_layout_table(&n);
    CHECK_EQ_U64(n, GEN_LAYOUT_COUNT_);
    for (size_t i = 0; i < n; i++) {
        gen_layout l;
        CHECK_EQ_INT(gen_layout_from_name(t[i].name, &l), TRIT_OK);
        CHECK_EQ_INT(l, t[i].layout);
        CHECK_STR(gen_layout_name(l), t[i].name);
        gen_opts o;
        trit_err err;
        gen_opts_default(&o, l);
        CHECK_OK_E(gen_opts_check(&o, &err), &err);
    }
    gen_layout l;
    CHECK_EQ_INT(gen_layout_from_name("bitnet2", &l), TRIT_E_NOTFOUND);
    CHECK_EQ_INT(gen_layout_from_name("", &l), TRIT_E_NOTFOUND);
}

TEST(gen_opts_rejects_bad_dims)
{
    gen_opts o;
    trit_err err;
    gen_opts_default(&o, GEN_LAYOUT_GGUF);
    o.n_embd = 320;  /* not a multiple of 256 */
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    gen_opts_default(&o, GEN_LAYOUT_BITNET);
    o.n_head_kv = 1;
    o.n_embd = 40;  /* head_dim 10, kv width 10: not packable by 4 */
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    gen_opts_default(&o, GEN_LAYOUT_MIXTRAL);
    o.n_expert_used = 5;
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    gen_opts_default(&o, GEN_LAYOUT_BITNET);
    o.n_vocab = 200;
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    gen_opts_default(&o, GEN_LAYOUT_BITNET);
    o.latent = 1;
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    gen_opts_default(&o, GEN_LAYOUT_GGUF);
    o.gguf_align = 48;
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    gen_opts_default(&o, GEN_LAYOUT_DEEPSEEK2);
    o.head_dim = 6;  /* qk_rope_head_dim = head_dim / 2 must be even */
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    gen_opts_default(&o, GEN_LAYOUT_GGUF_MOE);
    o.head_dim = 128;  /* GGUF layouts keep head_dim = embd / heads */
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    gen_opts_default(&o, GEN_LAYOUT_QWEN3MOE);
    o.n_embd = 60;     /* not a multiple of the 8 heads... */
    o.n_head = 8;
    o.n_head_kv = 2;
    CHECK_EQ_INT(gen_opts_check(&o, &err), TRIT_E_USAGE);
    o.head_dim = 16;   /* ...fine once head_dim is explicit (q_proj [128, 60]) */
    CHECK_OK_E(gen_opts_check(&o, &err), &err);
    gen_opts_default(&o, GEN_LAYOUT_BITNET);
    CHECK_EQ_INT(gen_opts_preset(&o, "nope", &err), TRIT_E_NOTFOUND);
    CHECK_EQ_INT(gen_opts_preset(&o, "2b4t", &err), TRIT_OK);
    CHECK_EQ_U64(o.n_embd, 2560);
    CHECK_EQ_U64(o.n_vocab, 128256);
    CHECK_OK_E(gen_opts_check(&o, &err), &err);
}

/* Same seed -> identical bytes in every file; another seed -> different weights but the
 * same config and tokenizer. */
TEST(gen_determinism_safetensors)
{
    static const gen_layout ls[] = {GEN_LAYOUT_BITNET, GEN_LAYOUT_LATENT, GEN_LAYOUT_BITCPM,
                                    GEN_LAYOUT_MIXTRAL, GEN_LAYOUT_QWEN3MOE, GEN_LAYOUT_BITNET_BITLINEAR,
                                    GEN_LAYOUT_BITNET_BF16, GEN_LAYOUT_LLAMA158, GEN_LAYOUT_MINICPM4,
                                    GEN_LAYOUT_QWEN2MOE, GEN_LAYOUT_OLMOE, GEN_LAYOUT_DEEPSEEK2,
                                    GEN_LAYOUT_GRANITEMOE, GEN_LAYOUT_PHIMOE};
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        char a[64], b[64], c[64];
        snprintf(a, sizeof a, "det-%s-a", gen_layout_name(ls[i]));
        snprintf(b, sizeof b, "det-%s-b", gen_layout_name(ls[i]));
        snprintf(c, sizeof c, "det-%s-c", gen_layout_name(ls[i]));
        gen_opts o = tiny(ls[i], 7), o2 = tiny(ls[i], 8);
        write_ok(&o, out_path(a));
        write_ok(&o, out_path(b));
        write_ok(&o2, out_path(c));
        gen_plan p;
        trit_err err;
        CHECK_OK_E(gen_plan_build(&o, &p, &err), &err);
        for (uint32_t f = 0; f <= p.n_files + 2; f++) {
            char name[64];
            if (f < p.n_files) gen_shard_name(f, p.n_files, name, sizeof name);
            else if (f == p.n_files) snprintf(name, sizeof name, "config.json");
            else if (f == p.n_files + 1) snprintf(name, sizeof name, "tokenizer.json");
            else if (p.n_files > 1) snprintf(name, sizeof name, "model.safetensors.index.json");
            else continue;
            size_t na = 0, nb = 0, nc = 0;
            uint8_t *da = test_read_file(test_path(out_path(a), name), &na);
            uint8_t *db = test_read_file(test_path(out_path(b), name), &nb);
            uint8_t *dc = test_read_file(test_path(out_path(c), name), &nc);
            CHECK(da && db && dc);
            CHECK(na > 0);
            CHECK(na == nb && da && db && memcmp(da, db, na) == 0);
            if (f < p.n_files) CHECK(na != nc || (da && dc && memcmp(da, dc, na) != 0));
            else CHECK(na == nc && da && dc && memcmp(da, dc, na) == 0);
            free(da);
            free(db);
            free(dc);
        }
        gen_plan_release(&p);
    }
}

TEST(gen_safetensors_structure_and_values)
{
    static const gen_layout ls[] = {GEN_LAYOUT_BITNET, GEN_LAYOUT_LATENT, GEN_LAYOUT_BITCPM,
                                    GEN_LAYOUT_MIXTRAL, GEN_LAYOUT_QWEN3MOE, GEN_LAYOUT_BITNET_BITLINEAR,
                                    GEN_LAYOUT_BITNET_BF16, GEN_LAYOUT_LLAMA158, GEN_LAYOUT_MINICPM4,
                                    GEN_LAYOUT_QWEN2MOE, GEN_LAYOUT_OLMOE, GEN_LAYOUT_DEEPSEEK2,
                                    GEN_LAYOUT_GRANITEMOE, GEN_LAYOUT_PHIMOE};
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "struct-%s", gen_layout_name(ls[i]));
        gen_opts o = tiny(ls[i], 11);
        write_ok(&o, out_path(name));
        check_dir_against_plan(&o, out_path(name));
    }
    /* Three shards, and a sharded dense model. */
    gen_opts o = tiny(GEN_LAYOUT_QWEN3MOE, 3);
    o.n_shards = 3;
    o.n_layer = 3;
    write_ok(&o, out_path("struct-qwen3moe-3"));
    check_dir_against_plan(&o, out_path("struct-qwen3moe-3"));
    o = tiny(GEN_LAYOUT_LATENT, 3);
    o.n_shards = 2;
    write_ok(&o, out_path("struct-latent-2"));
    check_dir_against_plan(&o, out_path("struct-latent-2"));
}

/* Index: weight_map covers exactly the tensors of the shards, total_size is the data size,
 * and one layer's experts straddle two shards. */
static void check_index(const gen_opts *o, const char *dir, const char *expert_tag)
{
    size_t n;
    uint8_t *buf = test_read_file(test_path(dir, "model.safetensors.index.json"), &n);
    CHECK(buf != NULL);
    if (!buf) return;
    cJSON *idx = cJSON_ParseWithLength((const char *)buf, n);
    free(buf);
    CHECK(idx != NULL);
    if (!idx) return;
    cJSON *wm = cJSON_GetObjectItemCaseSensitive(idx, "weight_map");
    cJSON *ts = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(idx, "metadata"), "total_size");
    CHECK(cJSON_IsObject(wm) && cJSON_IsNumber(ts));
    gen_plan p;
    trit_err err;
    CHECK_OK_E(gen_plan_build(o, &p, &err), &err);
    uint64_t data = 0;
    int in_shards = 0;
    for (uint32_t f = 0; f < p.n_files; f++) {
        char shard[64];
        st_file sf;
        gen_shard_name(f, p.n_files, shard, sizeof shard);
        CHECK(st_open(test_path(dir, shard), &sf) > 0);
        cJSON *t;
        cJSON_ArrayForEach(t, sf.hdr) {
            if (!strcmp(t->string, "__metadata__")) continue;
            cJSON *m = cJSON_GetObjectItemCaseSensitive(wm, t->string);
            CHECK(cJSON_IsString(m) && !strcmp(m->valuestring, shard));
            cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
            data += (uint64_t)(cJSON_GetArrayItem(offs, 1)->valuedouble - cJSON_GetArrayItem(offs, 0)->valuedouble);
            in_shards++;
        }
        st_close(&sf);
    }
    CHECK_EQ_INT(cJSON_GetArraySize(wm), in_shards);
    CHECK_EQ_U64((uint64_t)ts->valuedouble, data);
    /* Some layer has experts in two different files, found from the index alone. */
    int straddles = 0;
    for (uint32_t L = 0; L < o->n_layer && !straddles; L++) {
        const char *first = NULL;
        cJSON *m;
        char pre[96];
        snprintf(pre, sizeof pre, "model.layers.%u.%s.experts.", L, expert_tag);
        cJSON_ArrayForEach(m, wm) {
            if (strncmp(m->string, pre, strlen(pre)) != 0) continue;
            if (!first) first = m->valuestring;
            else if (strcmp(first, m->valuestring) != 0) straddles = 1;
        }
    }
    CHECK(straddles);
    CHECK(p.split_layer != GEN_NONE);
    gen_plan_release(&p);
    cJSON_Delete(idx);
}

TEST(gen_moe_index_split_layer)
{
    gen_opts o = tiny(GEN_LAYOUT_MIXTRAL, 5);
    write_ok(&o, out_path("idx-mixtral"));
    check_index(&o, out_path("idx-mixtral"), "block_sparse_moe");
    o = tiny(GEN_LAYOUT_QWEN3MOE, 5);
    o.n_layer = 1;  /* the split must still land inside the only layer */
    write_ok(&o, out_path("idx-qwen"));
    check_index(&o, out_path("idx-qwen"), "mlp");
    o.n_shards = 4;
    o.n_layer = 3;
    write_ok(&o, out_path("idx-qwen4"));
    check_index(&o, out_path("idx-qwen4"), "mlp");
}

/* HF BitNet packing: quarter q of the rows in bits 2q+1:2q; codes 0..2 only; weight_scale
 * BF16 [1]; independent of the emitter's own loop. */
TEST(gen_bitnet_packed_ternary)
{
    gen_opts o = tiny(GEN_LAYOUT_BITNET, 21);
    write_ok(&o, out_path("bitnet-pack"));
    gen_plan p;
    trit_err err;
    st_file f;
    CHECK_OK_E(gen_plan_build(&o, &p, &err), &err);
    CHECK(st_open(test_path(out_path("bitnet-pack"), "model.safetensors"), &f) > 0);
    int n_packed = 0;
    uint64_t hist[4] = {0};
    for (uint32_t i = 0; i < p.n && f.hdr; i++) {
        const gen_tensor *t = &p.t[i];
        const char *dt;
        uint64_t sh[8], nb;
        int nd;
        const uint8_t *d = st_tensor(&f, t->name, &dt, sh, &nd, &nb);
        CHECK(d != NULL);
        if (!d) continue;
        size_t const ln = strlen(t->name);
        if (ln > 13 && !strcmp(t->name + ln - 13, ".weight_scale")) {
            CHECK_STR(dt, "BF16");
            CHECK_EQ_INT(nd, 1);
            CHECK_EQ_U64(sh[0], 1);
            float const s = ld_elem(dt, d, 0);
            CHECK(s >= 2.0f && s < 4.0f);
            CHECK(s == gen_scale(t, 0));
            continue;
        }
        if (!strstr(t->name, "_proj.weight")) continue;
        n_packed++;
        CHECK_STR(dt, "U8");
        uint64_t const rows4 = sh[0], cols = sh[1];
        for (uint64_t r = 0; r < rows4; r++)
            for (uint64_t c = 0; c < cols; c++) {
                uint8_t const b = d[r * cols + c];
                for (unsigned q = 0; q < 4; q++) {
                    unsigned const code = (b >> (2 * q)) & 3u;
                    hist[code]++;
                    uint64_t const logical = (q * rows4 + r) * cols + c;
                    if ((int)code - 1 != gen_ternary(t, logical)) {
                        CHECK((int)code - 1 == gen_ternary(t, logical));
                        r = rows4;
                        break;
                    }
                }
            }
    }
    CHECK_EQ_INT(n_packed, 7 * (int)o.n_layer);
    CHECK_EQ_U64(hist[3], 0);
    /* All three codes occur in roughly equal numbers (uniform ternary). */
    uint64_t const tot = hist[0] + hist[1] + hist[2];
    for (int k = 0; k < 3; k++) CHECK(hist[k] * 4 > tot && hist[k] * 2 < tot);
    st_close(&f);
    gen_plan_release(&p);
}

/* BitCPM: in every (row, group) the values are {-s, 0, +s} for one s (BF16-exact). */
TEST(gen_bitcpm_group_ternary)
{
    static const uint32_t groups[] = {48, 128, 16};
    for (size_t gi = 0; gi < 3; gi++) {
        gen_opts o = tiny(GEN_LAYOUT_BITCPM, 9);
        o.group_size = groups[gi];
        char name[32];
        snprintf(name, sizeof name, "bitcpm-g%u", groups[gi]);
        write_ok(&o, out_path(name));
        st_file f;
        CHECK(st_open(test_path(out_path(name), "model.safetensors"), &f) > 0);
        int n_proj = 0;
        cJSON *t;
        cJSON_ArrayForEach(t, f.hdr) {
            if (!strstr(t->string, "_proj.weight")) continue;
            const char *dt;
            uint64_t sh[8], nb;
            int nd;
            const uint8_t *d = st_tensor(&f, t->string, &dt, sh, &nd, &nb);
            CHECK_STR(dt, "BF16");
            n_proj++;
            uint64_t const cols = sh[1], g = groups[gi];
            int groups_with_multiple = 0;
            for (uint64_t r = 0; r < sh[0]; r++)
                for (uint64_t c0 = 0; c0 < cols; c0 += g) {
                    float s = 0.0f;
                    int ok = 1;
                    for (uint64_t c = c0; c < c0 + g && c < cols; c++) {
                        float const v = fabsf(ld_elem(dt, d, r * cols + c));
                        if (v == 0.0f) continue;
                        if (s == 0.0f) s = v;
                        ok &= v == s;
                    }
                    CHECK(ok);
                    if (!ok) r = sh[0];
                    groups_with_multiple += s != 0.0f;
                }
            CHECK(groups_with_multiple > 0);
        }
        CHECK_EQ_INT(n_proj, 7 * 2);
        st_close(&f);
    }
}

/* MoE experts: each expert tensor holds exactly {-s, 0, +s}, all three present; --latent
 * makes them floats with many magnitudes. Returns the number of distinct non-zero magnitudes
 * (capped at 8), the first in *s_out, and whether -, 0 and + all occur in *all_signs. */
static int count_magnitudes(const st_file *f, const char *name, float *s_out, int *all_signs)
{
    const char *dt;
    uint64_t sh[8], nb;
    int nd;
    const uint8_t *d = st_tensor(f, name, &dt, sh, &nd, &nb);
    if (!d) return -1;
    float mags[8];
    int n_mag = 0, has_neg = 0, has_pos = 0, has_zero = 0;
    for (uint64_t i = 0; i < sh[0] * sh[1]; i++) {
        float const v = ld_elem(dt, d, i);
        has_neg |= v < 0;
        has_pos |= v > 0;
        has_zero |= v == 0;
        if (v == 0) continue;
        int seen = 0;
        for (int k = 0; k < n_mag; k++) seen |= mags[k] == fabsf(v);
        if (!seen && n_mag < 8) mags[n_mag++] = fabsf(v);
    }
    *s_out = n_mag ? mags[0] : 0.0f;
    *all_signs = has_neg && has_pos && has_zero;
    return n_mag;
}

TEST(gen_moe_experts_exact_ternary)
{
    gen_opts o = tiny(GEN_LAYOUT_MIXTRAL, 13);
    write_ok(&o, out_path("moe-tern"));
    gen_opts ol = o;
    ol.latent = 1;
    write_ok(&ol, out_path("moe-latent"));
    gen_plan p;
    trit_err err;
    CHECK_OK_E(gen_plan_build(&o, &p, &err), &err);
    st_file f[2], fl[2];
    for (uint32_t k = 0; k < 2; k++) {
        char shard[64];
        gen_shard_name(k, 2, shard, sizeof shard);
        CHECK(st_open(test_path(out_path("moe-tern"), shard), &f[k]) > 0);
        CHECK(st_open(test_path(out_path("moe-latent"), shard), &fl[k]) > 0);
    }
    int n_exp = 0;
    for (uint32_t i = 0; i < p.n; i++) {
        const gen_tensor *t = &p.t[i];
        if (t->expert == GEN_NONE) continue;
        n_exp++;
        float s = 0, sl = 0;
        int signs = 0, signs_l = 0;
        CHECK_EQ_INT(count_magnitudes(&f[t->file], t->name, &s, &signs), 1);
        CHECK(signs);
        CHECK(s == gen_scale(t, 0));
        CHECK(count_magnitudes(&fl[t->file], t->name, &sl, &signs_l) >= 8);
    }
    CHECK_EQ_INT(n_exp, (int)(o.n_layer * o.n_expert * 3));
    for (int k = 0; k < 2; k++) {
        st_close(&f[k]);
        st_close(&fl[k]);
    }
    gen_plan_release(&p);
}

/* 1bitLLM latent: F32 floats on disk (as the release), centred near zero, not ternary; tied. */
TEST(gen_latent_is_float)
{
    gen_opts o = tiny(GEN_LAYOUT_LATENT, 17);
    write_ok(&o, out_path("latent-f"));
    st_file f;
    CHECK(st_open(test_path(out_path("latent-f"), "model.safetensors"), &f) > 0);
    const char *dt;
    uint64_t sh[8], nb;
    int nd;
    const uint8_t *d = st_tensor(&f, "model.layers.1.mlp.down_proj.weight", &dt, sh, &nd, &nb);
    CHECK(d != NULL);
    if (d) {
        CHECK_STR(dt, "F32");
        CHECK_EQ_U64(sh[0], o.n_embd);
        CHECK_EQ_U64(sh[1], o.n_ff);
        double sum = 0, sum2 = 0;
        uint64_t const n = sh[0] * sh[1];
        for (uint64_t i = 0; i < n; i++) {
            double const v = ld_elem(dt, d, i);
            sum += v;
            sum2 += v * v;
        }
        double const mean = sum / (double)n, sd = sqrt(sum2 / (double)n - mean * mean);
        CHECK(fabs(mean) < 0.002);
        CHECK(sd > 0.015 && sd < 0.025);  /* std 0.02 requested */
        float s;
        int signs;
        CHECK(count_magnitudes(&f, "model.layers.1.mlp.down_proj.weight", &s, &signs) >= 8);
    }
    CHECK(st_tensor(&f, "model.layers.0.self_attn.inner_attn_ln.weight", &dt, sh, &nd, &nb) != NULL);
    CHECK(st_tensor(&f, "model.layers.0.mlp.ffn_layernorm.weight", &dt, sh, &nd, &nb) != NULL);
    CHECK(st_tensor(&f, "lm_head.weight", &dt, sh, &nd, &nb) == NULL);   /* tied */
    st_close(&f);
}

/* config.json carries the release's identifying keys; tokenizer.json is a consistent BPE. */
TEST(gen_config_and_tokenizer)
{
    gen_opts o = tiny(GEN_LAYOUT_BITNET, 1);
    write_ok(&o, out_path("cfg-bitnet"));
    size_t n;
    uint8_t *buf = test_read_file(test_path(out_path("cfg-bitnet"), "config.json"), &n);
    cJSON *c = buf ? cJSON_ParseWithLength((const char *)buf, n) : NULL;
    free(buf);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "architectures"), 0)->valuestring,
                  "BitNetForCausalLM");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(c, "hidden_act")->valuestring, "relu2");
        cJSON *q = cJSON_GetObjectItemCaseSensitive(c, "quantization_config");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(q, "quant_method")->valuestring, "bitnet");
        /* the 2B-4T release: AutoBitLinear, the scale multiplies (formats.md 3.3) */
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(q, "linear_class")->valuestring, "autobitlinear");
        CHECK_EQ_U64(cJSON_GetObjectItemCaseSensitive(c, "vocab_size")->valuedouble, o.n_vocab);
        CHECK_EQ_U64(cJSON_GetObjectItemCaseSensitive(c, "eos_token_id")->valuedouble, gen_tok_eos(o.n_vocab));
        cJSON_Delete(c);
    }
    buf = test_read_file(test_path(out_path("cfg-bitnet"), "tokenizer.json"), &n);
    cJSON *tj = buf ? cJSON_ParseWithLength((const char *)buf, n) : NULL;
    free(buf);
    CHECK(tj != NULL);
    if (!tj) return;
    cJSON *model = cJSON_GetObjectItemCaseSensitive(tj, "model");
    cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    cJSON *added = cJSON_GetObjectItemCaseSensitive(tj, "added_tokens");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(model, "type")->valuestring, "BPE");
    CHECK_EQ_INT(cJSON_GetArraySize(vocab) + cJSON_GetArraySize(added), (int)o.n_vocab);
    /* Ids are exactly 0..n_vocab-1, each once. */
    uint8_t *seen = calloc(o.n_vocab, 1);
    cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        uint32_t const id = (uint32_t)e->valuedouble;
        CHECK(id < o.n_vocab && !seen[id]);
        if (id < o.n_vocab) seen[id] = 1;
    }
    cJSON_ArrayForEach(e, added) {
        uint32_t const id = (uint32_t)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
        CHECK(id < o.n_vocab && !seen[id]);
        if (id < o.n_vocab) seen[id] = 1;
    }
    for (uint32_t i = 0; i < o.n_vocab; i++) CHECK(seen[i]);
    free(seen);
    /* Every merge joins two tokens of the vocab into a token of the vocab. */
    CHECK_EQ_INT(cJSON_GetArraySize(merges), (int)(o.n_vocab - 256 - gen_tok_n_special(o.n_vocab)));
    cJSON_ArrayForEach(e, merges) {
        char l[64], r[64], lr[128];
        const char *sp = strchr(e->valuestring, ' ');
        CHECK(sp != NULL);
        if (!sp) break;
        snprintf(l, sizeof l, "%.*s", (int)(sp - e->valuestring), e->valuestring);
        snprintf(r, sizeof r, "%s", sp + 1);
        snprintf(lr, sizeof lr, "%s%s", l, r);
        CHECK(cJSON_GetObjectItemCaseSensitive(vocab, l) && cJSON_GetObjectItemCaseSensitive(vocab, r) &&
              cJSON_GetObjectItemCaseSensitive(vocab, lr));
    }
    /* The 256 byte tokens: space is 'Ġ' (U+0120), '!' is id 0. */
    CHECK_EQ_U64(cJSON_GetObjectItemCaseSensitive(vocab, "!")->valuedouble, 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(vocab, "\xc4\xa0") != NULL);
    cJSON_Delete(tj);
}

/* Outputs are atomic: an existing output is refused unless overwrite, a failed write leaves
 * nothing behind, and overwrite replaces the directory. */
TEST(gen_atomic_outputs)
{
    gen_opts o = tiny(GEN_LAYOUT_BITNET, 1);
    trit_err err;
    char p[4096];
    snprintf(p, sizeof p, "%s", out_path("atomic-bitnet"));
    write_ok(&o, p);
    CHECK_EQ_INT(gen_write(&o, p, &err), TRIT_E_EXISTS);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0755);  /* not mkdtemp's 0700 */
    o.seed = 2;
    o.overwrite = 1;
    write_ok(&o, p);
    size_t n1, n2;
    uint8_t *a = test_read_file(test_path(p, "model.safetensors"), &n1);
    write_ok(&o, out_path("atomic-bitnet-ref"));
    uint8_t *b = test_read_file(test_path(out_path("atomic-bitnet-ref"), "model.safetensors"), &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0);  /* the replacement has seed 2 */
    free(a);
    free(b);
    /* A directory holding a foreign file is not replaced. */
    CHECK_EQ_INT(test_write_file(test_path(p, "notes.txt"), "x", 1), 0);
    CHECK_EQ_INT(gen_write(&o, p, &err), TRIT_E_USAGE);
    CHECK(stat(test_path(p, "notes.txt"), &st) == 0);
    /* A trailing slash names the same directory (the temp dir goes beside it, not inside). */
    char slash[4200];
    snprintf(slash, sizeof slash, "%s/", p);
    CHECK_EQ_INT(gen_write(&o, slash, &err), TRIT_E_USAGE);
    CHECK_EQ_INT(unlink(test_path(p, "notes.txt")), 0);
    CHECK_OK_E(gen_write(&o, slash, &err), &err);
    CHECK(stat(test_path(p, "config.json"), &st) == 0);
    /* Missing parent directory: an I/O error and no output. */
    const char *bad = out_path("no-such-dir/model");
    CHECK_EQ_INT(gen_write(&o, bad, &err), TRIT_E_IO);
    CHECK(stat(bad, &st) != 0);
    gen_opts g;
    gen_opts_default(&g, GEN_LAYOUT_GGUF);
    CHECK_EQ_INT(gen_write(&g, out_path("no-such-dir/m.gguf"), &err), TRIT_E_IO);
    /* A gguf over an existing directory is refused even with overwrite. */
    g.overwrite = 1;
    CHECK_EQ_INT(gen_write(&g, p, &err), TRIT_E_USAGE);
}

/* --embd-std: only the token embedding's spread changes (HF and GGUF names), and the CLI
 * refuses a spread it cannot use. */
TEST(gen_embd_std)
{
    static const struct { gen_layout l; const char *emb, *other; } cs[] = {
        {GEN_LAYOUT_QWEN3MOE, "model.embed_tokens.weight", "lm_head.weight"},
        {GEN_LAYOUT_GGUF, "token_embd.weight", "output.weight"},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        gen_opts o = tiny(cs[i].l, 5);
        o.embd_std = 0.16f;
        gen_plan p;
        trit_err err;
        CHECK_OK_E(gen_plan_build(&o, &p, &err), &err);
        const gen_tensor *e = gen_plan_find(&p, cs[i].emb), *x = gen_plan_find(&p, cs[i].other);
        CHECK(e && e->std == 0.16f);
        CHECK(x == NULL || x->std == 0.02f);
        gen_plan_release(&p);
        o.embd_std = 0;
        CHECK_OK_E(gen_plan_build(&o, &p, &err), &err);
        e = gen_plan_find(&p, cs[i].emb);
        CHECK(e && e->std == 0.02f);
        gen_plan_release(&p);
    }
    const char *bin = getenv("TRIT_GEN") && *getenv("TRIT_GEN") ? getenv("TRIT_GEN") : "build/trit-gen";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' gguf -o /dev/null --dry-run --embd-std -1 2>&1", bin);
    char *out = NULL;
    if (access(bin, X_OK) == 0) {
        CHECK_EQ_INT(test_run(cmd, &out), 2);
        CHECK(out && strstr(out, "--embd-std"));
    }
    free(out);
}
