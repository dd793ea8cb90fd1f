/*
 * test_export_build.h - containers for the export tests, written directly through libtrit (so
 * the export tests do not depend on `trit convert`). Also linked into the conformance tool
 * (tools/conformance/mkfixture.c); nothing here uses the test harness.
 */
#ifndef TEST_EXPORT_BUILD_H
#define TEST_EXPORT_BUILD_H

#include <stdint.h>

#include "trit.h"

/* A GGUF file as a .trit container with canonical names: model.* / moe.* keys from the
 * {arch}.* keys, every tokenizer.* KV in a section of kind 3 (types kept), F32/F16/BF16 as
 * they are, TQ1_0/TQ2_0 as t2 (one scale per tensor when every block has the same d, else
 * groups of 256), 3-D ffn_*_exps split into per-expert members of zstd units, and for arch
 * llama the Q/K rows un-permuted into the neox layout. Overwrites out. */
int txb_from_gguf(const char *gguf, const char *out, trit_err *err);

/* A synthetic ternary model built from a hash of (seed, name, index). */
typedef struct txb_synth {
    const char *arch;          /* "bitnet" (sub norms, tied), "llama" (Q/K permuted), "qwen3moe" */
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_vocab;
    uint32_t n_expert, n_expert_used;  /* qwen3moe */
    uint32_t scale_layout;     /* TRIT_SCALE_* of the projections */
    uint32_t group_size;       /* TRIT_SCALE_GROUP */
    uint64_t seed;
    int raw_units;             /* expert units uncompressed */
    int no_tokenizer;          /* leave the kind-3 section out */
    const char *bad_code;      /* tensor whose first weight gets the invalid code 3, or NULL */
    float scale;               /* every t2 scale (0: hashed values, exact in f16) */
} txb_synth;

/* Defaults: 2 layers, n_embd 256, 4 heads, 2 KV heads, ff 512, vocab 300, per-tensor scales. */
void txb_synth_default(txb_synth *s, const char *arch);
int txb_synth_write(const txb_synth *s, const char *out, trit_err *err);

/* Container tensor i dequantized to floats (t2: (code - 1) * scale; f16/bf16/f32), whole
 * tensor in row-major order. Caller frees *out with free(). */
int txb_tensor_f32(const trit_reader *r, uint32_t i, float **out, uint64_t *n, trit_err *err);

#endif /* TEST_EXPORT_BUILD_H */
