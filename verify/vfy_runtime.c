/* vfy_runtime.c - which container formats each runtime release can load (verify's compat
 * class, `trit verify --runtime-version V`).
 *
 * One row per runtime release that changed what it reads, oldest first. A row says the newest
 * format version the runtime reads (spec/container.md section 4: a 1.0 reader reads every 1.y
 * file whose required features it knows), the required feature bits it implements and the
 * element types it can compute with (a 1.y file may declare types a 1.0 reader can size and
 * skip but not compute with). When a release adds a feature bit, an element type or a format
 * version, it appends a row here; rows are never edited afterwards. */
#include <stdio.h>
#include <string.h>

#include "vfy.h"
#include "vfy_int.h"

static const vfy_runtime builtin[] = {
    /* 0.1.0: the first release (not yet shipped, so its row still grows with it): container
     * 1.1, zstd units, types f32..u8 and the ggml block types q8_0, q4_k, q6_k, mxfp4 */
    {"0.1.0", 1, 1, TRIT_FEAT_REQ_ZSTD, TRIT_TYPE_COUNT_},
};

const vfy_runtime *vfy_runtime_table(size_t *n)
{
    *n = sizeof builtin / sizeof builtin[0];
    return builtin;
}

/* Parse "M.m" or "M.m.p" (each part 0..65535) into v[3]. 0 on success. */
static int parse_version(const char *s, unsigned v[3])
{
    v[0] = v[1] = v[2] = 0;
    int part = 0;
    if (!s || !*s) return -1;
    for (const char *p = s;; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned long x = 0;
        while (*p >= '0' && *p <= '9') {
            x = x * 10 + (unsigned long)(*p - '0');
            if (x > 65535) return -1;
            p++;
        }
        v[part++] = (unsigned)x;
        if (*p == '\0') break;
        if (*p != '.' || part == 3) return -1;
    }
    return part >= 2 ? 0 : -1;
}

static int cmp_version(const unsigned a[3], const unsigned b[3])
{
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

int vfy_runtime_find(const char *version, const vfy_runtime *tab, size_t n_tab, const vfy_runtime **out,
                     int *newer, trit_err *err)
{
    if (!tab) tab = vfy_runtime_table(&n_tab);
    *out = NULL;
    *newer = 0;
    unsigned want[3];
    if (parse_version(version, want) != 0)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                            "runtime version '%s' is not of the form MAJOR.MINOR[.PATCH]", version ? version : "");
    const vfy_runtime *best = NULL;
    unsigned best_v[3] = {0, 0, 0};
    for (size_t i = 0; i < n_tab; i++) {
        unsigned v[3];
        if (parse_version(tab[i].version, v) != 0) continue;
        if (cmp_version(v, want) <= 0 && (!best || cmp_version(v, best_v) > 0)) {
            best = &tab[i];
            memcpy(best_v, v, sizeof v);
        }
    }
    if (!best)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                            "unknown runtime version '%s': the oldest runtime release is %s", version,
                            n_tab ? tab[0].version : "(none)");
    for (size_t i = 0; i < n_tab; i++) {
        unsigned v[3];
        if (parse_version(tab[i].version, v) == 0 && cmp_version(v, best_v) > 0) {
            *out = best;
            return TRIT_OK;
        }
    }
    /* best is the newest row: a later version is one this build does not know about */
    *newer = cmp_version(want, best_v) > 0;
    *out = best;
    return TRIT_OK;
}

/* Names of required feature bits for messages. */
static void feature_names(uint64_t bits, char *buf, size_t n)
{
    buf[0] = '\0';
    for (unsigned b = 0; b < 64; b++) {
        if (!(bits & (1ull << b))) continue;
        size_t const l = strlen(buf);
        if (b == 0) snprintf(buf + l, n - l, "%sZSTD (bit 0)", l ? ", " : "");
        else snprintf(buf + l, n - l, "%sbit %u", l ? ", " : "", b);
    }
}

void vfy__compat_header(vfy_report *rep, const vfy_runtime *rt, int newer, unsigned major, unsigned minor,
                        uint64_t required)
{
    if (newer)
        vfy_report_add(rep, VFY_C_COMPAT, 1, TRIT_NO_OFFSET, "runtime",
                       "runtime %s is newer than this trit knows; checked against %s", rep->runtime, rt->version);
    if (major > rt->max_major) {
        vfy_report_add(rep, VFY_C_COMPAT, 0, 8, "header",
                       "format %u.%u needs a newer runtime: runtime %s reads formats up to %u.%u", major, minor,
                       rt->version, rt->max_major, rt->max_minor);
    } else if (major == rt->max_major && minor > rt->max_minor) {
        vfy_report_add(rep, VFY_C_COMPAT, 1, 10, "header",
                       "format %u.%u is newer than runtime %s knows (%u.%u); it reads it and ignores what it "
                       "does not know",
                       major, minor, rt->version, rt->max_major, rt->max_minor);
    }
    uint64_t const unknown = required & ~rt->known_required;
    if (unknown) {
        char names[256];
        feature_names(unknown, names, sizeof names);
        vfy_report_add(rep, VFY_C_COMPAT, 0, 16, "header", "runtime %s does not implement required feature %s",
                       rt->version, names);
    }
}

void vfy__compat_tensor(vfy_report *rep, const vfy_runtime *rt, const trit_tensor_info *t, const char *object)
{
    if (t->type < rt->n_types) return;
    vfy_report_add(rep, VFY_C_COMPAT, 0, TRIT_NO_OFFSET, object,
                   "element type %u is not one runtime %s can compute with (it knows ids 0..%u)", t->type,
                   rt->version, rt->n_types - 1);
}
