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
    uint64_t n_nodes;             /* values in the document */
    uint64_t n_strings;           /* string literals, keys included */
    uint64_t str_bytes;           /* bytes of those literals (an upper bound on decoded bytes) */
} src_json_result;

/* ---- the memory bound of a cJSON tree ----------------------------------------------------
 * A cJSON tree costs a node (sizeof(cJSON) plus the allocator's header) per value and one
 * allocation per key or string: ~80 bytes per value, so a dense document ("[0,0,0,...]")
 * would take 40 bytes of memory per input byte. src_json_parse_doc refuses (TRIT_E_LIMIT,
 * naming the file) a document whose tree, estimated by the scan before anything is built,
 * would exceed SRC_JSON_TREE_FACTOR times the file plus SRC_JSON_TREE_SLACK. Real files stay
 * far below it (a pretty-printed config.json or tokenizer_config.json costs ~6x; tokenizer.json
 * defers its vocabulary and merges, see src_json_parse_doc_defer). */
#define SRC_JSON_TREE_FACTOR 16u
#define SRC_JSON_TREE_SLACK  (16u << 20)
#define SRC_JSON_NODE_COST   96u   /* sizeof(cJSON) + allocator header, rounded up */
#define SRC_JSON_ALLOC_COST  32u   /* allocator header + rounding of one string allocation */

/* Estimated bytes of the cJSON tree of a scanned document. */
uint64_t src_json_tree_bytes(const src_json_result *r);

/* Validate p[0..n) as one JSON document; offsets in errors are base_off + position. On success
 * out->members is owned by the caller (free()). */
int src_json_scan(const uint8_t *p, size_t n, uint64_t base_off, const char *file,
                   const src_json_scan_opts *o, src_json_result *out, trit_err *err);

/* Scan + cJSON parse of a whole document (top level must be an object). *out: cJSON_Delete. */
int src_json_parse_doc(const uint8_t *p, size_t n, const char *file, const char *what,
                        uint64_t max_nodes, struct cJSON **out, trit_err *err);

/* Like src_json_parse_doc, but the members named by `keys` (NULL-terminated) inside the
 * top-level object member `parent` ("model") are not built as trees when they are an object or
 * an array: each becomes a cJSON_Raw item holding its JSON text (one copy of those bytes), to
 * be walked element by element with src_json_iter. This is how tokenizer.json's vocabulary
 * and merges (most of a 9-27 MB file, ~20x its size as a tree) are read in bounded memory.
 * The rest of the document must fit the tree bound above. *out: cJSON_Delete. */
int src_json_parse_doc_defer(const uint8_t *p, size_t n, const char *file, const char *what,
                             uint64_t max_nodes, const char *parent, const char *const *keys,
                             struct cJSON **out, trit_err *err);

/* Walk the elements of an already validated JSON object or array text (a cJSON_Raw item from
 * src_json_parse_doc_defer). No allocation: spans point into the text. */
typedef struct src_json_iter {
    const uint8_t *p;
    size_t n;
    size_t i;
    int is_object;
} src_json_iter;

/* 0 when p[0..n) (after leading white space) is not '{' or '['. */
int src_json_iter_init(src_json_iter *it, const uint8_t *p, size_t n);
/* Next element: key_off, key_len receive the key's string literal (objects; quotes included;
 * 0, 0 in arrays), val_off, val_len the value's text. Returns 1, or 0 at the end. */
int src_json_iter_next(src_json_iter *it, size_t *key_off, size_t *key_len, size_t *val_off, size_t *val_len);

/* Decode an already validated JSON value span (string literal, object ...) with cJSON.
 * Returns NULL only on allocation failure. Caller cJSON_Delete()s. */
struct cJSON *src_json_parse_span(const uint8_t *p, size_t n);

#endif /* SRC_JSON_H */
