/* insp_diff_out.c - `trit diff` output: a git diff --stat style text, and JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "insp_diff_int.h"

static const char *const status_names[INSP_D_COUNT_] = {"same", "values", "shape", "only_a", "only_b", "not_compared"};

static void shape_str(char *buf, size_t n, uint32_t n_dims, const uint64_t *dims)
{
    size_t l = (size_t)snprintf(buf, n, "[");
    for (uint32_t d = 0; d < n_dims && d < 8 && l < n; d++)
        l += (size_t)snprintf(buf + l, n - l, "%s%llu", d ? ", " : "", (unsigned long long)dims[d]);
    if (l < n) snprintf(buf + l, n - l, "]");
}

/* A JSON value for one line of text, cut at 60 characters. */
static void value_str(const cJSON *v, char *buf, size_t n)
{
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    if (!s) {
        snprintf(buf, n, "?");
        return;
    }
    if (strlen(s) > 60) snprintf(buf, n, "%.57s...", s);
    else snprintf(buf, n, "%s", s);
    free(s);
}

static void print_meta(const insp_diff *d, FILE *out)
{
    if (!cJSON_GetArraySize(d->meta_changed) && !cJSON_GetArraySize(d->meta_only_a) && !cJSON_GetArraySize(d->meta_only_b))
        return;
    fprintf(out, "metadata (normalized to .trit keys):\n");
    const cJSON *x;
    char va[80], vb[80];
    cJSON_ArrayForEach(x, d->meta_changed)
    {
        value_str(cJSON_GetObjectItemCaseSensitive(x, "a"), va, sizeof va);
        value_str(cJSON_GetObjectItemCaseSensitive(x, "b"), vb, sizeof vb);
        fprintf(out, " ~ %-36s %s%s -> %s%s\n", cJSON_GetObjectItemCaseSensitive(x, "key")->valuestring, va,
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "a_derived")) ? " (derived)" : "", vb,
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "b_derived")) ? " (derived)" : "");
    }
    cJSON_ArrayForEach(x, d->meta_only_a)
    {
        value_str(cJSON_GetObjectItemCaseSensitive(x, "value"), va, sizeof va);
        fprintf(out, " - %-36s %s\n", cJSON_GetObjectItemCaseSensitive(x, "key")->valuestring, va);
    }
    cJSON_ArrayForEach(x, d->meta_only_b)
    {
        value_str(cJSON_GetObjectItemCaseSensitive(x, "value"), vb, sizeof vb);
        fprintf(out, " + %-36s %s\n", cJSON_GetObjectItemCaseSensitive(x, "key")->valuestring, vb);
    }
}

static void print_row(const insp_drow *r, FILE *out, int width)
{
    char sa[160], sb[160];
    fprintf(out, " %-*s | ", width, r->name);
    switch (r->status) {
    case INSP_D_ONLY_A: fprintf(out, "only in a (%s)", r->type_a); break;
    case INSP_D_ONLY_B: fprintf(out, "only in b (%s)", r->type_b); break;
    case INSP_D_SHAPE:
        shape_str(sa, sizeof sa, r->n_dims_a, r->dims_a);
        shape_str(sb, sizeof sb, r->n_dims_b, r->dims_b);
        fprintf(out, "shape %s -> %s", sa, sb);
        break;
    case INSP_D_UNCOMPARED: fprintf(out, "%s", r->note[0] ? r->note : "values not compared"); break;
    case INSP_D_SAME: fprintf(out, "values equal"); break;
    default: {
        fprintf(out, "%llu of %llu values differ, max_abs %.3g, rel %.3g, cos %.6f", (unsigned long long)r->n_diff,
                (unsigned long long)r->n, r->max_abs, r->rel, r->cosine);
        if (r->n_nan_mismatch) fprintf(out, ", NaN on one side %llu", (unsigned long long)r->n_nan_mismatch);
        if (r->ternary)
            fprintf(out, ", flipped codes %llu (sign %llu, 0->x %llu, x->0 %llu)", (unsigned long long)r->flips,
                    (unsigned long long)r->flips_sign, (unsigned long long)r->flips_zero_to_nz,
                    (unsigned long long)r->flips_nz_to_zero);
        /* the --stat bar: share of values that differ, 20 columns */
        int const bar = r->n ? (int)ceil(20.0 * (double)r->n_diff / (double)r->n) : 0;
        fprintf(out, " %.*s", bar, "####################");
    }
    }
    if (r->type_changed && r->status != INSP_D_ONLY_A && r->status != INSP_D_ONLY_B)
        fprintf(out, "%stype %s -> %s", r->status == INSP_D_SAME || r->status == INSP_D_VALUES ? "; " : ", ", r->type_a,
                r->type_b);
    if (r->note[0] && r->status != INSP_D_UNCOMPARED) fprintf(out, "; %s", r->note);
    fputc('\n', out);
}

int insp_diff_print(const insp_diff *d, FILE *out)
{
    fprintf(out, "a: %s (%s%s%s)\nb: %s (%s%s%s)\n", d->path[0], d->format[0], d->version[0][0] ? " " : "",
            d->version[0], d->path[1], d->format[1], d->version[1][0] ? " " : "", d->version[1]);
    print_meta(d, out);
    int width = 8;
    for (uint64_t i = 0; i < d->n_rows; i++) {
        int const l = (int)strlen(d->rows[i].name);
        if (l > width) width = l > 48 ? 48 : l;
    }
    int header = 0;
    for (uint64_t i = 0; i < d->n_rows; i++) {
        insp_drow const *r = &d->rows[i];
        /* like --stat: what differs; identical tensors (also in another type) with --all */
        if (r->status == INSP_D_SAME && !d->opts.all) continue;
        if (!header++) fprintf(out, "tensors:\n");
        print_row(r, out, width);
    }
    fprintf(out, " %llu tensors: %llu same, %llu differ, %llu shape, %llu only in a, %llu only in b, %llu not compared",
            (unsigned long long)d->n_rows, (unsigned long long)d->counts[INSP_D_SAME],
            (unsigned long long)d->counts[INSP_D_VALUES], (unsigned long long)d->counts[INSP_D_SHAPE],
            (unsigned long long)d->counts[INSP_D_ONLY_A], (unsigned long long)d->counts[INSP_D_ONLY_B],
            (unsigned long long)d->counts[INSP_D_UNCOMPARED]);
    if (d->n_type_changed) fprintf(out, "; %llu stored in another type", (unsigned long long)d->n_type_changed);
    fprintf(out, "\n metadata: %d changed, %d only in a, %d only in b, %llu same", cJSON_GetArraySize(d->meta_changed),
            cJSON_GetArraySize(d->meta_only_a), cJSON_GetArraySize(d->meta_only_b), (unsigned long long)d->meta_same);
    if (d->meta_uncomparable[0] || d->meta_uncomparable[1])
        fprintf(out, "; %llu keys of a and %llu of b have no counterpart in the other format",
                (unsigned long long)d->meta_uncomparable[0], (unsigned long long)d->meta_uncomparable[1]);
    fputc('\n', out);
    const cJSON *x;
    cJSON_ArrayForEach(x, d->notes) fprintf(out, "note: %s\n", x->valuestring);
    fprintf(out, "%s\n", insp_diff_differs(d) ? "files differ" : "files are the same model");
    return ferror(out) ? -1 : 0;
}

/* JSON number, or null for NaN/Inf (JSON has neither). Caller owns the item. */
static cJSON *num(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* [d0, d1, ...]. Caller owns the item (NULL on allocation failure). */
static cJSON *shape_json(uint32_t n_dims, const uint64_t *dims)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t k = 0; a && k < n_dims && k < 8; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)dims[k]));
    return a;
}

/* One tensor row of the JSON report. Caller owns the item (NULL on allocation failure). */
static cJSON *row_json(const insp_drow *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "status", status_names[r->status]);
    if (r->name_a) cJSON_AddStringToObject(o, "a_name", r->name_a); else cJSON_AddNullToObject(o, "a_name");
    if (r->name_b) cJSON_AddStringToObject(o, "b_name", r->name_b); else cJSON_AddNullToObject(o, "b_name");
    if (r->name_a) {
        cJSON_AddStringToObject(o, "a_type", r->type_a);
        cJSON_AddItemToObject(o, "a_shape", shape_json(r->n_dims_a, r->dims_a));
    }
    if (r->name_b) {
        cJSON_AddStringToObject(o, "b_type", r->type_b);
        cJSON_AddItemToObject(o, "b_shape", shape_json(r->n_dims_b, r->dims_b));
    }
    cJSON_AddBoolToObject(o, "type_changed", r->type_changed);
    if (r->status == INSP_D_SAME || r->status == INSP_D_VALUES) {
        cJSON_AddNumberToObject(o, "values", (double)r->n);
        cJSON_AddNumberToObject(o, "differing", (double)r->n_diff);
        cJSON_AddNumberToObject(o, "nan_mismatch", (double)r->n_nan_mismatch);
        cJSON_AddItemToObject(o, "max_abs", num(r->max_abs));
        cJSON_AddItemToObject(o, "rel_error", num(r->rel));
        cJSON_AddItemToObject(o, "cosine", num(r->cosine));
        if (r->ternary) {
            cJSON *f = cJSON_AddObjectToObject(o, "flips");
            if (f) {
                cJSON_AddNumberToObject(f, "total", (double)r->flips);
                cJSON_AddNumberToObject(f, "sign", (double)r->flips_sign);
                cJSON_AddNumberToObject(f, "zero_to_nonzero", (double)r->flips_zero_to_nz);
                cJSON_AddNumberToObject(f, "nonzero_to_zero", (double)r->flips_nz_to_zero);
            }
        } else {
            cJSON_AddNullToObject(o, "flips");
        }
    }
    if (r->note[0]) cJSON_AddStringToObject(o, "note", r->note);
    return o;
}

char *insp_diff_json(const insp_diff *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (int k = 0; k < 2; k++) {
        cJSON *f = cJSON_AddObjectToObject(o, k ? "b" : "a");
        if (!f) continue;
        cJSON_AddStringToObject(f, "path", d->path[k]);
        cJSON_AddStringToObject(f, "format", d->format[k]);
        cJSON_AddStringToObject(f, "version", d->version[k]);
    }
    cJSON_AddBoolToObject(o, "differ", insp_diff_differs(d));
    cJSON *m = cJSON_AddObjectToObject(o, "metadata");
    if (m) {
        cJSON_AddItemToObject(m, "changed", cJSON_Duplicate(d->meta_changed, 1));
        cJSON_AddItemToObject(m, "only_a", cJSON_Duplicate(d->meta_only_a, 1));
        cJSON_AddItemToObject(m, "only_b", cJSON_Duplicate(d->meta_only_b, 1));
        cJSON_AddNumberToObject(m, "same", (double)d->meta_same);
        cJSON *u = cJSON_AddObjectToObject(m, "no_counterpart");
        if (u) {
            cJSON_AddNumberToObject(u, "a", (double)d->meta_uncomparable[0]);
            cJSON_AddNumberToObject(u, "b", (double)d->meta_uncomparable[1]);
        }
    }
    cJSON *t = cJSON_AddArrayToObject(o, "tensors");
    for (uint64_t i = 0; t && i < d->n_rows; i++) cJSON_AddItemToArray(t, row_json(&d->rows[i]));
    cJSON *s = cJSON_AddObjectToObject(o, "summary");
    if (s) {
        cJSON_AddNumberToObject(s, "tensors", (double)d->n_rows);
        for (int k = 0; k < INSP_D_COUNT_; k++) cJSON_AddNumberToObject(s, status_names[k], (double)d->counts[k]);
        cJSON_AddNumberToObject(s, "type_changed", (double)d->n_type_changed);
    }
    cJSON_AddItemToObject(o, "notes", cJSON_Duplicate(d->notes, 1));
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}
