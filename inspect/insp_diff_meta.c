/* insp_diff_meta.c - the metadata half of `trit diff`.
 *
 * Both files' metadata is normalized to the .trit keys (insp_norm_meta: llama.block_count,
 * config.num_hidden_layers and model.n_layer are one key). A hyperparameter one file states
 * and the other leaves implicit is compared with the value derived from the other's tensors
 * (head_dim = n_embd / n_head, n_vocab = rows of token_embd, tied = no output.weight), marked
 * as derived. Keys outside the mapping are compared by name when both files are of the same
 * format; across formats they have no counterpart and are only counted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "insp_diff_int.h"
#include "insp_norm.h"

static int num_equal(double a, double b)
{
    if (a == b) return 1;
    if (a != a && b != b) return 1;
    /* a value stored as f32 on one side and f64 (or JSON text) on the other: 1e-6 vs
     * 9.99999997e-07 are the same hyperparameter */
    return (float)a == (float)b;
}

int insp__json_equal(const cJSON *a, const cJSON *b)
{
    if (!a || !b) return a == b;
    int const an = cJSON_IsNumber(a) || cJSON_IsBool(a), bn = cJSON_IsNumber(b) || cJSON_IsBool(b);
    if (an && bn) {
        double const x = cJSON_IsBool(a) ? (cJSON_IsTrue(a) ? 1 : 0) : a->valuedouble;
        double const y = cJSON_IsBool(b) ? (cJSON_IsTrue(b) ? 1 : 0) : b->valuedouble;
        return num_equal(x, y);
    }
    if (cJSON_IsString(a) && cJSON_IsString(b)) return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        for (const cJSON *x = a->child, *y = b->child; x && y; x = x->next, y = y->next)
            if (!insp__json_equal(x, y)) return 0;
        return 1;
    }
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        for (const cJSON *x = a->child; x; x = x->next)
            if (!insp__json_equal(x, cJSON_GetObjectItemCaseSensitive(b, x->string))) return 0;
        return 1;
    }
    if (cJSON_IsNull(a) && cJSON_IsNull(b)) return 1;
    return 0;
}

static int add_changed(insp_diff *d, const char *key, const cJSON *a, const cJSON *b, int a_derived, int b_derived)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "key", key) || !cJSON_AddItemToObject(o, "a", cJSON_Duplicate(a, 1)) ||
        !cJSON_AddItemToObject(o, "b", cJSON_Duplicate(b, 1)) || !cJSON_AddBoolToObject(o, "a_derived", a_derived) ||
        !cJSON_AddBoolToObject(o, "b_derived", b_derived) || !cJSON_AddItemToArray(d->meta_changed, o)) {
        cJSON_Delete(o);
        return TRIT_E_NOMEM;
    }
    return TRIT_OK;
}

static int add_only(cJSON *arr, const char *key, const cJSON *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "key", key) || !cJSON_AddItemToObject(o, "value", cJSON_Duplicate(v, 1)) ||
        !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return TRIT_E_NOMEM;
    }
    return TRIT_OK;
}

/* Every key of meta as "key" -> value, with config.json's objects flattened ("config.x.y"),
 * minus the keys the normalization consumed. New object (caller frees). */
static int flatten(cJSON *out, const cJSON *o, const char *prefix, const cJSON *consumed)
{
    for (const cJSON *x = o ? o->child : NULL; x; x = x->next) {
        if (!x->string) continue;
        char key[512];
        snprintf(key, sizeof key, "%s%s", prefix, x->string);
        if (cJSON_IsObject(x) && x->child && strlen(key) < 400 && !cJSON_GetObjectItemCaseSensitive(x, "head")) {
            char pre[512];
            snprintf(pre, sizeof pre, "%s.", key);
            if (flatten(out, x, pre, consumed) != TRIT_OK) return TRIT_E_NOMEM;
            continue;
        }
        if (cJSON_GetObjectItemCaseSensitive(consumed, key) || cJSON_GetObjectItemCaseSensitive(out, key)) continue;
        if (!cJSON_AddItemToObject(out, key, cJSON_Duplicate(x, 1))) return TRIT_E_NOMEM;
    }
    return TRIT_OK;
}

static int compare_canonical(insp_diff *d, const cJSON *ha, const cJSON *hb, const cJSON *da, const cJSON *db)
{
    /* keys in the order the normalization table gives them (ha first, then hb's others) */
    const cJSON *const sides[2] = {ha, hb};
    for (int s = 0; s < 2; s++)
        for (const cJSON *x = sides[s]->child; x; x = x->next) {
            if (s == 1 && cJSON_GetObjectItemCaseSensitive(ha, x->string)) continue;
            const cJSON *va = cJSON_GetObjectItemCaseSensitive(ha, x->string);
            const cJSON *vb = cJSON_GetObjectItemCaseSensitive(hb, x->string);
            int const a_der = !va, b_der = !vb;
            if (!va) va = cJSON_GetObjectItemCaseSensitive(da, x->string);
            if (!vb) vb = cJSON_GetObjectItemCaseSensitive(db, x->string);
            int rc = TRIT_OK;
            if (va && vb) {
                if (insp__json_equal(va, vb)) d->meta_same++;
                else rc = add_changed(d, x->string, va, vb, a_der, b_der);
            } else if (!insp_norm_has_source(d->format[va ? 1 : 0], x->string)) {
                d->meta_uncomparable[va ? 0 : 1]++;   /* the other format cannot state it */
            } else {
                rc = add_only(va ? d->meta_only_a : d->meta_only_b, x->string, va ? va : vb);
            }
            if (rc != TRIT_OK) return rc;
        }
    return TRIT_OK;
}

static int compare_raw(insp_diff *d, const cJSON *ra, const cJSON *rb)
{
    for (const cJSON *x = ra->child; x; x = x->next) {
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(rb, x->string);
        int rc = TRIT_OK;
        if (!y) rc = add_only(d->meta_only_a, x->string, x);
        else if (insp__json_equal(x, y)) d->meta_same++;
        else rc = add_changed(d, x->string, x, y, 0, 0);
        if (rc != TRIT_OK) return rc;
    }
    for (const cJSON *y = rb->child; y; y = y->next)
        if (!cJSON_GetObjectItemCaseSensitive(ra, y->string) && add_only(d->meta_only_b, y->string, y) != TRIT_OK)
            return TRIT_E_NOMEM;
    return TRIT_OK;
}

int insp__diff_meta(insp_diff *d, const cJSON *ma, const cJSON *mb, const cJSON *derived_a, const cJSON *derived_b,
                   trit_err *err)
{
    cJSON *ca = NULL, *cb = NULL;
    cJSON *ha = insp_norm_meta(d->format[0], ma, &ca);
    cJSON *hb = insp_norm_meta(d->format[1], mb, &cb);
    cJSON *ra = cJSON_CreateObject(), *rb = cJSON_CreateObject();
    d->meta_changed = cJSON_CreateArray();
    d->meta_only_a = cJSON_CreateArray();
    d->meta_only_b = cJSON_CreateArray();
    int rc = ha && hb && ra && rb && d->meta_changed && d->meta_only_a && d->meta_only_b ? TRIT_OK : TRIT_E_NOMEM;
    if (rc == TRIT_OK) rc = compare_canonical(d, ha, hb, derived_a, derived_b);
    if (rc == TRIT_OK) rc = flatten(ra, ma, "", ca);
    if (rc == TRIT_OK) rc = flatten(rb, mb, "", cb);
    if (rc == TRIT_OK) {
        if (strcmp(d->format[0], d->format[1]) == 0) {
            rc = compare_raw(d, ra, rb);
        } else {
            d->meta_uncomparable[0] = (uint64_t)cJSON_GetArraySize(ra);
            d->meta_uncomparable[1] = (uint64_t)cJSON_GetArraySize(rb);
        }
    }
    cJSON_Delete(ha);
    cJSON_Delete(hb);
    cJSON_Delete(ca);
    cJSON_Delete(cb);
    cJSON_Delete(ra);
    cJSON_Delete(rb);
    if (rc != TRIT_OK) return trit_err_set(err, rc, TRIT_NO_OFFSET, NULL, "out of memory comparing metadata");
    return TRIT_OK;
}
