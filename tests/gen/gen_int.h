/*
 * gen_int.h - private helpers shared by the files of tests/gen (not for other modules).
 *
 * gen_out is a checked output stream: every write failure becomes TRIT_E_IO naming the file.
 * With f == NULL it only counts bytes (used to size a GGUF header before writing it).
 * Outputs are made atomically: a file through gen__tmpfile_open / gen__commit_file (temp file
 * beside the target, fsync, rename, fsync of the directory); a directory through
 * gen__tmpdir_create / gen__commit_dir (all files written and fsynced inside a temp
 * directory beside the target, which is then renamed into place).
 */
#ifndef TRIT_GEN_INT_H
#define TRIT_GEN_INT_H

#include <stdio.h>

#include "gen.h"

struct cJSON;

#define GEN_PATH_MAX 4096

typedef struct gen_out {
    FILE *f;                    /* NULL: count only */
    char path[GEN_PATH_MAX];    /* for error messages */
    uint64_t off;               /* bytes written so far */
} gen_out;

/* Create path exclusively (inside a temp directory of ours). */
int gen__out_create(gen_out *o, const char *path, trit_err *err);
/* A counting sink: writes go nowhere, off advances. */
void gen__out_counter(gen_out *o);
int gen__out_write(gen_out *o, const void *p, size_t n, trit_err *err);
int gen__out_zeros(gen_out *o, uint64_t n, trit_err *err);
int gen__out_str(gen_out *o, const char *s, trit_err *err);
int gen__out_printf(gen_out *o, trit_err *err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Write s (n bytes, UTF-8) as a quoted JSON string. */
int gen__out_json_str(gen_out *o, const char *s, size_t n, trit_err *err);
int gen__out_u32le(gen_out *o, uint32_t v, trit_err *err);
int gen__out_u64le(gen_out *o, uint64_t v, trit_err *err);
/* fflush + fsync + fclose; the stream is closed even on failure. */
int gen__out_close(gen_out *o, trit_err *err);
/* Close without caring about errors (failure path). */
void gen__out_discard(gen_out *o);

/* Fail with TRIT_E_EXISTS if path exists and !overwrite; TRIT_E_USAGE if it exists with the
 * wrong kind (a file where a directory goes or the reverse). */
int gen__check_target(const char *path, int is_dir, int overwrite, trit_err *err);
/* Temp file beside final_path; o is opened on it and its name copied to tmp. */
int gen__tmpfile_open(const char *final_path, gen_out *o, char *tmp, size_t cap, trit_err *err);
/* Close o, rename tmp over final_path, fsync the directory. Removes tmp on failure. */
int gen__commit_file(gen_out *o, const char *tmp, const char *final_path, trit_err *err);
/* Temp directory beside final_path; name copied to tmp. */
int gen__tmpdir_create(const char *final_path, char *tmp, size_t cap, trit_err *err);
/* fsync tmp, move it to final_path (replacing an earlier trit-gen output when overwrite). */
int gen__commit_dir(const char *tmp, const char *final_path, int overwrite, trit_err *err);
/* Remove a temp directory of ours and the files in it (best effort). */
void gen__remove_tmpdir(const char *tmp);

/* dir + "/" + name into buf; TRIT_E_USAGE when it does not fit. */
int gen__join(char *buf, size_t cap, const char *dir, const char *name, trit_err *err);

/* The plan under construction (gen_plan.c) and its one way to append a tensor (n_dims 1..4,
 * shape outermost first); NULL once b->rc is set. The element stream is named by `name`. */
typedef struct gen__builder {
    const gen_opts *o;
    gen_plan *p;
    uint32_t cap;
    int rc;
    trit_err *err;
} gen__builder;
gen_tensor *gen__add(gen__builder *b, uint32_t dtype, uint32_t kind, uint32_t layer, uint32_t expert, uint32_t n_dims,
                     const uint64_t *shape, const char *name);
/* The element seed of a tensor called name under o (what gen__add gives it). */
uint64_t gen__seed_of(const gen_opts *o, const char *name);
/* The gpt-oss layouts (gen_gptoss.c): the plan, config.json, the GGUF twin's KVs. */
void gen__build_gptoss(gen__builder *b);
int gen__gptoss_config(const gen_opts *o, struct cJSON *j);
int gen__is_gptoss(gen_layout l);

/* Emit the stored bytes of tensor t (streaming one row at a time). */
int gen__emit_tensor(const gen_tensor *t, gen_out *o, trit_err *err);
/* Bytes per stored element for F32/F16/BF16/U8 (0 for TQ types). */
uint32_t gen__dtype_size(uint32_t dtype);
/* 1 for the DeepSeek layouts (deepseek2, deepseek-v2, deepseek-v3). */
int gen__is_deepseek(gen_layout l);
/* deepseek2: MLA widths derived from the head width (gen_plan.c). */
void gen__deepseek_dims(const gen_opts *o, uint32_t *nope, uint32_t *rope, uint32_t *v, uint32_t *kv_lora);
/* qwen2moe shared_expert / deepseek2 shared_experts width. */
uint32_t gen__shared_ff(const gen_opts *o);

/* Writers behind the layout table. */
int gen__write_safetensors_dir(const gen_opts *o, const char *out_path, trit_err *err);
int gen__write_gguf(const gen_opts *o, const char *out_path, trit_err *err);
/* The lead's .trit container layout (gen_trit.c); not in the layout table yet. */
int gen__write_trit(const gen_opts *o, const char *out_path, trit_err *err);
/* config.json of a safetensors layout into o. */
int gen__write_config(const gen_opts *op, gen_out *o, trit_err *err);
/* tokenizer.json (byte-level BPE) into o; _split: with a Split pre-tokenizer on that regex
 * before ByteLevel (gen__o200k_regex: gpt-oss's o200k). */
int gen__write_tokenizer_json(uint32_t n_vocab, gen_out *o, trit_err *err);
int gen__write_tokenizer_json_split(uint32_t n_vocab, const char *split, gen_out *o, trit_err *err);
extern const char gen__o200k_regex[];

#endif /* TRIT_GEN_INT_H */
