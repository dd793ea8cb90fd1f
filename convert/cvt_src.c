/* cvt_src.c - one view over both source formats for the converter: logical tensors, outermost
 * dims first (GGUF ne reversed), BitNet packed U8 weights unpacked to [out, in] with their
 * weight_scale consumed, values decoded to float by the format readers in bounded chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cvt.h"
#include "cvt_gguf.h"
#include "cvt_safetensors.h"
#include "ggml_types.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

struct cvt_src {
    cvt_gguf *g;
    cvt_st *st;
    cvt_src_tensor *t;
    cvt_st_bitnet *bn;         /* per tensor; bn[i].rows == 0 when not a BitNet weight */
    uint32_t n;
};

static int is_gguf(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    char m[4] = {0};
    size_t const k = f ? fread(m, 1, 4, f) : 0;
    if (f) fclose(f);
    return k == 4 && memcmp(m, "GGUF", 4) == 0;
}

static uint32_t float_type_of_name(const char *t)
{
    if (!strcmp(t, "F16")) return TRIT_TYPE_F16;
    if (!strcmp(t, "BF16")) return TRIT_TYPE_BF16;
    return TRIT_TYPE_F32; /* f32 and everything dequantized (k-quants, q8_0, f64 ...) */
}

static int open_gguf(struct cvt_src *s, const char *path, trit_err *err)
{
    int rc = cvt_gguf_open(path, NULL, &s->g, err);
    if (rc) return rc;
    uint64_t const n = cvt_gguf_n_tensors(s->g);
    s->t = calloc(n + 1, sizeof *s->t);
    if (!s->t) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        cvt_gguf_tensor_info const *gi = cvt_gguf_tensor(s->g, i);
        cvt_src_tensor *t = &s->t[i];
        t->name = gi->name;
        t->n_dims = gi->n_dims;
        for (uint32_t d = 0; d < gi->n_dims; d++) t->dims[d] = gi->ne[gi->n_dims - 1 - d];
        t->n_elems = gi->n_elems;
        t->type = gi->type_name;
        t->float_type = float_type_of_name(gi->type_name);
        t->ternary_hint = gi->type == CVT_GGML_TQ1_0 || gi->type == CVT_GGML_TQ2_0 || gi->type == CVT_GGML_FORK_I2_S;
        t->src_bytes = gi->nbytes;
    }
    s->n = (uint32_t)n;
    return TRIT_OK;
}

static int open_st(struct cvt_src *s, const char *path, trit_err *err)
{
    int rc = cvt_st_open(path, NULL, &s->st, err);
    if (rc) return rc;
    uint32_t const n = cvt_st_n_tensors(s->st);
    s->t = calloc((size_t)n + 1, sizeof *s->t);
    s->bn = calloc((size_t)n + 1, sizeof *s->bn);
    if (!s->t || !s->bn) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        cvt_st_tensor const *si = cvt_st_tensor_at(s->st, i);
        cvt_src_tensor *t = &s->t[i];
        t->name = si->name;
        t->n_dims = si->n_dims;
        memcpy(t->dims, si->dims, sizeof t->dims);
        t->n_elems = si->n_elems;
        t->type = cvt_st_dtype_name(si->dtype);
        t->float_type = float_type_of_name(t->type);
        t->src_bytes = si->nbytes;
    }
    /* BitNet packed weights: the logical tensor is [out, in] ternary; the scale is consumed */
    for (uint32_t i = 0; i < n; i++) {
        cvt_st_bitnet v;
        rc = cvt_st_bitnet_view(s->st, i, &v, err);
        if (rc == TRIT_E_NOTFOUND) continue;
        if (rc) return rc;
        s->bn[i] = v;
        cvt_src_tensor *t = &s->t[i];
        t->n_dims = 2;
        t->dims[0] = v.rows;
        t->dims[1] = v.cols;
        t->n_elems = v.rows * v.cols;
        t->type = "U8(bitnet)";
        t->float_type = TRIT_TYPE_F32;
        t->ternary_hint = 1;
        t->src_bytes += s->t[v.scale].src_bytes;
        s->t[v.scale].skip = 1;
    }
    s->n = n;
    return TRIT_OK;
}

int cvt_src_open(const char *path, struct cvt_src **out, trit_err *err)
{
    *out = NULL;
    struct cvt_src *s = calloc(1, sizeof *s);
    if (!s) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    int const rc = is_gguf(path) ? open_gguf(s, path, err) : open_st(s, path, err);
    if (rc) {
        trit_err_file(err, path);
        cvt_src_close(s);
        return rc;
    }
    *out = s;
    return TRIT_OK;
}

void cvt_src_close(struct cvt_src *s)
{
    if (!s) return;
    cvt_gguf_close(s->g);
    cvt_st_close(s->st);
    free(s->t);
    free(s->bn);
    free(s);
}

const char *cvt_src_format(const struct cvt_src *s) { return s->g ? "gguf" : "safetensors"; }
uint32_t cvt_src_n(const struct cvt_src *s) { return s->n; }
const cvt_src_tensor *cvt_src_at(const struct cvt_src *s, uint32_t i) { return i < s->n ? &s->t[i] : NULL; }
const struct cvt_gguf *cvt_src_gguf(const struct cvt_src *s) { return s->g; }
const struct cvt_st *cvt_src_st(const struct cvt_src *s) { return s->st; }

int64_t cvt_src_find(const struct cvt_src *s, const char *name)
{
    return s->g ? cvt_gguf_find_tensor(s->g, name) : cvt_st_find(s->st, name);
}

int cvt_src_f32(const struct cvt_src *s, uint32_t i, uint64_t first, uint64_t n, float *out, trit_err *err)
{
    if (s->g) return cvt_gguf_to_f32(s->g, i, first, n, out, err);
    if (s->bn[i].rows) return cvt_st_bitnet_to_f32(s->st, &s->bn[i], first, n, out, err);
    return cvt_st_to_f32(s->st, i, first, n, out, err);
}

uint32_t cvt_src_n_files(const struct cvt_src *s)
{
    return s->g ? cvt_gguf_n_files(s->g) : cvt_st_n_shards(s->st);
}

const char *cvt_src_file_path(const struct cvt_src *s, uint32_t k)
{
    if (s->g) return cvt_gguf_file_path(s->g, k);
    const cvt_st_shard_info *si = cvt_st_shard(s->st, k);
    return si ? si->path : NULL;
}

int cvt_hash_file(const char *path, uint64_t *out, trit_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "cannot open for hashing");
    XXH3_state_t *st = XXH3_createState();
    uint8_t *buf = malloc(1 << 20);
    int rc = st && buf ? TRIT_OK : trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    if (rc == TRIT_OK) XXH3_64bits_reset(st);
    while (rc == TRIT_OK) {
        size_t const k = fread(buf, 1, 1 << 20, f);
        if (k == 0) {
            if (ferror(f)) rc = trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, path, "read failed");
            break;
        }
        XXH3_64bits_update(st, buf, k);
    }
    if (rc == TRIT_OK) *out = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    free(buf);
    fclose(f);
    return rc;
}
