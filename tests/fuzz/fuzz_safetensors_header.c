/* fuzz_safetensors_header.c - the safetensors reader over arbitrary bytes (from memory).
 *
 * Two input forms, so mutations of the JSON text are not wasted on a wrong length field:
 *   - input starting with '{': "<header JSON> NUL <data bytes>"; the target builds the 8-byte
 *     length itself;
 *   - anything else: a complete file image.
 * Invariants when open succeeds: every tensor range lies in the input, ranges are sorted,
 * contiguous and cover the data buffer exactly (so they cannot overlap), sizes match
 * dtype x shape, names are unique and found again, metadata is readable, and decodable tensors
 * (and BitNet logical views) decode. */
#include <stdlib.h>
#include <string.h>

#include "src_safetensors.h"
#include "fuzz/fuzz.h"
#include "trit_cursor.h"

static float fz_out[4096];
static int8_t fz_tern[4096];

static void check_open(const src_st *h, size_t size)
{
    FUZZ_ASSERT(src_st_n_shards(h) == 1);
    const src_st_shard_info *sh = src_st_shard(h, 0);
    FUZZ_ASSERT(sh->data_off == 8 + sh->header_size && sh->data_off <= size);
    FUZZ_ASSERT(sh->file_size == size && sh->n_tensors == src_st_n_tensors(h));
    uint64_t expect_off = sh->data_off;
    trit_err err;
    for (uint32_t i = 0; i < src_st_n_tensors(h); i++) {
        const src_st_tensor *t = src_st_tensor_at(h, i);
        FUZZ_ASSERT(t->offset <= size && t->nbytes <= size - t->offset);
        FUZZ_ASSERT(t->offset == expect_off);   /* sorted, contiguous: no gap, no overlap */
        expect_off = t->offset + t->nbytes;
        FUZZ_ASSERT(t->n_dims <= TRIT_MAX_DIMS && t->shard == 0);
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= t->dims[d];   /* checked at open */
        FUZZ_ASSERT(n == t->n_elems);
        FUZZ_ASSERT(t->n_elems * src_st_dtype_bits(t->dtype) == t->nbytes * 8);
        FUZZ_ASSERT(strlen(t->name) <= TRIT_MAX_NAME_LEN);
        FUZZ_ASSERT(src_st_find(h, t->name) == (int64_t)i);
        if (src_st_dtype_decodable(t->dtype) && t->n_elems) {
            uint64_t const k = t->n_elems < 4096 ? t->n_elems : 4096;
            FUZZ_ASSERT(src_st_to_f32(h, i, 0, k, fz_out, &err) == TRIT_OK);
            FUZZ_ASSERT(src_st_to_f32(h, i, t->n_elems - 1, 1, fz_out, &err) == TRIT_OK);
            FUZZ_ASSERT(src_st_to_f32(h, i, t->n_elems, 1, fz_out, &err) == TRIT_E_USAGE);
        }
        src_st_bitnet v;
        int const rc = src_st_bitnet_view(h, i, &v, &err);
        FUZZ_ASSERT(rc == TRIT_OK || rc == TRIT_E_NOTFOUND || rc == TRIT_E_CORRUPT || rc == TRIT_E_LIMIT);
        if (rc == TRIT_OK) {
            FUZZ_ASSERT(v.rows == 4 * t->dims[0] && v.cols == t->dims[1]);
            uint64_t const total = v.rows * v.cols;
            uint64_t const k = total < 4096 ? total : 4096;
            int const r2 = src_st_bitnet_ternary(h, &v, 0, k, fz_tern, &err);
            FUZZ_ASSERT(r2 == TRIT_OK || r2 == TRIT_E_CORRUPT);
            for (uint64_t j = 0; r2 == TRIT_OK && j < k; j++) FUZZ_ASSERT(fz_tern[j] >= -1 && fz_tern[j] <= 1);
            int const r3 = src_st_bitnet_to_f32(h, &v, 0, k, fz_out, &err);
            FUZZ_ASSERT(r3 == r2);
        }
    }
    FUZZ_ASSERT(expect_off == size);   /* the data buffer is covered exactly */
    for (uint32_t i = 0; i < src_st_n_meta(h); i++) {
        const char *k, *v;
        FUZZ_ASSERT(src_st_meta_at(h, i, &k, &v) == TRIT_OK && k && v);
        FUZZ_ASSERT(src_st_meta_get(h, k) == v);
    }
}

FUZZ_TARGET(safetensors_header)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    uint8_t *img = NULL;
    const uint8_t *p = data;
    size_t n = size;
    if (size && data[0] == '{') {
        const uint8_t *nul = memchr(data, 0, size);
        size_t const hlen = nul ? (size_t)(nul - data) : size;
        size_t const dlen = nul ? size - hlen - 1 : 0;
        img = malloc(8 + hlen + dlen + 1);
        if (!img) return 0;
        trit_store_le64(img, hlen);
        memcpy(img + 8, data, hlen);
        if (dlen) memcpy(img + 8 + hlen, nul + 1, dlen);
        p = img;
        n = 8 + hlen + dlen;
    }
    src_st *h = NULL;
    trit_err err;
    int const rc = src_st_open_mem(p, n, "fuzz.safetensors", &h, &err);
    if (rc == TRIT_OK) {
        FUZZ_ASSERT(h != NULL);
        check_open(h, n);
    } else {
        FUZZ_ASSERT(h == NULL && rc < 0 && rc >= TRIT_E_EXISTS && err.code == rc);
        FUZZ_ASSERT(strcmp(err.file, "fuzz.safetensors") == 0);
    }
    src_st_close(h);
    free(img);
    return 0;
}
