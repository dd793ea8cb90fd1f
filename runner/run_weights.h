/*
 * run_weights.h - the runner's weight-provider interface: what the forward pass needs from a
 * weight SOURCE (metadata getters, dense tensors by canonical name, MoE experts as decoded
 * images), behind a small vtable. The .trit provider lives in the runner
 * (run_weights_trit.c); `trit run --reference` and calibration plug in other providers (the
 * source checkpoint through the converter, convert/cvt_ref.c) by filling the same vtable, and
 * depend on this header only, not on the rest of the runner.
 */
#ifndef RUN_WEIGHTS_H
#define RUN_WEIGHTS_H

#include <stdint.h>

#include "trit.h"

/* ------------------------------------------------------------------------------------------ */
/* Weight sources.                                                                            */

/* A matrix or vector as the forward pass consumes it. Dense tensors from the .trit provider
 * point into the mapping; expert members point into a decoded unit image. */
typedef struct run_tensor {
    uint32_t type;             /* TRIT_TYPE_F32, F16, BF16 or T2 */
    uint32_t n_dims;           /* 1..8 */
    uint64_t dims[8];          /* outermost first; dims[n_dims-1] is the row length */
    uint64_t rows, cols;       /* rows = product of all dims but the last */
    const void *data;          /* codes (t2) or values, row-major; borrowed */
    const float *scales;       /* t2: n_scales f32 scales; else NULL. Borrowed */
    uint32_t scale_layout;     /* TRIT_SCALE_* (t2), else TRIT_SCALE_NONE */
    uint32_t group_size;       /* TRIT_SCALE_GROUP: weights per scale */
    uint64_t n_scales;         /* number of scales */
    uint64_t data_off;         /* experts only: offset of the data in the unit image */
    uint64_t scales_off;       /* experts only: offset of the scales in the unit image */
} run_tensor;

/* What the forward pass needs to know about one expert before loading it. */
typedef struct run_expert_desc {
    uint64_t size;             /* bytes of the decoded image */
    uint64_t stored_size;      /* bytes read from the source for it (0 if unknown) */
    run_tensor gate, up, down; /* data/scales NULL; data_off/scales_off locate them in the image */
} run_expert_desc;

/* A metadata value. */
typedef struct run_kv {
    int kind;                  /* RUN_KV_UINT, RUN_KV_FLOAT, RUN_KV_STR, RUN_KV_BOOL */
    uint64_t u;                /* RUN_KV_UINT, RUN_KV_BOOL */
    double f;                  /* RUN_KV_FLOAT (integers also fill f) */
    const char *s;             /* RUN_KV_STR: borrowed, NOT NUL-terminated */
    uint64_t n;                /* RUN_KV_STR: bytes */
} run_kv;
enum { RUN_KV_UINT = 1, RUN_KV_FLOAT = 2, RUN_KV_STR = 3, RUN_KV_BOOL = 4 };

/* The provider vtable. Every function returns TRIT_OK or a TRIT_E_* code and fills err.
 * Pointers handed out stay valid until close. Calls come from one thread at a time, except
 * expert_read which may be called from several threads at once. */
typedef struct run_weights_vt {
    /* Metadata value of key (spec 10.1): TRIT_E_NOTFOUND when absent. */
    int (*get_kv)(void *self, const char *key, run_kv *out, trit_err *err);
    /* Dense tensor by canonical name (spec 10.2): TRIT_E_NOTFOUND when absent. */
    int (*get_dense)(void *self, const char *name, run_tensor *out, trit_err *err);
    /* Describe expert (layer, expert) without reading it: TRIT_E_NOTFOUND when absent. */
    int (*expert_desc)(void *self, uint32_t layer, uint32_t expert, run_expert_desc *out,
                       trit_err *err);
    /* Read and decode expert (layer, expert) into dst (cap >= desc.size). A corrupt expert is
     * an error (checksum, size), never data. */
    int (*expert_read)(void *self, uint32_t layer, uint32_t expert, void *dst, uint64_t cap,
                       trit_err *err);
    /* Release everything. */
    void (*close)(void *self);
} run_weights_vt;

typedef struct run_weights {
    const run_weights_vt *vt;  /* the provider's functions */
    void *self;                /* the provider's state */
    const char *name;          /* for messages (file name); borrowed from the provider */
} run_weights;

/* Open the .trit provider on path. By default (flags 0) every dense tensor's xxh3 is checked
 * before this returns; flags: RUN_OPEN_NO_VERIFY skips that, TRIT_OPEN_VERIFY checks every byte
 * instead (run.h, "Integrity"). On success *out is filled; release it with run_weights_close(). */
int run_weights_open_trit(const char *path, uint32_t flags, run_weights *out, trit_err *err);
/* The same over an already open reader (borrowed: it must outlive the provider). */
int run_weights_from_reader(const trit_reader *r, run_weights *out, trit_err *err);
/* Close a provider (a zeroed run_weights is ok). */
void run_weights_close(run_weights *w);
/* The reader behind a .trit provider, or NULL for other providers. Borrowed. */
const trit_reader *run_weights_trit_reader(const run_weights *w);

#endif /* RUN_WEIGHTS_H */
