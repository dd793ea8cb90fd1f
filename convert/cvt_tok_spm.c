/*
 * cvt_tok_spm.c - SentencePiece tokenizer.model: a small protobuf reader over trit_cur, and the
 * pieces as a "llama" vocabulary.
 *
 * The message (sentencepiece_model.proto, proto2); only these fields are read, others skipped:
 *   ModelProto      1 repeated SentencePiece pieces
 *                   2 TrainerSpec trainer_spec      3 NormalizerSpec normalizer_spec
 *   SentencePiece   1 string piece   2 float score   3 Type type (NORMAL 1, UNKNOWN 2,
 *                   CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6; default NORMAL)
 *   TrainerSpec     3 model_type (UNIGRAM 1, BPE 2, WORD 3, CHAR 4)   35 bool byte_fallback
 *                   40 unk_id (default 0)  41 bos_id (1)  42 eos_id (2)  43 pad_id (-1)
 *   NormalizerSpec  3 bool add_dummy_prefix (default true)
 *                   4 bool remove_extra_whitespaces (default true)
 * Wire format: each field is a varint tag (field << 3 | wire type) then a varint (0), 8 bytes
 * (1), a varint length and that many bytes (2), or 4 bytes (5). Groups (3, 4) are refused:
 * sentencepiece never writes them. A repeated optional message merges (protobuf semantics),
 * which here means later fields win.
 *
 * Every read goes through trit_cur (bounds-checked; errors carry the absolute offset); varints
 * longer than 10 bytes or above 2^64 are refused; counts and lengths are capped before
 * anything is allocated. Two passes: count the pieces, then read them into one array.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvt_tok_int.h"
#include "trit_cursor.h"
#include "trit_limits.h"
#include "trit_safemath.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

static int varint(trit_cur *c, uint64_t *out, const char *what, trit_err *err)
{
    uint64_t const start = trit_cur_pos(c);
    size_t const save = c->off;
    uint64_t v = 0;
    for (unsigned i = 0;; i++) {
        uint8_t b;
        int const rc = trit_cur_u8(c, &b, what, err);
        if (rc) {
            c->off = save;
            return rc;
        }
        /* the 10th byte holds bit 63 only: anything more overflows 64 bits */
        if (i == 9 && b > 1) {
            c->off = save;
            trit_err_file(err, c->file);
            return trit_err_set(err, TRIT_E_CORRUPT, start, what, "varint overflows 64 bits");
        }
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) break;
    }
    *out = v;
    return TRIT_OK;
}

typedef struct field {
    uint32_t num;             /* field number */
    uint32_t wire;            /* wire type */
    uint64_t off;             /* absolute offset of the tag */
    uint64_t v;               /* WT_VARINT value, or the raw bits of WT_I32 / WT_I64 */
    const uint8_t *p;         /* WT_LEN payload (borrowed) */
    uint64_t n;               /* WT_LEN payload bytes */
    uint64_t p_off;           /* absolute offset of the payload */
} field;

static int corrupt(trit_cur *c, uint64_t off, const char *what, const char *msg, trit_err *err)
{
    trit_err_file(err, c->file);
    return trit_err_set(err, TRIT_E_CORRUPT, off, what, "%s", msg);
}

/* Read one field (tag and value) at the cursor. */
static int next_field(trit_cur *c, field *f, const char *what, trit_err *err)
{
    uint64_t tag;
    f->off = trit_cur_pos(c);
    int rc = varint(c, &tag, what, err);
    if (rc) return rc;
    if (tag > UINT32_MAX || (tag >> 3) == 0) return corrupt(c, f->off, what, "bad field tag", err);
    f->num = (uint32_t)(tag >> 3);
    f->wire = (uint32_t)(tag & 7);
    f->p = NULL;
    f->n = 0;
    f->v = 0;
    switch (f->wire) {
    case WT_VARINT: return varint(c, &f->v, what, err);
    case WT_I64: return trit_cur_u64(c, &f->v, what, err);
    case WT_I32: {
        uint32_t v;
        rc = trit_cur_u32(c, &v, what, err);
        f->v = v;
        return rc;
    }
    case WT_LEN:
        if ((rc = varint(c, &f->n, what, err))) return rc;
        f->p_off = trit_cur_pos(c);
        return trit_cur_bytes(c, f->n, &f->p, what, err);
    case WT_SGROUP: case WT_EGROUP:
        return corrupt(c, f->off, what, "protobuf groups (wire types 3, 4) are not supported", err);
    default:
        return corrupt(c, f->off, what, "invalid protobuf wire type", err);
    }
}

/* A known field must have the wire type its declaration implies. */
static int want(trit_cur *c, const field *f, uint32_t wire, const char *what, trit_err *err)
{
    if (f->wire == wire) return TRIT_OK;
    trit_err_file(err, c->file);
    return trit_err_set(err, TRIT_E_CORRUPT, f->off, what, "field %u has wire type %u, expected %u", f->num,
                        f->wire, wire);
}

/* proto int32 from a varint: two's complement in 64 bits, must fit 32. */
static int to_int32(trit_cur *c, const field *f, int32_t *out, const char *what, trit_err *err)
{
    int64_t const s = f->v > (uint64_t)INT64_MAX ? -(int64_t)(~f->v) - 1 : (int64_t)f->v;
    if (s < INT32_MIN || s > INT32_MAX) {
        trit_err_file(err, c->file);
        return trit_err_set(err, TRIT_E_CORRUPT, f->off, what, "field %u value %lld does not fit int32", f->num,
                            (long long)s);
    }
    *out = (int32_t)s;
    return TRIT_OK;
}

static int parse_trainer(const field *top, const char *file, cvt_tok_spm *m, trit_err *err)
{
    trit_cur c;
    trit_cur_init(&c, top->p, (size_t)top->n, top->p_off, file);
    int rc = TRIT_OK;
    while (rc == TRIT_OK && trit_cur_left(&c)) {
        field f;
        if ((rc = next_field(&c, &f, "trainer_spec", err))) break;
        int32_t *dst = f.num == 3 ? &m->model_type : f.num == 40 ? &m->unk_id : f.num == 41 ? &m->bos_id
                     : f.num == 42 ? &m->eos_id : f.num == 43 ? &m->pad_id : NULL;
        if (dst) {
            rc = want(&c, &f, WT_VARINT, "trainer_spec", err);
            if (!rc) rc = to_int32(&c, &f, dst, "trainer_spec", err);
        } else if (f.num == 35) {
            rc = want(&c, &f, WT_VARINT, "trainer_spec", err);
            m->byte_fallback = f.v != 0;
        }
    }
    return rc;
}

static int parse_normalizer(const field *top, const char *file, cvt_tok_spm *m, trit_err *err)
{
    trit_cur c;
    trit_cur_init(&c, top->p, (size_t)top->n, top->p_off, file);
    int rc = TRIT_OK;
    while (rc == TRIT_OK && trit_cur_left(&c)) {
        field f;
        if ((rc = next_field(&c, &f, "normalizer_spec", err))) break;
        if (f.num == 3 || f.num == 4) {
            rc = want(&c, &f, WT_VARINT, "normalizer_spec", err);
            if (f.num == 3) m->add_dummy_prefix = f.v != 0;
            else m->remove_extra_whitespaces = f.v != 0;
        }
    }
    return rc;
}

static int parse_piece(const field *top, const char *file, uint32_t idx, cvt_tok_piece *pc, trit_err *err)
{
    char what[40];
    snprintf(what, sizeof what, "piece %u", idx);
    trit_cur c;
    trit_cur_init(&c, top->p, (size_t)top->n, top->p_off, file);
    pc->text = NULL;
    pc->len = 0;
    pc->score = 0.0f;
    pc->type = CVT_TOK_NORMAL;
    pc->off = top->off;
    int rc = TRIT_OK;
    while (rc == TRIT_OK && trit_cur_left(&c)) {
        field f;
        if ((rc = next_field(&c, &f, what, err))) break;
        if (f.num == 1) {
            if ((rc = want(&c, &f, WT_LEN, what, err))) break;
            if (f.n > TRIT_MAX_TOKEN_LEN) {
                trit_err_file(err, file);
                return trit_err_set(err, TRIT_E_LIMIT, f.off, what, "piece of %llu bytes, limit %u",
                                    (unsigned long long)f.n, TRIT_MAX_TOKEN_LEN);
            }
            pc->text = f.p;
            pc->len = (uint32_t)f.n;
        } else if (f.num == 2) {
            if ((rc = want(&c, &f, WT_I32, what, err))) break;
            uint32_t const bits = (uint32_t)f.v;
            memcpy(&pc->score, &bits, sizeof bits);
        } else if (f.num == 3) {
            if ((rc = want(&c, &f, WT_VARINT, what, err))) break;
            if (f.v < 1 || f.v > 6) {
                trit_err_file(err, file);
                return trit_err_set(err, TRIT_E_CORRUPT, f.off, what, "piece type %llu is not 1..6",
                                    (unsigned long long)f.v);
            }
            pc->type = (uint32_t)f.v;
        }
    }
    if (rc == TRIT_OK && pc->len == 0) return corrupt(&c, top->off, what, "piece is empty", err);
    return rc;
}

static const uint8_t *piece_get(const void *ctx, uint32_t id, uint32_t *len)
{
    const cvt_tok_piece *p = &((const cvt_tok_spm *)ctx)->pieces[id];
    *len = p->len;
    return p->text;
}

void cvt_tok_spm_release(cvt_tok_spm *m)
{
    if (!m) return;
    free(m->pieces);
    memset(m, 0, sizeof *m);
}

int cvt_tok_spm_parse(const void *buf, size_t len, const char *file, cvt_tok_spm *out, trit_err *err)
{
    const char *name = file ? file : "tokenizer.model";
    trit_err_clear(err);   /* err->file is only filled when empty */
    memset(out, 0, sizeof *out);
    out->unk_id = 0;
    out->bos_id = 1;
    out->eos_id = 2;
    out->pad_id = -1;
    out->add_dummy_prefix = 1;
    out->remove_extra_whitespaces = 1;
    if (len > TRIT_MAX_TOKENIZER_FILE) {
        trit_err_file(err, name);
        return trit_err_set(err, TRIT_E_LIMIT, TRIT_NO_OFFSET, NULL, "file of %zu bytes, limit %u", len,
                            TRIT_MAX_TOKENIZER_FILE);
    }
    /* pass 1: structure of the top level, the specs, and the number of pieces */
    trit_cur c;
    trit_cur_init(&c, buf, len, 0, name);
    uint32_t n = 0;
    int rc = TRIT_OK;
    while (rc == TRIT_OK && trit_cur_left(&c)) {
        field f;
        if ((rc = next_field(&c, &f, "model", err))) break;
        if (f.num == 1) {
            if ((rc = want(&c, &f, WT_LEN, "model", err))) break;
            if (n == TRIT_MAX_VOCAB) {
                trit_err_file(err, name);
                rc = trit_err_set(err, TRIT_E_LIMIT, f.off, "model", "more than %u pieces", TRIT_MAX_VOCAB);
                break;
            }
            n++;
        } else if (f.num == 2 || f.num == 3) {
            if ((rc = want(&c, &f, WT_LEN, "model", err))) break;
            rc = f.num == 2 ? parse_trainer(&f, name, out, err) : parse_normalizer(&f, name, out, err);
        }
    }
    if (rc == TRIT_OK && n == 0) rc = corrupt(&c, 0, "model", "no pieces (not a SentencePiece model?)", err);
    if (rc == TRIT_OK && !(out->pieces = trit_mallocarray(n, sizeof *out->pieces)))
        rc = trit_err_set(err, TRIT_E_NOMEM, TRIT_NO_OFFSET, "model", "out of memory");
    /* pass 2: the pieces (the structure is known to be sound) */
    trit_cur_init(&c, buf, len, 0, name);
    for (uint32_t k = 0; rc == TRIT_OK && k < n;) {
        field f;
        if ((rc = next_field(&c, &f, "model", err))) break;
        if (f.num == 1) {
            rc = parse_piece(&f, name, k, &out->pieces[k], err);
            k++;
        }
    }
    out->n_pieces = n;
    cvt__hash h = {0};
    if (rc == TRIT_OK) {
        rc = cvt__hash_init(&h, n);
        if (rc) rc = trit_err_set(err, rc, TRIT_NO_OFFSET, "model", "out of memory");
    }
    for (uint32_t k = 0; rc == TRIT_OK && k < n; k++) {
        uint32_t const prev = cvt__hash_put(&h, k, piece_get, out);
        if (prev != CVT_TOK_NONE) {
            char w[40];
            snprintf(w, sizeof w, "piece %u", k);
            trit_err_file(err, name);
            rc = trit_err_set(err, TRIT_E_CORRUPT, out->pieces[k].off, w, "piece '%.*s' is already piece %u",
                              (int)(out->pieces[k].len > 40 ? 40 : out->pieces[k].len),
                              (const char *)out->pieces[k].text, prev);
        }
    }
    cvt__hash_release(&h);
    if (rc) cvt_tok_spm_release(out);
    return rc;
}

/* ---- to a vocabulary ------------------------------------------------------------------------ */

int cvt__spm_vocab(cvt__tok *t, const cvt_tok_spm *m, const cvt__added_list *al, const char *model_file,
                   const char *added_file)
{
    uint64_t max = m->n_pieces - 1;
    if (al->n && al->a[al->n - 1].id > max) max = al->a[al->n - 1].id;
    if (max + 1 > (uint64_t)m->n_pieces + al->n) {
        trit_err_file(t->err, added_file);
        return trit_err_set(t->err, TRIT_E_CORRUPT, TRIT_NO_OFFSET, "added tokens",
                            "added token id %llu leaves a gap after the %u pieces of %s",
                            (unsigned long long)max, m->n_pieces, model_file);
    }
    int rc = cvt__tok_alloc(t, (uint32_t)(max + 1));
    for (uint32_t k = 0; rc == TRIT_OK && k < m->n_pieces; k++) {
        cvt_tok_piece const *p = &m->pieces[k];
        rc = cvt__tok_set(t, k, p->text, p->len, p->score, (int32_t)p->type, CVT__TOKF_BASE);
    }
    if (rc == TRIT_OK) rc = cvt__tok_overlay(t, al, 1);
    if (rc == TRIT_OK) rc = cvt__tok_check_gaps(t, added_file, "added tokens");
    if (rc == TRIT_OK) rc = cvt__tok_index(t, model_file);
    if (rc) return rc;
    t->has_scores = 1;
    snprintf(t->model, sizeof t->model, "llama");
    snprintf(t->pre, sizeof t->pre, "default");
    t->add_space_prefix = m->add_dummy_prefix;
    int32_t const ids[4] = {m->unk_id, m->bos_id, m->eos_id, m->pad_id};
    int const sp[4] = {CVT__SP_UNK, CVT__SP_BOS, CVT__SP_EOS, CVT__SP_PAD};
    for (int i = 0; i < 4; i++) {
        if (ids[i] < 0) continue;   /* -1: the model has none */
        if ((uint32_t)ids[i] < t->n) t->special[sp[i]] = (uint32_t)ids[i];
        else cvt__tok_warn(t, "%s: trainer_spec %s_id %d is not a piece", model_file, cvt__tok_sp_hf(sp[i]), ids[i]);
    }
    return TRIT_OK;
}
