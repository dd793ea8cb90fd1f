/*
 * act_scales.c - the activation-scale section (kind 5, spec/container.md section 9): a
 * bounds-checked parse into owned entries, the canonical encoding, and the reader shortcut.
 *
 * The encoding is canonical (entries in strictly increasing tensor order, reserved bytes zero,
 * nothing after the last entry), so parse and encode are inverse: encode(parse(b)) == b for
 * every accepted b. The fuzz target act_scales checks exactly that.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trit_cursor.h"
#include "trit_limits.h"
#include "trit_safemath.h"

#define ENTRY_FIXED 20u            /* entry bytes before the scales */

struct trit_act_scales {
    uint32_t n;
    trit_act_entry *e;             /* n entries, increasing tensor */
    float *scales;                 /* every entry's scales, back to back */
};

void trit_act_scales_free(trit_act_scales *s)
{
    if (!s) return;
    free(s->e);
    free(s->scales);
    free(s);
}

uint32_t trit_act_scales_n(const trit_act_scales *s) { return s ? s->n : 0; }

const trit_act_entry *trit_act_scales_at(const trit_act_scales *s, uint32_t i)
{
    return s && i < s->n ? &s->e[i] : NULL;
}

const trit_act_entry *trit_act_scales_find(const trit_act_scales *s, uint32_t tensor)
{
    if (!s) return NULL;
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t const mid = lo + (hi - lo) / 2;
        if (s->e[mid].tensor == tensor) return &s->e[mid];
        if (s->e[mid].tensor < tensor) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *trit_act_granularity_name(uint32_t g)
{
    switch (g) {
    case TRIT_ACT_TENSOR: return "tensor";
    case TRIT_ACT_CHANNEL: return "channel";
    case TRIT_ACT_GROUP: return "group";
    default: return NULL;
    }
}

/* Input features of tensor record t: its last dimension (1 for a 0-d tensor). */
static uint64_t in_features(const trit_tensor_info *t) { return t->n_dims ? t->dims[t->n_dims - 1] : 1; }

/* The checks every entry passes, shared by parse and encode. in_feat is 0 when unknown (no
 * reader). Returns TRIT_OK or the error class, with msg filled. */
static int check_entry(const trit_act_entry *e, uint64_t in_feat, char *msg, size_t cap)
{
    if (e->granularity < TRIT_ACT_TENSOR || e->granularity > TRIT_ACT_GROUP) {
        snprintf(msg, cap, "granularity %u, expected 1 (tensor), 2 (channel) or 3 (group)", e->granularity);
        return TRIT_E_CORRUPT;
    }
    if ((e->granularity == TRIT_ACT_GROUP) != (e->group_size != 0)) {
        snprintf(msg, cap, "group_size %u with granularity %s", e->group_size, trit_act_granularity_name(e->granularity));
        return TRIT_E_CORRUPT;
    }
    if (e->bits != 8 && e->bits != 16) {
        snprintf(msg, cap, "activation width of %u bits, this reader knows 8 and 16", e->bits);
        return TRIT_E_UNSUPPORTED;
    }
    uint64_t want = 0;
    if (e->granularity == TRIT_ACT_TENSOR) want = 1;
    else if (in_feat && e->granularity == TRIT_ACT_CHANNEL) want = in_feat;
    else if (in_feat) want = trit_div_ceil(in_feat, e->group_size);
    if (e->n_scales == 0 || (want && e->n_scales != want)) {
        if (want)
            snprintf(msg, cap, "%u scales, expected %llu (granularity %s, %llu input features)", e->n_scales,
                     (unsigned long long)want, trit_act_granularity_name(e->granularity), (unsigned long long)in_feat);
        else
            snprintf(msg, cap, "no scales");
        return TRIT_E_CORRUPT;
    }
    return TRIT_OK;
}

static int check_scale(float v, uint32_t k, char *msg, size_t cap)
{
    if (isfinite(v) && v > 0.0f) return TRIT_OK;
    snprintf(msg, cap, "scale %u is %g, expected a finite value > 0", k, (double)v);
    return TRIT_E_CORRUPT;
}

static void entry_where(char *where, size_t cap, uint32_t i, uint32_t tensor, const trit_reader *r)
{
    trit_tensor_info const *t = r && tensor < trit_reader_n_tensors(r) ? trit_reader_tensor(r, tensor) : NULL;
    if (t) snprintf(where, cap, "activation scales entry %u (tensor '%.48s')", i, t->name);
    else snprintf(where, cap, "activation scales entry %u (tensor %u)", i, tensor);
}

static int fail(trit_err *err, int code, uint64_t off, const char *where, const char *file, const char *msg)
{
    trit_err_set(err, code, off, where, "%s", msg);
    trit_err_file(err, file);
    return code;
}

int trit_act_scales_parse(const void *buf, uint64_t len, uint64_t base_off, const char *file, const trit_reader *r,
                          trit_act_scales **out, trit_err *err)
{
    *out = NULL;
    size_t n_bytes;
    if (trit_to_size(len, &n_bytes)) return fail(err, TRIT_E_LIMIT, base_off, "activation scales", file, "section too large");
    trit_cur c;
    trit_cur_init(&c, buf, n_bytes, base_off, file);
    uint32_t n;
    int rc = trit_cur_u32(&c, &n, "activation scales: entry count", err);
    if (rc) return rc;
    if (n > TRIT_MAX_TENSORS) {
        char msg[96];
        snprintf(msg, sizeof msg, "%u entries, limit %u", n, TRIT_MAX_TENSORS);
        return fail(err, TRIT_E_LIMIT, base_off, "activation scales", file, msg);
    }
    /* every entry takes at least ENTRY_FIXED + 4 bytes: refuse a count the bytes cannot hold
     * before allocating for it */
    if ((uint64_t)n * (ENTRY_FIXED + 4) > trit_cur_left(&c)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%u entries need at least %llu bytes, %llu left", n,
                 (unsigned long long)n * (ENTRY_FIXED + 4), (unsigned long long)trit_cur_left(&c));
        return fail(err, TRIT_E_TRUNCATED, trit_cur_pos(&c), "activation scales", file, msg);
    }
    trit_act_scales *s = calloc(1, sizeof *s);
    if (!s) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    s->e = trit_mallocarray(n ? n : 1, sizeof *s->e);
    /* scales take 4 bytes each: the section bounds their total */
    s->scales = trit_mallocarray(n_bytes / 4 + 1, sizeof *s->scales);
    if (!s->e || !s->scales) {
        trit_act_scales_free(s);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    }
    uint64_t used = 0;
    uint32_t const n_tensors = r ? trit_reader_n_tensors(r) : UINT32_MAX;
    char where[96], msg[160];
    for (uint32_t i = 0; i < n && rc == TRIT_OK; i++) {
        trit_act_entry *e = &s->e[i];
        uint64_t const e_off = trit_cur_pos(&c);
        uint32_t reserved;
        const uint8_t *res;
        if ((rc = trit_cur_u32(&c, &e->tensor, "activation scales: entry tensor", err))) break;
        entry_where(where, sizeof where, i, e->tensor, r);
        uint8_t g;
        if ((rc = trit_cur_u8(&c, &g, where, err)) || (rc = trit_cur_bytes(&c, 3, &res, where, err)) ||
            (rc = trit_cur_u32(&c, &e->group_size, where, err)) || (rc = trit_cur_u32(&c, &e->n_scales, where, err)) ||
            (rc = trit_cur_u32(&c, &e->bits, where, err)))
            break;
        e->granularity = g;
        reserved = (uint32_t)res[0] | (uint32_t)res[1] << 8 | (uint32_t)res[2] << 16;
        if (e->tensor >= n_tensors) {
            snprintf(msg, sizeof msg, "tensor index %u, the file has %u tensors", e->tensor, n_tensors);
            rc = fail(err, TRIT_E_CORRUPT, e_off, where, file, msg);
            break;
        }
        if (i > 0 && e->tensor <= s->e[i - 1].tensor) {
            snprintf(msg, sizeof msg, "tensor %u after tensor %u: entries must be in strictly increasing tensor order",
                     e->tensor, s->e[i - 1].tensor);
            rc = fail(err, TRIT_E_CORRUPT, e_off, where, file, msg);
            break;
        }
        if (reserved) {
            rc = fail(err, TRIT_E_CORRUPT, e_off + 5, where, file, "reserved bytes are not zero");
            break;
        }
        uint64_t const in_feat = r ? in_features(trit_reader_tensor(r, e->tensor)) : 0;
        if ((rc = check_entry(e, in_feat, msg, sizeof msg))) {
            rc = fail(err, rc, e_off + 4, where, file, msg);
            break;
        }
        if (!trit_cur_need(&c, (uint64_t)e->n_scales * 4)) {
            snprintf(msg, sizeof msg, "%u scales need %llu bytes, %llu left", e->n_scales,
                     (unsigned long long)e->n_scales * 4, (unsigned long long)trit_cur_left(&c));
            rc = fail(err, TRIT_E_TRUNCATED, trit_cur_pos(&c), where, file, msg);
            break;
        }
        float *sc = s->scales + used;
        for (uint32_t k = 0; k < e->n_scales && rc == TRIT_OK; k++) {
            uint64_t const k_off = trit_cur_pos(&c);
            if ((rc = trit_cur_f32(&c, &sc[k], where, err))) break;
            if (check_scale(sc[k], k, msg, sizeof msg)) rc = fail(err, TRIT_E_CORRUPT, k_off, where, file, msg);
        }
        used += e->n_scales;
        s->n = i + 1;
    }
    if (rc == TRIT_OK && trit_cur_left(&c)) {
        snprintf(msg, sizeof msg, "%llu bytes after the last entry", (unsigned long long)trit_cur_left(&c));
        rc = fail(err, TRIT_E_CORRUPT, trit_cur_pos(&c), "activation scales", file, msg);
    }
    if (rc) {
        trit_act_scales_free(s);
        return rc;
    }
    /* pointers last: the scales array no longer moves */
    used = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        s->e[i].scales = s->scales + used;
        used += s->e[i].n_scales;
    }
    *out = s;
    return TRIT_OK;
}

int trit_reader_act_scales(const trit_reader *r, trit_act_scales **out, trit_err *err)
{
    *out = NULL;
    int64_t const i = trit_reader_find_section(r, TRIT_SECTION_ACT_SCALES);
    if (i < 0) {
        trit_err_set(err, TRIT_E_NOTFOUND, TRIT_NO_OFFSET, NULL, "no activation-scale section (kind 5)");
        trit_err_file(err, trit_reader_path(r));
        return TRIT_E_NOTFOUND;
    }
    const void *d;
    uint64_t n;
    int const rc = trit_reader_section_data(r, (uint32_t)i, &d, &n, err);
    if (rc) return rc;
    return trit_act_scales_parse(d, n, trit_reader_section(r, (uint32_t)i)->offset, trit_reader_path(r), r, out, err);
}

int trit_act_scales_encode(const trit_act_entry *e, uint32_t n, void **out, uint64_t *len, trit_err *err)
{
    *out = NULL;
    *len = 0;
    if (n > TRIT_MAX_TENSORS)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "activation scales", "%u entries, limit %u", n, TRIT_MAX_TENSORS);
    uint64_t total = 4;
    char where[96], msg[160];
    for (uint32_t i = 0; i < n; i++) {
        entry_where(where, sizeof where, i, e[i].tensor, NULL);
        int rc = check_entry(&e[i], 0, msg, sizeof msg);
        if (!rc && i > 0 && e[i].tensor <= e[i - 1].tensor) {
            rc = TRIT_E_USAGE;
            snprintf(msg, sizeof msg, "entries must be in strictly increasing tensor order");
        }
        for (uint32_t k = 0; !rc && k < e[i].n_scales; k++) rc = check_scale(e[i].scales[k], k, msg, sizeof msg);
        if (rc) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, where, "%s", msg);
        if (trit_add_u64(total, ENTRY_FIXED + 4ull * e[i].n_scales, &total))
            return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "activation scales", "section too large");
    }
    size_t sz;
    if (trit_to_size(total, &sz)) return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, "activation scales", "section too large");
    uint8_t *b = malloc(sz);
    if (!b) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    uint8_t *p = b;
    trit_store_le32(p, n);
    p += 4;
    for (uint32_t i = 0; i < n; i++) {
        trit_store_le32(p, e[i].tensor);
        p[4] = (uint8_t)e[i].granularity;
        p[5] = p[6] = p[7] = 0;
        trit_store_le32(p + 8, e[i].group_size);
        trit_store_le32(p + 12, e[i].n_scales);
        trit_store_le32(p + 16, e[i].bits);
        p += ENTRY_FIXED;
        for (uint32_t k = 0; k < e[i].n_scales; k++) {
            uint32_t u;
            memcpy(&u, &e[i].scales[k], 4);
            trit_store_le32(p, u);
            p += 4;
        }
    }
    *out = b;
    *len = total;
    return TRIT_OK;
}
