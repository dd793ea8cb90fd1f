/* llama_quant.c - llama.cpp's own quantizer as the peer of `trit convert --ternarize` in
 * `make bench`: dlopen node-llama-cpp's prebuilt libllama and call
 * llama_model_quantize(IN.gguf, OUT.gguf, params) with llama_model_quantize_default_params()
 * and ftype LLAMA_FTYPE_MOSTLY_TQ2_0 (default), timing only that call.
 *
 *   llama_quant LIBLLAMA.so IN.gguf OUT.gguf THREADS [FTYPE]   prints {"seconds":S,"rc":RC}
 *
 * FTYPE (default tq2_0) also makes the hub's quantized copies of a ternary model for the
 * conformance suite (tools/conformance/quant_copies.sh): q8_0, q4_0, q5_0, q4_k_m, q6_k.
 *
 * The parameter struct is copied from include/llama.h of the exact llama.cpp the package
 * bundles: node-llama-cpp 3.22.1, llama/llama.cpp.info.json release "v0.5.0", source commit
 * de3ff815ea7d559ee917f063901b8986f038abc6 (llama/gitRelease.bundle). Only nthread and ftype are
 * changed; the library fills the rest. A guard area after the copied fields takes anything a
 * differently sized library struct would write, so a mismatch cannot corrupt the stack. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* llama.h: enum llama_ftype, the values of the types named here */
static const struct { const char *name; int32_t ftype; } ftypes[] = {
    {"q4_0", 2}, {"q8_0", 7}, {"q5_0", 8}, {"q4_k_m", 15}, {"q6_k", 18}, {"tq1_0", 36}, {"tq2_0", 37}, {"mxfp4_moe", 38},
};

typedef struct llq_params {                /* llama.h: struct llama_model_quantize_params */
    int32_t nthread;                       /* <= 0: std::thread::hardware_concurrency() */
    int32_t ftype;                         /* enum llama_ftype */
    int32_t output_tensor_type;            /* enum ggml_type */
    int32_t token_embedding_type;          /* enum ggml_type */
    bool allow_requantize;
    bool quantize_output_tensor;
    bool only_copy;
    bool pure;
    bool keep_split;
    bool dry_run;
    const void *imatrix;
    const void *kv_overrides;
    const void *tt_overrides;
    const int32_t *prune_layers;
    size_t max_buf_size;
    unsigned char guard[512];
} llq_params;

typedef llq_params (*default_params_fn)(void);
typedef uint32_t (*quantize_fn)(const char *, const char *, const llq_params *);
typedef void (*backend_init_fn)(void);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: llama_quant LIBLLAMA.so IN.gguf OUT.gguf THREADS [FTYPE]\n");
        return 2;
    }
    int32_t ftype = -1;
    for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
        if (!strcmp(argc == 6 ? argv[5] : "tq2_0", ftypes[i].name)) ftype = ftypes[i].ftype;
    if (ftype < 0) {
        fprintf(stderr, "llama_quant: unknown FTYPE '%s' (q4_0 q8_0 q5_0 q4_k_m q6_k tq1_0 tq2_0 mxfp4_moe)\n", argv[5]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "llama_quant: %s\n", dlerror());
        return 1;
    }
    default_params_fn defaults = (default_params_fn)(uintptr_t)dlsym(h, "llama_model_quantize_default_params");
    quantize_fn quantize = (quantize_fn)(uintptr_t)dlsym(h, "llama_model_quantize");
    backend_init_fn init = (backend_init_fn)(uintptr_t)dlsym(h, "llama_backend_init");
    if (!defaults || !quantize || !init) {
        fprintf(stderr, "llama_quant: libllama lacks llama_model_quantize / _default_params / llama_backend_init\n");
        return 1;
    }
    init();
    llq_params p;
    memset(&p, 0, sizeof p);
    p = defaults();
    p.ftype = ftype;
    p.nthread = atoi(argv[4]);
    double const t0 = now();
    uint32_t const rc = quantize(argv[2], argv[3], &p);
    double const t1 = now();
    printf("{\"seconds\":%.4f,\"rc\":%u}\n", t1 - t0, rc);
    return rc == 0 ? 0 : 1;
}
