/* test_pack_util.c - helpers of the pack tests (test_pack.h). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "test_pack.h"
#include "tfmt.h"

static trit_tensor_info tensor(const char *name, uint32_t type, uint64_t rows, uint64_t cols, uint32_t layer, uint32_t unit)
{
    trit_tensor_info t;
    memset(&t, 0, sizeof t);
    t.name = name;
    t.type = type;
    t.n_dims = 2;
    t.dims[0] = rows;
    t.dims[1] = cols;
    t.scale_layout = type == TRIT_TYPE_T2 ? TRIT_SCALE_ROW : TRIT_SCALE_NONE;
    t.scale_type = type == TRIT_TYPE_T2 ? TRIT_SCALE_TYPE_F32 : TRIT_SCALE_TYPE_NONE;
    t.layer = layer;
    t.unit = unit;
    trit_type_geometry(type, &t.block_elems, &t.block_bytes);
    trit_tensor_layout(&t, NULL);
    return t;
}

static int put(trit_writer *w, uint32_t id, const trit_tensor_info *t, uint32_t seed, trit_err *err)
{
    uint8_t *const buf = malloc((size_t)t->size);
    if (!buf) return TRIT_E_NOMEM;
    if (t->type == TRIT_TYPE_T2) tfmt_fill_t2(t, buf, seed);
    else tfmt_fill(buf, t->size, seed);
    int const rc = trit_writer_write_tensor(w, id, buf, t->size, err);
    free(buf);
    return rc;
}

int tpk_container(const char *path, int release)
{
    trit_write_opts o = {0};
    o.overwrite = 1;
    o.page_align = 4096;
    trit_writer *w;
    trit_err err;
    int rc = trit_writer_open(path, &o, &w, &err);
    if (rc) return rc;
    static const char *const dn[4] = {"token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "output.weight"};
    static const char *const mn[4][2] = {{"blk.0.ffn_up.0.weight", "blk.0.ffn_down.0.weight"},
                                         {"blk.0.ffn_up.1.weight", "blk.0.ffn_down.1.weight"},
                                         {"blk.1.ffn_up.0.weight", "blk.1.ffn_down.0.weight"},
                                         {"blk.1.ffn_up.1.weight", "blk.1.ffn_down.1.weight"}};
    trit_tensor_info dt[4], mt[4][2];
    uint32_t did[4], uid[4], mid[4][2], sec;
#define T(x) do { if ((rc = (x)) != TRIT_OK) goto fail; } while (0)
    T(trit_writer_kv_str(w, "general.name", release == 1 ? "r1" : "r2", 2, &err));
    T(trit_writer_kv_u32(w, "model.n_layer", 2, &err));
    T(trit_writer_add_section(w, "tokenizer.json", TRIT_SECTION_TOKENIZER_JSON, &sec, &err));
    for (uint32_t i = 0; i < 4; i++) {
        dt[i] = tensor(dn[i], i == 1 || i == 2 ? TRIT_TYPE_T2 : TRIT_TYPE_F32, 16, 256, TRIT_NONE32, TRIT_NONE32);
        T(trit_writer_add_tensor(w, &dt[i], &did[i], &err));
    }
    for (uint32_t u = 0; u < 4; u++) {
        T(trit_writer_add_unit(w, u / 2, u % 2, u % 2 ? TRIT_STORAGE_ZSTD : TRIT_STORAGE_RAW, &uid[u], &err));
        for (uint32_t k = 0; k < 2; k++) {
            mt[u][k] = tensor(mn[u][k], TRIT_TYPE_T2, 32, 256, u / 2, uid[u]);
            T(trit_writer_add_tensor(w, &mt[u][k], &mid[u][k], &err));
        }
    }
    for (uint32_t i = 0; i < 4; i++) T(put(w, did[i], &dt[i], i == 2 && release == 2 ? 77 : i, &err));
    for (uint32_t u = 0; u < 4; u++) {
        T(trit_writer_unit_begin(w, uid[u], &err));
        for (uint32_t k = 0; k < 2; k++) T(put(w, mid[u][k], &mt[u][k], (u == 1 && release == 2 ? 500 : 10) + u * 2 + k, &err));
        T(trit_writer_unit_end(w, &err));
    }
    static const char tok[] = "{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}";
    T(trit_writer_write_section(w, sec, tok, sizeof tok - 1, &err));
#undef T
    return trit_writer_finish(w, &err);
fail:
    trit_writer_abort(w);
    return rc;
}

void tpk_key(uint8_t seed_byte, uint8_t seed[PACK_SEED_BYTES], uint8_t pk[PACK_PUBKEY_BYTES])
{
    for (uint32_t i = 0; i < PACK_SEED_BYTES; i++) seed[i] = (uint8_t)(i + seed_byte);
    pack_key_public(seed, pk, NULL);
}

int tpk_pack(const char *out, const char *const *inputs, uint32_t n, uint64_t version, int sign, const char *base,
             trit_err *err)
{
    uint8_t seed[PACK_SEED_BYTES], pk[PACK_PUBKEY_BYTES];
    tpk_key(1, seed, pk);
    pack_create_opts o;
    memset(&o, 0, sizeof o);
    o.inputs = inputs;
    o.n_inputs = n;
    o.out = out;
    o.model_id = "test/moe";
    o.version = version;
    o.chunk_size = 4096; /* several chunks per file: the chunk paths run */
    o.seed = sign ? seed : NULL;
    o.base = base;
    o.force = 1;
    return pack_create(&o, NULL, err);
}

int tpk_tar(const char *path, const tpk_entry *ents, size_t n, int gzip)
{
    struct archive *const a = archive_write_new();
    int ok = a && archive_write_set_format_pax(a) == ARCHIVE_OK &&
             (!gzip || archive_write_add_filter_gzip(a) == ARCHIVE_OK) && archive_write_open_filename(a, path) == ARCHIVE_OK;
    for (size_t i = 0; ok && i < n; i++) {
        tpk_entry const *const x = &ents[i];
        struct archive_entry *const e = archive_entry_new();
        int64_t const size = x->size >= 0 ? x->size : (int64_t)x->len;
        archive_entry_set_pathname(e, x->name);
        archive_entry_set_filetype(e, x->type ? x->type : AE_IFREG);
        archive_entry_set_perm(e, 0644);
        if (x->type == AE_IFLNK) archive_entry_set_symlink(e, x->link);
        else if (x->hardlink) archive_entry_set_hardlink(e, x->link);
        if (!x->type || x->type == AE_IFREG) archive_entry_set_size(e, size);
        if (x->type == AE_IFCHR) archive_entry_set_rdev(e, 0x0103);
        if (x->sparse) archive_entry_sparse_add_entry(e, size - 1, 1);
        ok = archive_write_header(a, e) == ARCHIVE_OK;
        if (ok && x->len) ok = archive_write_data(a, x->data, x->len) >= 0;
        archive_entry_free(e);
    }
    if (a && archive_write_close(a) != ARCHIVE_OK) ok = 0;
    if (a) archive_write_free(a);
    return ok ? 0 : -1;
}

int tpk_read_members(const char *bundle, tpk_members *m)
{
    memset(m, 0, sizeof *m);
    struct archive *const a = archive_read_new();
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, bundle, 65536) != ARCHIVE_OK) {
        archive_read_free(a);
        return -1;
    }
    struct archive_entry *e;
    int rc = 0;
    while (m->n < 8 && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        size_t const len = (size_t)archive_entry_size(e);
        m->name[m->n] = strdup(archive_entry_pathname(e));
        m->data[m->n] = malloc(len ? len : 1);
        m->len[m->n] = len;
        if (archive_read_data(a, m->data[m->n], len) != (la_ssize_t)len) rc = -1;
        m->n++;
    }
    archive_read_free(a);
    return rc;
}

void tpk_members_free(tpk_members *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->name[i]);
        free(m->data[i]);
    }
    m->n = 0;
}

void tpk_entries_of(const tpk_members *m, tpk_entry *e)
{
    for (size_t i = 0; i < m->n; i++) e[i] = (tpk_entry){m->name[i], 0, m->data[i], m->len[i], -1, NULL, 0, 0};
}

int tpk_count_prefix(const char *dir, const char *prefix)
{
    DIR *const d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

const char *tpk_dir(const char *name)
{
    const char *const p = test_path(test_tmpdir(), name);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", p, p);
    if (system(cmd) != 0) return NULL;
    return p;
}

int tpk_same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    uint8_t *const x = test_read_file(a, &na);
    uint8_t *const y = test_read_file(b, &nb);
    int const same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}
