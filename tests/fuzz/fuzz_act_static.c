/* fuzz_act_static.c - the runner with static activation scales (--act-scales static) on
 * arbitrary .trit bytes: open, resolve every t2 projection's entry of the kind-5 section, then
 * evaluate. Invariants: the context is refused with a data error or builds; an evaluation either
 * succeeds, advancing the position, or fails with a data error; the clipping counters never
 * exceed the values counted. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "run.h"

FUZZ_TARGET(act_static)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    trit_reader *r = NULL;
    if (trit_reader_open_mem(data, size, "fuzz.trit", NULL, &r, NULL) != TRIT_OK) return 0;
    for (uint32_t u = 0; u < trit_reader_n_units(r); u++)
        if (trit_reader_unit(r, u)->decoded_size > (8u << 20)) {
            trit_reader_close(r);
            return 0;
        }
    run_weights w;
    run_ctx *c = NULL;
    if (run_weights_from_reader(r, &w, NULL) == TRIT_OK) {
        run_opts o;
        run_opts_default(&o);
        o.n_ctx = 4;
        o.expert_cache = 0;
        o.act_scales = RUN_ACT_SCALES_STATIC;
        trit_err err;
        int rc = run_ctx_new(&w, &o, &c, &err);
        FUZZ_ASSERT(rc != TRIT_E_USAGE);
        if (rc == TRIT_OK) {
            uint32_t const V = run_ctx_n_vocab(c);
            float *logits = malloc(sizeof *logits * V);
            uint32_t const t[3] = {0, V - 1, V / 2};
            rc = logits ? run_ctx_eval(c, t, 3, logits, &err) : TRIT_E_NOMEM;
            FUZZ_ASSERT(rc != TRIT_E_USAGE);
            FUZZ_ASSERT(rc == TRIT_OK ? run_ctx_n_pos(c) == 3 : run_ctx_n_pos(c) <= 3);
            run_stats st;
            run_ctx_stats(c, &st);
            for (uint32_t l = 0; l < st.n_act_layers; l++) FUZZ_ASSERT(st.act_clipped[l] <= st.act_values[l]);
            free(logits);
        }
        run_ctx_free(c);
        run_weights_close(&w);
    }
    trit_reader_close(r);
    return 0;
}
