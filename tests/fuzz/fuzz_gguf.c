/* fuzz_gguf.c - the GGUF reader over arbitrary bytes (from memory). Invariants when open
 * succeeds: every tensor's [offset, offset + nbytes) lies inside the input, names and keys are
 * found again by lookup, every KV can be read with the getter of its kind (arrays walked to the
 * end, element by element), and decodable tensors decode (MXFP4: or are refused as corrupt for
 * an E8M0 scale of 255, NaN; seed-mxfp4*.gguf). */
#include <stdlib.h>
#include <string.h>

#include "src_ggml_types.h"
#include "src_gguf.h"
#include "fuzz/fuzz.h"

static void check_val(const src_gguf_val *v, unsigned depth)
{
    uint64_t u;
    int64_t s;
    double d;
    int b;
    const char *str;
    uint64_t n;
    switch (v->type) {
    case SRC_GGUF_UINT8: case SRC_GGUF_UINT16: case SRC_GGUF_UINT32: case SRC_GGUF_UINT64:
        FUZZ_ASSERT(src_gguf_val_u64(v, &u) == TRIT_OK);
        FUZZ_ASSERT(src_gguf_val_f64(v, &d) == TRIT_OK);
        break;
    case SRC_GGUF_INT8: case SRC_GGUF_INT16: case SRC_GGUF_INT32: case SRC_GGUF_INT64:
        FUZZ_ASSERT(src_gguf_val_i64(v, &s) == TRIT_OK);
        FUZZ_ASSERT(src_gguf_val_f64(v, &d) == TRIT_OK);
        break;
    case SRC_GGUF_FLOAT32: case SRC_GGUF_FLOAT64: FUZZ_ASSERT(src_gguf_val_f64(v, &d) == TRIT_OK); break;
    case SRC_GGUF_BOOL: FUZZ_ASSERT(src_gguf_val_bool(v, &b) == TRIT_OK); break;
    case SRC_GGUF_STRING:
        FUZZ_ASSERT(src_gguf_val_str(v, &str, &n) == TRIT_OK);
        FUZZ_ASSERT(n == v->count);
        if (n) {   /* both ends readable (ASan checks the loads) */
            volatile char const first = str[0], last = str[n - 1];
            (void)first;
            (void)last;
        }
        break;
    case SRC_GGUF_ARRAY: {
        src_gguf_iter it;
        src_gguf_val e;
        uint64_t k = 0;
        FUZZ_ASSERT(depth < 16);
        src_gguf_iter_init(&it, v);
        while (src_gguf_iter_next(&it, &e)) {
            FUZZ_ASSERT(e.type == v->elem_type);
            check_val(&e, depth + 1);
            k++;
        }
        FUZZ_ASSERT(k == v->count);
        break;
    }
    default: FUZZ_ASSERT(0 && "value of unknown type survived open");
    }
}

static float scratch[4096];

FUZZ_TARGET(gguf)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    src_gguf *h = NULL;
    trit_err err;
    if (src_gguf_open_mem(data, size, "fuzz.gguf", &h, &err) != TRIT_OK) {
        FUZZ_ASSERT(h == NULL && err.code < 0);
        return 0;
    }
    uint32_t const v = src_gguf_version(h);
    FUZZ_ASSERT(v == 2 || v == 3);
    for (uint64_t i = 0; i < src_gguf_n_kv(h); i++) {
        const char *key = src_gguf_kv_key(h, i);
        FUZZ_ASSERT(key && key[0]);
        FUZZ_ASSERT(src_gguf_find_kv(h, key) == (int64_t)i);
        src_gguf_val val;
        src_gguf_kv_val(h, i, &val);
        FUZZ_ASSERT(val.off <= size && val.nbytes <= size - val.off);
        check_val(&val, 0);
        if (val.type == SRC_GGUF_ARRAY) {
            for (uint64_t j = 0; j < val.count; j++) {
                const char *s;
                uint64_t n;
                double d;
                if (val.elem_type == SRC_GGUF_STRING)
                    FUZZ_ASSERT(src_gguf_kv_arr_str(h, i, j, &s, &n) == TRIT_OK);
                else if (val.elem_type != SRC_GGUF_ARRAY && val.elem_type != SRC_GGUF_BOOL)
                    FUZZ_ASSERT(src_gguf_kv_arr_f64(h, i, j, &d) == TRIT_OK);
            }
        }
    }
    for (uint64_t i = 0; i < src_gguf_n_tensors(h); i++) {
        const src_gguf_tensor_info *t = src_gguf_tensor(h, i);
        FUZZ_ASSERT(t && t->name && t->type_name);
        FUZZ_ASSERT(t->offset <= size && t->nbytes <= size - t->offset);
        FUZZ_ASSERT(src_gguf_find_tensor(h, t->name) == (int64_t)i);
        if (src_gguf_can_decode(h, i) && t->n_elems > 0) {
            uint64_t const n = t->n_elems < 4096 ? t->n_elems : 4096;
            uint64_t const first = t->n_elems - n;    /* the end: covers the last block */
            int const drc = src_gguf_to_f32(h, i, first, n, scratch, &err);
            FUZZ_ASSERT(drc == TRIT_OK || (t->type == SRC_GGML_MXFP4 && drc == TRIT_E_CORRUPT));
        }
        if (t->nbytes > 0) {
            uint8_t byte;
            FUZZ_ASSERT(src_gguf_read(h, i, t->nbytes - 1, &byte, 1, &err) == TRIT_OK);
        }
    }
    src_gguf_close(h);
    return 0;
}
