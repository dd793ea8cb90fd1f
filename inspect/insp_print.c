/* insp_print.c - render an insp_model as a text report or as JSON (spec/inspect-json.md). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "insp.h"
#include "trit_safemath.h"

#define TEXT_ROWS 40

typedef struct type_total {
    char type[32];
    uint64_t count, bytes, params;
} type_total;

static uint64_t nelems(const insp_tensor *t)
{
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (trit_mul_u64(n, t->dims[d], &n)) return UINT64_MAX;
    return n;
}

/* Totals per type, in first-seen order. Returns the number of distinct types. Caller frees *out. */
static size_t totals(const insp_model *m, type_total **out, uint64_t *params)
{
    type_total *tt = calloc((size_t)m->n_tensors + 1, sizeof *tt);
    size_t n = 0;
    *params = 0;
    for (uint64_t i = 0; tt && i < m->n_tensors; i++) {
        insp_tensor const *t = &m->tensors[i];
        size_t k = 0;
        while (k < n && strcmp(tt[k].type, t->type) != 0) k++;
        if (k == n) snprintf(tt[n++].type, sizeof tt[0].type, "%s", t->type);
        uint64_t const e = nelems(t);
        tt[k].count++;
        tt[k].bytes += t->nbytes;
        tt[k].params += e;
        *params += e;
    }
    *out = tt;
    return tt ? n : 0;
}

static void shape_str(const insp_tensor *t, char *buf, size_t n)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "[");
    for (uint32_t d = 0; d < t->n_dims && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%" PRIu64, d ? ", " : "", t->dims[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

static void human(uint64_t b, char *buf, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int k = 0;
    while (v >= 1024 && k < 4) { v /= 1024; k++; }
    if (k == 0) snprintf(buf, n, "%" PRIu64 " B", b);
    else snprintf(buf, n, "%.1f %s", v, u[k]);
}

/* TRIT_OK, or TRIT_E_NOMEM (nothing printed). */
static int print_json_value(FILE *out, const cJSON *v, int max_chars)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return TRIT_E_NOMEM;
    if ((int)strlen(s) > max_chars) {
        s[max_chars - 3] = '\0';
        fprintf(out, "%s...", s);
    } else {
        fputs(s, out);
    }
    free(s);
    return TRIT_OK;
}

static cJSON *stats_json(const insp_stats *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "min", st->min);
    cJSON_AddNumberToObject(o, "max", st->max);
    cJSON_AddNumberToObject(o, "mean_abs", st->mean_abs);
    cJSON_AddNumberToObject(o, "zero_fraction", st->n ? (double)st->n_zero / (double)st->n : 0);
    cJSON_AddBoolToObject(o, "all_zero", st->all_zero);
    cJSON_AddBoolToObject(o, "ternary", st->ternary);
    if (st->ternary) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "-1", (double)st->n_neg);
        cJSON_AddNumberToObject(h, "0", (double)st->n_zero);
        cJSON_AddNumberToObject(h, "+1", (double)st->n_pos);
        cJSON_AddItemToObject(o, "histogram", h);
        cJSON_AddStringToObject(o, "granularity", st->granularity);
        if (st->group_size) cJSON_AddNumberToObject(o, "group_size", (double)st->group_size);
        if (!strcmp(st->granularity, "tensor")) cJSON_AddNumberToObject(o, "scale", st->scale);
    }
    return o;
}

static int print_json(insp_model *m, const insp_opts *o, FILE *out, trit_err *err)
{
    int rc = TRIT_OK;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", m->format);
    cJSON_AddStringToObject(root, "version", m->version);
    cJSON_AddStringToObject(root, "file", m->path ? m->path : "");
    cJSON_AddNumberToObject(root, "file_bytes", (double)m->file_bytes);
    cJSON_AddNumberToObject(root, "tensor_count", (double)m->n_tensors);
    cJSON_AddNumberToObject(root, "kv_count", (double)m->kv_count);
    type_total *tt;
    uint64_t params;
    size_t const ntt = totals(m, &tt, &params);
    cJSON_AddNumberToObject(root, "parameter_count", (double)params);
    if (m->header) cJSON_AddItemReferenceToObject(root, "header", m->header);
    if (m->metadata) cJSON_AddItemReferenceToObject(root, "metadata", m->metadata);
    cJSON *tot = cJSON_AddArrayToObject(root, "totals_by_type");
    for (size_t k = 0; k < ntt; k++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", tt[k].type);
        cJSON_AddNumberToObject(e, "count", (double)tt[k].count);
        cJSON_AddNumberToObject(e, "bytes", (double)tt[k].bytes);
        cJSON_AddNumberToObject(e, "parameters", (double)tt[k].params);
        cJSON_AddItemToArray(tot, e);
    }
    free(tt);
    cJSON *arr = cJSON_AddArrayToObject(root, "tensors");
    for (uint64_t i = 0; i < m->n_tensors && rc == TRIT_OK; i++) {
        insp_tensor const *t = &m->tensors[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", t->name);
        cJSON_AddStringToObject(e, "type", t->type);
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (uint32_t d = 0; d < t->n_dims; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->dims[d]));
        if (t->has_ne) {
            cJSON *ne = cJSON_AddArrayToObject(e, "ne");
            for (uint32_t d = 0; d < t->n_dims; d++)
                cJSON_AddItemToArray(ne, cJSON_CreateNumber((double)t->ne_native[d]));
        }
        cJSON_AddNumberToObject(e, "bytes", (double)t->nbytes);
        if (t->offset != TRIT_NO_OFFSET) cJSON_AddNumberToObject(e, "offset", (double)t->offset);
        if (t->file_index) cJSON_AddNumberToObject(e, "file_index", t->file_index);
        if (t->layer != TRIT_NONE32) cJSON_AddNumberToObject(e, "layer", t->layer);
        if (t->expert != TRIT_NONE32) cJSON_AddNumberToObject(e, "expert", t->expert);
        if (t->unit != TRIT_NONE32) cJSON_AddNumberToObject(e, "unit", t->unit);
        if (t->storage[0]) cJSON_AddStringToObject(e, "storage", t->storage);
        if (o->stats && t->readable) {
            insp_stats st;
            rc = insp_tensor_stats(m, i, &st, err);
            if (rc == TRIT_OK) cJSON_AddItemToObject(e, "stats", stats_json(&st));
        }
        cJSON_AddItemToArray(arr, e);
    }
    if (rc == TRIT_OK) {
        char *s = cJSON_Print(root);
        if (!s) rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot render JSON");
        else {
            fputs(s, out);
            fputc('\n', out);
            free(s);
        }
    }
    cJSON_Delete(root);
    return rc;
}

static int print_text(insp_model *m, const insp_opts *o, FILE *out, trit_err *err)
{
    char hb[32], sb[128];
    type_total *tt;
    uint64_t params;
    size_t const ntt = totals(m, &tt, &params);
    if (!tt) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    human(m->file_bytes, hb, sizeof hb);
    fprintf(out, "file:       %s\n", m->path ? m->path : "");
    fprintf(out, "format:     %s%s%s\n", m->format, m->version[0] ? " " : "", m->version);
    fprintf(out, "size:       %s (%" PRIu64 " bytes)\n", hb, m->file_bytes);
    fprintf(out, "tensors:    %" PRIu64 "\n", m->n_tensors);
    fprintf(out, "parameters: %" PRIu64 "\n", params);
    if (m->header && m->header->child) {
        fprintf(out, "\nheader:\n");
        for (const cJSON *h = m->header->child; h; h = h->next) {
            fprintf(out, "  %-24s ", h->string);
            if (print_json_value(out, h, 200) != TRIT_OK) {
                free(tt);
                return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
            }
            fputc('\n', out);
        }
    }
    fprintf(out, "\nmetadata (%" PRIu64 " keys):\n", m->kv_count);
    for (const cJSON *kv = m->metadata ? m->metadata->child : NULL; kv; kv = kv->next) {
        fprintf(out, "  %-40s ", kv->string);
        if (print_json_value(out, kv, 120) != TRIT_OK) {
            free(tt);
            return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
        }
        fputc('\n', out);
    }
    uint64_t const shown = o->tensors || o->stats ? m->n_tensors : (m->n_tensors < TEXT_ROWS ? m->n_tensors : TEXT_ROWS);
    fprintf(out, "\n%-5s %-44s %-10s %-22s %12s %12s%s\n", "#", "name", "type", "shape", "bytes", "offset",
            o->stats ? "  min        max        mean|x|    zero%   ternary" : "");
    int rc = TRIT_OK;
    for (uint64_t i = 0; i < shown && rc == TRIT_OK; i++) {
        insp_tensor const *t = &m->tensors[i];
        char off[32];
        shape_str(t, sb, sizeof sb);
        if (t->offset != TRIT_NO_OFFSET) snprintf(off, sizeof off, "%" PRIu64, t->offset);
        else if (t->unit != TRIT_NONE32) snprintf(off, sizeof off, "unit %u %s", t->unit, t->storage);
        else snprintf(off, sizeof off, "-");
        fprintf(out, "%-5" PRIu64 " %-44s %-10s %-22s %12" PRIu64 " %12s", i, t->name, t->type, sb, t->nbytes, off);
        if (o->stats) {
            insp_stats st;
            if (!t->readable) {
                fprintf(out, "  (type not decodable)");
            } else if ((rc = insp_tensor_stats(m, i, &st, err)) == TRIT_OK) {
                fprintf(out, "  %-10.4g %-10.4g %-10.4g %6.2f  ", st.min, st.max, st.mean_abs,
                        st.n ? 100.0 * (double)st.n_zero / (double)st.n : 0.0);
                if (st.all_zero) fprintf(out, "ALL ZERO");
                else if (!st.ternary) fprintf(out, "no");
                else {
                    fprintf(out, "yes/%s", st.granularity);
                    if (st.group_size) fprintf(out, " g=%" PRIu64, st.group_size);
                    if (!strcmp(st.granularity, "tensor")) fprintf(out, " scale=%.6g", st.scale);
                    fprintf(out, " [-1:%" PRIu64 " 0:%" PRIu64 " +1:%" PRIu64 "]", st.n_neg, st.n_zero, st.n_pos);
                }
            }
        }
        fputc('\n', out);
    }
    if (shown < m->n_tensors) fprintf(out, "... %" PRIu64 " more (use --tensors)\n", m->n_tensors - shown);
    fprintf(out, "\ntotals by type:\n");
    for (size_t k = 0; k < ntt; k++) {
        human(tt[k].bytes, hb, sizeof hb);
        fprintf(out, "  %-12s %8" PRIu64 " tensors %14" PRIu64 " bytes (%s) %14" PRIu64 " params\n", tt[k].type,
                tt[k].count, tt[k].bytes, hb, tt[k].params);
    }
    free(tt);
    return rc;
}

int insp_print(insp_model *m, const insp_opts *o, FILE *out, trit_err *err)
{
    int const rc = o->json ? print_json(m, o, out, err) : print_text(m, o, out, err);
    if (rc != TRIT_OK && m->path) trit_err_file(err, m->path);
    return rc;
}
