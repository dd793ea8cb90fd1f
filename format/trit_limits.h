/*
 * trit_limits.h - hard caps on everything a .trit file (and the source readers) may declare.
 *
 * Every length or count read from an untrusted file is checked against the bytes that are left
 * AND against one of these caps before anything is allocated (style R10). The values are part of
 * the format contract: spec/container.md section "Limits" repeats them, and a writer refuses to
 * produce a file that a reader would refuse.
 */
#ifndef TRIT_LIMITS_H
#define TRIT_LIMITS_H

#define TRIT_MAX_NAME_LEN     255u             /* tensor, section and KV key names, bytes */
#define TRIT_MAX_DIMS         8u               /* dimensions of one tensor */
#define TRIT_MAX_TENSORS      (1u << 20)       /* tensor records in one file */
#define TRIT_MAX_UNITS        (1u << 20)       /* expert units in one file */
#define TRIT_MAX_SECTIONS     1024u            /* blob sections in one file */
#define TRIT_MAX_KV           65536u           /* typed metadata records */
#define TRIT_MAX_STRING_LEN   (16u << 20)      /* one string value, bytes */
#define TRIT_MAX_ARRAY_LEN    (16u << 20)      /* elements of one array value */
#define TRIT_MAX_META_BYTES   (64u << 20)      /* all KV records together, bytes */
#define TRIT_MAX_INDEX_BYTES  (256u << 20)     /* the whole index region, bytes */
#define TRIT_MAX_UNIT_BYTES   (1ull << 32)     /* decoded size of one expert unit */
#define TRIT_MAX_UNIT_MEMBERS 64u              /* tensors in one expert unit */
#define TRIT_MIN_PAGE_ALIGN   4096u            /* smallest page alignment a file may declare */
#define TRIT_MAX_PAGE_ALIGN   (16u << 20)      /* largest page alignment */
#define TRIT_MIN_TENSOR_ALIGN 32u              /* smallest dense-tensor alignment (one AVX2 load) */

/* Source readers (convert/): caps for formats trit does not own. */
#define TRIT_MAX_JSON_DEPTH        64u           /* nesting in safetensors/index/config JSON */
#define TRIT_MAX_ST_HEADER         (100u << 20)  /* safetensors JSON header: the reference caps at 100 MB */
#define TRIT_MAX_GGUF_KV           (1u << 20)    /* KV records in one GGUF */
#define TRIT_MAX_GGUF_ARRAY_DEPTH  8u            /* nested GGUF arrays */
#define TRIT_MAX_GGUF_HEADER       (256u << 20)  /* GGUF header + KVs + tensor infos, bytes */
#define TRIT_MAX_SHARDS            4096u         /* files of one sharded checkpoint */
#define TRIT_MAX_TOKENIZER_FILE    (64u << 20)   /* tokenizer.json / .model / _config.json, bytes */
#define TRIT_MAX_TOKENIZER_NODES   (1u << 22)    /* JSON values in one tokenizer.json */
#define TRIT_MAX_VOCAB             (1u << 22)    /* tokens of one vocabulary (real ones: <= 256k) */
#define TRIT_MAX_TOKEN_LEN         65536u        /* bytes of one token, piece or merge */

/* OTA bundles (pack/, spec/manifest.md). */
#define TRIT_MAX_MANIFEST_BYTES    (16u << 20)   /* manifest.json */
#define TRIT_MAX_BUNDLE_FILES      256u          /* files in one bundle */
#define TRIT_MAX_BUNDLE_MEMBER     (1ull << 40)  /* one file or member, bytes (exact in a JSON double) */
#define TRIT_MAX_DELTA_EXTENTS     (1u << 22)    /* extents of one delta file */
#define TRIT_MIN_BUNDLE_CHUNK      4096u         /* chunk size of the per-chunk digests */
#define TRIT_MAX_BUNDLE_CHUNK      (1u << 30)

#endif /* TRIT_LIMITS_H */
