/* fuzz_reader.c - the .trit reader on arbitrary bytes. Invariants when open succeeds: every
 * tensor, unit and section lies inside the input; names resolve back to their index; unit
 * members lie inside their unit and are packed; a verifying open agrees with open + verify. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "trit.h"

FUZZ_TARGET(reader)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    trit_reader *r = NULL;
    trit_err err;
    int const rc = trit_reader_open_mem(data, size, "fuzz", NULL, &r, &err);
    if (rc != TRIT_OK) {
        FUZZ_ASSERT(r == NULL);
        FUZZ_ASSERT(err.code == rc && err.msg[0]);
        return 0;
    }
    trit_file_info const *fi = trit_reader_file_info(r);
    FUZZ_ASSERT(fi->file_size == size);
    for (uint32_t i = 0; i < fi->n_tensors; i++) {
        trit_tensor_info const *t = trit_reader_tensor(r, i);
        FUZZ_ASSERT(trit_reader_find_tensor(r, t->name) == (int64_t)i);
        if (t->unit == TRIT_NONE32) {
            const void *d;
            uint64_t n;
            FUZZ_ASSERT(trit_reader_tensor_data(r, i, &d, &n, &err) == TRIT_OK);
            FUZZ_ASSERT((const uint8_t *)d >= data && n <= size &&
                        (uint64_t)((const uint8_t *)d - data) <= size - n);
        } else {
            trit_unit_info const *u = trit_reader_unit(r, t->unit);
            FUZZ_ASSERT(u && t->offset + t->size <= u->decoded_size);
        }
    }
    for (uint32_t u = 0; u < fi->n_units; u++) {
        trit_unit_info const *un = trit_reader_unit(r, u);
        FUZZ_ASSERT(un->offset <= size && un->stored_size <= size - un->offset);
        FUZZ_ASSERT(trit_reader_find_unit(r, un->layer, un->expert) == (int64_t)u);
        /* packed (spec 5.3): the image is exactly what the members need, so a unit's decode
         * is bounded by its tensor records */
        uint32_t nm = 0;
        const uint32_t *m = trit_reader_unit_members(r, u, &nm);
        uint64_t need = 0;
        for (uint32_t k = 0; k < nm; k++) {
            trit_tensor_info const *t = trit_reader_tensor(r, m[k]);
            uint64_t const at = (need + fi->tensor_align - 1) / fi->tensor_align * fi->tensor_align;
            FUZZ_ASSERT(t->offset == at);
            need = at + t->size;
        }
        FUZZ_ASSERT(un->decoded_size == need);
        if (un->decoded_size <= (1u << 20)) {
            void *buf = NULL;
            uint64_t n;
            if (trit_reader_unit_load(r, u, &buf, &n, &err) == TRIT_OK) FUZZ_ASSERT(n == un->decoded_size);
            trit_free(buf);
        }
    }
    for (uint32_t s = 0; s < fi->n_sections; s++) {
        trit_section_info const *si = trit_reader_section(r, s);
        FUZZ_ASSERT(si->offset <= size && si->size <= size - si->offset);
    }
    for (uint32_t k = 0; k < fi->n_kv; k++) {
        const char *key = trit_reader_kv_key(r, k);
        FUZZ_ASSERT(key && trit_reader_find_kv(r, key) == (int64_t)k);
        uint32_t et;
        uint64_t count;
        uint32_t const type = trit_reader_kv_type(r, k, &et, &count);
        if (type == TRIT_KV_ARRAY && et == TRIT_KV_STRING && count) {
            const char *s;
            uint64_t n;
            FUZZ_ASSERT(trit_reader_kv_arr_str(r, k, count - 1, &s, &n) == TRIT_OK);
            FUZZ_ASSERT((const uint8_t *)s >= data && (uint64_t)((const uint8_t *)s - data) + n <= size);
        }
    }
    int const vrc = trit_reader_verify(r, &err);
    trit_reader_close(r);
    trit_open_opts const o = {TRIT_OPEN_VERIFY};
    int const rc2 = trit_reader_open_mem(data, size, "fuzz", &o, &r, &err);
    FUZZ_ASSERT(rc2 == vrc);
    trit_reader_close(r);
    return 0;
}
