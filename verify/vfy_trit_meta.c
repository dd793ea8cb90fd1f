/* vfy_trit_meta.c - .trit metadata and sections against spec/container.md sections 5.2, 9, 10:
 * the keys the spec defines have its types and values, required keys are present, tensor names
 * are canonical and their record fields agree with the name, every MoE layer has moe.n_expert
 * units, sections of known kinds hold what their kind says. Then the format-independent model
 * checks (vfy_model.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "insp.h"
#include "src_json.h"
#include "trit_cursor.h"
#include "trit_limits.h"
#include "trit_safemath.h"
#include "trit_model.h"
#include "vfy_trit_int.h"

/* ---- context ----------------------------------------------------------------------------- */

int vfy__tctx_init(vfy__tctx *c)
{
    uint32_t const n_kv = trit_reader_n_kv(c->r);
    uint32_t const n = trit_reader_n_tensors(c->r);
    c->meta = cJSON_CreateObject();
    if (!c->meta) return TRIT_E_NOMEM;
    for (uint32_t i = 0; i < n_kv; i++) {
        cJSON *v = insp_trit_kv_json(c->r, i, INSP_KV_ARRAY_COUNT);   /* the checks never need the elements */
        if (!v || !cJSON_AddItemToObject(c->meta, trit_reader_kv_key(c->r, i), v)) {
            cJSON_Delete(v);
            return TRIT_E_NOMEM;
        }
    }
    c->rep->n_kv = n_kv;
    c->model.format = "trit";
    c->model.t = calloc(n ? n : 1, sizeof *c->model.t);
    if (!c->model.t) return TRIT_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        trit_tensor_info const *t = trit_reader_tensor(c->r, i);
        insp_tref *x = &c->model.t[i];
        x->name = t->name;
        x->n_dims = t->n_dims;
        memcpy(x->dims, t->dims, sizeof x->dims);
        x->unit = t->unit;
        x->rec_layer = t->layer;
        x->rec_expert = t->expert;
        c->model.n = i + 1;
        if (insp_tref_name(x) != TRIT_OK) return TRIT_E_NOMEM;
    }
    c->model.hp = insp_norm_meta("trit", c->meta, NULL);
    c->model.derived = c->model.hp ? insp_derive(c->model.hp, c->model.t, c->model.n) : NULL;
    return c->model.hp && c->model.derived ? TRIT_OK : TRIT_E_NOMEM;
}

void vfy__tctx_release(vfy__tctx *c)
{
    vfy__model_release(&c->model);
    cJSON_Delete(c->meta);
    c->meta = NULL;
}

/* ---- sections ---------------------------------------------------------------------------- */

static void golden_logits(vfy__tctx *c, const uint8_t *d, uint64_t n, uint64_t off, const char *object)
{
    trit_cur cur;
    trit_cur_init(&cur, d, (size_t)n, off, NULL);
    uint32_t n_tok = 0, n_vocab = 0;
    uint64_t want = 0, a = 0, b = 0;
    if (trit_cur_u32(&cur, &n_tok, "n_tokens", NULL) || trit_cur_u32(&cur, &n_vocab, "n_vocab", NULL) || trit_mul_u64(n_tok, 4, &a) ||
        trit_mul_u64(n_vocab, 4, &b) || trit_add_u64(a, b, &want) || trit_add_u64(want, 8, &want) || want != n) {
        vfy_report_add(c->rep, VFY_C_METADATA, 0, off, object,
                       "golden logits section holds %llu bytes; its header (n_tokens %u, n_vocab %u) needs %llu",
                       (unsigned long long)n, n_tok, n_vocab, (unsigned long long)want);
        return;
    }
    double nv;
    if (insp_num(c->model.hp, "model.n_vocab", &nv) && nv != (double)n_vocab)
        vfy_report_add(c->rep, VFY_C_METADATA, 0, off + 4, object, "n_vocab is %u, model.n_vocab is %.0f", n_vocab, nv);
    for (uint32_t i = 0; i < n_tok; i++) {
        uint32_t tok = 0;
        trit_cur_u32(&cur, &tok, "token", NULL);
        if (tok >= n_vocab) {
            vfy_report_add(c->rep, VFY_C_METADATA, 0, off + 8 + 4ull * i, object, "token %u of the prompt is id %u, "
                           "not below n_vocab %u", i, tok, n_vocab);
            return;
        }
    }
    for (uint32_t i = 0; i < n_vocab; i++) {
        float f = 0;
        trit_cur_f32(&cur, &f, "logit", NULL);
        if (!isfinite(f)) {
            vfy_report_add(c->rep, VFY_C_METADATA, 0, off + 8 + 4ull * n_tok + 4ull * i, object,
                           "golden logit %u is not finite", i);
            return;
        }
    }
}

/* One parsed activation-scale entry (the site checks need them all). */
typedef struct act_ent {
    uint32_t tensor, gran, group, n_scales, bits;
    const uint8_t *scales;     /* n_scales f32, little-endian, inside the section */
    uint64_t at;               /* file offset of the entry */
} act_ent;

static const char *tensor_name(const vfy__tctx *c, uint32_t ti)
{
    return c->model.t[ti].canon ? c->model.t[ti].canon : trit_reader_tensor(c->r, ti)->name;
}

static int is_t2_proj(const vfy__tctx *c, uint32_t ti)
{
    trit_tensor_info const *t = trit_reader_tensor(c->r, ti);
    return t->type == TRIT_TYPE_T2 && t->n_dims == 2;
}

/* The site rules of spec 9 over well-formed entries: one entry per t2 projection, in strictly
 * increasing tensor order, none for a tensor whose input is never quantized, and identical
 * entries for the projections that read one activation vector (the runner refuses otherwise). */
static void act_sites(vfy__tctx *c, const act_ent *es, uint32_t n_es, const char *object)
{
    uint32_t const nt = trit_reader_n_tensors(c->r);
    uint8_t *has = calloc(nt ? nt : 1, 1);
    if (!has) {
        vfy_report_add(c->rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, object, "out of memory");
        return;
    }
    for (uint32_t k = 0; k < n_es; k++) {
        act_ent const *e = &es[k];
        if (k && e->tensor <= es[k - 1].tensor) {
            vfy_report_add(c->rep, VFY_C_METADATA, 0, e->at, object,
                           "activation-scale entry %u is for tensor %u after tensor %u: entries must be in strictly "
                           "increasing tensor order, one per tensor", k, e->tensor, es[k - 1].tensor);
            free(has);
            return;
        }
        has[e->tensor] = 1;
        if (!is_t2_proj(c, e->tensor))
            vfy_report_add(c->rep, VFY_C_METADATA, 0, e->at, object,
                           "activation-scale entry %u is for '%s', which is not a t2 projection: no activations of it "
                           "are quantized", k, tensor_name(c, e->tensor));
    }
    uint32_t missing = 0, first = 0;
    for (uint32_t ti = 0; ti < nt; ti++)
        if (is_t2_proj(c, ti) && !has[ti] && !missing++) first = ti;
    if (missing)
        vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, object,
                       "%u t2 projection(s) have no activation-scale entry (first: '%s'): every site needs static "
                       "scales, or a runner in static mode refuses the file", missing, tensor_name(c, first));
    /* shared inputs: each entry against the first entry of its activation vector */
    for (uint32_t k = 0; k < n_es; k++) {
        char key[160], other[160];
        if (!trit_mt_act_input(tensor_name(c, es[k].tensor), key, sizeof key)) continue;
        for (uint32_t j = 0; j < k; j++) {
            if (!trit_mt_act_input(tensor_name(c, es[j].tensor), other, sizeof other) || strcmp(key, other)) continue;
            int const same = es[j].gran == es[k].gran && es[j].group == es[k].group && es[j].n_scales == es[k].n_scales &&
                             es[j].bits == es[k].bits &&
                             !memcmp(es[j].scales, es[k].scales, 4ull * es[k].n_scales);
            if (!same)
                vfy_report_add(c->rep, VFY_C_METADATA, 0, es[k].at, object,
                               "activation-scale entry %u ('%s') differs from that of '%s', which reads the same "
                               "activations (spec 9: shared inputs carry identical entries)", k,
                               tensor_name(c, es[k].tensor), tensor_name(c, es[j].tensor));
            break;
        }
    }
    free(has);
}

/* Activation scales (spec 9): entries inside the section, fields consistent with the tensor's
 * shape, scales finite and positive; then the site rules (act_sites). */
static void act_scales(vfy__tctx *c, const uint8_t *d, uint64_t n, uint64_t off, const char *object)
{
    trit_cur cur;
    trit_cur_init(&cur, d, (size_t)n, off, NULL);
    uint32_t n_entries = 0;
    act_ent *es = NULL;
    trit_err e;
    trit_err_clear(&e);
    if (trit_cur_u32(&cur, &n_entries, "n_entries", &e)) goto bad;
    if (n_entries > TRIT_MAX_TENSORS) {
        vfy_report_add(c->rep, VFY_C_METADATA, 0, off, object, "activation-scale section: %u entries, at most %u",
                       n_entries, TRIT_MAX_TENSORS);
        return;
    }
    if ((uint64_t)n_entries * 24 > n - 4) {   /* an entry is at least 24 bytes: cap before allocating */
        vfy_report_add(c->rep, VFY_C_METADATA, 0, off, object,
                       "activation-scale section: %u entries cannot fit in its %llu bytes", n_entries, (unsigned long long)n);
        return;
    }
    es = calloc(n_entries ? n_entries : 1, sizeof *es);
    if (!es) {
        vfy_report_add(c->rep, VFY_C_INTERNAL, 0, off, object, "out of memory");
        return;
    }
    for (uint32_t k = 0; k < n_entries; k++) {
        uint64_t const at = off + cur.off;
        uint32_t tensor, group, n_scales, bits;
        uint8_t gran, r0, r1, r2;
        if (trit_cur_u32(&cur, &tensor, "entry tensor", &e) || trit_cur_u8(&cur, &gran, "granularity", &e) ||
            trit_cur_u8(&cur, &r0, "reserved", &e) || trit_cur_u8(&cur, &r1, "reserved", &e) ||
            trit_cur_u8(&cur, &r2, "reserved", &e) || trit_cur_u32(&cur, &group, "group size", &e) ||
            trit_cur_u32(&cur, &n_scales, "n_scales", &e) || trit_cur_u32(&cur, &bits, "bits", &e))
            goto bad;
        const char *why = NULL;
        uint64_t in = 0;
        if (tensor >= trit_reader_n_tensors(c->r)) why = "names no tensor";
        else {
            trit_tensor_info const *t = trit_reader_tensor(c->r, tensor);
            in = t->n_dims ? t->dims[t->n_dims - 1] : 1;
        }
        if (!why && (gran < 1 || gran > 3)) why = "has an unknown granularity";
        if (!why && (r0 || r1 || r2)) why = "has non-zero reserved bytes";
        if (!why && (gran == 3) != (group != 0)) why = "has a group size that does not match its granularity";
        if (!why && bits != 8 && bits != 16) why = "has bits other than 8 or 16";
        if (!why) {
            uint64_t const expect = gran == 1 ? 1 : gran == 2 ? in : trit_div_ceil(in, group);
            if (n_scales != expect) why = "has a scale count that does not match its granularity and its tensor's input features";
        }
        if (why) {
            vfy_report_add(c->rep, VFY_C_METADATA, 0, at, object, "activation-scale entry %u %s", k, why);
            free(es);
            return;
        }
        es[k] = (act_ent){tensor, gran, group, n_scales, bits, d + cur.off, at};
        for (uint32_t s = 0; s < n_scales; s++) {
            float f = 0;
            if (trit_cur_f32(&cur, &f, "scale", &e)) goto bad;
            if (!isfinite(f) || f <= 0) {
                vfy_report_add(c->rep, VFY_C_METADATA, 0, off + cur.off - 4, object,
                               "activation-scale entry %u: scale %u is not a finite positive number", k, s);
                free(es);
                return;
            }
        }
    }
    if (cur.off != cur.len)
        vfy_report_add(c->rep, VFY_C_METADATA, 0, off + cur.off, object, "%llu bytes after the last entry",
                       (unsigned long long)(cur.len - cur.off));
    else
        act_sites(c, es, n_entries, object);
    free(es);
    if (!(trit_reader_file_info(c->r)->optional_features & TRIT_FEAT_OPT_ACT_SCALES))
        vfy_report_add(c->rep, VFY_C_METADATA, 1, 24, object,
                       "activation scales are present but the ACT_SCALES optional feature bit is not set");
    return;
bad:
    free(es);
    vfy_report_add(c->rep, VFY_C_METADATA, 0, e.offset, object, "activation-scale section: %s", e.msg);
}

void vfy__section_content(vfy__tctx *c, const trit_section_info *si, const void *d, uint64_t n,
                          const char *object)
{
    switch (si->kind) {
    case TRIT_SECTION_TOKENIZER_JSON:
    case TRIT_SECTION_CONFIG_JSON: {
        cJSON *j = cJSON_ParseWithLength(d, (size_t)n);
        if (!j) {
            /* cJSON says NULL for bad text and for no memory alike: the strict scan (no
             * allocation) tells them apart, so an out-of-memory parse is not a finding on the file */
            src_json_scan_opts const so = {"JSON", TRIT_MAX_JSON_DEPTH, 0, UINT64_MAX, 0, 0, 0};
            src_json_result sr;
            int const valid = src_json_scan(d, (size_t)n, si->offset, c->rep->file, &so, &sr, NULL) == TRIT_OK;
            if (valid) free(sr.members);
            if (valid) vfy_report_add(c->rep, VFY_C_INTERNAL, 0, si->offset, object, "out of memory parsing JSON");
            else vfy_report_add(c->rep, VFY_C_METADATA, 0, si->offset, object, "is not valid JSON");
        }
        cJSON_Delete(j);
        break;
    }
    case TRIT_SECTION_GOLDEN_LOGITS: golden_logits(c, d, n, si->offset, object); break;
    case TRIT_SECTION_ACT_SCALES: act_scales(c, d, n, si->offset, object); break;
    case TRIT_SECTION_TOKENIZER_KV: {
        /* GGUF tokenizer.* keys in the container's KV encoding, delimited by the section size */
        trit_kvset *kv = NULL;
        trit_err e;
        trit_err_clear(&e);
        int const rc = trit_kvset_parse(d, n, si->offset, c->rep->file, &kv, &e);
        if (rc != TRIT_OK)
            vfy_report_add(c->rep, rc == TRIT_E_NOMEM ? VFY_C_INTERNAL : VFY_C_METADATA, 0, e.offset, object,
                           "tokenizer KV records: %s", e.msg);
        else if (trit_kvset_find(kv, "tokenizer.ggml.tokens") < 0)
            vfy_report_add(c->rep, VFY_C_METADATA, 0, si->offset, object, "has no tokenizer.ggml.tokens");
        trit_kvset_free(kv);
        break;
    }
    case TRIT_SECTION_TOKENIZER_SPM: case TRIT_SECTION_OTHER: break;
    default:
        vfy_report_add(c->rep, VFY_C_METADATA, 1, si->offset, object,
                       "unknown section kind %u: kept by tools, not interpreted", si->kind);
    }
}

/* ---- metadata ---------------------------------------------------------------------------- */

/* The keys spec 10.1 defines, with their types; `values` lists the allowed strings. */
static int value_allowed(const char *values, const char *s, uint64_t n)
{
    for (const char *p = values;;) {
        size_t const l = strcspn(p, "|");
        if (l == n && memcmp(p, s, l) == 0) return 1;
        if (!p[l]) return 0;
        p += l + 1;
    }
}

/* A model-description key the runner does not know may change the math: the runner refuses
 * the file (runner/run_model.c), so the gate does too. */
static void check_unknown_keys(vfy__tctx *c)
{
    const trit_kvset *kv = trit_reader_kv(c->r);
    for (uint32_t i = 0; i < trit_kvset_n(kv); i++) {
        const char *k = trit_kvset_key(kv, i);
        if (!k || !trit_mt_key_described(k) || trit_mt_key_find(k)) continue;
        char obj[112];
        snprintf(obj, sizeof obj, "metadata '%.80s'", k);
        vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                       "not a model-description key of spec 10.1: it may change the math, and the runner refuses it");
    }
}

static void check_keys(vfy__tctx *c)
{
    check_unknown_keys(c);
    size_t n_keys;
    const trit_mt_key *spec_keys = trit_mt_keys(&n_keys);
    for (size_t k = 0; k < n_keys; k++) {
        trit_mt_key const *sk = &spec_keys[k];
        char obj[96];
        snprintf(obj, sizeof obj, "metadata '%s'", sk->key);
        int64_t const i = trit_reader_find_kv(c->r, sk->key);
        if (i < 0) {
            if (sk->required)
                vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj, "missing; spec 10.1 requires it");
            continue;
        }
        uint32_t et = 0;
        uint64_t count = 0;
        uint32_t const type = trit_reader_kv_type(c->r, (uint32_t)i, &et, &count);
        if (type != sk->type || (type == TRIT_KV_ARRAY && et != sk->elem)) {
            vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj, "has type %s%s%s, spec 10.1 says %s%s%s",
                           trit_kv_type_name(type), type == TRIT_KV_ARRAY ? " of " : "",
                           type == TRIT_KV_ARRAY ? trit_kv_type_name(et) : "", trit_kv_type_name(sk->type),
                           sk->type == TRIT_KV_ARRAY ? " of " : "",
                           sk->type == TRIT_KV_ARRAY ? trit_kv_type_name(sk->elem) : "");
            continue;
        }
        if (sk->values) {
            const char *s;
            uint64_t n;
            if (trit_reader_kv_str(c->r, (uint32_t)i, &s, &n) == TRIT_OK && !value_allowed(sk->values, s, n))
                vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj, "is '%.*s', not one of %s",
                               (int)(n > 64 ? 64 : n), s, sk->values);
        }
    }
    /* value rules (positive counts, divisibility, rope_dim, eps, theta, token ids): the model
     * table's, in vfy__check_model for every format */
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(c->meta, "tokenizer.kind");
    if (cJSON_IsString(tk)) {
        uint32_t const kind = strcmp(tk->valuestring, "bpe") == 0   ? TRIT_SECTION_TOKENIZER_JSON
                              : strcmp(tk->valuestring, "spm") == 0 ? TRIT_SECTION_TOKENIZER_SPM
                              : strcmp(tk->valuestring, "gguf") == 0 ? TRIT_SECTION_TOKENIZER_KV
                                                                     : 0;
        if (kind && trit_reader_find_section(c->r, kind) < 0)
            vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, "metadata 'tokenizer.kind'",
                           "is '%s' but the file has no section of kind %u", tk->valuestring, kind);
    }
}

/* Names canonical, record layer/expert fields agreeing with the name, experts in units. */
static void check_names(vfy__tctx *c)
{
    for (uint64_t i = 0; i < c->model.n; i++) {
        insp_tref const *t = &c->model.t[i];
        char obj[224];
        vfy__obj_tensor(obj, sizeof obj, t->name);
        if (!t->known) {
            vfy_report_add(c->rep, VFY_C_METADATA, 1, TRIT_NO_OFFSET, obj,
                           "not a tensor name of spec 10.2: a runner will not use it");
            continue;
        }
        if (strcmp(t->canon, t->name) != 0)
            vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                           "not the canonical name; spec 10.2 calls it '%s'", t->canon);
        if (t->layer != t->rec_layer)
            vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj, "record says layer %d, the name says %d",
                           t->rec_layer == TRIT_NONE32 ? -1 : (int)t->rec_layer,
                           t->layer == TRIT_NONE32 ? -1 : (int)t->layer);
        if (t->expert != TRIT_NONE32 && t->unit == TRIT_NONE32)
            vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                           "expert %u is stored as a dense tensor; spec 10.2 puts it in expert unit (%u, %u)",
                           t->expert, t->layer, t->expert);
        else if (t->expert != TRIT_NONE32 && t->expert != t->rec_expert)
            vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                           "is in the unit of expert %u, the name says expert %u", t->rec_expert, t->expert);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t const x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Every layer with expert units has moe.n_expert of them. */
static void check_units(vfy__tctx *c)
{
    uint32_t const n_units = trit_reader_n_units(c->r);
    double nx;
    if (!n_units || !insp_num(c->model.hp, "moe.n_expert", &nx)) return;
    uint32_t *layers = malloc((size_t)n_units * sizeof *layers);
    if (!layers) {
        vfy_report_add(c->rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, "metadata", "out of memory");
        return;
    }
    for (uint32_t u = 0; u < n_units; u++) layers[u] = trit_reader_unit(c->r, u)->layer;
    qsort(layers, n_units, sizeof *layers, cmp_u32);
    for (uint32_t u = 0; u < n_units;) {
        uint32_t v = u;
        while (v < n_units && layers[v] == layers[u]) v++;
        if ((double)(v - u) != nx) {
            char obj[64];
            snprintf(obj, sizeof obj, "layer %u", layers[u]);
            vfy_report_add(c->rep, VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj, "%u expert units, moe.n_expert is %.0f",
                           v - u, nx);
        }
        u = v;
    }
    free(layers);
}

void vfy__trit_metadata(vfy__tctx *c)
{
    check_keys(c);
    check_names(c);
    check_units(c);
    vfy__check_model(c->rep, &c->model, 1);
}
