/* err.c - error codes, the error detail struct, its one formatter (style R5, R6), and the one
 * map from error codes to process exit codes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trit.h"

const char *trit_strerror(int code)
{
    switch (code) {
    case TRIT_OK: return "ok";
    case TRIT_E_IO: return "i/o error";
    case TRIT_E_NOMEM: return "out of memory";
    case TRIT_E_TRUNCATED: return "truncated input";
    case TRIT_E_CORRUPT: return "corrupt input";
    case TRIT_E_UNSUPPORTED: return "unsupported input";
    case TRIT_E_LIMIT: return "limit exceeded";
    case TRIT_E_CHECKSUM: return "checksum mismatch";
    case TRIT_E_USAGE: return "bad usage";
    case TRIT_E_NOTFOUND: return "not found";
    case TRIT_E_EXISTS: return "already exists";
    default: return "unknown error";
    }
}

int trit_exit_code(int code)
{
    switch (code) {
    case TRIT_OK: return TRIT_EXIT_OK;
    case TRIT_E_USAGE: return TRIT_EXIT_USAGE;
    case TRIT_E_IO: case TRIT_E_EXISTS: case TRIT_E_NOTFOUND: return TRIT_EXIT_IO;
    case TRIT_E_TRUNCATED: case TRIT_E_CORRUPT: case TRIT_E_CHECKSUM: return TRIT_EXIT_CORRUPT;
    case TRIT_E_UNSUPPORTED: return TRIT_EXIT_UNSUPPORTED;
    case TRIT_E_LIMIT: return TRIT_EXIT_LIMIT;
    default: return TRIT_EXIT_INTERNAL;
    }
}

void trit_err_clear(trit_err *err)
{
    if (!err) return;
    err->code = TRIT_OK;
    err->offset = TRIT_NO_OFFSET;
    err->file[0] = err->where[0] = err->msg[0] = '\0';
}

int trit_err_set(trit_err *err, int code, uint64_t offset, const char *where, const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    err->offset = offset;
    snprintf(err->where, sizeof err->where, "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void trit_err_file(trit_err *err, const char *file)
{
    if (err && file && !err->file[0]) snprintf(err->file, sizeof err->file, "%s", file);
}

char *trit_err_format(const trit_err *err, char *buf, size_t n)
{
    if (!n) return buf;
    buf[0] = '\0';
    if (!err) return buf;
    size_t used = 0;
#define TRIT_APPEND(...)                                                     \
    do {                                                                     \
        if (used < n) {                                                      \
            int k_ = snprintf(buf + used, n - used, __VA_ARGS__);            \
            if (k_ > 0) used += (size_t)k_;                                  \
        }                                                                    \
    } while (0)
    if (err->file[0]) TRIT_APPEND("%s: ", err->file);
    if (err->offset != TRIT_NO_OFFSET) TRIT_APPEND("offset 0x%llx: ", (unsigned long long)err->offset);
    if (err->where[0]) TRIT_APPEND("%s: ", err->where);
    TRIT_APPEND("%s", err->msg[0] ? err->msg : trit_strerror(err->code));
#undef TRIT_APPEND
    return buf;
}

void trit_free(void *p) { free(p); }
