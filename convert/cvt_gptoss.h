/* cvt_gptoss.h - gpt-oss (model_type gpt_oss; llama.cpp arch "gpt-oss") for the converter:
 * description, key semantics, tensor names and the interleaved gate/up split (cvt_gptoss.c). */
#ifndef CVT_GPTOSS_H
#define CVT_GPTOSS_H

#include "cvt_conv_int.h"

struct cJSON;
struct src_gguf;

#define CVT_GPTOSS_NAME_CAP 160

/* The description from config.json (after the common fields) and from a gpt-oss GGUF. */
int cvt__gptoss_config(const struct cJSON *c, cvt_model *m, trit_err *err);
int cvt__gptoss_gguf(const struct src_gguf *g, const char *arch, cvt_model *m, trit_err *err);
/* Its keys in the container (spec 10.1): sliding window, swiglu_oai, yarn's truncation. */
int cvt__gptoss_write(const cvt_model *m, trit_kvbuf *w, trit_err *err);

/* Key semantics (cvt_keys.c calls these first): TRIT_OK when k is a gpt-oss key and usable, an
 * error naming k when not, 1 when k is not one this file decides (or the model is not gpt-oss). */
int cvt__gptoss_check_key(const struct cJSON *c, const char *k, const struct cJSON *v, trit_err *err);
int cvt__gptoss_check_gguf_key(const struct src_gguf *g, uint64_t i, const char *k, const char *sfx, trit_err *err);

/* A GGUF tensor name of arch as the model table knows it: llama.cpp's gpt-oss writes the
 * pre-FFN norm as blk.L.post_attention_norm.weight (ATTN_POST_NORM), which is ffn_norm here.
 * Returns name itself or alias (filled). */
const char *cvt__gptoss_gguf_name(const char *arch, const char *name, char alias[CVT_GPTOSS_NAME_CAP]);

/* Plan the interleaved fused stack (gate rows even, up rows odd) as per-expert gate and up
 * members, or its fused bias as the float stacks ffn_gate_exps.bias / ffn_up_exps.bias. */
int cvt__plan_gate_up_il(cvt_conv *c, const cvt_plan_t *t, const src_tensor *s, const cvt_name *nm, trit_err *err);
/* Rows [r0, r0 + nr) of a plan with row_step or col_step > 1 into buf (nr * cols floats). */
int cvt__read_strided(const struct src_ckpt *src, const cvt_plan_t *p, uint64_t r0, uint64_t nr, float *buf, trit_err *err);

#endif /* CVT_GPTOSS_H */
