/*
 * test_calib_util.h - models, edits and text for the calibration tests: a trit-gen layout
 * converted with cvt_convert, then copied with dense-tensor edits (activation outliers,
 * residual scale); deterministic English-like text for calibration and held-out data.
 */
#ifndef TEST_CALIB_UTIL_H
#define TEST_CALIB_UTIL_H

#include <stdint.h>

#include "gen/gen.h"
#include "trit.h"

/* Multiply values of a float tensor: one channel (ch >= 0) or all (ch < 0). */
typedef struct tcal_edit {
    const char *tensor;        /* exact name */
    int64_t ch;                /* element to change, or -1 for every element */
    float factor;
} tcal_edit;

/* Generate layout (tiny defaults, n_embd/n_ff overriding when non-zero) into dir/name.src,
 * convert it into dir/name.conv.trit and apply the n edits in a copy, dir/name.trit, whose
 * path goes to out (cap bytes). TRIT_OK or an error. */
int tcal_model(const char *dir, const char *name, gen_layout layout, uint32_t n_embd, uint32_t n_ff, const tcal_edit *edits,
               uint32_t n, char *out, size_t cap, trit_err *err);

/* The same from full generator options (outliers, dimensions ...). */
int tcal_model_opts(const char *dir, const char *name, const gen_opts *o, const tcal_edit *edits, uint32_t n, char *out,
                    size_t cap, trit_err *err);

/* Write `sentences` pseudo-random English sentences (seeded) into dir/name: same seed, same
 * text. Returns the path (test_path storage) or NULL. */
const char *tcal_text(const char *dir, const char *name, uint64_t seed, uint32_t sentences);

/* Copy the container at src to dst with every scale of its kind-5 section multiplied by
 * factor (a deliberately mis-calibrated model: the negative control of the agreement test). */
int tcal_rescale_copy(const char *src, const char *dst, float factor, trit_err *err);

#endif /* TEST_CALIB_UTIL_H */
