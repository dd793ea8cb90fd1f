/* run_ctx.c - the run_ctx lifecycle: build (model, kernels, pool, cache, KV cache, scratch),
 * evaluate in micro-batches, statistics. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "run_int.h"
#include "trit_safemath.h"

void run_opts_default(run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_threads = 1;
    o->expert_cache = RUN_DEFAULT_EXPERT_CACHE;
    o->policy = RUN_POLICY_DEFAULT;
    o->kernel = RUN_KERNEL_AUTO;
    o->prefetch = RUN_PREFETCH_DEFAULT;
}

static int host_is_little_endian(void)
{
    uint16_t const one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* calloc of a * b * c floats (or other elements), overflow-checked; NULL on failure. */
static void *alloc3(uint64_t a, uint64_t b, uint64_t c, size_t elem)
{
    uint64_t n;
    if (trit_mul_u64(a, b, &n) || trit_mul_u64(n, c, &n)) return NULL;
    size_t sz;
    if (trit_to_size(n, &sz)) return NULL;
    void *p = trit_mallocarray(sz ? sz : 1, elem);
    if (p) memset(p, 0, (sz ? sz : 1) * elem);
    return p;
}

static int pick_kernel(run_ctx *c, uint32_t choice, trit_err *err)
{
    switch (choice) {
    case RUN_KERNEL_AUTO: c->kern = run_kern_best(); return TRIT_OK;
    case RUN_KERNEL_REF: c->kern = run_kern_ref(); return TRIT_OK;
    case RUN_KERNEL_AVX2: c->kern = run_kern_avx2(); break;
    case RUN_KERNEL_NEON: c->kern = run_kern_neon(); break;
    case RUN_KERNEL_AVXVNNI: c->kern = run_kern_avxvnni(); break;
    case RUN_KERNEL_AVX512: c->kern = run_kern_avx512(); break;
    case RUN_KERNEL_NEONDOT: c->kern = run_kern_neondot(); break;
    case RUN_KERNEL_NEONI8MM: c->kern = run_kern_neoni8mm(); break;
    default: break;
    }
    if (!c->kern) return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "the requested kernel set is not available on this CPU");
    return TRIT_OK;
}

static int alloc_state(run_ctx *c, uint32_t n_threads, trit_err *err)
{
    run_hparams const *hp = &c->hp;
    uint64_t const U = RUN_UBATCH, E = hp->n_embd, qd = (uint64_t)hp->n_head * hp->head_dim;
    uint64_t const kvd = (uint64_t)hp->n_head_kv * hp->head_dim, K = hp->n_expert_used ? hp->n_expert_used : 1;
    uint64_t ff = hp->n_ff > hp->n_ff_expert ? hp->n_ff : hp->n_ff_expert;
    for (uint32_t L = 0; L < hp->n_layer; L++)
        if (c->layers[L].gate_sh.rows > ff) ff = c->layers[L].gate_sh.rows;
    c->max_ff = ff;
    if (E > c->max_cols) c->max_cols = E;
    if (qd > c->max_cols) c->max_cols = qd;
    if (ff > c->max_cols) c->max_cols = ff;
    /* values of another width than keys: multi-head latent attention's v_head_dim */
    uint64_t const vd = (uint64_t)hp->n_head_kv * hp->v_head_dim, ad = (uint64_t)hp->n_head * hp->v_head_dim;
    c->k_cache = alloc3(hp->n_layer, c->n_ctx, kvd, sizeof(float));
    c->v_cache = alloc3(hp->n_layer, c->n_ctx, vd, sizeof(float));
    if (!c->k_cache || !c->v_cache)
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "cannot allocate the KV cache (%u positions x %u layers x %llu)",
                            c->n_ctx, hp->n_layer, (unsigned long long)kvd);
    c->h = alloc3(U, E, 1, sizeof(float));
    c->xn = alloc3(U, E, 1, sizeof(float));
    c->q = alloc3(U, qd, 1, sizeof(float));
    c->k = alloc3(U, kvd, 1, sizeof(float));
    c->v = alloc3(U, vd, 1, sizeof(float));
    c->att = alloc3(U, ad, 1, sizeof(float));
    c->o = alloc3(U, E, 1, sizeof(float));
    c->ffa = alloc3(U, ff, 1, sizeof(float));
    c->ffb = alloc3(U, ff, 1, sizeof(float));
    c->ffo = alloc3(U, E, 1, sizeof(float));
    c->router = alloc3(U, hp->n_expert ? hp->n_expert : 1, 1, sizeof(float));
    c->slot_out = alloc3(U, K, E, sizeof(float));
    c->slot_w = alloc3(U, K, 1, sizeof(float));
    c->slot_e = alloc3(U, K, 1, sizeof(uint32_t));
    c->need = alloc3(hp->n_expert ? hp->n_expert : 1, 1, 1, sizeof(uint32_t));
    c->route_choice = alloc3(hp->n_expert ? hp->n_expert : 1, 1, 1, sizeof(float));
    c->route_keep = alloc3(hp->n_expert ? hp->n_expert : 1, 1, 1, 1);
    c->ex_tok = alloc3(U, 1, 1, sizeof(uint32_t));
    c->ex_slot = alloc3(U, 1, 1, sizeof(uint32_t));
    c->ex_x = alloc3(U, E, 1, sizeof(float));
    c->ex_a = alloc3(U, ff, 1, sizeof(float));
    c->ex_b = alloc3(U, ff, 1, sizeof(float));
    c->sh_out = alloc3(U, E, 1, sizeof(float));
    c->att_scratch = alloc3(n_threads, c->n_ctx, 1, sizeof(float));
    c->chunk_scratch = alloc3(n_threads, c->max_cols / 32 + 4, 1, sizeof(int32_t));
    c->blk_act_cap = run__blk_act_cap(c->max_cols, RUN_UBATCH);
    c->blk_act = alloc3(c->blk_act_cap, 1, 1, 1);
    c->blk = c->kern == run_kern_ref() ? run_blk_kern_ref() : run_blk_kern_best();
    if (!c->h || !c->xn || !c->q || !c->k || !c->v || !c->att || !c->o || !c->ffa || !c->ffb || !c->ffo || !c->router ||
        !c->route_choice || !c->route_keep || !c->slot_out || !c->slot_w || !c->slot_e || !c->need || !c->ex_tok || !c->ex_slot || !c->ex_x || !c->ex_a || !c->ex_b ||
        !c->sh_out || !c->att_scratch || !c->chunk_scratch || !c->blk_act)
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory for scratch buffers");
    if (hp->kv_lora_rank && run__mla_alloc(c, err)) return TRIT_E_NOMEM;
    int rc = run__qbuf_init(&c->qa, RUN_UBATCH, c->max_cols, err);
    if (!rc) rc = run__qbuf_init(&c->qb, RUN_UBATCH, c->max_cols, err);
    return rc;
}

int run_ctx_new(const run_weights *w, const run_opts *o_in, run_ctx **out, trit_err *err)
{
    *out = NULL;
    run_opts o;
    if (o_in) o = *o_in;
    else run_opts_default(&o);
    if (!host_is_little_endian())
        return trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL, "the runner needs a little-endian host");
    if (!w || !w->vt) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no weight provider");
    run_ctx *c = calloc(1, sizeof *c);
    if (!c) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    c->w = w;
    c->trace = o.trace;
    uint32_t const n_threads = o.n_threads ? o.n_threads : 1;
    int rc = pick_kernel(c, o.kernel, err);
    if (!rc) rc = run__load_model(c, err);
    if (!rc) {
        uint32_t n_ctx = o.n_ctx;
        if (!n_ctx) n_ctx = c->hp.n_ctx_train && c->hp.n_ctx_train < RUN_DEFAULT_CTX ? c->hp.n_ctx_train : RUN_DEFAULT_CTX;
        if (n_ctx > RUN_MAX_CTX)
            rc = trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "context of %u positions, at most %u", n_ctx, RUN_MAX_CTX);
        c->n_ctx = n_ctx;
    }
    if (!rc) rc = run__rope_init(c, err);
    if (!rc) rc = run_pool_new(n_threads, &c->pool, err);
    if (!rc) rc = run_cache_new(c->hp.n_layer, c->hp.n_expert, o.expert_cache, o.policy, &c->cache, err);
    if (!rc) rc = alloc_state(c, n_threads, err);
    c->prefetch_sync = o.prefetch == RUN_PREFETCH_SYNC;
    if (!rc && o.prefetch) rc = run__prefetch_new(c, &c->prefetch, err);
    /* static activation scales and the calibration observer know the standard attention's sites
     * only; multi-head latent attention quantizes its activations per token or per block */
    if (!rc && c->hp.kv_lora_rank && (o.act_scales == RUN_ACT_SCALES_STATIC || o.act_observe))
        rc = trit_err_set(err, TRIT_E_UNSUPPORTED, TRIT_NO_OFFSET, NULL,
                          "static activation scales and calibration are not implemented for multi-head latent attention");
    if (!rc) rc = run__act_new(c, &o, err);
    if (!rc) rc = run__b3_check(c, o.act_scales, err);
    if (rc) {
        run_ctx_free(c);
        return rc;
    }
    *out = c;
    return TRIT_OK;
}

void run_ctx_free(run_ctx *c)
{
    if (!c) return;
    run__prefetch_free(c->prefetch);   /* joins its thread: before the cache it fills */
    run__b3_free(c);
    run_pool_free(c->pool);
    run_cache_free(c->cache);
    run__free_model(c);
    run__act_free(c->act);
    float *const fl[] = {c->k_cache, c->v_cache, c->h, c->xn, c->q, c->k, c->v, c->att, c->o, c->ffa, c->ffb, c->ffo,
                         c->router, c->slot_out, c->slot_w, c->ex_x, c->ex_a, c->ex_b, c->sh_out, c->att_scratch,
                         c->mla_kv, c->mla_a, c->mla_b};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) free(fl[i]);
    free(c->slot_e);
    free(c->need);
    free(c->route_choice);
    free(c->route_keep);
    free(c->ex_tok);
    free(c->ex_slot);
    free(c->chunk_scratch);
    free(c->blk_act);
    run__qbuf_release(&c->qa);
    run__qbuf_release(&c->qb);
    free(c);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the process (every thread, user + sys): on a shared machine it moves less with
 * load than wall time does. */
static double cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

int run_ctx_eval(run_ctx *c, const uint32_t *tokens, uint32_t n, float *logits, trit_err *err)
{
    if (n == 0) return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no tokens to evaluate");
    if ((uint64_t)c->n_pos + n > c->n_ctx)
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "context full: %u positions used, %u more requested, capacity %u",
                            c->n_pos, n, c->n_ctx);
    for (uint32_t i = 0; i < n; i++)
        if (tokens[i] >= c->hp.n_vocab)
            return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "token %u at index %u is outside the vocabulary (%u)", tokens[i],
                                i, c->hp.n_vocab);
    double const t0 = now_s(), cpu0 = cpu_s();
    uint64_t const used0 = c->expert_bytes_used;
    for (uint32_t done = 0; done < n;) {
        uint32_t const T = n - done < RUN_UBATCH ? n - done : RUN_UBATCH;
        int const rc = run__forward(c, tokens + done, T, done + T == n ? logits : NULL, err);
        if (rc) {
            if (c->w->name) trit_err_file(err, c->w->name);
            return rc;
        }
        done += T;
    }
    double const dt = now_s() - t0, dcpu = cpu_s() - cpu0;
    if (n > 1) {
        c->prefill_tokens += n;
        c->prefill_s += dt;
        c->prefill_cpu_s += dcpu;
    } else {
        c->decode_tokens += n;
        c->decode_s += dt;
        c->decode_cpu_s += dcpu;
        c->expert_bytes_decode += c->expert_bytes_used - used0;
    }
    return TRIT_OK;
}

void run_ctx_reset(run_ctx *c) { c->n_pos = 0; }
uint32_t run_ctx_n_vocab(const run_ctx *c) { return c->hp.n_vocab; }
uint32_t run_ctx_n_pos(const run_ctx *c) { return c->n_pos; }
uint32_t run_ctx_n_ctx(const run_ctx *c) { return c->n_ctx; }
const char *run_ctx_kernel_name(const run_ctx *c) { return c->kern->name; }
uint32_t run_ctx_bos(const run_ctx *c) { return c->hp.bos; }
uint32_t run_ctx_eos(const run_ctx *c) { return c->hp.eos; }

void run_ctx_stats(const run_ctx *c, run_stats *s)
{
    memset(s, 0, sizeof *s);
    run_cache_stats(c->cache, s);
    s->bytes_read = c->bytes_read + run__prefetch_bytes_read(c->prefetch);
    s->prefill_tokens = c->prefill_tokens;
    s->decode_tokens = c->decode_tokens;
    s->prefill_s = c->prefill_s;
    s->decode_s = c->decode_s;
    s->prefill_cpu_s = c->prefill_cpu_s;
    s->decode_cpu_s = c->decode_cpu_s;
    s->dense_bytes = c->dense_bytes;
    s->expert_bytes_used = c->expert_bytes_used;
    s->expert_bytes_decode = c->expert_bytes_decode;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) s->peak_rss = (uint64_t)ru.ru_maxrss * 1024u;
    run__act_stats(c, s);
}
