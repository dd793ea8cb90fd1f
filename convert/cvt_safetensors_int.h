/*
 * cvt_safetensors_int.h - private layout of the safetensors reader, shared by the
 * cvt_safetensors*.c files only (style R1: cvt__ prefix for module-internal symbols).
 */
#ifndef CVT_SAFETENSORS_INT_H
#define CVT_SAFETENSORS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cvt_safetensors.h"

/* Largest integer a JSON number may have in a header or index: every value below it is exact
 * in the double cJSON stores, so nothing is silently rounded. */
#define CVT__JSON_MAX_INT (1ull << 53)

/* Values (JSON nodes) one tensor entry may hold: object, dtype, shape[<= 8], data_offsets[2]
 * and a few unknown fields. Bounds the memory of parsing one entry. */
#define CVT__ST_ENTRY_NODES 64u

/* ---- strict JSON pre-scan (cvt_safetensors_json.c) ---------------------------------------- */

typedef struct cvt__json_member {
    size_t key_off;               /* offset of the key's opening quote */
    size_t key_end;               /* just past its closing quote */
    size_t val_off;               /* first byte of the value */
    size_t val_end;               /* just past the value */
} cvt__json_member;

typedef struct cvt__json_scan_opts {
    const char *what;             /* object named in errors: "header JSON", "index JSON" */
    uint32_t max_depth;           /* nesting cap: '{' / '[' deeper than this is TRIT_E_LIMIT */
    int header_mode;              /* safetensors header: byte 0 is '{', only 0x20 after the
                                     object, numbers are plain integers < 2^53, no "\u0000" */
    uint64_t max_nodes;           /* cap on all values in the document */
    uint64_t max_members;         /* cap on top-level members recorded (top must be an object) */
    uint64_t member_nodes;        /* cap on values inside one top-level member (0 = none) */
    uint64_t meta_member_nodes;   /* the same for the member whose raw key is "__metadata__" */
} cvt__json_scan_opts;

typedef struct cvt__json_result {
    cvt__json_member *members;    /* top-level members in file order; caller free()s */
    size_t n_members;
    size_t end;                   /* just past the top-level value */
} cvt__json_result;

/* Validate p[0..n) as one JSON document; offsets in errors are base_off + position. On success
 * out->members is owned by the caller (free()). */
int cvt__json_scan(const uint8_t *p, size_t n, uint64_t base_off, const char *file,
                   const cvt__json_scan_opts *o, cvt__json_result *out, trit_err *err);

/* Scan + cJSON parse of a whole document (top level must be an object). *out: cJSON_Delete. */
int cvt__json_parse_doc(const uint8_t *p, size_t n, const char *file, const char *what,
                        uint64_t max_nodes, struct cJSON **out, trit_err *err);

/* Decode an already validated JSON value span (string literal, object ...) with cJSON.
 * Returns NULL only on allocation failure. Caller cJSON_Delete()s. */
struct cJSON *cvt__json_parse_span(const uint8_t *p, size_t n);

/* ---- the handle ----------------------------------------------------------------------------- */

typedef struct cvt__st_rec {
    cvt_st_tensor t;              /* public view; t.name points at name */
    char *name;                   /* owned */
    uint64_t begin;               /* data_offsets begin (relative to the data buffer) */
    uint64_t end;                 /* data_offsets end */
    uint64_t hdr_off;             /* file offset of the entry's key, for messages */
} cvt__st_rec;

typedef struct cvt__st_shard {
    cvt_st_shard_info info;       /* public view; info.path/name point into path */
    char *path;                   /* owned */
    int fd;                       /* read-only descriptor, -1 for in-memory */
    const uint8_t *mem;           /* in-memory image (borrowed), or NULL */
    struct cJSON *meta;           /* __metadata__ object (owned) or NULL */
} cvt__st_shard;

struct cvt_st {
    cvt__st_rec *recs;            /* n_tensors records, shard by shard, by offset */
    uint32_t n_tensors, cap_tensors;
    uint32_t *by_name;            /* record indices sorted by name */
    cvt__st_shard *shards;
    uint32_t n_shards;
    char *index_path;             /* owned, or NULL */
    cvt_st_index *index;          /* owned, or NULL */
    const char **meta_keys;       /* merged __metadata__ (borrowed from shard cJSON) */
    const char **meta_vals;
    uint32_t n_meta;
    char *side[CVT_ST_SIDE_COUNT_];  /* owned paths or NULL */
    struct cJSON *config;         /* owned or NULL */
};

/* Parse one shard's header (hdr = the N header bytes, which sit at file offset 8) and append
 * its tensors to h, sorted by offset; file_size is the shard's total size. Validates
 * everything listed at the top of cvt_safetensors.h for a single file. */
int cvt__st_parse_header(cvt_st *h, uint32_t shard, const uint8_t *hdr, size_t n,
                         uint64_t file_size, trit_err *err);

/* Recognise a Git LFS pointer or an HTML page in the first n bytes of a file; on a match fill
 * err (TRIT_E_CORRUPT, offset 0) and return it, else TRIT_OK. */
int cvt__st_sniff_not_safetensors(const uint8_t *head, size_t n, trit_err *err);

/* Build h->by_name and refuse duplicate names (also across shards). */
int cvt__st_index_names(cvt_st *h, trit_err *err);

/* Merge shard metadata into h->meta_keys/vals. */
int cvt__st_merge_meta(cvt_st *h, trit_err *err);

#endif /* CVT_SAFETENSORS_INT_H */
