/* src_json.h - the strict JSON reader every source format uses for its JSON parts
 * (safetensors headers and index files, config.json, tokenizer.json): a validating pre-scan with
 * node and depth caps, then cJSON on a document already known to be well formed
 * (src_safetensors_json.c). */
#ifndef SRC_JSON_H
#define SRC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

struct cJSON;

/* Largest integer a JSON number may have in a header or index: every value below it is exact
 * in the double cJSON stores, so nothing is silently rounded. */
#define SRC_JSON_MAX_INT (1ull << 53)


/* ---- strict JSON pre-scan (src_safetensors_json.c) ---------------------------------------- */

typedef struct src_json_member {
    size_t key_off;               /* offset of the key's opening quote */
    size_t key_end;               /* just past its closing quote */
    size_t val_off;               /* first byte of the value */
    size_t val_end;               /* just past the value */
} src_json_member;

typedef struct src_json_scan_opts {
    const char *what;             /* object named in errors: "header JSON", "index JSON" */
    uint32_t max_depth;           /* nesting cap: '{' / '[' deeper than this is TRIT_E_LIMIT */
    int header_mode;              /* safetensors header: byte 0 is '{', only 0x20 after the
                                     object, numbers are plain integers < 2^53, no "\u0000" */
    uint64_t max_nodes;           /* cap on all values in the document */
    uint64_t max_members;         /* cap on top-level members recorded (top must be an object) */
    uint64_t member_nodes;        /* cap on values inside one top-level member (0 = none) */
    uint64_t meta_member_nodes;   /* the same for the member whose raw key is "__metadata__" */
} src_json_scan_opts;

typedef struct src_json_result {
    src_json_member *members;    /* top-level members in file order; caller free()s */
    size_t n_members;
    size_t end;                   /* just past the top-level value */
} src_json_result;

/* Validate p[0..n) as one JSON document; offsets in errors are base_off + position. On success
 * out->members is owned by the caller (free()). */
int src_json_scan(const uint8_t *p, size_t n, uint64_t base_off, const char *file,
                   const src_json_scan_opts *o, src_json_result *out, trit_err *err);

/* Scan + cJSON parse of a whole document (top level must be an object). *out: cJSON_Delete. */
int src_json_parse_doc(const uint8_t *p, size_t n, const char *file, const char *what,
                        uint64_t max_nodes, struct cJSON **out, trit_err *err);

/* Decode an already validated JSON value span (string literal, object ...) with cJSON.
 * Returns NULL only on allocation failure. Caller cJSON_Delete()s. */
struct cJSON *src_json_parse_span(const uint8_t *p, size_t n);

#endif /* SRC_JSON_H */
