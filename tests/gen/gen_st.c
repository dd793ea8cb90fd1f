/* gen_st.c - safetensors layouts: a directory with config.json, tokenizer.json and one or
 * more .safetensors files (plus model.safetensors.index.json when sharded).
 *
 * Each shard is written like the reference writer (formats.md 2.4): tensors ordered by dtype
 * (widest first) then name, packed back to back, the JSON header space-padded to a multiple
 * of 8, "__metadata__": {"format": "pt"} first. Tensors are assigned to shards in state-dict
 * order (gen_plan.c), so file order and shard order differ, as in real checkpoints. */
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"
#include "trit_safemath.h"

static const char *st_dtype(uint32_t dt)
{
    switch (dt) {
    case GEN_DT_F32: return "F32";
    case GEN_DT_F16: return "F16";
    case GEN_DT_BF16: return "BF16";
    case GEN_DT_F8_E4M3: return "F8_E4M3";
    default: return "U8";
    }
}

/* Reference writer order: safetensors' Dtype enum descending (F32 > BF16 > F16 > U8). */
static int dtype_rank(uint32_t dt)
{
    switch (dt) {
    case GEN_DT_F32: return 3;
    case GEN_DT_BF16: return 2;
    case GEN_DT_F16: return 1;
    default: return 0;
    }
}

/* qsort over pointers into the plan, so no context (and no global) is needed. */
static int cmp_file_order(const void *a, const void *b)
{
    const gen_tensor *x = *(const gen_tensor *const *)a, *y = *(const gen_tensor *const *)b;
    int const rx = dtype_rank(x->dtype), ry = dtype_rank(y->dtype);
    if (rx != ry) return ry - rx;
    return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b)
{
    const gen_tensor *x = *(const gen_tensor *const *)a, *y = *(const gen_tensor *const *)b;
    return strcmp(x->name, y->name);
}

/* The header JSON of one shard, in a counting pass (o->f NULL) or for real. */
static int write_header_json(const gen_tensor *const *ts, uint32_t n, gen_out *o, trit_err *err)
{
    uint64_t off = 0;
    int rc = gen__out_str(o, "{\"__metadata__\":{\"format\":\"pt\"}", err);
    for (uint32_t k = 0; k < n && !rc; k++) {
        const gen_tensor *t = ts[k];
        rc = gen__out_str(o, ",", err);
        if (!rc) rc = gen__out_json_str(o, t->name, strlen(t->name), err);
        if (!rc) rc = gen__out_printf(o, err, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype(t->dtype));
        for (uint32_t d = 0; d < t->n_dims && !rc; d++)
            rc = gen__out_printf(o, err, "%s%llu", d ? "," : "", (unsigned long long)t->shape[d]);
        if (!rc)
            rc = gen__out_printf(o, err, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                                 (unsigned long long)(off + t->nbytes));
        off += t->nbytes;
    }
    if (!rc) rc = gen__out_str(o, "}", err);
    return rc;
}

static int write_shard(const gen_plan *p, uint32_t file, const char *dir, trit_err *err)
{
    char name[64], path[GEN_PATH_MAX];
    gen_shard_name(file, p->n_files, name, sizeof name);
    int rc = gen__join(path, sizeof path, dir, name, err);
    if (rc) return rc;
    const gen_tensor **ts = trit_mallocarray(p->n, sizeof *ts);
    if (!ts) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "no memory for the tensor list");
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->n; i++)
        if (p->t[i].file == file) ts[n++] = &p->t[i];
    qsort(ts, n, sizeof *ts, cmp_file_order);

    gen_out cnt, o;
    gen__out_counter(&cnt);
    rc = write_header_json(ts, n, &cnt, err);
    uint64_t const hlen = (cnt.off + 7) & ~7ull;  /* space-padded to a multiple of 8 */
    if (!rc) rc = gen__out_create(&o, path, err);
    if (!rc) {
        rc = gen__out_u64le(&o, hlen, err);
        if (!rc) rc = write_header_json(ts, n, &o, err);
        while (!rc && o.off < 8 + hlen) rc = gen__out_write(&o, " ", 1, err);
        for (uint32_t k = 0; k < n && !rc; k++) rc = gen__emit_tensor(ts[k], &o, err);
        if (rc) gen__out_discard(&o);
        else rc = gen__out_close(&o, err);
        if (rc) trit_err_file(err, path);
    }
    free(ts);
    return rc;
}

/* model.safetensors.index.json as huggingface_hub writes it: indent 2, keys sorted. */
static int write_index(const gen_plan *p, const char *dir, trit_err *err)
{
    char path[GEN_PATH_MAX], shard[64];
    if (gen__join(path, sizeof path, dir, "model.safetensors.index.json", err)) return TRIT_E_USAGE;
    const gen_tensor **ts = trit_mallocarray(p->n, sizeof *ts);
    if (!ts) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "no memory for the tensor list");
    uint64_t total = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        ts[i] = &p->t[i];
        total += p->t[i].nbytes;
    }
    qsort(ts, p->n, sizeof *ts, cmp_name);
    gen_out o;
    int rc = gen__out_create(&o, path, err);
    if (!rc) {
        rc = gen__out_printf(&o, err, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {",
                             (unsigned long long)total);
        for (uint32_t k = 0; k < p->n && !rc; k++) {
            const gen_tensor *t = ts[k];
            gen_shard_name(t->file, p->n_files, shard, sizeof shard);
            rc = gen__out_str(&o, k ? ",\n    " : "\n    ", err);
            if (!rc) rc = gen__out_json_str(&o, t->name, strlen(t->name), err);
            if (!rc) rc = gen__out_printf(&o, err, ": \"%s\"", shard);
        }
        if (!rc) rc = gen__out_str(&o, "\n  }\n}\n", err);
        if (rc) gen__out_discard(&o);
        else rc = gen__out_close(&o, err);
    }
    free(ts);
    return rc;
}

static int write_small(const char *dir, const char *name, const gen_opts *op, trit_err *err)
{
    char path[GEN_PATH_MAX];
    gen_out o;
    int rc = gen__join(path, sizeof path, dir, name, err);
    if (!rc) rc = gen__out_create(&o, path, err);
    if (rc) return rc;
    rc = !strcmp(name, "config.json") ? gen__write_config(op, &o, err)
                                      : gen__write_tokenizer_json_split(op->n_vocab, gen__is_gptoss(op->layout) ? gen__o200k_regex : NULL, &o, err);
    if (rc) {
        gen__out_discard(&o);
        trit_err_file(err, path);
        return rc;
    }
    return gen__out_close(&o, err);
}

int gen__write_safetensors_dir(const gen_opts *op, const char *out_path, trit_err *err)
{
    gen_plan p;
    char tmp[GEN_PATH_MAX];
    int rc = gen__check_target(out_path, 1, op->overwrite, err);
    if (rc) return rc;
    if ((rc = gen_plan_build(op, &p, err))) return rc;
    if ((rc = gen__tmpdir_create(out_path, tmp, sizeof tmp, err))) {
        gen_plan_release(&p);
        return rc;
    }
    rc = write_small(tmp, "config.json", op, err);
    if (!rc) rc = write_small(tmp, "tokenizer.json", op, err);
    for (uint32_t f = 0; f < p.n_files && !rc; f++) rc = write_shard(&p, f, tmp, err);
    if (!rc && p.n_files > 1) rc = write_index(&p, tmp, err);
    if (!rc) rc = gen__commit_dir(tmp, out_path, op->overwrite, err);
    if (rc) gen__remove_tmpdir(tmp);
    gen_plan_release(&p);
    return rc;
}
