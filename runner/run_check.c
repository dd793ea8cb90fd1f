/* run_check.c - the runner as the OTA gate's judge (trit verify): can this runtime load the
 * container, and what logits does it give. verify/ does not depend on the runner (the device
 * links the runner, not verify); the CLI, which links both, hands these to vfy_opts. */
#include <string.h>

#include "run.h"

int run_check_load(void *ctx, const trit_reader *r, trit_err *err)
{
    (void)ctx;
    run_weights w;
    memset(&w, 0, sizeof w);
    int rc = run_weights_from_reader(r, &w, err);
    if (rc != TRIT_OK) return rc;
    run_opts o;
    run_opts_default(&o);
    o.n_ctx = 1;              /* the build, not a workload: the smallest KV cache */
    o.n_threads = 1;
    o.expert_cache = 0;
    run_ctx *c = NULL;
    rc = run_ctx_new(&w, &o, &c, err);
    run_ctx_free(c);
    run_weights_close(&w);
    return rc;
}

int run_check_logits(void *ctx, const trit_reader *r, const char *path, const uint32_t *tokens, uint32_t n_tokens,
                     float *logits, uint64_t n_vocab, trit_err *err)
{
    (void)ctx;
    (void)path;
    run_weights w;
    memset(&w, 0, sizeof w);
    run_ctx *c = NULL;
    int rc = run_weights_from_reader(r, &w, err);
    if (rc != TRIT_OK) return rc;
    run_opts o;
    run_opts_default(&o);
    o.n_ctx = n_tokens;
    rc = run_ctx_new(&w, &o, &c, err);
    if (rc == TRIT_OK && run_ctx_n_vocab(c) != n_vocab)
        rc = trit_err_set(err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, NULL, "the runner has %u logits, model.n_vocab is %llu",
                          run_ctx_n_vocab(c), (unsigned long long)n_vocab);
    if (rc == TRIT_OK) rc = run_ctx_eval(c, tokens, n_tokens, logits, err);
    run_ctx_free(c);
    run_weights_close(&w);
    return rc;
}
