/*
 * tok_unicode.c - the few Unicode facts the tokenizer needs: general-category class (from
 * the generated range table), White_Space, llama.cpp-compatible UTF-8 decoding, and GPT-2's
 * byte <-> code point mapping.
 */
#include "tok_int.h"

int run_tok__uclass(uint32_t cpt)
{
    /* last entry whose first code point is <= cpt; entry 0 starts at U+0000 */
    uint32_t lo = 0, hi = run_tok__n_ucat;
    while (hi - lo > 1) {
        uint32_t const mid = lo + (hi - lo) / 2;
        if ((run_tok__ucat[mid] >> 3) <= cpt) lo = mid;
        else hi = mid;
    }
    return (int)(run_tok__ucat[lo] & 7u);
}

/* The White_Space property (Unicode PropList.txt), which is what llama.cpp's \s means. */
static int is_white_space(uint32_t c)
{
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

unsigned run_tok__uflags(uint32_t cpt)
{
    static const unsigned by_class[8] = {
        0, RUN_TOK_F_NUMBER, RUN_TOK_F_LETTER, 0, RUN_TOK_F_MARK, RUN_TOK_F_PUNCT,
        RUN_TOK_F_SYMBOL, 0
    };
    unsigned f = RUN_TOK_F_VALID;
    if (cpt <= 0x10FFFF) f |= by_class[run_tok__uclass(cpt)];
    if (is_white_space(cpt)) f |= RUN_TOK_F_WS;
    return f;
}

size_t run_tok__utf8_decode(const uint8_t *s, size_t len, uint32_t *cpts)
{
    size_t off = 0, n = 0;
    while (off < len) {
        uint8_t const b0 = s[off];
        uint32_t cpt = 0xFFFD;
        size_t step = 1;
        if (!(b0 & 0x80)) {
            cpt = b0;
        } else if (!(b0 & 0x40)) {
            /* stray continuation byte: invalid */
        } else if (!(b0 & 0x20)) {
            if (off + 1 < len && (s[off + 1] & 0xC0) == 0x80) {
                cpt = ((uint32_t)(b0 & 0x1F) << 6) | (s[off + 1] & 0x3Fu);
                step = 2;
            }
        } else if (!(b0 & 0x10)) {
            if (off + 2 < len && (s[off + 1] & 0xC0) == 0x80 && (s[off + 2] & 0xC0) == 0x80) {
                cpt = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[off + 1] & 0x3F) << 6) |
                      (s[off + 2] & 0x3Fu);
                step = 3;
            }
        } else if (!(b0 & 0x08)) {
            if (off + 3 < len && (s[off + 1] & 0xC0) == 0x80 && (s[off + 2] & 0xC0) == 0x80 &&
                (s[off + 3] & 0xC0) == 0x80) {
                cpt = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[off + 1] & 0x3F) << 12) |
                      ((uint32_t)(s[off + 2] & 0x3F) << 6) | (s[off + 3] & 0x3Fu);
                step = 4;
            }
        }
        /* invalid sequences advance by one byte, as llama.cpp's unicode_cpts_from_utf8 */
        off += step;
        cpts[n++] = cpt;
    }
    return n;
}

size_t run_tok__utf8_put(uint32_t cpt, char *out)
{
    uint8_t *o = (uint8_t *)out;
    if (cpt > 0x10FFFF) cpt = 0xFFFD;
    if (cpt <= 0x7F) {
        o[0] = (uint8_t)cpt;
        return 1;
    }
    if (cpt <= 0x7FF) {
        o[0] = (uint8_t)(0xC0 | (cpt >> 6));
        o[1] = (uint8_t)(0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt <= 0xFFFF) {
        o[0] = (uint8_t)(0xE0 | (cpt >> 12));
        o[1] = (uint8_t)(0x80 | ((cpt >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cpt & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cpt >> 18));
    o[1] = (uint8_t)(0x80 | ((cpt >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cpt >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cpt & 0x3F));
    return 4;
}

/* GPT-2 bytes_to_unicode(): printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand for
 * themselves; the other 68 bytes, in order, become U+0100 + k (0x00..0x20 -> k 0..32,
 * 0x7F..0xA0 -> 33..66, 0xAD -> 67). */
uint32_t run_tok__byte_to_cpt(uint8_t b)
{
    if (b <= 0x20) return 256u + b;
    if (b >= 0x7F && b <= 0xA0) return 256u + 33u + (uint32_t)(b - 0x7F);
    if (b == 0xAD) return 256u + 67u;
    return b;
}

int run_tok__cpt_to_byte(uint32_t cpt)
{
    if ((cpt >= 0x21 && cpt <= 0x7E) || (cpt >= 0xA1 && cpt <= 0xAC) || (cpt >= 0xAE && cpt <= 0xFF))
        return (int)cpt;
    if (cpt >= 256 && cpt < 256 + 33) return (int)(cpt - 256);
    if (cpt >= 256 + 33 && cpt < 256 + 67) return (int)(0x7F + (cpt - 256 - 33));
    if (cpt == 256 + 67) return 0xAD;
    return -1;
}
