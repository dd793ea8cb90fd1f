/* fuzz_act_scales.c - libtrit's parse of the activation-scale section (kind 5, spec 9) on
 * arbitrary bytes. Invariants: a parse either fails with a data error (never a usage error) or
 * gives entries that are each valid (granularity 1..3, group_size set exactly for groups, one
 * scale per tensor, bits 8 or 16, finite scales > 0) in strictly increasing tensor order, found by
 * trit_act_scales_find; and the encoding is canonical: encode(parse(b)) == b. */
#include <math.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "trit.h"

FUZZ_TARGET(act_scales)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    trit_act_scales *s = NULL;
    trit_err err;
    int const rc = trit_act_scales_parse(data, size, 0, "fuzz", NULL, &s, &err);
    if (rc != TRIT_OK) {
        FUZZ_ASSERT(s == NULL);
        FUZZ_ASSERT(rc == TRIT_E_TRUNCATED || rc == TRIT_E_CORRUPT || rc == TRIT_E_LIMIT || rc == TRIT_E_UNSUPPORTED ||
                    rc == TRIT_E_NOMEM);
        FUZZ_ASSERT(rc == TRIT_E_NOMEM || err.offset <= size);
        return 0;
    }
    uint32_t const n = trit_act_scales_n(s);
    trit_act_entry *e = n ? malloc(n * sizeof *e) : NULL;
    FUZZ_ASSERT(!n || e);
    for (uint32_t i = 0; i < n; i++) {
        trit_act_entry const *a = trit_act_scales_at(s, i);
        FUZZ_ASSERT(a && a->granularity >= TRIT_ACT_TENSOR && a->granularity <= TRIT_ACT_GROUP);
        FUZZ_ASSERT((a->granularity == TRIT_ACT_GROUP) == (a->group_size != 0));
        FUZZ_ASSERT(a->n_scales >= 1 && (a->granularity != TRIT_ACT_TENSOR || a->n_scales == 1) && (a->bits == 8 || a->bits == 16));
        for (uint32_t k = 0; k < a->n_scales; k++) FUZZ_ASSERT(isfinite(a->scales[k]) && a->scales[k] > 0);
        FUZZ_ASSERT(i == 0 || a->tensor > trit_act_scales_at(s, i - 1)->tensor);
        FUZZ_ASSERT(trit_act_scales_find(s, a->tensor) == a);
        e[i] = *a;
    }
    void *out = NULL;
    uint64_t len = 0;
    FUZZ_ASSERT(trit_act_scales_encode(e, n, &out, &len, &err) == TRIT_OK);
    FUZZ_ASSERT(len == size && memcmp(out, data, size) == 0);
    trit_free(out);
    free(e);
    trit_act_scales_free(s);
    return 0;
}
