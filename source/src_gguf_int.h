/* src_gguf_int.h - private layout of the GGUF reader handle, shared by src_gguf*.c only. */
#ifndef SRC_GGUF_INT_H
#define SRC_GGUF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "src_gguf.h"

#define SRC_GGUF_DEFAULT_ALIGN 32u
/* Internal status of the parser: the window ends before the header does; read more. */
#define SRC_GGUF__NEED_MORE 1

typedef struct gguf_kv {
    const char *key;           /* NUL-terminated, points into the part's arena */
    size_t key_ar;             /* position of key in the arena (arena may move while parsing) */
    uint64_t rec_off;          /* absolute offset of the KV record */
    src_gguf_val val;          /* value view into the part's header buffer */
    uint64_t *str_pos;         /* string arrays: byte position of element j from val.p; owned */
} gguf_kv;

/* Tensor record with the extra positions the validation messages point at. */
typedef struct gguf_tensor {
    src_gguf_tensor_info info;
    size_t name_ar;            /* position of the name in the arena */
    uint64_t ne_off;           /* absolute offset of ne[0] */
    uint64_t type_off;         /* of the type field */
    uint64_t off_off;          /* of the offset field */
    uint64_t rel_off;          /* offset as stored (relative to the data section) */
} gguf_tensor;

/* One file: a whole GGUF, or one part of a split. */
typedef struct gguf_part {
    char *path;                /* owned ("" for memory handles without a name) */
    int fd;                    /* -1 for memory handles */
    const uint8_t *mem;        /* memory handles: the caller's buffer (borrowed) */
    uint64_t file_size;
    uint8_t *hdr;              /* owned copy of the front of the file (file handles) */
    const uint8_t *win;        /* the bytes parsed: hdr, or mem */
    uint64_t hdr_end;          /* end of the tensor infos */

    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kvs;              /* owned, n_kv */
    uint64_t *kv_by_key;       /* owned: kv indices sorted by key */
    gguf_tensor *tensors;      /* owned, n_tensors */
    char *arena;               /* owned: NUL-terminated keys and tensor names */
    size_t arena_len, arena_cap;

    uint64_t alignment;
    uint64_t data_off;         /* absolute start of the data section */
    const char *arch;          /* general.architecture (arena) or NULL */
    size_t arch_ar;            /* its arena position, SIZE_MAX when absent */
    int fork;                  /* BitNet-fork type ids apply */
    int has_split;             /* split.count present */
    uint64_t split_no, split_count, split_tensors; /* split_tensors: UINT64_MAX if absent */
    uint64_t split_off;        /* offset of the split.count value (for messages) */
    uint64_t split_no_off;     /* of the split.no value */
    uint64_t split_tensors_off;/* of the split.tensors.count value */
} gguf_part;

struct src_gguf {
    gguf_part *parts;          /* owned, n_parts; parts[0] is the file opened */
    uint32_t n_parts;
    uint64_t n_tensors;
    const gguf_tensor **tensors;   /* all parts, file order; point into parts[].tensors */
    uint64_t *tensor_by_name;  /* indices sorted by name */
};

/* Parse the header window win[0, win_len) of a file of file_size bytes into p (whose previous
 * tables are freed first). inherit_fork: -1 decide from this part's architecture, else use it.
 * Returns TRIT_OK, an error, or SRC_GGUF__NEED_MORE with *need = window bytes wanted. */
int src_gguf__parse(gguf_part *p, const uint8_t *win, size_t win_len, int inherit_fork,
                    uint64_t *need, trit_err *err);
/* Free everything p owns except path/fd (tables of a previous parse attempt). */
void src_gguf__part_reset(gguf_part *p);
/* 1 if arch is a BitNet-fork architecture string. */
int src_gguf__is_fork_arch(const char *arch);

/* Byte size of one encoded value of fixed type t (0 for STRING/ARRAY or unknown). */
uint64_t src_gguf__fixed_size(uint32_t t);

#endif /* SRC_GGUF_INT_H */
