/* insp_diff.c - `trit diff A B`: two model files of any formats, through the inspect model
 * (insp.h), so one code path covers .trit, GGUF and safetensors.
 *
 * Tensors are matched by canonical name (insp_canon_name). A GGUF 3-D expert stack
 * blk.L.ffn_X_exps.weight [E, rows, cols] becomes E views blk.L.ffn_X.E.weight, slices of it,
 * so it compares with per-expert tensors of HF files and .trit units; a fused
 * ffn_gate_up_exps becomes gate and up views. gpt-oss's interleaved stack (gate_up_proj,
 * canonical ffn_gate_up_il_exps) becomes per-expert gate views of its even rows and up views of
 * its odd rows, and its bias [E, 2F] the gate and up biases of its even and odd columns, as
 * convert splits them (conversion/gpt_oss.py). A BitNet weight_scale tensor is folded into its
 * packed weight (the inspect model already reads the weight as ternary / scale), and an MXFP4
 * pair's "_scales" into its "_blocks" (insp_safetensors.c reads the pair as one tensor).
 *
 * GGUF llama files hold attn_q / attn_k with the rows of each head permuted (formats.md 1.10:
 * llama.cpp's converter interleaves the two rotate-half halves). When such a file meets a file
 * in HF order (safetensors, .trit, or a GGUF of another architecture), its rows are read
 * un-permuted, and the output says so; --no-unpermute compares them as stored.
 *
 * Values stream in chunks of opts.chunk floats per side: memory is bounded whatever the
 * model's size. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "insp.h"
#include "trit_safemath.h"
#include "insp_diff_int.h"
#include "insp_norm.h"

/* One comparable tensor of a model: a whole tensor, or a slice of a 3-D expert stack. */
typedef struct view {
    char *canon;               /* owned */
    const char *orig;          /* name in the file (borrowed from the model) */
    uint64_t idx;              /* tensor index in the insp_model */
    uint64_t first;            /* flat element where the view starts */
    uint32_t n_dims;
    uint64_t dims[8];
    const char *type;          /* borrowed */
    int readable;
    int permuted;              /* GGUF llama attn_q/attn_k: rows interleaved per head */
    uint32_t heads;            /* heads of the permutation */
    uint64_t run;              /* step > 1: the view's values are runs of `run` values ... */
    uint32_t step;             /* ... that start step * run apart in the tensor (interleaved) */
} view;

typedef struct side {
    insp_model m;
    view *v;
    uint64_t n, cap;
    int llama_gguf;            /* a GGUF of architecture llama: Q/K rows are permuted */
} side;

static int is_ternary_type(const char *t)
{
    return strcmp(t, "t2") == 0 || strcmp(t, "TQ1_0") == 0 || strcmp(t, "TQ2_0") == 0 || strcmp(t, "I2_S") == 0 ||
           strcmp(t, "U8(bitnet-packed)") == 0;
}

/* "BF16" -> "bf16": the formats spell the same float types differently. */
static void norm_type(const char *t, char *out, size_t cap)
{
    size_t i = 0;
    for (; t[i] && i + 1 < cap; i++) out[i] = (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] - 'A' + 'a' : t[i]);
    out[i] = '\0';
}

static int add_view(side *s, const char *canon, uint64_t idx, uint64_t first, uint32_t n_dims, const uint64_t *dims)
{
    if (s->n == s->cap) {
        uint64_t const cap = s->cap ? s->cap * 2 : 64;
        view *nv = trit_mallocarray((size_t)cap, sizeof *nv);
        if (!nv) return TRIT_E_NOMEM;
        if (s->v) memcpy(nv, s->v, (size_t)s->n * sizeof *nv);
        free(s->v);
        s->v = nv;
        s->cap = cap;
    }
    view *v = &s->v[s->n];
    memset(v, 0, sizeof *v);
    v->canon = strdup(canon);
    if (!v->canon) return TRIT_E_NOMEM;
    s->n++;
    insp_tensor const *t = &s->m.tensors[idx];
    v->orig = t->name;
    v->idx = idx;
    v->first = first;
    v->n_dims = n_dims;
    memcpy(v->dims, dims, n_dims * sizeof *dims);
    v->type = t->type;
    v->readable = t->readable && s->m.read_f32;
    return TRIT_OK;
}

static uint32_t meta_u32(const insp_model *m, const char *key, uint32_t dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->metadata, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 1e9 ? (uint32_t)v->valuedouble : dflt;
}

/* 1 if the model has a packed BitNet weight whose "<stem>.weight_scale" is `name`. */
static int folded_scale(const insp_model *m, const char *name)
{
    size_t const l = strlen(name);
    if (l < 13 || strcmp(name + l - 13, ".weight_scale") != 0) return 0;
    for (uint64_t i = 0; i < m->n_tensors; i++)
        if (strncmp(m->tensors[i].name, name, l - 6) == 0 && strlen(m->tensors[i].name) == l - 6 &&
            strcmp(m->tensors[i].type, "U8(bitnet-packed)") == 0)
            return 1;
    return 0;
}

/* 1 if `name` is the "_scales" of an MXFP4 pair whose "_blocks" the model reads as MXFP4. */
static int folded_mxfp4_scales(const insp_model *m, const char *name)
{
    size_t const l = strlen(name);
    if (l < 7 || strcmp(name + l - 7, "_scales") != 0) return 0;
    for (uint64_t i = 0; i < m->n_tensors; i++) {
        const char *b = m->tensors[i].name;
        if (strncmp(b, name, l - 6) == 0 && strcmp(b + l - 6, "blocks") == 0 && strcmp(m->tensors[i].type, "MXFP4") == 0)
            return 1;
    }
    return 0;
}

/* gpt-oss's interleaved gate/up stack [E, 2F, cols] (rows 2r gate, 2r + 1 up) as per-expert
 * gate and up views, or its bias [E, 2F] as gate and up bias views [E, F]. */
static int add_interleaved(side *s, uint64_t i, uint32_t layer, int bias)
{
    insp_tensor const *t = &s->m.tensors[i];
    int rc = TRIT_OK;
    if (bias) {
        for (int k = 0; rc == TRIT_OK && k < 2; k++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%u.ffn_%s_exps.bias", layer, k ? "up" : "gate");
            uint64_t const dims[2] = {t->dims[0], t->dims[1] / 2};
            rc = add_view(s, name, i, (uint64_t)k, 2, dims);
            if (rc == TRIT_OK) s->v[s->n - 1].run = 1, s->v[s->n - 1].step = 2;
        }
        return rc;
    }
    uint64_t const rows = t->dims[1] / 2, cols = t->dims[2];
    for (uint64_t e = 0; rc == TRIT_OK && e < t->dims[0] && e < TRIT_NONE32; e++)
        for (int k = 0; rc == TRIT_OK && k < 2; k++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%u.ffn_%s.%llu.weight", layer, k ? "up" : "gate", (unsigned long long)e);
            uint64_t const dims[2] = {rows, cols};
            rc = add_view(s, name, i, (e * 2 * rows + (uint64_t)k) * cols, 2, dims);
            if (rc == TRIT_OK) s->v[s->n - 1].run = cols, s->v[s->n - 1].step = 2;
        }
    return rc;
}

static int cmp_view(const void *a, const void *b)
{
    return strcmp(((const view *)a)->canon, ((const view *)b)->canon);
}

/* Views of one model, sorted by canonical name. */
static int build_views(side *s)
{
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(s->m.metadata, "general.architecture");
    s->llama_gguf = strcmp(s->m.format, "gguf") == 0 && cJSON_IsString(arch) && strcmp(arch->valuestring, "llama") == 0;
    /* llama.cpp's gpt-oss names the pre-FFN norm post_attention_norm */
    int const gptoss_gguf = strcmp(s->m.format, "gguf") == 0 && cJSON_IsString(arch) && strcmp(arch->valuestring, "gpt-oss") == 0;
    uint32_t const n_head = meta_u32(&s->m, "llama.attention.head_count", 0);
    uint32_t const n_head_kv = meta_u32(&s->m, "llama.attention.head_count_kv", n_head);
    for (uint64_t i = 0; i < s->m.n_tensors; i++) {
        insp_tensor const *t = &s->m.tensors[i];
        if (folded_scale(&s->m, t->name) || folded_mxfp4_scales(&s->m, t->name)) continue;
        size_t const cap = strlen(t->name) + 64;
        char *canon = malloc(cap);
        if (!canon) return TRIT_E_NOMEM;
        uint32_t layer;
        insp_canon_name(t->name, canon, cap, &layer, NULL);
        const char *rest = layer != TRIT_NONE32 ? strchr(canon + 4, '.') : NULL;
        if (gptoss_gguf && rest && strcmp(rest, ".post_attention_norm.weight") == 0)
            snprintf(canon, cap, "blk.%u.ffn_norm.weight", layer);   /* convert's name (cvt_gptoss.c) */
        int rc = TRIT_OK;
        int const il_w = rest && t->n_dims == 3 && strcmp(rest, ".ffn_gate_up_il_exps.weight") == 0;
        int const il_b = rest && t->n_dims == 2 && strcmp(rest, ".ffn_gate_up_il_exps.bias") == 0;
        if ((il_w || il_b) && t->dims[1] % 2 == 0 && t->dims[1]) {
            rc = add_interleaved(s, i, layer, il_b);
        } else if (rest && t->n_dims == 3 &&
            (strcmp(rest, ".ffn_gate_exps.weight") == 0 || strcmp(rest, ".ffn_up_exps.weight") == 0 ||
             strcmp(rest, ".ffn_down_exps.weight") == 0 || strcmp(rest, ".ffn_gate_up_exps.weight") == 0)) {
            /* [E, rows, cols] -> E slices (a fused gate_up: gate rows first, then up) */
            int const fused = strcmp(rest, ".ffn_gate_up_exps.weight") == 0;
            uint64_t const rows = fused ? t->dims[1] / 2 : t->dims[1], per = rows * t->dims[2];
            char proj[16];
            snprintf(proj, sizeof proj, "%.*s", (int)(strstr(rest, "_exps") - rest - 1), rest + 1);
            for (uint64_t e = 0; rc == TRIT_OK && e < t->dims[0] && e < TRIT_NONE32; e++)
                for (int k = 0; rc == TRIT_OK && k < (fused ? 2 : 1); k++) {
                    char name[192];
                    snprintf(name, sizeof name, "blk.%u.%s.%llu.weight", layer,
                             fused ? (k ? "ffn_up" : "ffn_gate") : proj, (unsigned long long)e);
                    uint64_t const dims[2] = {rows, t->dims[2]};
                    rc = add_view(s, name, i, e * (fused ? 2 : 1) * per + (uint64_t)k * per, 2, dims);
                }
        } else {
            rc = add_view(s, canon, i, 0, t->n_dims, t->dims);
            view *v = &s->v[s->n - 1];
            if (rc == TRIT_OK && s->llama_gguf && rest &&
                (strncmp(rest, ".attn_q.", 8) == 0 || strncmp(rest, ".attn_k.", 8) == 0)) {
                v->permuted = 1;
                v->heads = rest[6] == 'q' ? n_head : n_head_kv;
            }
        }
        free(canon);
        if (rc != TRIT_OK) return rc;
    }
    qsort(s->v, (size_t)s->n, sizeof *s->v, cmp_view);
    return TRIT_OK;
}

static void free_side(side *s)
{
    for (uint64_t i = 0; i < s->n; i++) free(s->v[i].canon);
    free(s->v);
    insp_model_free(&s->m);
}

/* ---- values ------------------------------------------------------------------------------ */

/* Read n values of view v from flat element `first`, in HF row order: a permuted view (when
 * un-permuting) is read row by row through the head interleave of formats.md 1.10. */
static int read_view(side *s, const view *v, int unpermute, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    if (v->step > 1 && v->run) {   /* interleaved: run by run (never permuted as well) */
        for (uint64_t k = 0; k < n;) {
            uint64_t const e = first + k, g = e / v->run, c = e % v->run;
            uint64_t const take = v->run - c < n - k ? v->run - c : n - k;
            int const rc = s->m.read_f32(s->m.ctx, v->idx, v->first + g * v->run * v->step + c, take, out + k, err);
            if (rc != TRIT_OK) return rc;
            k += take;
        }
        return TRIT_OK;
    }
    if (!unpermute) return s->m.read_f32(s->m.ctx, v->idx, v->first + first, n, out, err);
    uint64_t const cols = v->n_dims >= 2 ? v->dims[v->n_dims - 1] : 1;
    uint64_t const rows = v->n_dims ? v->dims[0] : 1;   /* 1-D bias: one value per row */
    uint64_t const hd = rows / v->heads, half = hd / 2;
    for (uint64_t k = 0; k < n;) {
        uint64_t const e = first + k, r = e / cols, c = e % cols;
        uint64_t const h = r / hd, in = r % hd, j = in / half, i = in % half;
        uint64_t const g = h * hd + 2 * i + j;   /* GGUF row holding HF row r */
        uint64_t const take = cols - c < n - k ? cols - c : n - k;
        int const rc = s->m.read_f32(s->m.ctx, v->idx, v->first + g * cols + c, take, out + k, err);
        if (rc != TRIT_OK) return rc;
        k += take;
    }
    return TRIT_OK;
}

static int sgn(float x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

static int compare_values(insp_diff *d, side *sa, const view *va, side *sb, const view *vb, insp_drow *row,
                          trit_err *err)
{
    int un_a = va->permuted && !vb->permuted && !d->opts.no_unpermute;
    int un_b = vb->permuted && !va->permuted && !d->opts.no_unpermute;
    uint64_t n = 1;
    for (uint32_t k = 0; k < va->n_dims; k++)
        if (trit_mul_u64(n, va->dims[k], &n)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "too many values");
    if (un_a || un_b) {
        view const *p = un_a ? va : vb;
        uint64_t const rows = p->n_dims ? p->dims[0] : 1;
        if (!p->heads || rows % p->heads || (rows / p->heads) % 2) {
            snprintf(row->note, sizeof row->note, "compared as stored: %llu rows do not split into %u heads of "
                     "even size", (unsigned long long)rows, p->heads);
            un_a = un_b = 0;
        } else {
            snprintf(row->note, sizeof row->note, "rows of %s un-permuted (GGUF llama Q/K)", un_a ? "a" : "b");
        }
    }
    uint64_t chunk = d->opts.chunk ? d->opts.chunk : 65536;
    float *a = trit_mallocarray((size_t)chunk, sizeof *a), *b = trit_mallocarray((size_t)chunk, sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    double saa = 0, sbb = 0, sab = 0, sdd = 0, max_abs = 0;
    int rc = TRIT_OK;
    for (uint64_t first = 0; first < n && rc == TRIT_OK; first += chunk) {
        uint64_t const k = n - first < chunk ? n - first : chunk;
        rc = read_view(sa, va, un_a, first, k, a, err);
        if (rc != TRIT_OK) {
            trit_err_file(err, sa->m.path);
            break;
        }
        rc = read_view(sb, vb, un_b, first, k, b, err);
        if (rc != TRIT_OK) {
            trit_err_file(err, sb->m.path);
            break;
        }
        for (uint64_t i = 0; i < k; i++) {
            float const x = a[i], y = b[i];
            int const nx = x != x, ny = y != y;
            if (nx || ny) {
                if (nx != ny) {
                    row->n_nan_mismatch++;
                    row->n_diff++;
                }
                continue;
            }
            if (row->ternary && sgn(x) != sgn(y)) {
                row->flips++;
                if (sgn(x) == 0) row->flips_zero_to_nz++;
                else if (sgn(y) == 0) row->flips_nz_to_zero++;
                else row->flips_sign++;
            }
            if (x == y) {
                if (isfinite(x)) {
                    saa += (double)x * x;
                    sbb += (double)y * y;
                    sab += (double)x * y;
                }
                continue;
            }
            double const dd = fabs((double)x - (double)y);   /* inf when an infinity meets a number */
            if (dd > max_abs) max_abs = dd;
            if (dd > d->opts.atol) row->n_diff++;
            if (isfinite(x) && isfinite(y)) {
                saa += (double)x * x;
                sbb += (double)y * y;
                sab += (double)x * y;
                sdd += dd * dd;
            }
        }
    }
    free(a);
    free(b);
    if (rc != TRIT_OK) return rc;
    row->n = n;
    row->max_abs = max_abs;
    double const na = sqrt(saa), nb = sqrt(sbb), mx = na > nb ? na : nb;
    row->rel = mx > 0 ? sqrt(sdd) / mx : 0;
    row->cosine = na > 0 && nb > 0 ? sab / (na * nb) : (na == 0 && nb == 0 ? 1 : 0);
    row->status = row->n_diff ? INSP_D_VALUES : INSP_D_SAME;
    return TRIT_OK;
}

/* ---- rows -------------------------------------------------------------------------------- */

/* Append a zeroed row named canon. Borrowed (d owns it; valid until the next new_row). */
static insp_drow *new_row(insp_diff *d, const char *canon)
{
    if (d->n_rows == d->cap_rows) {
        uint64_t const cap = d->cap_rows ? d->cap_rows * 2 : 64;
        insp_drow *nr = trit_mallocarray((size_t)cap, sizeof *nr);
        if (!nr) return NULL;
        if (d->rows) memcpy(nr, d->rows, (size_t)d->n_rows * sizeof *nr);
        free(d->rows);
        d->rows = nr;
        d->cap_rows = cap;
    }
    insp_drow *r = &d->rows[d->n_rows];
    memset(r, 0, sizeof *r);
    r->name = strdup(canon);
    if (!r->name) return NULL;
    d->n_rows++;
    return r;
}

static int compare_pair(insp_diff *d, side *sa, const view *va, side *sb, const view *vb, trit_err *err)
{
    insp_drow *r = new_row(d, va ? va->canon : vb->canon);
    if (!r) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (va) {
        r->name_a = strdup(va->orig);
        snprintf(r->type_a, sizeof r->type_a, "%s", va->type);
        r->n_dims_a = va->n_dims;
        memcpy(r->dims_a, va->dims, sizeof r->dims_a);
    }
    if (vb) {
        r->name_b = strdup(vb->orig);
        snprintf(r->type_b, sizeof r->type_b, "%s", vb->type);
        r->n_dims_b = vb->n_dims;
        memcpy(r->dims_b, vb->dims, sizeof r->dims_b);
    }
    if ((va && !r->name_a) || (vb && !r->name_b)) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    insp_sanitize(r->name);
    if (r->name_a) insp_sanitize(r->name_a);
    if (r->name_b) insp_sanitize(r->name_b);
    insp_sanitize(r->type_a);
    insp_sanitize(r->type_b);
    int rc = TRIT_OK;
    if (!va || !vb) {
        r->status = va ? INSP_D_ONLY_A : INSP_D_ONLY_B;
    } else {
        char ta[32], tb[32];
        norm_type(va->type, ta, sizeof ta);
        norm_type(vb->type, tb, sizeof tb);
        r->type_changed = strcmp(ta, tb) != 0;
        r->ternary = is_ternary_type(va->type) || is_ternary_type(vb->type);
        if (va->n_dims != vb->n_dims || memcmp(va->dims, vb->dims, va->n_dims * sizeof *va->dims) != 0) {
            r->status = INSP_D_SHAPE;
        } else if (d->opts.no_values) {
            r->status = INSP_D_UNCOMPARED;
        } else if (!va->readable || !vb->readable) {
            r->status = INSP_D_UNCOMPARED;
            snprintf(r->note, sizeof r->note, "values not compared: no decoder for type %s",
                     !va->readable ? va->type : vb->type);
        } else {
            rc = compare_values(d, sa, va, sb, vb, r, err);
        }
    }
    if (rc == TRIT_OK) {
        d->counts[r->status]++;
        d->n_type_changed += (uint64_t)r->type_changed;
    }
    return rc;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int note(insp_diff *d, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cJSON_AddItemToArray(d->notes, cJSON_CreateString(buf)) ? TRIT_OK : TRIT_E_NOMEM;
}

/* Derived hyperparameters of a side (insp_derive over its canonical tensor names). Caller
 * frees with cJSON_Delete(); NULL on allocation failure. */
static cJSON *derive(const side *s, const cJSON *hp)
{
    insp_tref *t = calloc((size_t)(s->n ? s->n : 1), sizeof *t);
    if (!t) return NULL;
    for (uint64_t i = 0; i < s->n; i++) {
        char tmp[256];
        t[i].canon = s->v[i].canon;
        insp_canon_name(s->v[i].canon, tmp, sizeof tmp, &t[i].layer, &t[i].expert);
        t[i].n_dims = s->v[i].n_dims;
        memcpy(t[i].dims, s->v[i].dims, sizeof t[i].dims);
    }
    cJSON *d = insp_derive(hp, t, s->n);
    free(t);
    return d;
}

static int diff_meta(insp_diff *d, side *s, trit_err *err)
{
    cJSON *ha = insp_norm_meta(s[0].m.format, s[0].m.metadata, NULL);
    cJSON *hb = insp_norm_meta(s[1].m.format, s[1].m.metadata, NULL);
    cJSON *da = ha ? derive(&s[0], ha) : NULL, *db = hb ? derive(&s[1], hb) : NULL;
    int rc = da && db ? insp__diff_meta(d, s[0].m.metadata, s[1].m.metadata, da, db, err)
                      : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    cJSON_Delete(ha);
    cJSON_Delete(hb);
    cJSON_Delete(da);
    cJSON_Delete(db);
    return rc;
}

int insp_diff_run(const char *path_a, const char *path_b, const insp_diff_opts *opts, insp_diff **out, trit_err *err)
{
    *out = NULL;
    insp_diff *d = calloc(1, sizeof *d);
    side *s = calloc(2, sizeof *s);
    if (!d || !s || !(d->notes = cJSON_CreateArray())) {
        free(s);
        insp_diff_free(d);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    if (opts) d->opts = *opts;
    const char *paths[2] = {path_a, path_b};
    int rc = TRIT_OK;
    for (int k = 0; k < 2 && rc == TRIT_OK; k++) {
        snprintf(d->path[k], sizeof d->path[k], "%s", paths[k]);
        rc = insp_open(paths[k], &s[k].m, err);
        if (rc != TRIT_OK) {
            trit_err_file(err, paths[k]);
            break;
        }
        snprintf(d->format[k], sizeof d->format[k], "%s", s[k].m.format);
        snprintf(d->version[k], sizeof d->version[k], "%s", s[k].m.version);
        rc = build_views(&s[k]);
        if (rc != TRIT_OK) rc = trit_err_set(err, rc, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    if (rc == TRIT_OK) rc = diff_meta(d, s, err);
    /* merge the sorted views */
    uint64_t i = 0, j = 0;
    while (rc == TRIT_OK && (i < s[0].n || j < s[1].n)) {
        int const c = i >= s[0].n ? 1 : j >= s[1].n ? -1 : strcmp(s[0].v[i].canon, s[1].v[j].canon);
        const view *va = c <= 0 ? &s[0].v[i] : NULL, *vb = c >= 0 ? &s[1].v[j] : NULL;
        /* two tensors of one file with the same canonical name: the first is compared */
        for (int k = 0; k < 2 && rc == TRIT_OK; k++) {
            const view *v = k ? vb : va;
            uint64_t *pos = k ? &j : &i;
            while (v && *pos + 1 < s[k].n && strcmp(s[k].v[*pos + 1].canon, v->canon) == 0) {
                (*pos)++;
                rc = note(d, "%s: more than one tensor has the canonical name '%s'; the first is compared",
                          k ? "b" : "a", v->canon);
            }
        }
        if (rc == TRIT_OK) rc = compare_pair(d, &s[0], va, &s[1], vb, err);
        if (va) i++;
        if (vb) j++;
    }
    if (rc == TRIT_OK && !d->opts.no_unpermute && (s[0].llama_gguf != s[1].llama_gguf))
        rc = note(d, "%s%s is a GGUF llama file: its attn_q/attn_k rows were un-permuted to HF order for the "
                  "comparison (formats.md 1.10); --no-unpermute compares them as stored",
                  s[0].llama_gguf ? "a: " : "b: ", s[0].llama_gguf ? path_a : path_b);
    for (int k = 0; k < 2; k++) free_side(&s[k]);
    free(s);
    if (rc != TRIT_OK) {
        insp_diff_free(d);
        return rc;
    }
    *out = d;
    return TRIT_OK;
}

void insp_diff_free(insp_diff *d)
{
    if (!d) return;
    for (uint64_t i = 0; i < d->n_rows; i++) {
        free(d->rows[i].name);
        free(d->rows[i].name_a);
        free(d->rows[i].name_b);
    }
    free(d->rows);
    cJSON_Delete(d->meta_changed);
    cJSON_Delete(d->meta_only_a);
    cJSON_Delete(d->meta_only_b);
    cJSON_Delete(d->notes);
    free(d);
}

int insp_diff_differs(const insp_diff *d)
{
    return cJSON_GetArraySize(d->meta_changed) > 0 || cJSON_GetArraySize(d->meta_only_a) > 0 ||
           cJSON_GetArraySize(d->meta_only_b) > 0 || d->counts[INSP_D_VALUES] || d->counts[INSP_D_SHAPE] ||
           d->counts[INSP_D_ONLY_A] || d->counts[INSP_D_ONLY_B];
}
