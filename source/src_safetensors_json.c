/*
 * src_safetensors_json.c - strict JSON pre-scan for safetensors headers, index and config files.
 *
 * Why a pre-scan before cJSON: cJSON recurses without a caller-chosen depth cap, accepts bytes
 * that are not JSON (invalid UTF-8, "01", trailing garbage when not NUL-terminated), truncates
 * strings at "\u0000" and reports no positions for what it accepts. The scan is an iterative
 * RFC 8259 validator with an explicit stack: it enforces the nesting cap, counts values (so a
 * hostile 100 MB header cannot make cJSON build gigabytes of nodes), applies the safetensors
 * header rules (integer literals only, below 2^53 so the double cJSON stores is exact) and
 * records where each top-level member sits, which gives every later error an exact offset.
 * cJSON then builds trees only of spans that passed.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "src_safetensors_int.h"
#include "trit_limits.h"
#include "trit_safemath.h"

#define JSON_STACK 256u       /* hard ceiling on any max_depth a caller may ask for */
#define JSON_MAX_NUMBER 63u   /* cJSON copies at most 63 number characters */

typedef struct jscan {
    const uint8_t *p;
    size_t n;
    size_t i;                 /* read position */
    uint64_t base_off;
    const src_json_scan_opts *o;
    trit_err *err;
    uint64_t nodes;
    uint64_t member_nodes;    /* values inside the current top-level member */
    uint64_t member_cap;
    src_json_result *out;
    size_t cap_members;
} jscan;

static int jerr(jscan *s, int code, size_t pos, const char *msg)
{
    return trit_err_set(s->err, code, s->base_off + pos, s->o->what, "%s", msg);
}

static void skip_ws(jscan *s)
{
    while (s->i < s->n) {
        uint8_t const c = s->p[s->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        s->i++;
    }
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p[i..i+4) as a code unit, or -1. */
static long hex4(const jscan *s, size_t i)
{
    if (s->n - i < 4) return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        int const h = hexval(s->p[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the UTF-8 sequence at p[i] if it is well-formed (no overlongs, no surrogates,
 * <= U+10FFFF), else 0. */
static size_t utf8_len(const jscan *s, size_t i)
{
    uint8_t const b = s->p[i];
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) len = 2;
    else if (b == 0xE0) { len = 3; lo = 0xA0; }
    else if (b >= 0xE1 && b <= 0xEC) len = 3;
    else if (b == 0xED) { len = 3; hi = 0x9F; }
    else if (b >= 0xEE && b <= 0xEF) len = 3;
    else if (b == 0xF0) { len = 4; lo = 0x90; }
    else if (b >= 0xF1 && b <= 0xF3) len = 4;
    else if (b == 0xF4) { len = 4; hi = 0x8F; }
    else return 0;
    if (s->n - i < len) return 0;
    if (s->p[i + 1] < lo || s->p[i + 1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (s->p[i + k] < 0x80 || s->p[i + k] > 0xBF) return 0;
    return len;
}

/* String literal at s->i (which is '"'); leaves s->i past the closing quote. */
static int scan_string(jscan *s)
{
    size_t const start = s->i;
    s->i++;
    for (;;) {
        if (s->i >= s->n) return jerr(s, TRIT_E_CORRUPT, start, "string is not terminated");
        uint8_t const c = s->p[s->i];
        if (c == '"') {
            s->i++;
            s->out->n_strings++;
            s->out->str_bytes += s->i - start;
            return TRIT_OK;
        }
        if (c < 0x20) return jerr(s, TRIT_E_CORRUPT, s->i, "control character in a string");
        if (c == '\\') {
            if (s->n - s->i < 2) return jerr(s, TRIT_E_CORRUPT, s->i, "string is not terminated");
            uint8_t const e = s->p[s->i + 1];
            if (e == 'u') {
                long const u = hex4(s, s->i + 2);
                if (u < 0) return jerr(s, TRIT_E_CORRUPT, s->i, "bad \\u escape");
                if (u == 0)
                    return jerr(s, TRIT_E_CORRUPT, s->i, "\\u0000 in a string is refused "
                                "(it would truncate names)");
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return jerr(s, TRIT_E_CORRUPT, s->i, "lone low surrogate in \\u escape");
                if (u >= 0xD800 && u <= 0xDBFF) {
                    long const lo = (s->n - s->i >= 12 && s->p[s->i + 6] == '\\' && s->p[s->i + 7] == 'u')
                                        ? hex4(s, s->i + 8) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return jerr(s, TRIT_E_CORRUPT, s->i, "lone high surrogate in \\u escape");
                    s->i += 12;
                } else {
                    s->i += 6;
                }
                continue;
            }
            if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
                return jerr(s, TRIT_E_CORRUPT, s->i, "bad escape in a string");
            s->i += 2;
            continue;
        }
        if (c < 0x80) { s->i++; continue; }
        size_t const k = utf8_len(s, s->i);
        if (!k) return jerr(s, TRIT_E_CORRUPT, s->i, "invalid UTF-8 in a string");
        s->i += k;
    }
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static int scan_number(jscan *s)
{
    size_t const start = s->i;
    int const hdr = s->o->header_mode;
    if (s->p[s->i] == '-') {
        if (hdr) return jerr(s, TRIT_E_CORRUPT, start, "negative number in the header "
                             "(shapes and offsets are unsigned)");
        s->i++;
    }
    if (s->i >= s->n || !is_digit(s->p[s->i]))
        return jerr(s, TRIT_E_CORRUPT, start, "bad number");
    uint64_t v = 0;
    int big = 0;
    if (s->p[s->i] == '0') {
        s->i++;
    } else {
        while (s->i < s->n && is_digit(s->p[s->i])) {
            /* v < 2^53 here, so v * 10 + 9 cannot overflow 64 bits */
            if (!big && (v = v * 10 + (uint64_t)(s->p[s->i] - '0')) >= SRC_JSON_MAX_INT) big = 1;
            s->i++;
        }
    }
    if (s->i < s->n && is_digit(s->p[s->i]))
        return jerr(s, TRIT_E_CORRUPT, start, "number has a leading zero");
    int frac = 0;
    if (s->i < s->n && s->p[s->i] == '.') {
        frac = 1;
        s->i++;
        if (s->i >= s->n || !is_digit(s->p[s->i])) return jerr(s, TRIT_E_CORRUPT, start, "bad number");
        while (s->i < s->n && is_digit(s->p[s->i])) s->i++;
    }
    if (s->i < s->n && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
        frac = 1;
        s->i++;
        if (s->i < s->n && (s->p[s->i] == '+' || s->p[s->i] == '-')) s->i++;
        if (s->i >= s->n || !is_digit(s->p[s->i])) return jerr(s, TRIT_E_CORRUPT, start, "bad number");
        while (s->i < s->n && is_digit(s->p[s->i])) s->i++;
    }
    if (s->i - start > JSON_MAX_NUMBER)
        return jerr(s, TRIT_E_LIMIT, start, "number is longer than 63 characters");
    if (hdr && frac)
        return jerr(s, TRIT_E_CORRUPT, start, "number in the header is not a plain integer");
    if (hdr && (big || v >= SRC_JSON_MAX_INT))
        return jerr(s, TRIT_E_LIMIT, start, "number in the header is not below 2^53");
    return TRIT_OK;
}

static int scan_lit(jscan *s, const char *lit)
{
    size_t const len = strlen(lit);
    if (s->n - s->i < len || memcmp(s->p + s->i, lit, len) != 0)
        return jerr(s, TRIT_E_CORRUPT, s->i, "unexpected byte where a JSON value is expected");
    s->i += len;
    return TRIT_OK;
}

static int count_node(jscan *s, uint32_t depth)
{
    if (++s->nodes > s->o->max_nodes)
        return trit_err_set(s->err, TRIT_E_LIMIT, s->base_off + s->i, s->o->what,
                            "more than %llu JSON values", (unsigned long long)s->o->max_nodes);
    if (depth >= 1 && s->out->n_members > 0 && s->member_cap &&
        ++s->member_nodes > s->member_cap) {
        src_json_member const *m = &s->out->members[s->out->n_members - 1];
        return trit_err_set(s->err, TRIT_E_LIMIT, s->base_off + m->key_off, s->o->what,
                            "entry holds more than %llu JSON values",
                            (unsigned long long)s->member_cap);
    }
    return TRIT_OK;
}

/* Key at s->i inside an object at `depth`, then ':'. Records top-level members. */
static int scan_key(jscan *s, uint32_t depth)
{
    skip_ws(s);
    if (s->i >= s->n || s->p[s->i] != '"')
        return jerr(s, TRIT_E_CORRUPT, s->i, "expected a string key");
    size_t const key_off = s->i;
    int rc = scan_string(s);
    if (rc) return rc;
    if (depth == 1 && s->o->max_members) {
        if (s->out->n_members >= s->o->max_members)
            return trit_err_set(s->err, TRIT_E_LIMIT, s->base_off + key_off, s->o->what,
                                "more than %llu entries", (unsigned long long)s->o->max_members);
        if (s->out->n_members == s->cap_members) {
            size_t const nc = s->cap_members ? s->cap_members * 2 : 64;
            src_json_member *nm = realloc(s->out->members, nc * sizeof *nm);
            if (!nm) return trit_err_set(s->err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
            s->out->members = nm;
            s->cap_members = nc;
        }
        src_json_member *m = &s->out->members[s->out->n_members++];
        m->key_off = key_off;
        m->key_end = s->i;
        m->val_off = m->val_end = 0;
        s->member_nodes = 0;
        int const is_meta = s->i - key_off == 14 && memcmp(s->p + key_off, "\"__metadata__\"", 14) == 0;
        s->member_cap = is_meta ? s->o->meta_member_nodes : s->o->member_nodes;
    }
    skip_ws(s);
    if (s->i >= s->n || s->p[s->i] != ':') return jerr(s, TRIT_E_CORRUPT, s->i, "expected ':'");
    s->i++;
    if (depth == 1 && s->o->max_members) {
        size_t const save = s->i;
        skip_ws(s);
        s->out->members[s->out->n_members - 1].val_off = s->i;
        s->i = save;
    }
    return TRIT_OK;
}

int src_json_scan(const uint8_t *p, size_t n, uint64_t base_off, const char *file,
                   const src_json_scan_opts *o, src_json_result *out, trit_err *err)
{
    jscan s = {p, n, 0, base_off, o, err, 0, 0, 0, out, 0};
    uint8_t stack[JSON_STACK];
    uint32_t depth = 0;
    uint32_t const max_depth = o->max_depth < JSON_STACK ? o->max_depth : JSON_STACK;
    int rc = TRIT_OK;

    out->members = NULL;
    out->n_members = 0;
    out->end = 0;
    out->n_nodes = out->n_strings = out->str_bytes = 0;
    if (o->header_mode) {
        if (n == 0 || p[0] != '{') {
            rc = trit_err_set(err, TRIT_E_CORRUPT, base_off, o->what,
                              n == 0 ? "header is empty" : "header does not start with '{'");
            goto fail;
        }
    } else {
        skip_ws(&s);
    }
    if (o->max_members && (s.i >= n || p[s.i] != '{')) {
        rc = jerr(&s, TRIT_E_CORRUPT, s.i, "top level is not a JSON object");
        goto fail;
    }

    for (;;) {
        /* A value is expected at s.i. */
        skip_ws(&s);
        if (s.i >= n) { rc = jerr(&s, TRIT_E_CORRUPT, s.i, "JSON ends where a value is expected"); goto fail; }
        if ((rc = count_node(&s, depth)) != TRIT_OK) goto fail;
        uint8_t const c = p[s.i];
        if (c == '{' || c == '[') {
            if (depth >= max_depth) {
                rc = trit_err_set(err, TRIT_E_LIMIT, base_off + s.i, o->what,
                                  "JSON nesting deeper than %u", max_depth);
                goto fail;
            }
            stack[depth++] = c;
            s.i++;
            skip_ws(&s);
            if (s.i < n && p[s.i] == (c == '{' ? '}' : ']')) {
                depth--;
                s.i++;
                goto value_done;
            }
            if (c == '{' && (rc = scan_key(&s, depth)) != TRIT_OK) goto fail;
            continue;
        }
        if (c == '"') rc = scan_string(&s);
        else if (c == '-' || is_digit(c)) rc = scan_number(&s);
        else if (c == 't') rc = scan_lit(&s, "true");
        else if (c == 'f') rc = scan_lit(&s, "false");
        else if (c == 'n') rc = scan_lit(&s, "null");
        else rc = jerr(&s, TRIT_E_CORRUPT, s.i, "unexpected byte where a JSON value is expected");
        if (rc) goto fail;
    value_done:
        for (;;) {
            if (depth == 1 && o->max_members && out->n_members)
                out->members[out->n_members - 1].val_end = s.i;
            if (depth == 0) goto done;
            skip_ws(&s);
            if (s.i >= n) { rc = jerr(&s, TRIT_E_CORRUPT, s.i, "JSON ends inside an object or array"); goto fail; }
            uint8_t const open = stack[depth - 1];
            uint8_t const d = p[s.i];
            if (d == ',') {
                s.i++;
                if (open == '{' && (rc = scan_key(&s, depth)) != TRIT_OK) goto fail;
                break;
            }
            if (d == (open == '{' ? '}' : ']')) {
                depth--;
                s.i++;
                continue;
            }
            rc = jerr(&s, TRIT_E_CORRUPT, s.i, open == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
            goto fail;
        }
    }
done:
    out->end = s.i;
    out->n_nodes = s.nodes;
    if (o->header_mode) {
        for (; s.i < n; s.i++)
            if (p[s.i] != ' ') {
                rc = jerr(&s, TRIT_E_CORRUPT, s.i, "byte after the header's JSON object is not "
                          "a space (only 0x20 may pad it)");
                goto fail;
            }
    } else {
        skip_ws(&s);
        if (s.i != n) { rc = jerr(&s, TRIT_E_CORRUPT, s.i, "bytes after the JSON value"); goto fail; }
    }
    (void)file;
    return TRIT_OK;
fail:
    trit_err_file(err, file);
    free(out->members);
    out->members = NULL;
    out->n_members = 0;
    return rc;
}

uint64_t src_json_tree_bytes(const src_json_result *r)
{
    /* each term is bounded by the document size (< 2^40) times a small constant: no overflow */
    return r->n_nodes * SRC_JSON_NODE_COST + r->n_strings * SRC_JSON_ALLOC_COST + r->str_bytes;
}

/* The tree bound of src_json.h: TRIT_E_LIMIT naming the file when `tree` bytes exceed it. */
static int check_tree(uint64_t tree, size_t n, uint64_t n_nodes, const char *file, const char *what,
                      trit_err *err)
{
    uint64_t const budget = (uint64_t)SRC_JSON_TREE_FACTOR * n + SRC_JSON_TREE_SLACK;
    if (tree <= budget) return TRIT_OK;
    trit_err_file(err, file);
    return trit_err_set(err, TRIT_E_LIMIT, 0, what,
                        "%llu JSON values in %zu bytes would take ~%llu MiB as a tree, over the "
                        "budget of %ux the file + %u MiB", (unsigned long long)n_nodes, n,
                        (unsigned long long)(tree >> 20), SRC_JSON_TREE_FACTOR, SRC_JSON_TREE_SLACK >> 20);
}

static size_t skip_ws_at(const uint8_t *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    return i;
}

/* End of the validated value at p[i] (i past leading white space). */
static size_t skip_value(const uint8_t *p, size_t n, size_t i)
{
    uint32_t depth = 0;
    while (i < n) {
        uint8_t const c = p[i];
        if (c == '"') {
            for (i++; i < n && p[i] != '"'; i++)
                if (p[i] == '\\') i++;
            i++;
        } else if (c == '{' || c == '[') {
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return i;   /* end of the enclosing container */
            depth--;
            i++;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            return i;
        } else {
            i++;
        }
        if (depth == 0 && (c == '"' || c == '}' || c == ']')) return i < n ? i : n;
    }
    return n;
}

int src_json_iter_init(src_json_iter *it, const uint8_t *p, size_t n)
{
    size_t const i = skip_ws_at(p, n, 0);
    it->p = p;
    it->n = n;
    it->i = i + 1;
    it->is_object = i < n && p[i] == '{';
    if (i >= n || (p[i] != '{' && p[i] != '[')) {
        it->i = n;
        return 0;
    }
    return 1;
}

int src_json_iter_next(src_json_iter *it, size_t *key_off, size_t *key_len, size_t *val_off, size_t *val_len)
{
    const uint8_t *p = it->p;
    size_t const n = it->n;
    size_t i = skip_ws_at(p, n, it->i);
    if (i < n && p[i] == ',') i = skip_ws_at(p, n, i + 1);
    if (i >= n || p[i] == '}' || p[i] == ']') {
        it->i = n;
        return 0;
    }
    *key_off = *key_len = 0;
    if (it->is_object) {
        size_t const k = skip_value(p, n, i);
        *key_off = i;
        *key_len = k - i;
        i = skip_ws_at(p, n, k);
        if (i < n && p[i] == ':') i++;
        i = skip_ws_at(p, n, i);
    }
    size_t const e = skip_value(p, n, i);
    *val_off = i;
    *val_len = e - i;
    it->i = e;
    return 1;
}

cJSON *src_json_parse_span(const uint8_t *p, size_t n)
{
    return cJSON_ParseWithLengthOpts((const char *)p, n, NULL, 0);
}

/* A member key as written, for sorting (qsort has no context argument: each carries the bytes). */
typedef struct key_ref {
    const uint8_t *p;
    size_t off, len;
} key_ref;

static int cmp_key(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t const n = x->len < y->len ? x->len : y->len;
    int const c = memcmp(x->p + x->off, y->p + y->off, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* A top-level key that appears twice: cJSON would keep both and every reader take the first,
 * while other tools take the last. Which value the model is described by must not depend on
 * the reader, so the document is refused. Keys are compared as written (escapes raw). */
static int check_duplicates(const uint8_t *p, const src_json_result *sc, const char *file, const char *what,
                            trit_err *err)
{
    if (sc->n_members < 2) return TRIT_OK;
    key_ref *k = trit_mallocarray(sc->n_members, sizeof *k);
    if (!k) return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory");
    for (size_t i = 0; i < sc->n_members; i++)
        k[i] = (key_ref){p, sc->members[i].key_off, sc->members[i].key_end - sc->members[i].key_off};
    qsort(k, sc->n_members, sizeof *k, cmp_key);
    int rc = TRIT_OK;
    for (size_t i = 1; i < sc->n_members && rc == TRIT_OK; i++)
        if (cmp_key(&k[i - 1], &k[i]) == 0) {
            size_t const second = k[i - 1].off > k[i].off ? k[i - 1].off : k[i].off;
            trit_err_file(err, file);
            rc = trit_err_set(err, TRIT_E_CORRUPT, second, what, "key %.*s appears twice", (int)(k[i].len > 64 ? 64 : k[i].len),
                              (const char *)(p + k[i].off));
        }
    free(k);
    return rc;
}

int src_json_parse_doc(const uint8_t *p, size_t n, const char *file, const char *what,
                        uint64_t max_nodes, cJSON **out, trit_err *err)
{
    /* members recorded (up to the node cap) for the duplicate-key check */
    src_json_scan_opts const o = {what, TRIT_MAX_JSON_DEPTH, 0, max_nodes, max_nodes, 0, 0};
    src_json_result sc;
    *out = NULL;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    if (i >= n || p[i] != '{') {
        trit_err_file(err, file);
        return trit_err_set(err, TRIT_E_CORRUPT, i, what, "not a JSON object");
    }
    int rc = src_json_scan(p, n, 0, file, &o, &sc, err);
    if (rc) return rc;
    rc = check_duplicates(p, &sc, file, what, err);
    free(sc.members);
    if (rc) return rc;
    if ((rc = check_tree(src_json_tree_bytes(&sc), n, sc.n_nodes, file, what, err)) != TRIT_OK) return rc;
    cJSON *root = src_json_parse_span(p, n);
    if (!root) {
        trit_err_file(err, file);
        return trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory parsing JSON");
    }
    *out = root;
    return TRIT_OK;
}

/* 1 if the key literal p[m->key_off..key_end) is exactly "name" (no escapes). */
static int key_is(const uint8_t *p, const src_json_member *m, const char *name)
{
    size_t const k = strlen(name);
    return m->key_end - m->key_off == k + 2 && memcmp(p + m->key_off + 1, name, k) == 0;
}

static int deferred(const uint8_t *p, const src_json_member *m, const char *const *keys)
{
    if (p[m->val_off] != '{' && p[m->val_off] != '[') return 0;
    for (size_t k = 0; keys[k]; k++)
        if (key_is(p, m, keys[k])) return 1;
    return 0;
}

/* Add the member m of p (key and value parsed from their spans, or the value as raw text) to
 * obj. */
static int add_member(cJSON *obj, const uint8_t *p, const src_json_member *m, int raw)
{
    cJSON *k = src_json_parse_span(p + m->key_off, m->key_end - m->key_off);
    cJSON *v = NULL;
    if (raw) {
        size_t const len = m->val_end - m->val_off;
        char *text = malloc(len + 1);
        if (text && (v = cJSON_CreateRaw("")) != NULL) {
            memcpy(text, p + m->val_off, len);
            text[len] = '\0';
            cJSON_free(v->valuestring);
            v->valuestring = text;
            text = NULL;
        }
        free(text);
    } else {
        v = src_json_parse_span(p + m->val_off, m->val_end - m->val_off);
    }
    int const ok = k && v && cJSON_IsString(k) && cJSON_AddItemToObject(obj, k->valuestring, v);
    if (!ok) cJSON_Delete(v);
    cJSON_Delete(k);
    return ok ? TRIT_OK : TRIT_E_NOMEM;
}

int src_json_parse_doc_defer(const uint8_t *p, size_t n, const char *file, const char *what,
                             uint64_t max_nodes, const char *parent, const char *const *keys,
                             cJSON **out, trit_err *err)
{
    src_json_scan_opts const o = {what, TRIT_MAX_JSON_DEPTH, 0, max_nodes, max_nodes, 0, 0};
    src_json_result top = {0}, par = {0};
    *out = NULL;
    size_t const i = skip_ws_at(p, n, 0);
    if (i >= n || p[i] != '{') {
        trit_err_file(err, file);
        return trit_err_set(err, TRIT_E_CORRUPT, i, what, "not a JSON object");
    }
    int rc = src_json_scan(p, n, 0, file, &o, &top, err);
    if (rc) return rc;
    const src_json_member *pm = NULL;
    for (size_t k = 0; k < top.n_members; k++)
        if (key_is(p, &top.members[k], parent) && p[top.members[k].val_off] == '{') pm = &top.members[k];
    /* the parent's members: a second scan of its (already valid) span records them */
    if (pm) rc = src_json_scan(p + pm->val_off, pm->val_end - pm->val_off, pm->val_off, file, &o, &par, err);
    /* the tree bound, without the deferred members but with their raw copies */
    uint64_t tree = src_json_tree_bytes(&top);
    for (size_t k = 0; rc == TRIT_OK && k < par.n_members; k++) {
        src_json_member *m = &par.members[k];
        m->key_off += pm->val_off;   /* to document offsets */
        m->key_end += pm->val_off;
        m->val_off += pm->val_off;
        m->val_end += pm->val_off;
        if (!deferred(p, m, keys)) continue;
        src_json_scan_opts const oc = {what, TRIT_MAX_JSON_DEPTH, 0, max_nodes, 0, 0, 0};
        src_json_result c;
        if ((rc = src_json_scan(p + m->val_off, m->val_end - m->val_off, m->val_off, file, &oc, &c, err)))
            break;
        uint64_t const cost = src_json_tree_bytes(&c);
        tree = (tree > cost ? tree - cost : 0) + (m->val_end - m->val_off) + SRC_JSON_ALLOC_COST;
    }
    if (rc == TRIT_OK) rc = check_tree(tree, n, top.n_nodes, file, what, err);
    cJSON *root = NULL;
    if (rc == TRIT_OK && !(root = cJSON_CreateObject())) rc = TRIT_E_NOMEM;
    for (size_t k = 0; rc == TRIT_OK && k < top.n_members; k++) {
        const src_json_member *m = &top.members[k];
        if (m != pm) {
            rc = add_member(root, p, m, 0);
            continue;
        }
        cJSON *obj = cJSON_CreateObject();
        cJSON *key = src_json_parse_span(p + m->key_off, m->key_end - m->key_off);
        if (!obj || !key || !cJSON_AddItemToObject(root, key->valuestring, obj)) {
            cJSON_Delete(obj);
            rc = TRIT_E_NOMEM;
        }
        cJSON_Delete(key);
        for (size_t j = 0; rc == TRIT_OK && j < par.n_members; j++)
            rc = add_member(obj, p, &par.members[j], deferred(p, &par.members[j], keys));
    }
    free(top.members);
    free(par.members);
    if (rc == TRIT_E_NOMEM) {
        trit_err_file(err, file);
        trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, NULL, "out of memory parsing JSON");
    }
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root;
    return TRIT_OK;
}
