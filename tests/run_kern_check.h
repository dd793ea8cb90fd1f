/*
 * run_kern_check.h - kernel-set checks shared by the host test (tests/test_run_kern.c) and the
 * aarch64 program run under qemu-user (tests/cross/run_kern_main.c). Header-only on purpose:
 * the cross program is built from it without the test harness.
 *
 * Every check runs a kernel set against the portable reference on pseudo-random inputs of odd
 * sizes: t2 dot products and per-plane sums must be equal (integers), whole t2 rows through
 * run__row_dot (per-tensor, per-row and group scales with G = 32, 64, 128 and 48; rows not a
 * multiple of 128) must be bit-identical, and float dot products (f32, f16, bf16) must agree
 * to rounding. The GEMV entries: float rows (1..9 rows, so 4-row tiles and their tails) must
 * have the bits of the same set's dot product on each row and agree with the reference to
 * rounding; int8 rows (odd lengths, the -128 and +-127 extremes) must equal the reference; the
 * rows x tokens t2 product must give every (row, token) the reference's t2 dot product.
 */
#ifndef RUN_KERN_CHECK_H
#define RUN_KERN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern_check_state.h"
#include "run_int.h"
#include "run_kern.h"

static void kc_t2(kc_state *s, const run_kern *ref, const run_kern *k)
{
    static const unsigned blocks[] = {1, 2, 3, 5, 7, 13, 33};
    for (unsigned bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
        unsigned const nb = blocks[bi];
        uint8_t *codes = malloc(32u * nb);
        int8_t *q = malloc(128u * nb);
        int32_t *c1 = malloc(sizeof *c1 * 4 * nb), *c2 = malloc(sizeof *c2 * 4 * nb);
        for (unsigned rep = 0; rep < 8; rep++) {
            for (unsigned i = 0; i < 32 * nb; i++) codes[i] = (uint8_t)kc_next(s);  /* codes 0..3, 3 included */
            for (unsigned i = 0; i < 128 * nb; i++) {
                int v = (int)(kc_next(s) % 255) - 127;
                if (rep == 0) v = i % 2 ? 127 : -127;  /* extremes: int16 headroom of the SIMD paths */
                q[i] = (int8_t)v;
            }
            if (rep == 1) memset(codes, 0xaa, 32u * nb); /* all +1 */
            s->checks++;
            int32_t const a = ref->t2_dot(codes, q, nb), b = k->t2_dot(codes, q, nb);
            if (a != b) kc_fail(s, "%s: t2_dot %d vs %d (%u blocks)", k->name, (int)a, (int)b, nb);
            for (uint32_t m = 1; m <= 4 && nb >= 2; m++) {
                /* m tokens: token j's q starts 32 * j bytes in (overlapping, within the buffer) */
                int32_t o1[4], o2[4];
                ref->t2_dot_n(codes, q, 32, m, nb - 1, o1);
                k->t2_dot_n(codes, q, 32, m, nb - 1, o2);
                s->checks++;
                for (uint32_t j = 0; j < m; j++)
                    if (o1[j] != o2[j] || o1[j] != ref->t2_dot(codes, q + 32 * j, nb - 1))
                        kc_fail(s, "%s: t2_dot_n token %u of %u: %d vs %d (%u blocks)", k->name, j, m, (int)o1[j], (int)o2[j], nb - 1);
            }
            {
                /* rows: the same buffer seen as nb rows of 1 block, and as 1 row of nb blocks */
                int32_t *g1 = malloc(sizeof *g1 * nb), *g2 = malloc(sizeof *g2 * nb);
                ref->t2_gemv(codes, nb, q, 1, g1);
                k->t2_gemv(codes, nb, q, 1, g2);
                s->checks++;
                if (memcmp(g1, g2, sizeof *g1 * nb)) kc_fail(s, "%s: t2_gemv of %u rows differs", k->name, nb);
                k->t2_gemv(codes, 1, q, nb, g2);
                if (g2[0] != ref->t2_dot(codes, q, nb)) kc_fail(s, "%s: t2_gemv of one row differs", k->name);
                free(g1);
                free(g2);
            }
            ref->t2_dot_chunks(codes, q, nb, c1);
            k->t2_dot_chunks(codes, q, nb, c2);
            s->checks++;
            if (memcmp(c1, c2, sizeof *c1 * 4 * nb)) kc_fail(s, "%s: t2_dot_chunks differ (%d %d, %u blocks)", k->name, (int)c1[0], (int)c2[0], nb);
        }
        free(codes);
        free(q);
        free(c1);
        free(c2);
    }
}

static void kc_float(kc_state *s, const run_kern *ref, const run_kern *k)
{
    static const unsigned lens[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 63, 100, 129, 255, 1001};
    for (unsigned li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        unsigned const n = lens[li];
        float *w = malloc(sizeof *w * n), *x = malloc(sizeof *x * n);
        uint16_t *h = malloc(sizeof *h * n), *bf = malloc(sizeof *bf * n);
        double mag = 0;
        for (unsigned i = 0; i < n; i++) {
            w[i] = kc_unit(s);
            x[i] = kc_unit(s) * 3.0f;
            h[i] = trit_f32_to_f16(w[i]);
            bf[i] = trit_f32_to_bf16(w[i]);
            mag += fabs((double)w[i] * x[i]);
        }
        double const tol = 1e-5 * mag + 1e-6;
        float a = ref->dot_f32(w, x, n), b = k->dot_f32(w, x, n);
        s->checks += 3;
        if (fabs((double)a - b) > tol) kc_fail(s, "%s: dot_f32 %g vs %g (n %u)", k->name, (double)a, (double)b, n);
        a = ref->dot_f16(h, x, n);
        b = k->dot_f16(h, x, n);
        if (fabs((double)a - b) > tol) kc_fail(s, "%s: dot_f16 %g vs %g (n %u)", k->name, (double)a, (double)b, n);
        a = ref->dot_bf16(bf, x, n);
        b = k->dot_bf16(bf, x, n);
        if (fabs((double)a - b) > tol) kc_fail(s, "%s: dot_bf16 %g vs %g (n %u)", k->name, (double)a, (double)b, n);
        float *y1 = malloc(sizeof *y1 * n), *y2 = malloc(sizeof *y2 * n);
        for (unsigned i = 0; i < n; i++) y1[i] = y2[i] = x[i];
        ref->axpy_f32(y1, 0.37f, w, n);
        k->axpy_f32(y2, 0.37f, w, n);
        s->checks++;
        for (unsigned i = 0; i < n; i++)
            if (fabs((double)y1[i] - y2[i]) > 1e-6 * (fabs((double)y1[i]) + 1)) {
                kc_fail(s, "%s: axpy_f32 %g vs %g (n %u)", k->name, (double)y1[i], (double)y2[i], n);
                break;
            }
        free(y1);
        free(y2);
        free(w);
        free(x);
        free(h);
        free(bf);
    }
}

/* Whole t2 rows (codes + scales) through run__row_dot with each kernel set: bit-identical. */
static void kc_rows(kc_state *s, const run_kern *ref, const run_kern *k)
{
    static const uint64_t colss[] = {37, 128, 200, 333, 389};
    static const uint32_t layouts[][2] = {{TRIT_SCALE_TENSOR, 0}, {TRIT_SCALE_ROW, 0},  {TRIT_SCALE_GROUP, 32},
                                          {TRIT_SCALE_GROUP, 64}, {TRIT_SCALE_GROUP, 128}, {TRIT_SCALE_GROUP, 48}};
    uint32_t const rows = 5, ntok = 3;
    for (unsigned ci = 0; ci < sizeof colss / sizeof colss[0]; ci++)
        for (unsigned li = 0; li < sizeof layouts / sizeof layouts[0]; li++) {
            uint64_t const cols = colss[ci], nb = (cols + 127) / 128;
            run_tensor w;
            memset(&w, 0, sizeof w);
            w.type = TRIT_TYPE_T2;
            w.rows = rows;
            w.cols = cols;
            w.scale_layout = layouts[li][0];
            w.group_size = layouts[li][1];
            uint64_t const ns = w.scale_layout == TRIT_SCALE_TENSOR ? 1 : w.scale_layout == TRIT_SCALE_ROW ? rows : rows * ((cols + w.group_size - 1) / w.group_size);
            uint8_t *codes = malloc(rows * nb * 32);
            float *sc = malloc(sizeof *sc * ns), *x = malloc(sizeof *x * ntok * cols);
            int8_t *vals = malloc(cols);
            for (uint32_t r = 0; r < rows; r++) {
                for (uint64_t i = 0; i < cols; i++) vals[i] = (int8_t)((int)(kc_next(s) % 3) - 1);
                trit_t2_pack_row(vals, cols, codes + r * nb * 32);
            }
            for (uint64_t i = 0; i < ns; i++) sc[i] = 0.01f + fabsf(kc_unit(s));
            for (uint64_t i = 0; i < ntok * cols; i++) x[i] = kc_unit(s) * 2.0f;
            w.data = codes;
            w.scales = sc;
            w.n_scales = ns;
            run_qbuf qb;
            int32_t *chunks = malloc(sizeof *chunks * (nb * 4 + 4));
            if (run__qbuf_init(&qb, ntok, cols, NULL) == TRIT_OK) {
                run__quantize(&qb, x, cols, cols, ntok);
                for (uint32_t t = 0; t < ntok; t++)
                    for (uint32_t r = 0; r < rows; r++) {
                        float const a = run__row_dot(ref, &w, r, x + t * cols, &qb, t, chunks);
                        float const b = run__row_dot(k, &w, r, x + t * cols, &qb, t, chunks);
                        s->checks++;
                        if (memcmp(&a, &b, sizeof a)) kc_fail(s, "%s: t2 row %g vs %g (cols %u)", k->name, (double)a, (double)b, (unsigned)cols);
                    }
                run__qbuf_release(&qb);
            }
            free(chunks);
            free(codes);
            free(sc);
            free(x);
            free(vals);
        }
}

/* gemv_* against the same set's dot_* (bits) and the reference's (rounding), on 1..9 rows. */
static void kc_gemv_float(kc_state *s, const run_kern *ref, const run_kern *k)
{
    static const unsigned lens[] = {1, 7, 15, 16, 17, 31, 33, 47, 63, 64, 100, 129, 257, 1001};
    for (unsigned li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (unsigned rows = 1; rows <= 9; rows += 2 + (rows == 1)) {
            unsigned const n = lens[li], total = rows * n;
            float *w = malloc(sizeof *w * total), *x = malloc(sizeof *x * n), *y = malloc(sizeof *y * rows);
            uint16_t *h = malloc(sizeof *h * total), *bf = malloc(sizeof *bf * total);
            for (unsigned i = 0; i < total; i++) {
                w[i] = kc_unit(s);
                h[i] = trit_f32_to_f16(w[i]);
                bf[i] = trit_f32_to_bf16(w[i]);
            }
            for (unsigned i = 0; i < n; i++) x[i] = kc_unit(s) * 3.0f;
            for (int ty = 0; ty < 3; ty++) {
                if (ty == 0) k->gemv_f32(w, rows, n, x, y);
                else if (ty == 1) k->gemv_f16(h, rows, n, x, y);
                else k->gemv_bf16(bf, rows, n, x, y);
                for (unsigned r = 0; r < rows; r++) {
                    float const d = ty == 0 ? k->dot_f32(w + r * n, x, n) : ty == 1 ? k->dot_f16(h + r * n, x, n) : k->dot_bf16(bf + r * n, x, n);
                    float const e = ty == 0 ? ref->dot_f32(w + r * n, x, n) : ty == 1 ? ref->dot_f16(h + r * n, x, n) : ref->dot_bf16(bf + r * n, x, n);
                    double mag = 0;
                    for (unsigned i = 0; i < n; i++) mag += fabs((double)w[r * n + i] * x[i]);
                    s->checks++;
                    if (memcmp(&d, &y[r], sizeof d))
                        kc_fail(s, "%s: gemv (type %d) row %u of %u differs from dot: %.9g vs %.9g (n %u)", k->name, ty, r, rows, (double)y[r], (double)d, n);
                    else if (fabs((double)e - y[r]) > 1e-5 * mag + 1e-6)
                        kc_fail(s, "%s: gemv (type %d) row %u %g vs reference %g (n %u)", k->name, ty, r, (double)y[r], (double)e, n);
                }
            }
            free(w);
            free(x);
            free(y);
            free(h);
            free(bf);
        }
}

/* i8_gemv: exact against the reference; extremes (-128, +-127) included. */
static void kc_i8(kc_state *s, const run_kern *ref, const run_kern *k)
{
    static const unsigned lens[] = {1, 5, 31, 32, 33, 63, 64, 65, 127, 200, 1000, 2561};
    for (unsigned li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (unsigned rows = 1; rows <= 9; rows += 2 + (rows == 1))
            for (unsigned rep = 0; rep < 3; rep++) {
                unsigned const n = lens[li];
                int8_t *w = malloc((size_t)rows * n), *q = malloc(n);
                int32_t *a = malloc(sizeof *a * rows), *b = malloc(sizeof *b * rows);
                for (unsigned i = 0; i < rows * n; i++) w[i] = (int8_t)(rep == 0 ? (i % 3 ? -128 : 127) : (int)(kc_next(s) % 256) - 128);
                for (unsigned i = 0; i < n; i++) q[i] = (int8_t)(rep == 0 ? (i % 2 ? 127 : -127) : (int)(kc_next(s) % 255) - 127);
                ref->i8_gemv(w, rows, n, q, a);
                k->i8_gemv(w, rows, n, q, b);
                s->checks++;
                for (unsigned r = 0; r < rows; r++)
                    if (a[r] != b[r]) {
                        kc_fail(s, "%s: i8_gemv row %u of %u: %d vs %d (n %u)", k->name, r, rows, (int)b[r], (int)a[r], n);
                        break;
                    }
                free(w);
                free(q);
                free(a);
                free(b);
            }
}

/* t2_gemm (rows x tokens, prefill): every output equals the reference's t2_dot of its row and
 * token, on odd row and token counts (tile tails), a row stride of 1..13 blocks, an output
 * stride wider than the rows, and the extremes (codes 3, q +-127). */
static void kc_gemm(kc_state *s, const run_kern *ref, const run_kern *k)
{
    static const unsigned blocks[] = {1, 3, 13};
    static const unsigned rowss[] = {1, 3, 4, 5, 8, 9, 17};
    static const unsigned toks[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33};
    for (unsigned bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++)
        for (unsigned ri = 0; ri < sizeof rowss / sizeof rowss[0]; ri++)
            for (unsigned ti = 0; ti < sizeof toks / sizeof toks[0]; ti++) {
                unsigned const nb = blocks[bi], rows = rowss[ri], nt = toks[ti], qs = 128 * nb + 64, ld = rows + 3;
                uint8_t *codes = malloc(32u * nb * rows);
                int8_t *q = malloc((size_t)qs * nt);
                int32_t *o = malloc(sizeof *o * ld * nt);
                int const extreme = (ri + ti) % 5 == 0;
                for (unsigned i = 0; i < 32 * nb * rows; i++) codes[i] = extreme ? 0xff : (uint8_t)kc_next(s);
                for (unsigned i = 0; i < qs * nt; i++) q[i] = (int8_t)(extreme ? (i % 3 ? 127 : -127) : (int)(kc_next(s) % 255) - 127);
                for (unsigned i = 0; i < ld * nt; i++) o[i] = -7;
                k->t2_gemm(codes, rows, nb, q, qs, nt, o, ld);
                s->checks++;
                for (unsigned t = 0; t < nt; t++)
                    for (unsigned r = 0; r < ld; r++) {
                        int32_t const want = r < rows ? ref->t2_dot(codes + 32u * nb * r, q + (size_t)qs * t, nb) : -7;
                        if (o[t * ld + r] != want) {
                            kc_fail(s, "%s: t2_gemm row %u of %u, token %u of %u: %d vs %d (%u blocks)", k->name, r, rows, t, nt,
                                    (int)o[t * ld + r], (int)want, nb);
                            t = nt;
                            break;
                        }
                    }
                free(codes);
                free(q);
                free(o);
            }
}

/* Run every check of kernel set k against ref; returns the number of failures. */
static unsigned kern_check_all(const run_kern *ref, const run_kern *k, kc_state *s)
{
    kc_seed(s, 20261121);
    kc_t2(s, ref, k);
    kc_float(s, ref, k);
    kc_rows(s, ref, k);
    kc_gemv_float(s, ref, k);
    kc_i8(s, ref, k);
    kc_gemm(s, ref, k);
    return s->failures;
}

#endif /* RUN_KERN_CHECK_H */
