/* vfy_report.c - the verification report: findings by class, exit code, text and JSON output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vfy.h"
#include "vfy_int.h"

static const char *const class_names[VFY_C_COUNT_] = {
    "io", "integrity", "limit", "compat", "tensor", "metadata", "smoke", "internal",
};

const char *vfy_class_name(int cls)
{
    return cls >= 0 && cls < VFY_C_COUNT_ ? class_names[cls] : "?";
}

void vfy_report_init(vfy_report *r, const char *file, uint32_t max_issues)
{
    memset(r, 0, sizeof *r);
    snprintf(r->file, sizeof r->file, "%s", file ? file : "");
    r->max_issues = max_issues ? max_issues : 1000;
}

void vfy_report_release(vfy_report *r)
{
    if (!r) return;
    free(r->issues);
    r->issues = NULL;
    r->n_issues = r->cap_issues = 0;
}


#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 6, 0)))
#endif
static void add_v(vfy_report *r, int cls, int warning, uint64_t offset, const char *object, const char *fmt,
                  va_list ap)
{
    if (cls < 0 || cls >= VFY_C_COUNT_) cls = VFY_C_INTEGRITY;
    if (warning) r->n_warnings++;
    else r->n_errors[cls]++;
    if (r->n_issues >= r->max_issues) {
        r->n_dropped++;
        return;
    }
    if (r->n_issues == r->cap_issues) {
        uint32_t const cap = r->cap_issues ? r->cap_issues * 2 : 16;
        vfy_issue *ni = realloc(r->issues, (size_t)cap * sizeof *ni);
        if (!ni) {
            /* counted, not listed; and the verifier failed: the report is not the whole story */
            r->n_dropped++;
            r->n_errors[VFY_C_INTERNAL]++;
            return;
        }
        r->issues = ni;
        r->cap_issues = cap;
    }
    vfy_issue *is = &r->issues[r->n_issues++];
    is->cls = cls;
    is->warning = warning;
    is->offset = offset;
    snprintf(is->object, sizeof is->object, "%s", object && *object ? object : "file");
    vsnprintf(is->msg, sizeof is->msg, fmt, ap);
    insp_sanitize(is->object);
    insp_sanitize(is->msg);
}

void vfy__report_merge(vfy_report *dst, const vfy_report *src)
{
    for (int c = 0; c < VFY_C_COUNT_; c++) dst->n_errors[c] += src->n_errors[c];
    dst->n_warnings += src->n_warnings;
    dst->n_dropped += src->n_dropped;
    dst->n_tensors += src->n_tensors;
    dst->n_units += src->n_units;
    dst->n_sections += src->n_sections;
    dst->n_kv += src->n_kv;
    dst->bytes_hashed += src->bytes_hashed;
    for (uint32_t i = 0; i < src->n_issues; i++) {
        if (dst->n_issues >= dst->max_issues) {
            dst->n_dropped++;
            continue;
        }
        if (dst->n_issues == dst->cap_issues) {
            uint32_t const cap = dst->cap_issues ? dst->cap_issues * 2 : 16;
            vfy_issue *ni = realloc(dst->issues, (size_t)cap * sizeof *ni);
            if (!ni) {   /* as in add_v: counted, not listed, and the verifier failed */
                dst->n_dropped++;
                dst->n_errors[VFY_C_INTERNAL]++;
                continue;
            }
            dst->issues = ni;
            dst->cap_issues = cap;
        }
        dst->issues[dst->n_issues++] = src->issues[i];
    }
}

void vfy_report_add(vfy_report *r, int cls, int warning, uint64_t offset, const char *object, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_v(r, cls, warning, offset, object, fmt, ap);
    va_end(ap);
}

void vfy_report_add_err(vfy_report *r, int cls, const char *object, const trit_err *err)
{
    const char *obj = object && *object ? object : err->where[0] ? err->where : "file";
    vfy_report_add(r, cls, 0, err->offset, obj, "%s", err->msg[0] ? err->msg : trit_strerror(err->code));
}

uint64_t vfy_report_n_errors(const vfy_report *r)
{
    uint64_t n = 0;
    for (int c = 0; c < VFY_C_COUNT_; c++) n += r->n_errors[c];
    return n;
}

int vfy_report_exit(const vfy_report *r)
{
    /* The most basic failure decides: a file that cannot be read says nothing about its
     * content; a corrupt one cannot be judged for compatibility; an incompatible one need not
     * be judged for its values. spec/errors.md "trit verify". Before all of them: a verifier
     * that failed itself (out of memory) did not run every check, so it says nothing. */
    if (r->n_errors[VFY_C_INTERNAL]) return 70;
    if (r->n_errors[VFY_C_IO]) return 3;
    if (r->n_errors[VFY_C_INTEGRITY]) return 4;
    if (r->n_errors[VFY_C_LIMIT]) return 6;
    if (r->n_errors[VFY_C_COMPAT]) return 5;
    if (r->n_errors[VFY_C_TENSOR] || r->n_errors[VFY_C_METADATA] || r->n_errors[VFY_C_SMOKE]) return 1;
    return 0;
}

/* "integrity" or "integrity+tensor" for the issues of one object. */
static void object_classes(const vfy_report *r, const char *object, int warning, char *buf, size_t n)
{
    int seen[VFY_C_COUNT_] = {0};
    for (uint32_t i = 0; i < r->n_issues; i++)
        if (r->issues[i].warning == warning && strcmp(r->issues[i].object, object) == 0) seen[r->issues[i].cls] = 1;
    buf[0] = '\0';
    for (int c = 0; c < VFY_C_COUNT_; c++)
        if (seen[c]) {
            size_t const l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? "+" : "", class_names[c]);
        }
}

/* 1 if an issue before i of the same severity is about the same object (its line has i). */
static int printed_before(const vfy_report *r, uint32_t i)
{
    for (uint32_t j = 0; j < i; j++)
        if (r->issues[j].warning == r->issues[i].warning && strcmp(r->issues[j].object, r->issues[i].object) == 0)
            return 1;
    return 0;
}

/* One line per object: every finding about it joined with "; ". Errors first, then warnings.
 * Objects appear in the order they were first reported (file order for the integrity pass).
 * No allocation (quadratic in the listed findings, at most --max-findings): printing the
 * report of a run that ran out of memory must not fail too. */
static void print_objects(const vfy_report *r, FILE *out, int warning)
{
    for (uint32_t i = 0; i < r->n_issues; i++) {
        vfy_issue const *is = &r->issues[i];
        if (is->warning != warning || printed_before(r, i)) continue;
        char cls[96];
        object_classes(r, is->object, warning, cls, sizeof cls);
        fprintf(out, "%s %s: %s: %s", warning ? "WARN" : "FAIL", cls, r->file, is->object);
        int first = 1;
        for (uint32_t j = i; j < r->n_issues; j++) {
            vfy_issue const *js = &r->issues[j];
            if (js->warning != warning || strcmp(js->object, is->object) != 0) continue;
            fprintf(out, "%s", first ? ": " : "; ");
            if (js->offset != TRIT_NO_OFFSET) fprintf(out, "offset 0x%llx: ", (unsigned long long)js->offset);
            fprintf(out, "%s", js->msg);
            first = 0;
        }
        fputc('\n', out);
    }
}

int vfy_report_print(const vfy_report *r, FILE *out, int verbose)
{
    print_objects(r, out, 0);
    print_objects(r, out, 1);
    if (r->n_dropped) fprintf(out, "... %llu more findings not shown\n", (unsigned long long)r->n_dropped);
    uint64_t const n_err = vfy_report_n_errors(r);
    fprintf(out, "%s: %s", r->file, n_err ? "FAILED" : "OK");
    if (r->format[0]) fprintf(out, " (%s%s%s", r->format, r->version[0] ? " " : "", r->version);
    if (r->format[0] && r->runtime[0]) fprintf(out, ", runtime %s", r->runtime);
    if (r->format[0]) fputc(')', out);
    if (n_err) {
        fprintf(out, ": %llu error%s (", (unsigned long long)n_err, n_err == 1 ? "" : "s");
        int first = 1;
        for (int c = 0; c < VFY_C_COUNT_; c++)
            if (r->n_errors[c]) {
                fprintf(out, "%s%s %llu", first ? "" : ", ", class_names[c], (unsigned long long)r->n_errors[c]);
                first = 0;
            }
        fputc(')', out);
    }
    if (r->n_warnings) fprintf(out, ", %llu warning%s", (unsigned long long)r->n_warnings, r->n_warnings == 1 ? "" : "s");
    if (r->stopped) fprintf(out, "; checking stopped: the file's structure could not be read");
    fputc('\n', out);
    if (verbose)
        fprintf(out, "checked: %llu tensors, %llu expert units, %llu sections, %llu metadata keys, %llu bytes%s%s\n",
                (unsigned long long)r->n_tensors, (unsigned long long)r->n_units, (unsigned long long)r->n_sections,
                (unsigned long long)r->n_kv, (unsigned long long)r->bytes_hashed,
                r->load_checked ? ", loaded by the runtime" : "", r->smoke_ran ? ", smoke run" : "");
    return ferror(out) ? -1 : 0;
}

char *vfy_report_json(const vfy_report *r)
{
    /* every field or none: a report with "ok" or "exit" missing must not reach a consumer */
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    uint64_t const n_err = vfy_report_n_errors(r);
    int ok = cJSON_AddStringToObject(o, "file", r->file) && cJSON_AddStringToObject(o, "format", r->format) &&
             cJSON_AddStringToObject(o, "version", r->version) &&
             (r->runtime[0] ? cJSON_AddStringToObject(o, "runtime", r->runtime) != NULL
                            : cJSON_AddNullToObject(o, "runtime") != NULL) &&
             cJSON_AddBoolToObject(o, "ok", n_err == 0) && cJSON_AddNumberToObject(o, "exit", vfy_report_exit(r));
    cJSON *errs = ok ? cJSON_AddObjectToObject(o, "errors") : NULL;
    ok = errs != NULL;
    for (int c = 0; ok && c < VFY_C_COUNT_; c++)
        ok = cJSON_AddNumberToObject(errs, class_names[c], (double)r->n_errors[c]) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "warnings", (double)r->n_warnings);
    cJSON *chk = ok ? cJSON_AddObjectToObject(o, "checked") : NULL;
    ok = chk && cJSON_AddNumberToObject(chk, "tensors", (double)r->n_tensors) &&
         cJSON_AddNumberToObject(chk, "expert_units", (double)r->n_units) &&
         cJSON_AddNumberToObject(chk, "sections", (double)r->n_sections) &&
         cJSON_AddNumberToObject(chk, "metadata_keys", (double)r->n_kv) &&
         cJSON_AddNumberToObject(chk, "bytes", (double)r->bytes_hashed) &&
         cJSON_AddBoolToObject(chk, "runtime_load", r->load_checked) &&
         cJSON_AddBoolToObject(chk, "smoke", r->smoke_ran) && cJSON_AddBoolToObject(chk, "stopped_early", r->stopped);
    cJSON *list = ok ? cJSON_AddArrayToObject(o, "findings") : NULL;
    ok = list != NULL;
    for (uint32_t i = 0; ok && i < r->n_issues; i++) {
        vfy_issue const *is = &r->issues[i];
        cJSON *f = cJSON_CreateObject();
        ok = f && cJSON_AddItemToArray(list, f);
        if (!ok) {
            cJSON_Delete(f);
            break;
        }
        ok = cJSON_AddStringToObject(f, "class", class_names[is->cls]) &&
             cJSON_AddStringToObject(f, "severity", is->warning ? "warning" : "error") &&
             cJSON_AddStringToObject(f, "object", is->object) &&
             (is->offset != TRIT_NO_OFFSET ? cJSON_AddNumberToObject(f, "offset", (double)is->offset) != NULL
                                           : cJSON_AddNullToObject(f, "offset") != NULL) &&
             cJSON_AddStringToObject(f, "message", is->msg);
    }
    ok = ok && cJSON_AddNumberToObject(o, "findings_not_listed", (double)r->n_dropped);
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}
