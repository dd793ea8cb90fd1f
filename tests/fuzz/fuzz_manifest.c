/* fuzz_manifest.c - the manifest.json parser on arbitrary bytes. Invariants when it accepts:
 * the manifest is consistent (names safe, chunk counts match sizes, extents add up, versions
 * ordered), and writing it and parsing that again is a fixed point. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "pack_int.h"

static void check(const pack_manifest *m)
{
    FUZZ_ASSERT(m->version >= 1 && m->model_id && pack_model_id_ok(m->model_id));
    FUZZ_ASSERT(trit_is_pow2(m->chunk_size) && m->chunk_size >= TRIT_MIN_BUNDLE_CHUNK);
    FUZZ_ASSERT(m->n_files >= 1 && m->n_files <= TRIT_MAX_BUNDLE_FILES);
    FUZZ_ASSERT(!m->has_base || m->base_version < m->version);
    int any_delta = 0;
    for (uint32_t i = 0; i < m->n_files; i++) {
        pack_file const *const f = &m->files[i];
        FUZZ_ASSERT(pack_name_ok(f->file.name) && !pack_name_escapes(f->file.name));
        FUZZ_ASSERT(i == 0 || strcmp(m->files[i - 1].file.name, f->file.name) < 0);
        FUZZ_ASSERT(f->file.n_chunks == pack_n_chunks(f->file.size, m->chunk_size));
        FUZZ_ASSERT(f->file.size <= TRIT_MAX_BUNDLE_MEMBER);
        if (!f->is_delta) continue;
        any_delta = 1;
        FUZZ_ASSERT(pack_name_ok(f->delta.name) && pack_name_ok(f->base_path));
        FUZZ_ASSERT(f->delta.n_chunks == pack_n_chunks(f->delta.size, m->chunk_size));
        uint64_t total = 0, data = 0;
        for (uint64_t k = 0; k < f->n_extents; k++) {
            pack_extent const *const x = &f->extents[k];
            FUZZ_ASSERT(x->len >= 1 && x->op <= PACK_EXT_ZERO);
            FUZZ_ASSERT(x->op != PACK_EXT_COPY || (x->base_off <= f->base_size && x->len <= f->base_size - x->base_off));
            total += x->len;
            if (x->op == PACK_EXT_DATA) data += x->len;
        }
        FUZZ_ASSERT(total == f->file.size && data == f->delta.size);
        for (uint32_t j = 0; j < m->n_files; j++) FUZZ_ASSERT(strcmp(f->delta.name, m->files[j].file.name) != 0);
    }
    FUZZ_ASSERT(any_delta == m->has_base);
    /* v2: every root is the root of its chunk list (the parser refuses any other) */
    FUZZ_ASSERT(m->schema == PACK_MANIFEST_V1 || m->schema == PACK_MANIFEST_V2);
    for (uint32_t i = 0; m->schema == PACK_MANIFEST_V2 && i < m->n_files; i++)
        for (int k = 0; k < 1 + m->files[i].is_delta; k++) {
            pack_blob const *const b = k ? &m->files[i].delta : &m->files[i].file;
            uint8_t r[PACK_SHA256_BYTES];
            FUZZ_ASSERT(pack_root(m->chunk_size, b->size, (const uint8_t (*)[PACK_SHA256_BYTES])b->chunks, r, NULL) == TRIT_OK);
            FUZZ_ASSERT(memcmp(r, b->digest, sizeof r) == 0);
        }
}

FUZZ_TARGET(manifest)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    pack_manifest *m = NULL;
    trit_err err;
    trit_err_clear(&err);
    int const rc = pack_manifest_parse(data, size, &m, &err);
    if (rc != TRIT_OK) {
        FUZZ_ASSERT(m == NULL && err.code == rc && err.msg[0]);
        return 0;
    }
    check(m);
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    pack_manifest *m2 = NULL;
    FUZZ_ASSERT(pack_manifest_write(m, &t1, &n1, &err) == TRIT_OK);
    FUZZ_ASSERT(pack_manifest_parse(t1, n1, &m2, &err) == TRIT_OK);
    FUZZ_ASSERT(m2->version == m->version && m2->n_files == m->n_files && m2->schema == m->schema &&
                strcmp(m2->model_id, m->model_id) == 0);
    FUZZ_ASSERT(pack_manifest_write(m2, &t2, &n2, &err) == TRIT_OK);
    FUZZ_ASSERT(n1 == n2 && memcmp(t1, t2, n1) == 0);
    free(t1);
    free(t2);
    pack_manifest_free(m2);
    pack_manifest_free(m);
    return 0;
}
