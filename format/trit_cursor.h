/*
 * trit_cursor.h - the one bounds-checked cursor over untrusted bytes (style R9, R13).
 *
 * Every parser in trit (the .trit reader, the GGUF and safetensors readers, the OTA manifest)
 * reads input through a trit_cur. Nothing else does pointer arithmetic on input bytes.
 * Integers are read as explicit little-endian, never by memcpy into a native type.
 *
 * Invariant: off <= len. A failed read leaves off unchanged and fills err with
 * TRIT_E_TRUNCATED at the cursor's absolute offset (base_off + off), naming `what`.
 *
 * The cursor is a transparent value type: the caller owns it, it owns nothing.
 */
#ifndef TRIT_CURSOR_H
#define TRIT_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "trit.h"

typedef struct trit_cur {
    const uint8_t *base;   /* first byte of the window (borrowed) */
    size_t len;            /* bytes in the window */
    size_t off;            /* read position, 0..len */
    uint64_t base_off;     /* absolute file offset of base[0], for error messages */
    const char *file;      /* file name for error messages (borrowed, may be NULL) */
} trit_cur;

/* Set up a cursor over [p, p+len); base_off is where p sits in the file. */
TRIT_API void trit_cur_init(trit_cur *c, const void *p, size_t len, uint64_t base_off,
                            const char *file);

static inline size_t trit_cur_left(const trit_cur *c) { return c->len - c->off; }
static inline int trit_cur_need(const trit_cur *c, uint64_t n) { return n <= (uint64_t)(c->len - c->off); }
/* Absolute file offset of the read position. */
static inline uint64_t trit_cur_pos(const trit_cur *c) { return c->base_off + c->off; }

/* Fixed-width little-endian reads. `what` names the object for the error ("tensor count"). */
TRIT_API int trit_cur_u8(trit_cur *c, uint8_t *out, const char *what, trit_err *err);
TRIT_API int trit_cur_u16(trit_cur *c, uint16_t *out, const char *what, trit_err *err);
TRIT_API int trit_cur_u32(trit_cur *c, uint32_t *out, const char *what, trit_err *err);
TRIT_API int trit_cur_u64(trit_cur *c, uint64_t *out, const char *what, trit_err *err);
TRIT_API int trit_cur_f32(trit_cur *c, float *out, const char *what, trit_err *err);
TRIT_API int trit_cur_f64(trit_cur *c, double *out, const char *what, trit_err *err);

/* Borrow n bytes: *out points into the window (borrowed, valid as long as the window). */
TRIT_API int trit_cur_bytes(trit_cur *c, uint64_t n, const uint8_t **out, const char *what,
                            trit_err *err);
/* Advance n bytes. */
TRIT_API int trit_cur_skip(trit_cur *c, uint64_t n, const char *what, trit_err *err);

/* Little-endian loads and stores on memory the caller has already bounds-checked. */
static inline uint16_t trit_load_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t trit_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t trit_load_le64(const uint8_t *p)
{
    return (uint64_t)trit_load_le32(p) | ((uint64_t)trit_load_le32(p + 4) << 32);
}
static inline void trit_store_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void trit_store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void trit_store_le64(uint8_t *p, uint64_t v)
{
    trit_store_le32(p, (uint32_t)v);
    trit_store_le32(p + 4, (uint32_t)(v >> 32));
}

#endif /* TRIT_CURSOR_H */
