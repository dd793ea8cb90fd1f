/* test_verify.h - a small spec-conformant .trit model (dense layer 0, MoE layer 1 with zstd
 * and raw expert units) written through libtrit's writer, with switches that plant one defect
 * each, for the verify tests (tests/test_verify*.c only). */
#ifndef TEST_VERIFY_H
#define TEST_VERIFY_H

#include <stdint.h>

#include "trit.h"
#include "vfy.h"

typedef struct vt_defects {
    int nan_float;         /* NaN in blk.0.attn_norm.weight */
    int inf_float;         /* +Inf in token_embd.weight (f16) */
    int zero_scale;        /* scale 1 of blk.0.attn_k.weight (per row) is 0 */
    int nan_scale;         /* scale 2 of blk.0.attn_v.weight (per group) is NaN */
    int zero_proj;         /* blk.0.ffn_up.weight: every code 1 (all zero) */
    int zero_expert;       /* blk.1.ffn_down.2.weight all zero, inside a zstd unit */
    int code3;             /* a code 3 in blk.0.attn_k.weight */
    uint32_t n_layer;      /* model.n_layer as stated (0 = 2, the truth) */
    uint32_t n_expert;     /* moe.n_expert as stated (0 = 4, the truth) */
    int drop_expert;       /* leave out the unit of (layer 1, expert 3) */
    int bad_shape;         /* blk.1.attn_q.weight declared [48, 64] instead of [64, 64] */
    int unknown_type;      /* extra tensor rope_freqs.weight of element type 200 */
    int no_head_dim;       /* leave out model.head_dim */
    int hf_names;          /* HF tensor names instead of the canonical ones */
    int golden;            /* a golden-logits section (kind 6) for prompt {1, 2, 3} */
    int bad_golden;        /* golden-logits section one byte short of its header's size */
    const float *golden_values; /* VT_N_VOCAB logits for the golden section (NULL: vt_golden) */
    int tok_kv;            /* a tokenizer-KV section (kind 3): 1 valid, 2 cut one byte short */
    int unknown_key;       /* an extra model-description key no runner computes */
    int renamed_member;    /* expert 2's up projection named blk.1.ffn_uq.2.weight */
    uint32_t bos_id;       /* model.bos_token_id written when non-zero (>= n_vocab: a defect) */
    uint32_t page_align;   /* 0 = 4096 */
    int act;               /* an activation-scale section (kind 5): 0 none, else VT_ACT_* */
} vt_defects;

/* Activation-scale sections: VT_ACT_VALID has one per-tensor entry per t2 projection (attn_q/k/v
 * and gate/up of one input identical); each other value plants one defect in it. */
enum {
    VT_ACT_VALID = 1,
    VT_ACT_MISSING,        /* no entry for blk.0.attn_output.weight */
    VT_ACT_NOT_PROJ,       /* an extra entry for blk.0.attn_norm.weight (f32, not a projection) */
    VT_ACT_SHARED_DIFF,    /* blk.0.attn_k's scale differs from blk.0.attn_q's */
    VT_ACT_ORDER,          /* the first two entries swapped */
    VT_ACT_NAN,            /* a NaN scale */
    VT_ACT_ZERO,           /* a zero scale */
    VT_ACT_NEGATIVE,       /* a negative scale */
    VT_ACT_CHANNEL_SHAPE,  /* per channel with in_features - 1 scales */
    VT_ACT_GROUP_SHAPE,    /* per group of 16 with the scale count of groups of 32 */
    VT_ACT_GRAN,           /* granularity 4 */
    VT_ACT_BITS,           /* bits 4 */
    VT_ACT_TRAILING,       /* 4 bytes after the last entry */
    VT_ACT_TRUNCATED,      /* the section ends inside its last entry */
    VT_ACT_BAD_TENSOR,     /* an entry naming tensor index n_tensors */
    VT_ACT_WIDE,           /* blk.0.attn_output at 16 bits (valid: spec 9's int16 sites) */
    VT_ACT_SHARED_BITS,    /* blk.0.attn_k at 16 bits, attn_q and attn_v at 8 */
    VT_ACT_COUNT_
};

/* Write the model with the defects of d (NULL = none) to path (overwriting). */
int vt_build(const char *path, const vt_defects *d, trit_err *err);
/* Patch the header of the .trit at path: set major/minor (if major != 0) and OR req_bits into
 * the required features, then recompute the header checksum, so only the compatibility check
 * can object. Returns 0 on success. */
int vt_patch_header(const char *path, uint16_t major, uint16_t minor, uint64_t req_bits);
/* Verify path with default options into rep (the caller releases it). Returns the exit code. */
int vt_verify(const char *path, const vfy_opts *o, vfy_report *rep);
/* Number of findings in rep of class cls (errors and warnings) whose object contains
 * `object` and message contains `msg` (either may be NULL). */
int vt_count(const vfy_report *rep, int cls, const char *object, const char *msg);
/* The golden logit the tests' fake runner and the golden section agree on, for vocab id i. */
float vt_golden(uint32_t i);

#define VT_N_VOCAB 128u

#endif
