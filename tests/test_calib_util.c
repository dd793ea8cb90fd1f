/* test_calib_util.c - models, edits and text for the calibration tests (test_calib_util.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvt.h"
#include "cal.h"
#include "test.h"
#include "test_calib_util.h"

typedef struct edit_set {
    const tcal_edit *e;
    uint32_t n;
} edit_set;

static float get_f(const trit_tensor_info *t, const void *p, uint64_t i)
{
    if (t->type == TRIT_TYPE_F32) {
        float v;
        memcpy(&v, (const uint8_t *)p + 4 * i, 4);
        return v;
    }
    uint16_t h;
    memcpy(&h, (const uint8_t *)p + 2 * i, 2);
    return t->type == TRIT_TYPE_F16 ? trit_f16_to_f32(h) : trit_bf16_to_f32(h);
}

static void put_f(const trit_tensor_info *t, void *p, uint64_t i, float v)
{
    if (t->type == TRIT_TYPE_F32) {
        memcpy((uint8_t *)p + 4 * i, &v, 4);
        return;
    }
    uint16_t const h = t->type == TRIT_TYPE_F16 ? trit_f32_to_f16(v) : trit_f32_to_bf16(v);
    memcpy((uint8_t *)p + 2 * i, &h, 2);
}

static int apply(void *arg, uint32_t ti, const trit_tensor_info *t, void *bytes, uint64_t size, trit_err *err)
{
    (void)ti;
    edit_set const *s = arg;
    for (uint32_t k = 0; k < s->n; k++) {
        if (strcmp(t->name, s->e[k].tensor)) continue;
        if (t->type != TRIT_TYPE_F32 && t->type != TRIT_TYPE_F16 && t->type != TRIT_TYPE_BF16)
            return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, t->name, "not a float tensor");
        uint64_t const n = size / (t->type == TRIT_TYPE_F32 ? 4 : 2);
        if (s->e[k].ch >= (int64_t)n) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, t->name, "no such element");
        uint64_t const lo = s->e[k].ch < 0 ? 0 : (uint64_t)s->e[k].ch, hi = s->e[k].ch < 0 ? n : lo + 1;
        for (uint64_t i = lo; i < hi; i++) put_f(t, bytes, i, get_f(t, bytes, i) * s->e[k].factor);
    }
    return TRIT_OK;
}

int tcal_model(const char *dir, const char *name, gen_layout layout, uint32_t n_embd, uint32_t n_ff, const tcal_edit *edits,
               uint32_t n, char *out, size_t cap, trit_err *err)
{
    gen_opts o;
    gen_opts_default(&o, layout);
    if (n_embd) o.n_embd = n_embd;
    if (n_ff) o.n_ff = n_ff;
    return tcal_model_opts(dir, name, &o, edits, n, out, cap, err);
}

int tcal_model_opts(const char *dir, const char *name, const gen_opts *go, const tcal_edit *edits, uint32_t n, char *out,
                    size_t cap, trit_err *err)
{
    char src[512], conv[512], fin[512];
    snprintf(src, sizeof src, "%s/%s.src", dir, name);
    snprintf(conv, sizeof conv, "%s/%s.conv.trit", dir, name);
    snprintf(fin, sizeof fin, "%s/%s.trit", dir, name);
    gen_opts o = *go;
    o.overwrite = 1;
    int rc = gen_write(&o, src, err);
    cvt_opts co;
    memset(&co, 0, sizeof co);
    co.overwrite = 1;
    if (!rc) rc = cvt_convert(src, conv, &co, NULL, err);
    trit_reader *r = NULL;
    if (!rc) rc = trit_reader_open(conv, NULL, &r, err);
    edit_set es = {edits, n};
    cal_copy_opts cp;
    memset(&cp, 0, sizeof cp);
    cp.overwrite = 1;
    cp.edit = apply;
    cp.edit_arg = &es;
    if (!rc) rc = cal_copy_container(r, fin, &cp, err);
    trit_reader_close(r);
    snprintf(out, cap, "%s", fin);
    return rc;
}

const char *tcal_text(const char *dir, const char *name, uint64_t seed, uint32_t sentences)
{
    static const char *const words[] = {
        "the", "a", "of", "and", "to", "in", "is", "was", "he", "for", "it", "with", "as", "his", "on", "be", "at", "by",
        "this", "had", "not", "are", "but", "from", "or", "have", "an", "they", "which", "one", "you", "were", "her", "all",
        "she", "there", "would", "their", "we", "him", "been", "has", "when", "who", "will", "more", "no", "if", "out", "so",
        "said", "what", "up", "its", "about", "into", "than", "them", "can", "only", "other", "new", "some", "could", "time",
        "these", "two", "may", "then", "do", "first", "any", "my", "now", "such", "like", "our", "over", "man", "me", "even",
        "most", "made", "after", "also", "did", "many", "before", "must", "through", "back", "years", "where", "much", "your",
        "way", "well", "down", "should", "because", "each", "just", "those", "people", "how", "too", "little", "state", "good",
        "very", "make", "world", "still", "own", "see", "men", "work", "long", "get", "here", "between", "both", "life"};
    size_t const nw = sizeof words / sizeof words[0];
    const char *path = test_path(dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (uint32_t k = 0; k < sentences; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t const len = 6 + (uint32_t)((s >> 33) % 11);
        for (uint32_t i = 0; i < len; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            const char *w = words[(s >> 33) % nw];
            fprintf(f, "%s%c%s", i ? " " : (k ? " " : ""), i ? w[0] : (char)(w[0] - 'a' + 'A'), w + 1);
        }
        fputc('.', f);
    }
    fputc('\n', f);
    return fclose(f) == 0 ? path : NULL;
}

int tcal_rescale_copy(const char *src, const char *dst, float factor, trit_err *err)
{
    trit_reader *r = NULL;
    trit_act_scales *s = NULL;
    int rc = trit_reader_open(src, NULL, &r, err);
    if (!rc) rc = trit_reader_act_scales(r, &s, err);
    uint32_t const n = trit_act_scales_n(s);
    trit_act_entry *e = calloc(n ? n : 1, sizeof *e);
    float **sc = calloc(n ? n : 1, sizeof *sc);
    for (uint32_t i = 0; !rc && i < n; i++) {
        e[i] = *trit_act_scales_at(s, i);
        sc[i] = malloc(e[i].n_scales * sizeof **sc);
        for (uint32_t k = 0; k < e[i].n_scales; k++) sc[i][k] = e[i].scales[k] * factor;
        e[i].scales = sc[i];
    }
    void *bytes = NULL;
    uint64_t len = 0;
    if (!rc) rc = trit_act_scales_encode(e, n, &bytes, &len, err);
    cal_copy_opts cp;
    memset(&cp, 0, sizeof cp);
    cp.overwrite = 1;
    cp.act_section = bytes;
    cp.act_section_len = len;
    if (!rc) rc = cal_copy_container(r, dst, &cp, err);
    for (uint32_t i = 0; i < n; i++) free(sc[i]);
    free(sc);
    free(e);
    trit_free(bytes);
    trit_act_scales_free(s);
    trit_reader_close(r);
    return rc;
}
