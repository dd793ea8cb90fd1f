/* test_convert_ternarize.c - absmean ternarization (cvt_absmean.c): the compare threshold gives
 * roundf(x / gamma)'s codes for every value, and a ternarized container is the same bytes at 1,
 * 2 and 8 threads and at any piece size (one row per piece up to whole tensors). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvt.h"
#include "cvt_conv_int.h"
#include "gen/gen.h"
#include "src.h"
#include "test.h"
#include "test_config_edit.h"

static int8_t by_roundf(float x, float g)
{
    float const v = roundf(x / g);
    return (int8_t)(v > 1 ? 1 : v < -1 ? -1 : v);
}

/* Gammas over many binades (and BitNet's 1e-8 floor); values right at, above and below the
 * threshold and 0.5 gamma, random values, zeros and extremes: the codes agree with the definition. */
TEST(cvt_absmean_threshold_is_roundf)
{
    uint32_t seed = 12345;
    uint64_t checked = 0;
    for (int i = 0; i < 4000; i++) {
        seed = seed * 1664525u + 1013904223u;
        float g = ldexpf(1.0f + (float)(seed >> 9) / 8388608.0f, (int)(seed % 60) - 40);
        if (i == 0) g = 1e-8f;
        if (i == 1) g = 1.0f;
        if (i == 2) g = (float)(0.0123456789 + 1e-8);
        float const t = cvt__absmean_threshold(g);
        CHECK(t > 0.0f);
        float const probe[] = {t,
                               nextafterf(t, 0.0f),
                               nextafterf(t, INFINITY),
                               0.5f * g,
                               nextafterf(0.5f * g, 0.0f),
                               nextafterf(0.5f * g, INFINITY),
                               1.5f * g,
                               g,
                               0.0f,
                               -0.0f,
                               FLT_MAX,
                               FLT_TRUE_MIN};
        for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++)
            for (int sgn = 0; sgn < 2; sgn++) {
                float const x = sgn ? -probe[k] : probe[k];
                int8_t const q = (int8_t)((x >= t) - (x <= -t));
                if (q != by_roundf(x, g))
                    test_fail_(__FILE__, __LINE__, "gamma %a x %a: threshold code %d, roundf code %d", (double)g, (double)x,
                               q, by_roundf(x, g));
                checked++;
            }
        for (int k = 0; k < 64; k++) {
            seed = seed * 1664525u + 1013904223u;
            float const x = g * ((float)(int32_t)seed / 2147483648.0f) * 2.0f;
            CHECK_EQ_INT((x >= t) - (x <= -t), by_roundf(x, g));
            checked++;
        }
    }
    CHECK(checked > 4000 * 64);
}

static int conv_t(const char *src, const char *out, uint32_t threads, uint32_t piece, trit_err *err)
{
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    o.ternarize = 1;
    o.threads = threads;
    o.piece_bytes = piece;
    cvt_report rep;
    int const rc = cvt_convert(src, out, &o, &rep, err);
    if (rc == TRIT_OK) {
        uint64_t lossy = 0;
        for (uint64_t i = 0; i < rep.n_tensors; i++) lossy += rep.tensors[i].ternarized;
        if (!lossy) test_fail_(__FILE__, __LINE__, "%s: nothing was ternarized", src);
        cvt_report_free(&rep);
    }
    return rc;
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    uint8_t *pa = test_read_file(a, &na), *pb = test_read_file(b, &nb);
    int const same = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

/* F32 latent GGUF (make bench's quantizer input) and the latent safetensors layout, ternarized:
 * threads 1, 2 and 8 with the default pieces, and 8 threads with one row per piece and with
 * a few rows per piece: every container the same bytes. */
TEST(convert_ternarize_threads_same_bytes)
{
    static const struct { gen_layout l; int f32_gguf; const char *name; } v[] = {
        {GEN_LAYOUT_GGUF, 1, "tz-f32.gguf"},
        {GEN_LAYOUT_LATENT, 0, "tz-latent"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        gen_opts o;
        gen_opts_default(&o, v[i].l);
        o.overwrite = 1;
        if (v[i].f32_gguf) o.gguf_tq = GEN_TQ_F32;
        char src[4096];
        snprintf(src, sizeof src, "%s/%s", test_tmpdir(), v[i].name);
        trit_err err;
        CHECK_OK_E(gen_write(&o, src, &err), &err);
        static const struct { uint32_t threads, piece; } run[] = {{1, 0}, {2, 0}, {8, 0}, {8, 1}, {2, 1000}};
        char out[5][4200];
        for (size_t k = 0; k < 5; k++) {
            snprintf(out[k], sizeof out[k], "%s.t%u.p%u.trit", src, run[k].threads, run[k].piece);
            CHECK_OK_E(conv_t(src, out[k], run[k].threads, run[k].piece, &err), &err);
        }
        for (size_t k = 1; k < 5; k++)
            if (!same_file(out[0], out[k]))
                test_fail_(__FILE__, __LINE__, "%s: %u threads, %u-byte pieces: the container differs from 1 thread's",
                           src, run[k].threads, run[k].piece);
    }
}

/* Convert src to out (decode_float: the float path for code tensors); rc, and err. */
static int conv_df(const char *src, const char *out, int decode_float, uint32_t threads, trit_err *err)
{
    cvt_opts o;
    memset(&o, 0, sizeof o);
    o.overwrite = 1;
    o.decode_float = decode_float;
    o.threads = threads;
    cvt_report rep;
    int const rc = cvt_convert(src, out, &o, &rep, err);
    if (rc == TRIT_OK) cvt_report_free(&rep);
    return rc;
}

/* Packed U8 projections scanned from the file's bytes on the provenance read (cvt_walk.c): with
 * one byte made a code 3, with a whole tensor made zero codes, and untouched, the container (or
 * the refusal) is what the float path gives. */
TEST(convert_packed_u8_walk_same_as_float)
{
    for (int edit = 0; edit < 3; edit++) {
        char src[4096], name[32];
        snprintf(name, sizeof name, "pw-%d", edit);
        if (test_gen(GEN_LAYOUT_BITNET, name, src, sizeof src)) return;
        struct src_ckpt *s = NULL;
        trit_err err;
        CHECK_OK_E(src_open(src, &s, &err), &err);
        if (!s) return;
        int done = edit == 0;
        for (uint32_t i = 0; i < src_n(s) && !done; i++) {
            if (strcmp(src_at(s, i)->type, "U8(bitnet)") != 0) continue;
            uint32_t file;
            uint64_t off, nb;
            src_extent(s, i, &file, &off, &nb);
            size_t len = 0;
            const char *path = src_file_path(s, file);
            uint8_t *f = test_read_file(path, &len);
            CHECK(f && off + nb <= len);
            if (!f || off + nb > len) break;
            if (edit == 1) f[off + nb / 2] = 0xff;   /* four code 3s */
            else memset(f + off, 0x55, (size_t)nb);   /* every code 1: all zero */
            FILE *o = fopen(path, "wb");
            CHECK(o && fwrite(f, 1, len, o) == len);
            if (o) fclose(o);
            free(f);
            done = 1;
        }
        CHECK(done);
        src_close(s);
        char a[4200], b[4200];
        snprintf(a, sizeof a, "%s.walk.trit", src);
        snprintf(b, sizeof b, "%s.float.trit", src);
        trit_err ea, eb;
        int const ra = conv_df(src, a, 0, 2, &ea), rb = conv_df(src, b, 1, 2, &eb);
        CHECK_EQ_INT(ra, rb);
        if (ra == TRIT_OK && rb == TRIT_OK && !same_file(a, b))
            test_fail_(__FILE__, __LINE__, "edit %d: the walked scan and the float path give different containers", edit);
        if (ra && rb) CHECK_STR(ea.msg, eb.msg);
    }
}
