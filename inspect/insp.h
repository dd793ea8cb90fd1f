/*
 * insp.h - `trit inspect`: one presentation for every model file format.
 *
 * Each format (insp_trit.c, insp_gguf.c, insp_safetensors.c) turns a file into an insp_model:
 * header facts, typed metadata (as cJSON) and a tensor table, plus an optional callback that
 * decodes tensor values to float for --stats. insp_print.c renders the model as a text report or
 * JSON (schema: spec/inspect-json.md); insp_stats.c computes per-tensor statistics.
 *
 * Shapes are always given outermost-first (row-major, PyTorch order): the last dimension is the
 * contiguous one. A GGUF tensor with ne = {in, out} is shown as [out, in]; its native order is
 * kept in insp_tensor.ne_native for the JSON "ne" field.
 */
#ifndef INSP_H
#define INSP_H

#include <stdint.h>
#include <stdio.h>

#include "trit.h"

struct cJSON;

typedef struct insp_tensor {
    char *name;                /* owned by the model (insp_model_free frees it) */
    char type[32];             /* format's own type name: "F32", "q4_K", "TQ2_0", "t2", "U8" */
    uint32_t n_dims;           /* 0..8 */
    uint64_t dims[8];          /* outermost first */
    int has_ne;                /* 1 if ne_native is meaningful (GGUF) */
    uint64_t ne_native[8];     /* GGUF ne[] order (innermost first) */
    uint64_t nbytes;           /* stored bytes */
    uint64_t offset;           /* absolute byte offset in its file, TRIT_NO_OFFSET if n/a */
    int file_index;            /* shard number (0 for single files) */
    uint32_t layer, expert;    /* TRIT_NONE32 when not applicable */
    char storage[16];          /* "" or "raw"/"zstd" (trit expert units) */
    int readable;              /* 1 if read_f32 can decode it */
    uint32_t unit;             /* .trit expert unit holding it, TRIT_NONE32 otherwise */
} insp_tensor;

typedef struct insp_model {
    char format[16];           /* "trit" | "gguf" | "safetensors" */
    char version[16];          /* "1.0", "3", ... ("" if the format has none) */
    char *path;                /* owned */
    struct cJSON *metadata;    /* object: key -> JSON value (owned); long arrays summarised */
    struct cJSON *header;      /* object: format-specific facts (alignment, shards, sections); owned */
    uint64_t kv_count;         /* metadata records as the file declares them */
    insp_tensor *tensors;      /* owned array */
    uint64_t n_tensors;
    uint64_t cap_tensors;      /* allocated rows (insp_model_add_tensor) */
    uint64_t file_bytes;       /* total bytes of all files read */

    /* --stats: decode n values of tensor i starting at flat element `first` into out, in
     * row-major order of dims. NULL if the format cannot. Scales are applied. */
    int (*read_f32)(void *ctx, uint64_t i, uint64_t first, uint64_t n, float *out, trit_err *err);
    void *ctx;
    void (*ctx_free)(void *ctx);
} insp_model;

typedef struct insp_opts {
    int json;                  /* print JSON instead of text */
    int stats;                 /* read tensor data for statistics */
    int tensors;               /* text: print the full tensor table (default: first 40 rows) */
    int max_array;             /* array elements shown in metadata (0 = 8) */
} insp_opts;

/* Format openers: fill *m (zeroed by the caller) from path. Errors name file, offset, object. */
int insp_open_trit(const char *path, insp_model *m, trit_err *err);
int insp_open_gguf(const char *path, insp_model *m, trit_err *err);
int insp_open_safetensors(const char *path, insp_model *m, trit_err *err);

/* Summarise a JSON array for metadata output: arrays longer than 16 elements become
 * {"type":"array","elem_type":T,"count":N,"head":[first 8]}. Takes ownership of arr and returns
 * the value to store (arr itself when short). */
struct cJSON *insp_summarize_array(struct cJSON *arr, const char *elem_type, uint64_t count);

/* KV record i of a .trit reader as JSON (caller owns it; NULL when out of memory). Scalars as
 * themselves, integers beyond 2^53 as decimal strings (a JSON number would round them);
 * arrays either as inspect shows them (INSP_KV_ARRAY_HEAD: the elements, summarised past 16)
 * or as {"count": n} (INSP_KV_ARRAY_COUNT: for checks that never need the elements, so a
 * 256k-entry vocabulary is not copied). */
enum { INSP_KV_ARRAY_HEAD, INSP_KV_ARRAY_COUNT };
struct cJSON *insp_trit_kv_json(const trit_reader *r, uint32_t i, int arrays);

/* Detect the format of path (file or directory) and open it with the right opener. */
int insp_open(const char *path, insp_model *m, trit_err *err);
/* Free everything a model owns (not m itself). */
void insp_model_free(insp_model *m);

/* Add one tensor row (name copied); returns its pointer (borrowed, valid until the next add)
 * or NULL on allocation failure. Defaults: offset TRIT_NO_OFFSET, layer/expert/unit
 * TRIT_NONE32, everything else zero. */
insp_tensor *insp_model_add_tensor(insp_model *m, const char *name);

/* Render. Returns TRIT_OK or an error (I/O, or a --stats read failure). */
int insp_print(insp_model *m, const insp_opts *opts, FILE *out, trit_err *err);

/* Per-tensor statistics (insp_stats.c). */
typedef struct insp_stats {
    uint64_t n;                /* values read */
    double min, max, mean_abs;
    uint64_t n_zero;
    int all_zero;
    int ternary;               /* 1 if every value is 0 or +/- one magnitude per group */
    uint64_t n_neg, n_pos;     /* histogram of -1 / +1 (n_zero is the 0 bin) */
    char granularity[8];       /* "tensor" | "row" | "group" | "" */
    uint64_t group_size;       /* for "group": weights per scale */
    double scale;              /* for "tensor": the one magnitude */
} insp_stats;

int insp_tensor_stats(insp_model *m, uint64_t i, insp_stats *st, trit_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Diff.                                                                                      */

typedef struct insp_diff_opts {
    double atol;               /* values within atol count as equal (default 0: bitwise) */
    int all;                   /* text: list identical tensors too */
    int no_values;             /* compare names, shapes and types only */
    int no_unpermute;          /* compare GGUF llama Q/K rows as stored */
    uint64_t chunk;            /* values per read (0 = 65536); memory is O(chunk) */
} insp_diff_opts;

typedef struct insp_diff insp_diff;

/* Compare the models at path_a and path_b. On success *out holds the result (free with
 * insp_diff_free()); on failure (a file cannot be opened or read) *out is NULL and err says
 * which file and why. opts may be NULL. */
int insp_diff_run(const char *path_a, const char *path_b, const insp_diff_opts *opts,
                 insp_diff **out, trit_err *err);
void insp_diff_free(insp_diff *d);
/* 1 if the models differ (metadata, tensor set, shapes or values), else 0. Type changes alone
 * (same values in another encoding) do not count; they are reported. */
int insp_diff_differs(const insp_diff *d);
/* git diff --stat style text. Returns 0, or -1 on a write error. */
int insp_diff_print(const insp_diff *d, FILE *out);
/* JSON (schema: spec/errors.md "diff --json"). Caller frees with free(); NULL on failure. */
char *insp_diff_json(const insp_diff *d);


#endif /* INSP_H */
