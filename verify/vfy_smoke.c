/* vfy_smoke.c - `trit verify --smoke N`: run N tokens through the runner (a callback, so that
 * verify/ does not depend on runner/: vfy_opts.smoke_fn) and check the last position's logits
 * are finite and, when the container carries golden logits (section kind 6), match them.
 *
 * The prompt is the golden section's tokens when there is one (its logits belong to exactly
 * that prompt), else N fixed tokens: the BOS id (model.bos_token_id, else 1) followed by
 * (7919 * i) mod n_vocab, a spread of ids that reaches past the byte tokens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trit_cursor.h"
#include "trit_safemath.h"
#include "vfy_trit_int.h"

#define VFY_SMOKE_MAX_TOKENS 4096u   /* prompt length cap (N is a user option) */
#define VFY_SMOKE_MAX_VOCAB (1u << 24)

void vfy__load(vfy__tctx *c)
{
    vfy_opts const *o = c->opts;
    if (!o || !o->load_fn) return;               /* a library caller without a runner */
    if (vfy_report_n_errors(c->rep)) return;   /* the findings already say why it would not load */
    trit_err e;
    trit_err_clear(&e);
    int const rc = o->load_fn(o->load_ctx, c->r, &e);
    if (rc == TRIT_OK) {
        c->rep->load_checked = 1;
        return;
    }
    char obj[160];
    if (e.where[0]) snprintf(obj, sizeof obj, "tensor '%.120s'", e.where);
    else snprintf(obj, sizeof obj, "model");
    /* out of memory is the verifier's trouble, not the file's: a failure of its class */
    vfy_report_add(c->rep, rc == TRIT_E_NOMEM ? VFY_C_INTERNAL : VFY_C_METADATA, 0, TRIT_NO_OFFSET, obj,
                   "the runner refuses to load it: %s", e.msg);
}

void vfy__smoke(vfy__tctx *c)
{
    vfy_opts const *o = c->opts;
    if (!o || !o->smoke_tokens) return;
    if (!o->smoke_fn) {
        vfy_report_add(c->rep, VFY_C_SMOKE, 0, TRIT_NO_OFFSET, "smoke", "no runner is available in this build");
        return;
    }
    if (vfy_report_n_errors(c->rep)) {
        /* never run a model that failed verification: the runner would trust broken bytes */
        vfy_report_add(c->rep, VFY_C_SMOKE, 1, TRIT_NO_OFFSET, "smoke", "skipped: the file failed other checks");
        return;
    }
    double nv = 0;
    if (!insp_num(c->model.hp, "model.n_vocab", &nv) || nv < 1 || nv > VFY_SMOKE_MAX_VOCAB) {
        vfy_report_add(c->rep, VFY_C_SMOKE, 0, TRIT_NO_OFFSET, "smoke", "model.n_vocab is missing or out of range");
        return;
    }
    uint64_t const n_vocab = (uint64_t)nv;
    /* golden logits: u32 n_tokens, u32 n_vocab, tokens, logits (checked by vfy__section_content) */
    const uint8_t *g = NULL;
    uint64_t gn = 0;
    uint32_t g_tok = 0, g_vocab = 0;
    int64_t const gs = trit_reader_find_section(c->r, TRIT_SECTION_GOLDEN_LOGITS);
    if (gs >= 0) {
        const void *d;
        if (trit_reader_section_data(c->r, (uint32_t)gs, &d, &gn, NULL) == TRIT_OK && gn >= 8) {
            g = d;
            g_tok = trit_load_le32(g);
            g_vocab = trit_load_le32(g + 4);
            if (gn != 8 + 4ull * g_tok + 4ull * g_vocab || g_vocab != n_vocab || g_tok == 0 ||
                g_tok > VFY_SMOKE_MAX_TOKENS)
                g = NULL;   /* malformed: already reported by the section check */
        }
    }
    uint32_t const n_tok = g ? g_tok : (o->smoke_tokens > VFY_SMOKE_MAX_TOKENS ? VFY_SMOKE_MAX_TOKENS : o->smoke_tokens);
    uint32_t *tok = malloc((size_t)n_tok * sizeof *tok);
    float *logits = trit_mallocarray((size_t)n_vocab, sizeof *logits);
    if (!tok || !logits) {
        vfy_report_add(c->rep, VFY_C_INTERNAL, 0, TRIT_NO_OFFSET, "smoke", "out of memory");
        goto out;
    }
    double bos = 1;
    insp_num(c->model.hp, "model.bos_token_id", &bos);
    for (uint32_t i = 0; i < n_tok; i++) {
        if (g) tok[i] = trit_load_le32(g + 8 + 4ull * i);
        else tok[i] = i == 0 && bos >= 0 && bos < nv ? (uint32_t)bos : (uint32_t)((7919ull * i) % n_vocab);
    }
    if (g && g_tok != o->smoke_tokens)
        vfy_report_add(c->rep, VFY_C_SMOKE, 1, TRIT_NO_OFFSET, "smoke",
                       "ran the %u-token prompt of the golden logits instead of %u tokens", g_tok, o->smoke_tokens);
    trit_err e;
    trit_err_clear(&e);
    int const rc = o->smoke_fn(o->smoke_ctx, c->r, c->rep->file, tok, n_tok, logits, n_vocab, &e);
    c->rep->smoke_ran = 1;
    if (rc != TRIT_OK) {
        vfy_report_add(c->rep, VFY_C_SMOKE, 0, e.offset, "smoke", "the runner failed: %s", e.msg);
        goto out;
    }
    uint64_t n_bad = 0, first_bad = 0;
    for (uint64_t i = 0; i < n_vocab; i++)
        if (!isfinite(logits[i]) && n_bad++ == 0) first_bad = i;
    if (n_bad) {
        vfy_report_add(c->rep, VFY_C_SMOKE, 0, TRIT_NO_OFFSET, "smoke",
                       "%llu of %llu logits are not finite (first: token %llu) after %u tokens",
                       (unsigned long long)n_bad, (unsigned long long)n_vocab, (unsigned long long)first_bad, n_tok);
        goto out;
    }
    if (g) {
        float const tol = o->smoke_tol > 0 ? o->smoke_tol : 1e-2f;
        double max_d = 0;
        uint64_t at = 0, arg_run = 0, arg_gold = 0;
        float best_run = -INFINITY, best_gold = -INFINITY;
        for (uint64_t i = 0; i < n_vocab; i++) {
            uint32_t const bits = trit_load_le32(g + 8 + 4ull * g_tok + 4 * i);
            float gold;
            memcpy(&gold, &bits, 4);
            double const d = fabs((double)logits[i] - (double)gold);
            if (d > max_d) {
                max_d = d;
                at = i;
            }
            if (logits[i] > best_run) best_run = logits[i], arg_run = i;
            if (gold > best_gold) best_gold = gold, arg_gold = i;
        }
        if (max_d > tol || arg_run != arg_gold)
            vfy_report_add(c->rep, VFY_C_SMOKE, 0, TRIT_NO_OFFSET, "smoke",
                           "logits differ from the golden logits: max |diff| %.6g at token %llu (tolerance %g), "
                           "top token %llu, golden %llu",
                           max_d, (unsigned long long)at, (double)tol, (unsigned long long)arg_run,
                           (unsigned long long)arg_gold);
    }
out:
    free(tok);
    free(logits);
}
