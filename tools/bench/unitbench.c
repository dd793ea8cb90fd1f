/* unitbench.c - how fast libtrit pages expert units in, for `make bench` (its peer there is
 * `zstd -b` decompressing the same decoded bytes in memory).
 *
 *   unitbench MODEL.trit DUMP [PASSES]      (default 5 passes)
 *
 * A pass reads every expert unit of the container with trit_reader_unit_read(): what the
 * runner does on an expert cache miss (one pread of the stored bytes, xxh3 of them, zstd
 * decode, size check). The file is read once before timing, so passes measure the page cache,
 * not the disk. The decoded images of the first pass are written back to back to DUMP, for
 * `zstd -b -B<unit size> DUMP`. Prints one JSON object: {"units", "stored_bytes",
 * "decoded_bytes", "max_unit", "decode_mbs" (median decoded MB/s, 1e6), "stored_mbs",
 * "runs" (decoded MB/s per pass)}. A bench tool: nothing here is asserted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trit.h"

#define MAX_PASSES 50

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double const x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what, const trit_err *err)
{
    char buf[768];
    fprintf(stderr, "unitbench: %s: %s\n", what, trit_err_format(err, buf, sizeof buf));
    return 1;
}

int main(int argc, char **argv)
{
    long passes = 5;
    if (argc < 3 || argc > 4 || (argc == 4 && ((passes = strtol(argv[3], NULL, 10)) < 1 || passes > MAX_PASSES))) {
        fprintf(stderr, "usage: unitbench MODEL.trit DUMP [PASSES 1..%d]\n", MAX_PASSES);
        return 2;
    }
    trit_err err;
    trit_err_clear(&err);
    trit_reader *r = NULL;
    if (trit_reader_open(argv[1], NULL, &r, &err) != TRIT_OK) return fail("open", &err);
    uint32_t const n = trit_reader_n_units(r);
    uint64_t stored = 0, decoded = 0, max_unit = 0;
    for (uint32_t u = 0; u < n; u++) {
        const trit_unit_info *ui = trit_reader_unit(r, u);
        stored += ui->stored_size;
        decoded += ui->decoded_size;
        if (ui->decoded_size > max_unit) max_unit = ui->decoded_size;
    }
    if (n == 0 || max_unit > SIZE_MAX) {
        fprintf(stderr, "unitbench: %s has no expert units\n", argv[1]);
        trit_reader_close(r);
        return 1;
    }
    void *buf = malloc((size_t)max_unit);
    FILE *dump = fopen(argv[2], "wb");
    if (!buf || !dump) {
        fprintf(stderr, "unitbench: cannot allocate %llu bytes or create '%s'\n", (unsigned long long)max_unit, argv[2]);
        free(buf);
        if (dump) fclose(dump);
        trit_reader_close(r);
        return 1;
    }
    double mbs[MAX_PASSES];
    int rc = 0;
    for (long p = -1; p < passes && rc == 0; p++) {   /* pass -1: warm the page cache, write DUMP */
        double const t0 = now_s();
        for (uint32_t u = 0; u < n; u++) {
            if (trit_reader_unit_read(r, u, buf, max_unit, &err) != TRIT_OK) {
                rc = fail("unit read", &err);
                break;
            }
            if (p < 0 && fwrite(buf, 1, (size_t)trit_reader_unit(r, u)->decoded_size, dump) != trit_reader_unit(r, u)->decoded_size) {
                fprintf(stderr, "unitbench: cannot write '%s'\n", argv[2]);
                rc = 1;
                break;
            }
        }
        double const dt = now_s() - t0;
        if (p >= 0) mbs[p] = (double)decoded / dt / 1e6;
    }
    if (fclose(dump) != 0 && rc == 0) {
        fprintf(stderr, "unitbench: cannot write '%s'\n", argv[2]);
        rc = 1;
    }
    if (rc == 0) {
        double s[MAX_PASSES];
        memcpy(s, mbs, (size_t)passes * sizeof *s);
        qsort(s, (size_t)passes, sizeof *s, cmp_double);
        double const med = passes % 2 ? s[passes / 2] : (s[passes / 2 - 1] + s[passes / 2]) / 2;
        printf("{\"units\":%u,\"stored_bytes\":%llu,\"decoded_bytes\":%llu,\"max_unit\":%llu,\"decode_mbs\":%.1f,"
               "\"stored_mbs\":%.1f,\"runs\":[",
               n, (unsigned long long)stored, (unsigned long long)decoded, (unsigned long long)max_unit, med,
               med * (double)stored / (double)decoded);
        for (long p = 0; p < passes; p++) printf("%s%.1f", p ? "," : "", mbs[p]);
        printf("]}\n");
    }
    free(buf);
    trit_reader_close(r);
    return rc;
}
