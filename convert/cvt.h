/*
 * cvt.h - `trit convert`: a released checkpoint (safetensors file/directory/index, GGUF incl.
 * splits) into a .trit container (spec/container.md), streaming, with experts as paged units.
 *
 * The source checkpoint is read through source/src.h (one view over every source format).
 * The pipeline, one file each:
 *   cvt_arch.c     config.json / GGUF keys -> the container's typed model description
 *                  (spec 10.1), source tensor names -> canonical names (spec 10.2)
 *   cvt_ternary.c  exact-ternary detection per tensor/row/group, absmean ternarization, t2 rows
 *   cvt_convert.c  the plan (what each output tensor is made of) and the streaming writer
 *   cvt_codes.c    TQ2_0/TQ1_0/I2_S/packed U8: codes to t2 without float
 *   cvt_absmean.c  absmean ternarization, row pieces on any thread (compares, no divide)
 *   cvt_walk.c     pass 1's one front-to-back read of each file: provenance hash + scans
 *   cvt_pipe.c     both passes on a thread pool, written in a fixed order
 * Every source byte is read at most twice (pass 1's walk of its file, then pass 2's encode or
 * copy; code-domain scans other than packed U8 read their blocks once more), a chunk of rows at
 * a time, so peak memory is bounded by the chunks and units in flight and the index, not by
 * the model.
 */
#ifndef CVT_H
#define CVT_H

#include <stdint.h>
#include <stdio.h>

#include "trit.h"
#include "src.h"

/* ---- options and report ------------------------------------------------------------------- */

typedef struct cvt_opts {
    int zstd_level;            /* expert units; 0 = default (CVT_DEFAULT_ZSTD_LEVEL) */
    int expert_units;          /* CVT_UNITS_*: how expert units are stored (spec 5.3) */
    int ternarize;             /* absmean-ternarize projections that are not ternary */
    int dry_run;               /* plan and sizes only; write nothing */
    int output_head_q8;        /* output.weight as int8 with per-row scales (spec 6.2); lossy */
    int overwrite;             /* replace an existing output */
    uint32_t page_align;       /* 0 = libtrit default */
    uint32_t threads;          /* encoders and compressors; 0 = the cores online. The output is
                                  the same bytes at any count */
    int decode_float;          /* check and benchmark switch: TQ1_0/TQ2_0/I2_S/packed U8 go
                                  through float as every other type does (same output bytes) */
    uint32_t piece_bytes;      /* check switch: output bytes per pass-2 piece (0 = 2 MiB); the
                                  output is the same bytes at any size */
    /* progress: called after each output tensor (done of total source bytes) */
    void (*progress)(void *ctx, uint64_t done, uint64_t total, const char *name);
    void *progress_ctx;
    /* the writer's temp file, published for a signal handler that must unlink it */
    void (*temp_path)(void *ctx, const char *path);
} cvt_opts;

/* Measured (notes in README "Conversion"): on ternary experts zstd levels 1..19 give the same ratio
 * (0.802 of raw, 1.604 bits/weight against 1.585 bits of code entropy) and decode at the same
 * speed; level 1 compresses fastest (zstd -b: 268 MB/s vs 182 MB/s at 3, 55 MB/s at 5). */
#define CVT_DEFAULT_ZSTD_LEVEL 1

/* Expert-unit forms (spec 5.3), `convert --expert-units`: zstd over t2 members (1.60 bits per
 * weight, decoded at every load), raw t2 (2 bits, the bytes used as read), or raw b3 (5 weights
 * per byte, 1.60 bits, read by the b3 kernels as they are). The default is chosen by paging
 * throughput (README "Expert units", tools/bench/unitforms.sh). */
enum { CVT_UNITS_ZSTD = 0, CVT_UNITS_RAW = 1, CVT_UNITS_B3 = 2 };
#define CVT_UNITS_DEFAULT CVT_UNITS_ZSTD
/* "zstd", "raw", "b3" -> CVT_UNITS_*; -1 if unknown. */
int cvt_units_from_name(const char *name);

typedef struct cvt_tensor_report {
    char name[128];            /* canonical name */
    char src_type[24];
    char out_type[8];          /* "t2", "f16" ... */
    char granularity[8];       /* t2: "tensor" | "row" | "group" */
    uint32_t group_size;
    int ternarized;            /* 1 if absmean-ternarized (lossy) */
    double max_abs_err;        /* against the source values (0 on lossless paths) */
    double rms_err;
    uint64_t out_bytes;
    uint32_t layer, expert;
} cvt_tensor_report;

typedef struct cvt_report {
    char arch[32];
    char source_format[16];
    uint64_t n_tensors, n_units, n_params;
    uint64_t n_code_domain;    /* t2 tensors encoded from the source's codes, not through float */
    uint64_t source_bytes, out_bytes;
    uint64_t dense_bytes, expert_decoded_bytes, expert_stored_bytes;
    uint64_t expert_weights;   /* ternary weights inside experts */
    double expert_code_entropy;  /* bits per weight of the experts' codes (order-0 entropy) */
    double expert_bits_per_weight; /* stored expert bytes * 8 / expert weights */
    double max_abs_err;
    int lossless;
    char tokenizer[8];         /* "bpe", "spm", "gguf" or "none" */
    uint32_t tokenizer_tokens;
    char warning[224];         /* first warning, "" if none */
    char ternarized_by[48];    /* why projections were absmean-ternarized: "--ternarize", the
                                  config's "quantization_mode online" / "weight_bits 1"; "" if none */
    cvt_tensor_report *tensors; /* owned; n_tensors entries */
} cvt_report;

/* Convert src_path into out_path. rep (may be NULL) receives the report; free it with
 * cvt_report_free(). Nothing appears at out_path unless the conversion succeeds. */
int cvt_convert(const char *src_path, const char *out_path, const cvt_opts *opts, cvt_report *rep,
                trit_err *err);
void cvt_report_free(cvt_report *rep);

#endif /* CVT_H */
