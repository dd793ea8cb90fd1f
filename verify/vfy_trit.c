/* vfy_trit.c - `trit verify` for .trit containers: object by object, never stopping at the
 * first failure once the index is readable.
 *
 * Order: (1) the raw header, peeked through libtrit (trit_header_peek), for the runtime-compatibility verdict
 * (it must be given even when this build's libtrit refuses the file, e.g. a future major);
 * (2) libtrit's open-time validation (structure, bounds, header and index checksums): if the
 * index cannot be trusted nothing else can be located, so a failure here is the one finding;
 * (3) every object of the data area in file order - dense tensors, expert units (decoded,
 * sized, member checksums), sections - with the zero padding between them, and the value
 * invariants of every tensor whose bytes are intact; (4) metadata against tensors; (5) the
 * smoke run. libtrit's own trit_reader_verify() does (3)'s integrity part but stops at the
 * first failure, so the walk is done here through the public reader API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "trit_cursor.h"
#include "trit_safemath.h"
#include "trit_sys.h"
#include "src.h"
#include "vfy_int.h"
#include "vfy_trit_int.h"


static int class_of(int code)
{
    switch (code) {
    case TRIT_E_IO: case TRIT_E_NOTFOUND: return VFY_C_IO;
    case TRIT_E_NOMEM: return VFY_C_INTERNAL;
    case TRIT_E_LIMIT: return VFY_C_LIMIT;
    case TRIT_E_UNSUPPORTED: return VFY_C_COMPAT;
    default: return VFY_C_INTEGRITY;
    }
}

/* ---- (3) the data area ------------------------------------------------------------------- */

typedef struct obj {
    uint64_t start, end;
    int kind;                  /* 't' dense tensor, 'u' unit, 's' section */
    uint32_t idx;
} obj;

static int cmp_obj(const void *a, const void *b)
{
    obj const *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Bytes [from, to) of buf must be zero: one finding for the region, at its first bad byte. */
static void check_gap(vfy__tctx *c, const uint8_t *base, uint64_t base_off, uint64_t from, uint64_t to,
                      const char *what)
{
    for (uint64_t k = from; k < to; k++)
        if (base[k]) {
            char obj_name[96];
            snprintf(obj_name, sizeof obj_name, "%s [0x%llx, 0x%llx)", what, (unsigned long long)(base_off + from),
                     (unsigned long long)(base_off + to));
            vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, base_off + k, obj_name, "padding byte is 0x%02x, must be 0",
                           base[k]);
            return;
        }
}

/* Checksum and values of one tensor's bytes p (dense: in the mapping; member: in its decoded
 * unit). off is the file offset for messages. */
void vfy__tensor_bytes(vfy__tctx *c, uint32_t i, const uint8_t *p, uint64_t off, int dense)
{
    trit_tensor_info const *t = trit_reader_tensor(c->r, i);
    char obj_name[224];
    vfy__obj_tensor(obj_name, sizeof obj_name, t->name);
    c->rep->n_tensors++;
    c->rep->bytes_hashed += t->size;
    uint64_t const sum = trit_xxh3(p, (size_t)t->size);
    if (sum != t->xxh3) {
        /* bytes that fail their checksum say nothing about the values: skip value checks */
        vfy_report_add(c->rep, VFY_C_INTEGRITY, 0, off, obj_name, "checksum %016llx, computed %016llx",
                       (unsigned long long)t->xxh3, (unsigned long long)sum);
        return;
    }
    vfy__compat_tensor(c->rep, c->rt, t, obj_name);
    vfy__trit_values(c->rep, t, p, off, dense, obj_name, vfy__is_projection(c->model.t[i].canon));
}

static void check_section(vfy__tctx *c, uint32_t s)
{
    trit_section_info const *si = trit_reader_section(c->r, s);
    char obj_name[300];
    snprintf(obj_name, sizeof obj_name, "section '%s'", si->name);
    c->rep->n_sections++;
    c->rep->bytes_hashed += si->size;
    const void *d;
    uint64_t n;
    trit_err e;
    trit_err_clear(&e);
    int const rc = trit_reader_section_data(c->r, s, &d, &n, &e);
    if (rc != TRIT_OK) {
        vfy_report_add(c->rep, class_of(rc), 0, e.offset, obj_name, "%s", e.msg);
        return;
    }
    vfy__section_content(c, si, d, n, obj_name);
}

static int walk_data(vfy__tctx *c, const uint8_t *buf)
{
    trit_file_info const *fi = trit_reader_file_info(c->r);
    uint64_t const n_obj = (uint64_t)fi->n_tensors + fi->n_units + fi->n_sections;
    obj *o = trit_mallocarray((size_t)(n_obj ? n_obj : 1), sizeof *o);
    if (!o) return TRIT_E_NOMEM;
    uint64_t k = 0;
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *t = trit_reader_tensor(c->r, i);
        if (t->unit == TRIT_NONE32) o[k++] = (obj){t->offset, t->offset + t->size, 't', i};
    }
    for (uint32_t u = 0; u < fi->n_units; u++) {
        trit_unit_info const *un = trit_reader_unit(c->r, u);
        o[k++] = (obj){un->offset, un->offset + un->stored_size, 'u', u};
    }
    for (uint32_t s = 0; s < fi->n_sections; s++) {
        trit_section_info const *si = trit_reader_section(c->r, s);
        o[k++] = (obj){si->offset, si->offset + si->size, 's', s};
    }
    qsort(o, (size_t)k, sizeof *o, cmp_obj);
    /* the reader validated placement: objects lie in [data_off, file_size) and do not overlap */
    uint64_t pos = fi->index_off + fi->index_size;
    for (uint64_t j = 0; j < k; j++) {
        if (o[j].start > pos) check_gap(c, buf, 0, pos, o[j].start, "padding");
        if (o[j].kind == 't') {
            const void *d;
            uint64_t n;
            trit_err te;
            trit_err_clear(&te);
            int const trc = trit_reader_tensor_data(c->r, o[j].idx, &d, &n, &te);
            if (trc == TRIT_OK) vfy__tensor_bytes(c, o[j].idx, d, o[j].start, 1);
            else vfy_report_add_err(c->rep, class_of(trc), NULL, &te);   /* never skipped silently */
        } else if (o[j].kind == 'u') {
            vfy__check_unit(c, o[j].idx);
        } else {
            check_section(c, o[j].idx);
        }
        if (o[j].end > pos) pos = o[j].end;
    }
    if (fi->file_size > pos) check_gap(c, buf, 0, pos, fi->file_size, "padding");
    free(o);
    return TRIT_OK;
}

/* ---- entry points ------------------------------------------------------------------------ */

static void verify_trit(const uint8_t *buf, size_t len, const vfy_runtime *rt, int newer, const vfy_opts *opts,
                        vfy_report *rep)
{
    snprintf(rep->format, sizeof rep->format, "trit");
    snprintf(rep->runtime, sizeof rep->runtime, "%s", opts && opts->runtime_version ? opts->runtime_version : rt->version);
    unsigned major = 0, minor = 0;
    uint64_t required = 0;
    trit_err he;
    trit_err_clear(&he);
    int const peek = trit_header_peek(buf, len, &major, &minor, &required, &he);
    int const trusted = peek == TRIT_OK;
    if (trusted) {
        snprintf(rep->version, sizeof rep->version, "%u.%u", major, minor);
        vfy__compat_header(rep, rt, newer, major, minor, required);
    }
    trit_reader *r = NULL;
    trit_err e;
    trit_err_clear(&e);
    int const rc = trit_reader_open_mem(buf, len, rep->file, NULL, &r, &e);
    if (rc != TRIT_OK) {
        int cls = class_of(rc);
        const char *what = e.where[0] ? e.where : e.offset < TRIT_HEADER_SIZE ? "header" : "index";
        if (peek == TRIT_E_CHECKSUM && cls != VFY_C_INTEGRITY) {
            /* libtrit checks the version before the header checksum (spec 11): a flipped
             * version byte reads as "newer major"; the checksum says it is damage */
            vfy_report_add(rep, VFY_C_INTEGRITY, 0, he.offset, "header", "header checksum does not match (%s)", e.msg);
        } else if (!(cls == VFY_C_COMPAT && rep->n_errors[VFY_C_COMPAT])) {
            /* this build refusing a future format is the compat finding already made above */
            vfy_report_add(rep, cls, 0, e.offset, what, "%s", e.msg);
        }
        rep->stopped = 1;
        return;
    }
    vfy__tctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.rep = rep;
    c.rt = rt;
    c.opts = opts;
    c.buf = buf;
    if (vfy__tctx_init(&c) != TRIT_OK || walk_data(&c, buf) != TRIT_OK) {
        vfy_report_add(rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, "file", "out of memory");
    } else {
        vfy__trit_metadata(&c);
        vfy__load(&c);
        vfy__smoke(&c);
    }
    vfy__tctx_release(&c);
    trit_reader_close(r);
}

static int resolve_runtime(const vfy_opts *opts, const vfy_runtime **rt, int *newer, trit_err *err)
{
    size_t n_tab = 0;
    const vfy_runtime *tab = opts && opts->runtimes ? opts->runtimes : vfy_runtime_table(&n_tab);
    if (opts && opts->runtimes) n_tab = opts->n_runtimes;
    if (!n_tab) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "empty runtime table");
    const char *want = opts && opts->runtime_version ? opts->runtime_version : tab[n_tab - 1].version;
    return vfy_runtime_find(want, tab, n_tab, rt, newer, err);
}

int vfy_verify_trit_mem(const void *buf, size_t len, const char *name, const vfy_opts *opts, vfy_report *rep,
                        trit_err *err)
{
    const vfy_runtime *rt;
    int newer;
    vfy_report_init(rep, name ? name : "(memory)", opts ? opts->max_issues : 0);
    int const rc = resolve_runtime(opts, &rt, &newer, err);
    if (rc != TRIT_OK) return rc;
    verify_trit(buf, len, rt, newer, opts, rep);
    return TRIT_OK;
}

int vfy_verify(const char *path, const vfy_opts *opts, vfy_report *rep, trit_err *err)
{
    const vfy_runtime *rt;
    int newer;
    vfy_report_init(rep, path, opts ? opts->max_issues : 0);
    int rc = resolve_runtime(opts, &rt, &newer, err);
    if (rc != TRIT_OK) return rc;
    struct stat st;
    if (stat(path, &st) != 0) {
        vfy_report_add(rep, VFY_C_IO, 0, TRIT_NO_OFFSET, "file", "cannot open: %s", strerror(errno));
        return TRIT_OK;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        /* a FIFO or device would block the magic sniff below, or never end */
        vfy_report_add(rep, VFY_C_IO, 0, TRIT_NO_OFFSET, "file", "not a regular file or directory");
        return TRIT_OK;
    }
    src_format_id fmt = SRC_FMT_UNKNOWN;
    trit_err pe;
    trit_err_clear(&pe);
    if ((rc = src_probe(path, &fmt, &pe)) != TRIT_OK) {
        vfy_report_add(rep, class_of(rc), 0, TRIT_NO_OFFSET, "file", "%s", pe.msg);
        return TRIT_OK;
    }
    if (fmt != SRC_FMT_TRIT) {
        vfy__foreign(path, rep);
        return TRIT_OK;
    }
    const uint8_t *map;
    size_t len;
    trit_err e;
    trit_err_clear(&e);
    rc = trit_sys_map_file(path, &map, &len, &e);
    if (rc != TRIT_OK) {
        vfy_report_add(rep, class_of(rc), 0, TRIT_NO_OFFSET, "file", "%s", e.msg);
        return TRIT_OK;
    }
    static const uint8_t empty[1];
    verify_trit(map ? map : empty, len, rt, newer, opts, rep);
    trit_sys_unmap(map, len);
    return TRIT_OK;
}
