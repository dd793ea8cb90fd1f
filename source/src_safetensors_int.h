/*
 * src_safetensors_int.h - private layout of the safetensors reader, shared by the
 * src_safetensors*.c files only (style R1: src__ prefix for module-internal symbols).
 */
#ifndef SRC_SAFETENSORS_INT_H
#define SRC_SAFETENSORS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "src_json.h"
#include "src_safetensors.h"

/* Values (JSON nodes) one tensor entry may hold: object, dtype, shape[<= 8], data_offsets[2]
 * and a few unknown fields. Bounds the memory of parsing one entry. */
#define SRC__ST_ENTRY_NODES 64u

/* ---- the handle ----------------------------------------------------------------------------- */

typedef struct src__st_rec {
    src_st_tensor t;              /* public view; t.name points at name */
    char *name;                   /* owned */
    uint64_t begin;               /* data_offsets begin (relative to the data buffer) */
    uint64_t end;                 /* data_offsets end */
    uint64_t hdr_off;             /* file offset of the entry's key, for messages */
} src__st_rec;

typedef struct src__st_shard {
    src_st_shard_info info;       /* public view; info.path/name point into path */
    char *path;                   /* owned */
    int fd;                       /* read-only descriptor, -1 for in-memory */
    const uint8_t *mem;           /* in-memory image (borrowed), or NULL */
    struct cJSON *meta;           /* __metadata__ object (owned) or NULL */
} src__st_shard;

struct src_st {
    src__st_rec *recs;            /* n_tensors records, shard by shard, by offset */
    uint32_t n_tensors, cap_tensors;
    uint32_t *by_name;            /* record indices sorted by name */
    src__st_shard *shards;
    uint32_t n_shards;
    char *index_path;             /* owned, or NULL */
    src_st_index *index;          /* owned, or NULL */
    const char **meta_keys;       /* merged __metadata__ (borrowed from shard cJSON) */
    const char **meta_vals;
    uint32_t n_meta;
    char *side[SRC_ST_SIDE_COUNT_];  /* owned paths or NULL */
    struct cJSON *config;         /* owned or NULL */
};

/* Parse one shard's header (hdr = the N header bytes, which sit at file offset 8) and append
 * its tensors to h, sorted by offset; file_size is the shard's total size. Validates
 * everything listed at the top of src_safetensors.h for a single file. */
int src__st_parse_header(src_st *h, uint32_t shard, const uint8_t *hdr, size_t n,
                         uint64_t file_size, trit_err *err);

/* Recognise a Git LFS pointer or an HTML page in the first n bytes of a file; on a match fill
 * err (TRIT_E_CORRUPT, offset 0) and return it, else TRIT_OK. */
int src__st_sniff_not_safetensors(const uint8_t *head, size_t n, trit_err *err);

/* Build h->by_name and refuse duplicate names (also across shards). */
int src__st_index_names(src_st *h, trit_err *err);

/* Merge shard metadata into h->meta_keys/vals. */
int src__st_merge_meta(src_st *h, trit_err *err);

#endif /* SRC_SAFETENSORS_INT_H */
