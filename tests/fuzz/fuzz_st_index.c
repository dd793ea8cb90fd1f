/* fuzz_st_index.c - the sharded-index parser (model.safetensors.index.json) over arbitrary
 * bytes. Invariants when the parse succeeds: at least one entry; every entry's name is found
 * again at its own index; every shard number is in range and its name is a plain base name
 * (no path separator, not "." or ".."), shard names are sorted and distinct, and total_size,
 * if present, is below 2^53. */
#include <string.h>

#include "src_safetensors.h"
#include "fuzz/fuzz.h"

FUZZ_TARGET(st_index)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    src_st_index *ix = NULL;
    trit_err err;
    int const rc = src_st_index_parse(data, size, "fuzz.index.json", &ix, &err);
    if (rc != TRIT_OK) {
        FUZZ_ASSERT(ix == NULL && rc < 0 && err.code == rc);
        return 0;
    }
    uint32_t const ns = src_st_index_n_shards(ix);
    FUZZ_ASSERT(src_st_index_n_entries(ix) >= 1 && ns >= 1 && ns <= TRIT_MAX_SHARDS);
    for (uint32_t s = 0; s < ns; s++) {
        const char *name = src_st_index_shard(ix, s);
        FUZZ_ASSERT(name && name[0] && !strchr(name, '/') && !strchr(name, '\\'));
        FUZZ_ASSERT(strcmp(name, ".") && strcmp(name, ".."));
        if (s) FUZZ_ASSERT(strcmp(src_st_index_shard(ix, s - 1), name) < 0);
    }
    for (uint64_t i = 0; i < src_st_index_n_entries(ix); i++) {
        uint32_t s = UINT32_MAX;
        const char *name = src_st_index_entry(ix, i, &s);
        FUZZ_ASSERT(name && s < ns);
        FUZZ_ASSERT(src_st_index_find(ix, name) == (int64_t)i);
    }
    uint64_t total;
    if (src_st_index_total_size(ix, &total) == TRIT_OK) FUZZ_ASSERT(total < (1ull << 53));
    src_st_index_free(ix);
    return 0;
}
