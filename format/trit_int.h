/*
 * trit_int.h - private layouts shared by the files of libtrit (not installed).
 *
 * On-disk constants live here next to the structs that hold them; spec/container.md is the
 * normative description of every offset below.
 */
#ifndef TRIT_INT_H
#define TRIT_INT_H

#include <stdint.h>

#include "trit.h"

#define TRIT__MAGIC "\x89TRIT\r\n\x1a"
#define TRIT__MAGIC_LEN 8u
#define TRIT__HEADER_SIZE TRIT_HEADER_SIZE
#define TRIT__HEADER_SUM_OFF 120u      /* header xxh3 covers bytes [0, 120) */
#define TRIT__UNIT_REC_SIZE 48u
#define TRIT__TENSOR_FIXED 56u         /* tensor record bytes after the name, before dims */
#define TRIT__SECTION_FIXED 32u        /* section record bytes after the name */
#define TRIT__SCALE_ALIGN 16u          /* scales start at this alignment inside a tensor */

/* Header field offsets. */
enum {
    TRIT__H_MAJOR = 8, TRIT__H_MINOR = 10, TRIT__H_HSIZE = 12, TRIT__H_REQ = 16, TRIT__H_OPT = 24,
    TRIT__H_FSIZE = 32, TRIT__H_IOFF = 40, TRIT__H_ISIZE = 48, TRIT__H_ISUM = 56, TRIT__H_DOFF = 64,
    TRIT__H_PALIGN = 72, TRIT__H_TALIGN = 76, TRIT__H_NKV = 80, TRIT__H_NSEC = 84, TRIT__H_NUNIT = 88,
    TRIT__H_NTEN = 92
};

/* Tensor record field offsets, relative to the end of the name. */
enum {
    TRIT__T_TYPE = 0, TRIT__T_BELEMS = 4, TRIT__T_BBYTES = 8, TRIT__T_NDIMS = 12, TRIT__T_SLAYOUT = 13,
    TRIT__T_STYPE = 14, TRIT__T_STORAGE = 15, TRIT__T_GROUP = 16, TRIT__T_LAYER = 20, TRIT__T_EXPERT = 24,
    TRIT__T_UNIT = 28, TRIT__T_OFFSET = 32, TRIT__T_SIZE = 40, TRIT__T_SUM = 48, TRIT__T_DIMS = 56
};

typedef struct trit__kv {
    const char *key;           /* NUL-terminated copy in the reader's name arena */
    uint32_t type, elem_type;  /* trit_kv_type; elem_type for arrays */
    uint64_t count;            /* array elements */
    const uint8_t *val;        /* value bytes in the mapping (after the type byte) */
    uint64_t *str_offs;        /* string arrays: offset of each element's length field from val */
} trit__kv;

struct trit_kvset {
    uint32_t n;
    trit__kv *kvs;
    uint32_t *sorted;          /* indices sorted by key */
    uint64_t *rec_off;         /* file offset of each record */
    char *arena;               /* NUL-terminated keys */
};

struct trit_cur;
/* Parse count KV records (or, with until_end, records until the cursor is empty). */
int trit__kvset_parse_cur(struct trit_cur *c, uint32_t count, int until_end, trit_kvset **out, trit_err *err);
/* Append src's records to dst. */
int trit__kvbuf_append(trit_kvbuf *dst, const trit_kvbuf *src, trit_err *err);
/* u16 length + name into the arena (NUL-terminated); refuses empty, over-long and NUL names. */
int trit__read_name(struct trit_cur *c, char *arena, size_t *arena_used, const char *what, const char **out,
                    trit_err *err);

/* One object placed in the data area, for the overlap and padding checks. */
typedef struct trit__placed {
    uint64_t start, end, size;
    uint64_t rec_off;          /* file offset of the record field holding its offset (errors) */
    const char *kind;          /* "tensor", "section", "expert unit" */
    const char *name;          /* NULL for units */
    uint32_t idx;
} trit__placed;

typedef struct trit__unit_key { uint32_t layer, expert, idx; } trit__unit_key;

struct trit_reader {
    char *path;                /* owned */
    int fd;                    /* -1 for memory readers */
    const uint8_t *map;        /* whole file */
    size_t len;
    int mapped;                /* 1 if map must be munmapped */
    trit_file_info info;
    trit_kvset *kv;            /* metadata records of the index */
    trit_section_info *sections;
    trit_unit_info *units;
    uint32_t *unit_members;    /* member tensor indices, grouped by unit */
    uint32_t *unit_first;      /* unit u's members: unit_members[unit_first[u] .. +n_members) */
    trit_tensor_info *tensors;
    uint64_t *tensor_rec_off;  /* file offset of each tensor record's fixed part */
    uint32_t *tensor_sorted;   /* tensor indices sorted by name */
    char *arena;               /* NUL-terminated names */
    trit__placed *placed;      /* file-level objects sorted by offset */
    size_t n_placed;
    trit__unit_key *unit_sorted; /* units sorted by (layer, expert) */
    uint64_t *section_rec_off; /* file offset of each section record's fixed part */
    uint64_t *section_name_off;/* file offset of each section record */
    uint64_t *unit_rec_off;    /* file offset of each unit record */
    uint64_t *tensor_name_off; /* file offset of each tensor record */
    int64_t st_size;           /* file readers: size and modification time at open */
    int64_t st_mtime_s, st_mtime_ns;
};

/* Record the object name for an error: "tensor 'x'", "expert unit 3/7", ... */
const char *trit__where_tensor(char *buf, size_t n, const char *name);
/* Dense tensor i of r: TRIT_E_USAGE for an index out of range or an expert member (read the
 * unit), else TRIT_OK with *out set. Shared by the data and checksum accessors. */
int trit__dense_tensor(const trit_reader *r, uint32_t i, const trit_tensor_info **out, trit_err *err);

/* Shared by the whole-file verifier (reader_verify.c) and its streaming form
 * (reader_vstream.c), so both give the same error for the same damage. Codes of t2 tensor t in
 * its bytes [q0, q0+n) at p (file offset off): no code 3, zero row padding, zero gap before the
 * scales. */
int trit__check_t2_range(const trit_tensor_info *t, const uint8_t *p, uint64_t q0, uint64_t n, uint64_t off, trit_err *err);
/* The value checks of any type's bytes [q0, q0+n): t2 codes, b3 bytes and padding digits,
 * block-type scales (member: the bytes are an expert unit's, off is the unit's offset). */
int trit__check_codes_range(const trit_tensor_info *t, const uint8_t *p, uint64_t q0, uint64_t n, uint64_t off,
                            int member, trit_err *err);
/* TRIT_E_CHECKSUM naming tensor t (at off). */
int trit__sum_mismatch(const trit_tensor_info *t, uint64_t sum, uint64_t off, trit_err *err);
/* Unit u's stored bytes (all stored_size of them at stored): checksum, decode, members. */
int trit__verify_unit(const trit_reader *r, uint32_t u, const uint8_t *stored, trit_err *err);

/* Size in bytes of a scalar KV type, 0 for string/array/unknown. */
uint32_t trit__kv_scalar_size(uint32_t type);

#endif /* TRIT_INT_H */
