/* fuzz_run_model.c - the runner on arbitrary .trit bytes: open, build the model (metadata and
 * every tensor shape checked), evaluate three tokens with no expert kept in memory, then one
 * more. Invariants: an evaluation either succeeds and advances the position, or fails with a
 * data error (never a usage error for in-range tokens); the model's vocabulary is non-empty. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "run.h"

FUZZ_TARGET(run_model)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    trit_reader *r = NULL;
    if (trit_reader_open_mem(data, size, "fuzz.trit", NULL, &r, NULL) != TRIT_OK) return 0;
    /* a zstd unit can declare gigabytes in a few bytes; keep the fuzzer's memory bounded */
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
        trit_err err;
        if (run_ctx_new(&w, &o, &c, &err) == TRIT_OK) {
            uint32_t const V = run_ctx_n_vocab(c);
            FUZZ_ASSERT(V > 0);
            float *logits = malloc(sizeof *logits * V);
            uint32_t const t[3] = {0, V - 1, V / 2};
            int rc = logits ? run_ctx_eval(c, t, 3, logits, &err) : TRIT_E_NOMEM;
            FUZZ_ASSERT(rc != TRIT_E_USAGE);
            FUZZ_ASSERT(rc == TRIT_OK ? run_ctx_n_pos(c) == 3 : run_ctx_n_pos(c) <= 3);
            if (rc == TRIT_OK) {
                rc = run_ctx_eval(c, t, 1, logits, &err);
                FUZZ_ASSERT(rc != TRIT_E_USAGE && (rc != TRIT_OK || run_ctx_n_pos(c) == 4));
            }
            free(logits);
        }
        run_ctx_free(c);
        run_weights_close(&w);
    }
    trit_reader_close(r);
    return 0;
}
